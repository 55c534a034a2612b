"""Reading the small text files greenai is configured by (standards, suites, sites, mappings).

Such a file is a few kilobytes. A hostile or mistaken one (a 2 GB log given as a standard, a
FIFO, /dev/zero) must not be read whole into memory first: ``read_text`` refuses a file over
the bound before it reads it, and reads at most the bound plus one byte from anything whose
size the file system does not tell (a pipe), so a stream cannot grow past it either.
The refusal is an OSError (EFBIG), which every caller already reports as "cannot read".
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

DEFAULT_MAX_BYTES = 4 * 1024 * 1024  # the largest shipped standard is ~40 KB
MAX_ENV = "GREENAI_MAX_TOML_BYTES"


def max_bytes() -> int:
    """Return the bound: GREENAI_MAX_TOML_BYTES when it is a positive integer, else 4 MiB."""
    raw = os.environ.get(MAX_ENV, "")
    return int(raw) if raw.isdigit() and int(raw) > 0 else DEFAULT_MAX_BYTES


class FileTooLarge(OSError):
    """A settings file over the bound; reads as its reason alone ("cannot read: REASON")."""

    def __str__(self) -> str:
        return str(self.strerror)


def _too_big(size: str, limit: int) -> OSError:
    return FileTooLarge(
        errno.EFBIG,
        f"{size} bytes is over the {limit:,} byte bound of a greenai settings file "
        f"(set {MAX_ENV} to read larger ones)",
    )


def read_text(path: str | os.PathLike[str]) -> str:
    """Return a UTF-8 text file's content; OSError(EFBIG) if it is over the bound."""
    limit = max_bytes()
    with open(Path(path), "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size > limit:
            raise _too_big(f"{size:,}", limit)
        raw = f.read(limit + 1)
    if len(raw) > limit:
        raise _too_big(f"more than {limit:,}", limit)
    return raw.decode("utf-8")
