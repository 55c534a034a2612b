"""Locate the data files shipped under standards/ (in the wheel: greenai/_standards)."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path


@lru_cache(maxsize=1)
def standards_dir() -> Path:
    """Return the directory holding standard files and factors/ (packaged or source tree)."""
    packaged = Path(str(resources.files("greenai"))) / "_standards"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "standards"


def factors_dir() -> Path:
    """Return the directory holding the shipped factor tables."""
    return standards_dir() / "factors"
