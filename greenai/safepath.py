"""File names that come from data, kept inside the folder they are written to.

A name read from a file (an importer mapping's id, a model id in a table, a suite's or a
standard's id) must never become a path: no separator, no ``..``, no absolute path, no
control character. ``check_name`` refuses such a name with one line; ``slug`` turns any
text into a safe name; ``create_unique`` writes a file under a name that no other writer
(another greenai at the same moment) holds, by exclusive create, never a racing counter.
"""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path

from greenai.errors import GreenAIError

MAX_NAME = 100
_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
_UNSAFE_RUN = re.compile(r"[^A-Za-z0-9._+-]+")


class UnsafeNameError(GreenAIError, ValueError):
    """A name from a file that would escape, or not fit in, the folder it names a file in."""


def check_name(name: object, what: str = "name", source: str = "<input>") -> str:
    """Return ``name`` if it can name a file on its own; UnsafeNameError otherwise.

    Safe: letters, digits, '.', '_', '+' or '-', starting with a letter or digit, at most
    100 characters, no '..' (so no separator, no parent, no absolute path, no hidden file).
    """
    if not isinstance(name, str) or not name:
        raise UnsafeNameError(f"{source}: {what}: missing (a non-empty string is required)")
    if len(name) > MAX_NAME or not _SAFE.match(name) or ".." in name:
        shown = name if len(name) <= 60 else name[:57] + "..."
        raise UnsafeNameError(
            f"{source}: {what}: {shown!r} cannot name a file (use letters, digits, '.', '_', "
            f"'+' or '-', start with a letter or digit, no '..', at most {MAX_NAME} characters)"
        )
    return name


def slug(text: object, fallback: str = "item", max_len: int = 60) -> str:
    """Return a safe file-name stem made from any text (e.g. 'meta/Llama 3' -> 'meta-Llama-3')."""
    raw = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode()
    s = _UNSAFE_RUN.sub("-", raw)
    s = re.sub(r"\.{2,}", ".", s).strip("-._+")[:max_len].strip("-._+")
    return s or fallback


def within(folder: str | os.PathLike[str], name: str) -> Path:
    """Return folder/name, refusing a name that is not a single safe component."""
    check_name(name, "file name")
    base = Path(folder)
    path = base / name
    if path.resolve().parent != base.resolve():
        raise UnsafeNameError(f"{path}: would be written outside {base}")
    return path


_NEXT: dict[tuple[str, str, str], int] = {}


def create_unique(folder: str | os.PathLike[str], stem: str, suffix: str, text: str) -> Path:
    """Write text to folder/stem<suffix>, or stem-2, stem-3 ... : the first name not taken.

    The name is claimed by exclusive create (O_EXCL), so two writers at once never take
    the same one; the text goes to a temp file that then replaces the claimed (empty) name,
    so a reader never sees half a file under a final name for longer than the rename.
    """
    import tempfile

    stem = check_name(stem, "file name")
    base = Path(folder)
    base.mkdir(parents=True, exist_ok=True)
    within(base, f"{stem}{suffix}")
    key = (str(base.resolve()), stem, suffix)
    n = _NEXT.get(key, 1)  # where this process left off: 10,000 rows of one model stay O(n)
    while True:
        path = base / (f"{stem}{suffix}" if n == 1 else f"{stem}-{n}{suffix}")
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
        except FileExistsError:
            n += 1
            continue
        break
    _NEXT[key] = n + 1
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=base)
    try:
        from greenai.runtime import file_mode

        os.fchmod(fd, file_mode())  # as open() would: 0644 under umask 022, not mkstemp's 0600
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        path.unlink(missing_ok=True)
        raise
    return path
