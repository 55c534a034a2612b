"""Append-only journal of cumulative energy, so a killed run keeps what it measured.

One record per line: compact JSON, a tab, and the CRC-32 of the JSON in hex. A torn last
line (the process died mid-write) or a corrupted one fails its CRC and is skipped; every
record is cumulative, so the last good one carries the whole run up to its time.

Records: ``h`` header (probes, start snapshot, metadata), ``c`` checkpoint (time,
cumulative energy per probe, failures, units, finished phases), ``e`` end (the run
finished and its result was written), ``k`` device settings a tuner is about to change,
with their originals (greenai.optimize.guard).
"""

from __future__ import annotations

import json
import os
import stat
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from greenai import jsonio
from greenai.errors import DisclosureError

JOURNAL_VERSION = 1
MAX_LINE_BYTES = 16 * 1024 * 1024  # a record larger than this is corrupt, not data


def encode(record: dict[str, Any]) -> bytes:
    """Return one journal line for a record."""
    body = json.dumps(record, separators=(",", ":"), allow_nan=False)
    return f"{body}\t{zlib.crc32(body.encode()):08x}\n".encode()


def decode(line: bytes) -> dict[str, Any] | None:
    """Return the record of a line, or None when the line is torn or corrupt."""
    if not line.endswith(b"\n"):
        return None
    body, sep, crc = line[:-1].rpartition(b"\t")
    if not sep or len(crc) != 8:
        return None
    try:
        if int(crc, 16) != zlib.crc32(body):
            return None
        record = jsonio.loads(body.decode("utf-8"), "journal line")
    except (ValueError, UnicodeDecodeError):  # JSONInputError is a ValueError
        return None
    return record if isinstance(record, dict) else None


class JournalWriter:
    """Writes records to a journal file; an I/O error disables it and is reported, not raised."""

    def __init__(self, path: str | os.PathLike[str], fsync: bool = True):
        self.path = Path(path)
        self.fsync = fsync
        self.error: str | None = None
        self.records = 0
        self._fh: Any = None
        self.moved_from: Path | None = None  # the path asked for, when it was taken
        self._created = False  # only a file this writer created is ever removed by it

    def open(self, header: dict[str, Any]) -> None:
        """Create the journal (exclusively: never another run's) and write its header.

        If the path exists (another live run's journal, or one a killed run left for
        recovery), the journal goes beside it under a unique name, and ``moved_from`` says
        so. The file is locked (fcntl) while this writer holds it, so recovery and other
        runs can tell a live journal from a dead one.
        """
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
                self._created = True
            except FileExistsError:
                if not self.path.is_file():  # a device or pipe named on purpose: write to it
                    fd = os.open(self.path, os.O_WRONLY)
                else:
                    self.moved_from = self.path
                    self.path = unique_path(self.path)
                    fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
                    self._created = True
            self._fh = os.fdopen(fd, "wb", buffering=0)
            if self._created:
                _lock(fd)
        except OSError as exc:
            self.error = f"cannot open journal {self.path}: {exc.strerror or exc}"
            return
        self.append({"k": "h", "v": JOURNAL_VERSION, "pid": os.getpid(), **header})

    def append(self, record: dict[str, Any]) -> bool:
        """Write one record; return False (and keep the error) if the write failed."""
        if self._fh is None or self.error is not None:
            return False
        try:
            self._fh.write(encode(record))
            if self.fsync:
                os.fsync(self._fh.fileno())
        except OSError as exc:
            self.error = f"journal {self.path}: {exc.strerror or exc} (journaling stopped)"
            return False
        self.records += 1
        return True

    def close(self, remove: bool = False) -> None:
        """Close the journal; remove the file if asked (the final result is safely written)."""
        if self._fh is not None:
            try:
                self._fh.close()
            except OSError as exc:
                self.error = self.error or f"journal {self.path}: {exc.strerror or exc}"
            self._fh = None
        if remove and self._created:  # only our own file: made by exclusive create
            self.path.unlink(missing_ok=True)


def unique_path(path: str | os.PathLike[str]) -> Path:
    """Return a sibling of a journal path that names this run: NAME.<pid>.<random>.journal."""
    p = Path(path)
    stem = p.name[: -len(".journal")] if p.name.endswith(".journal") else p.name
    return p.with_name(f"{stem}.{os.getpid()}.{os.urandom(4).hex()}.journal")


def journals_for(output: str | os.PathLike[str]) -> list[Path]:
    """Return every journal of runs that wrote (or meant to write) ``output``."""
    p = Path(output)
    found = [p.with_name(p.name + ".journal")]
    found += sorted(p.parent.glob(f"{glob_escape(p.name)}.*.*.journal"))
    return [f for f in found if f.is_file()]


