"""Run the `greenai` command in a subprocess, as a user would, against this checkout."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def greenai_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess:
    """Return the finished `python -m greenai ARGS...` (stdout and stderr captured as text)."""
    return subprocess.run(
        [sys.executable, "-m", "greenai", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
        timeout=timeout,
    )
