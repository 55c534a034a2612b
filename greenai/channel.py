"""The units channel: a metered command tells `greenai run` how many functional units it did.

`greenai run` (without `--units`) creates an empty file and names it in the child's
environment as GREENAI_UNITS_FILE. In the child, `greenai.count(n)` appends one line, the
number n in decimal, to that file (one `write` on a file opened O_APPEND, so lines from
several processes or threads never interleave). When the command ends, `greenai run` adds
the lines up and records the sum as the run's units. Any program can use the channel
without greenai: `echo 1000 >> "$GREENAI_UNITS_FILE"`.
"""

from __future__ import annotations

import math
import os
import threading
import warnings
from pathlib import Path

from greenai.errors import GreenAIWarning

UNITS_ENV = "GREENAI_UNITS_FILE"
_warned = threading.Event()


def count(n: float = 1) -> bool:
    """Report n functional units to the `greenai run` metering this process.

    Returns True when the count was written, False when no channel is open (not under
    `greenai run`, or `--units` was given): then it warns once and does nothing else.
    """
    if isinstance(n, bool) or not isinstance(n, (int, float)) or not math.isfinite(n) or n < 0:
        raise ValueError(f"greenai.count: units must be a finite number >= 0, not {n!r}")
    path = os.environ.get(UNITS_ENV)
    if not path:
        if not _warned.is_set():
            _warned.set()
            warnings.warn(
                f"greenai.count: {UNITS_ENV} is not set (not run under `greenai run`, or "
                "--units was given): the units are not recorded",
                GreenAIWarning,
                stacklevel=2,
            )
        return False
    line = f"{int(n)}\n" if float(n).is_integer() else f"{float(n)!r}\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line.encode("ascii"))
    finally:
        os.close(fd)
    return True


def read_total(path: str | os.PathLike[str]) -> tuple[float, int]:
    """Return (sum of the counts, number of lines counted) in a units file.

    A line that is not a finite number >= 0 is left out with a warning naming the file and
    line; a missing file counts nothing.
    """
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return 0.0, 0
    total, lines = 0.0, 0
    for number, raw in enumerate(text.splitlines(), 1):
        item = raw.strip()
        if not item:
            continue
        try:
            value = float(item)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or value < 0:
            warnings.warn(
                f"{path}: line {number}: {item[:40]!r} is not a unit count (a number >= 0): "
                "left out",
                GreenAIWarning,
                stacklevel=2,
            )
            continue
        total += value
        lines += 1
    return total, lines