def glob_escape(text: str) -> str:
    """Return text with glob metacharacters escaped."""
    import glob

    return glob.escape(text)


def is_live(path: str | os.PathLike[str]) -> bool:
    """Return True if a running greenai holds this journal (its lock is taken)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no way to tell
        return False
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False


def _lock(fd: int) -> None:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: exclusive create alone
        return
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


class OutputClaim:
    """A lock on an output path, held by one live run (OUTPUT.lock, fcntl).

    A second run that targets the same output while the first is alive is refused with
    one line, rather than overwriting the first one's result when both finish.
    """

    def __init__(self, output: str | os.PathLike[str]):
        self.output = Path(output)
        self.path = self.output.with_name(self.output.name + ".lock")
        self._fd: int | None = None

    def acquire(self) -> OutputClaim:
        """Take the lock; DisclosureError naming the holder if another live run has it."""
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            # never through a link or onto a device: in a shared folder another user could
            # plant OUTPUT.lock -> ~/.bashrc, and the pid written below would replace it
            flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | os.O_NONBLOCK
            try:
                fd = os.open(self.path, flags, 0o644)
            except OSError:
                if os.path.islink(self.path):
                    raise DisclosureError(
                        f"{self.path}: a symbolic link, not a greenai lock file; remove it "
                        "(greenai never writes through a link)"
                    ) from None
                raise
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                os.close(fd)
                raise DisclosureError(
                    f"{self.path}: not a regular file, so not a greenai lock file; remove it"
                )
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = os.read(fd, 64).decode("ascii", "replace").strip() or "?"
                os.close(fd)
                raise DisclosureError(
                    f"{self.output}: another live greenai run (pid {holder}) is writing this "
                    "result; give a different -o, or wait for it to finish"
                ) from None
            try:  # the holder before us may have removed the file: lock what the name is
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def __enter__(self) -> OutputClaim:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

    def release(self) -> None:
        """Remove the lock file and drop the lock."""
        if self._fd is None:
            return
        self.path.unlink(missing_ok=True)
        os.close(self._fd)
        self._fd = None


@dataclass
class JournalContents:
    """What a journal holds: its header, its last good checkpoint, and what was skipped."""

    header: dict[str, Any]
    last: dict[str, Any] | None
    checkpoints: int = 0
    skipped_lines: list[int] = field(default_factory=list)
    faults: list[list[Any]] = field(default_factory=list)  # [probe, t_s, error, fatal]
    ended: dict[str, Any] | None = None
    settings: list[dict[str, Any]] = field(default_factory=list)  # "k" records


def read(path: str | os.PathLike[str]) -> JournalContents:
    """Return the header and last good checkpoint of a journal; DisclosureError if unusable."""
    p = Path(path)
    try:
        fh = open(p, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise DisclosureError(f"{p}: cannot read journal: {exc.strerror or exc}") from exc
    header: dict[str, Any] | None = None
    contents: JournalContents | None = None
    with fh:
        for lineno, line in enumerate(_lines(fh), start=1):
            record = decode(line)
            if record is None:
                if contents is not None:
                    contents.skipped_lines.append(lineno)
                    continue
                raise DisclosureError(
                    f"{p}:{lineno}: the journal header is torn or corrupt: nothing to recover"
                )
            kind = record.get("k")
            if header is None:
                if kind != "h" or record.get("v") != JOURNAL_VERSION:
                    raise DisclosureError(
                        f"{p}:{lineno}: not a greenai journal (first record is not a version "
                        f"{JOURNAL_VERSION} header)"
                    )
                header = record
                contents = JournalContents(header=header, last=None)
            elif kind == "c":
                contents.last = record  # type: ignore[union-attr]
                contents.checkpoints += 1  # type: ignore[union-attr]
                faults = record.get("faults")
                if isinstance(faults, list):
                    contents.faults.extend(faults)  # type: ignore[union-attr]
            elif kind == "e":
                contents.ended = record  # type: ignore[union-attr]
            elif kind == "k":
                contents.settings.append(record)  # type: ignore[union-attr]
            else:
                contents.skipped_lines.append(lineno)  # type: ignore[union-attr]
    if contents is None:
        raise DisclosureError(f"{p}: the journal is empty: nothing to recover")
    return contents


def _lines(fh: Any):
    while True:
        line = fh.readline(MAX_LINE_BYTES)
        if not line:
            return
        yield line
