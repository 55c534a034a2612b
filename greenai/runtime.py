"""This node and this process: the runtime folder, whether a process lives, the node's id.

A neutral room below everything that needs it (the meter's node markers, the tuner's
guard files, recovery, the bench harness, the exporter).
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path

NODE_NAME_VARIABLES = ("GREENAI_NODE", "SLURMD_NODENAME")


def runtime_dir() -> Path:
    """Return this user's greenai folder for per-node state (markers, tuner originals)."""
    base = os.environ.get("GREENAI_RUNTIME_DIR") or os.environ.get("TMPDIR")
    if not base:
        import tempfile  # its import costs milliseconds of start-up: only where TMPDIR is unset

        base = "/tmp" if os.path.isdir("/tmp") else tempfile.gettempdir()
    return Path(base) / f"greenai-{os.getuid() if hasattr(os, 'getuid') else 'user'}"


def private_dir(folder: Path) -> Path:
    """Return folder, made if absent (mode 0700), once it is known to be this user's own.

    The runtime folder sits in /tmp, where another user may make it first to plant links
    (a marker written through one would truncate its target) or state files (settings a
    later greenai would "restore"). PermissionError unless it is a real directory owned by
    this user; a folder of ours that others could write to is made private (0700).
    """
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = os.lstat(folder)
    uid = os.geteuid() if hasattr(os, "geteuid") else st.st_uid
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != uid:
        raise PermissionError(
            f"{folder}: not this user's own folder (a link, or owned by uid {st.st_uid}); "
            "greenai keeps no node state there: remove it, or set GREENAI_RUNTIME_DIR"
        )
    if st.st_mode & 0o022:
        os.chmod(folder, 0o700)
    return folder


def user_cache_dir() -> Path:
    """Return this user's greenai cache folder (GREENAI_CACHE_DIR, else the XDG cache)."""
    base = os.environ.get("GREENAI_CACHE_DIR")
    if base:
        return Path(base)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "greenai"


def alive(pid: int) -> bool:
    """Return True if process ``pid`` exists (also when another user owns it)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def host_id(env: Mapping[str, str] | None = None) -> str:
    """Return a filesystem-safe id of this node: GREENAI_NODE, SLURMD_NODENAME or hostname."""
    import platform  # its import costs ~1.5 ms: only where a node id is asked for

    env = os.environ if env is None else env
    name = next((env[v] for v in NODE_NAME_VARIABLES if env.get(v, "").strip()), None)
    name = name or platform.node() or "host"
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "host"


def umask() -> int:
    """Return the process umask: from /proc (no change to the process), else set and put back."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """Return the mode a plain open() gives a new file (0o666 less the umask: 0644 under
    umask 022); for temp files that replace an output, which mkstemp makes 0600."""
    return 0o666 & ~umask()


class NodeMarker:
    """This process's mark among the node's metering processes (``meter-<pid>`` files).

    The file lives from the process's first meter to its exit; it holds a shared lock
    while the process meters and none while it is idle, so another process counts it only
    when it meters now. Setting the state is one flock call (no file written per window).
    Without fcntl (Windows) a live process's file counts as metering.
    """

    PREFIX = "meter-"

    def __init__(self, folder: Path):
        self.folder = folder
        self.pid = os.getpid()
        self.path = folder / f"{self.PREFIX}{self.pid}"
        self._fd: int | None = None

    def create(self) -> bool:
        """Write the marker, marked as metering; return False where it cannot be written."""
        try:
            private_dir(self.folder)
            flags = os.O_CREAT | os.O_WRONLY | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
            fd = os.open(self.path, flags, 0o644)
            os.write(fd, str(os.getpid()).encode())
        except OSError:
            return False
        self._fd = fd
        self.metering(True)
        return True

    def metering(self, now: bool) -> None:
        """Mark this process as metering now (True) or idle (False)."""
        if self._fd is None:
            return
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            return
        with contextlib.suppress(OSError):  # no locks here: the marker counts as metering
            fcntl.flock(self._fd, fcntl.LOCK_SH if now else fcntl.LOCK_UN)

    def others(self) -> list[int]:
        """Return the other processes metering this node now; remove dead ones' markers."""
        found = []
        for f in self.folder.glob(f"{self.PREFIX}*"):
            try:
                pid = int(f.name.removeprefix(self.PREFIX))
            except ValueError:
                continue
            if pid == os.getpid():
                continue
            if not alive(pid):
                f.unlink(missing_ok=True)
            elif _locked(f):
                found.append(pid)
        return sorted(found)

    def remove(self) -> None:
        """Remove the marker (at exit; a forked child leaves its parent's alone)."""
        if os.getpid() != self.pid:
            return
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None
        self.path.unlink(missing_ok=True)


def _locked(path: Path) -> bool:
    """Return True if some process holds a lock on path (or locks cannot be tested)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: a live process's marker counts
        return True
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False  # gone since it was listed
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return True  # no locks on this file system: assume it meters
    finally:
        os.close(fd)  # closing the descriptor drops a lock we took
    return False
