"""DRAM power model, used when RAPL has no dram domain."""

from __future__ import annotations

import os
from typing import Any

from greenai import units
from greenai.probes.base import Method

MODEL_NAME = "dram-per-gib-v1"
# 3 W per 8 GiB of DDR3/DDR4: CodeCarbon's RAM model before v3 (codecarbon/external/ram.py),
# which cites Crucial, "How much power does memory use?".
W_PER_GIB = 3.0 / 8.0
SOURCE = "3 W per 8 GiB (CodeCarbon RAM model, citing Crucial: 'How much power does memory use?')"


def installed_memory_bytes() -> int:
    """Return the memory installed (visible to the OS), in bytes."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not POSIX
        import psutil

        return int(psutil.virtual_memory().total)


class DramModelProbe:
    """Estimated DRAM power (W): installed memory x W per GiB; method MODEL."""

    id = "model:dram"
    domain = "dram"
    method = Method.MODEL
    counts_in_total = True
    wrap_j = None
    max_power_w = None

    def __init__(self, installed_bytes: int | None = None):
        self.installed_bytes = (
            installed_bytes if installed_bytes is not None else installed_memory_bytes()
        )
        self.power_w = units.bytes_to_gib(self.installed_bytes) * W_PER_GIB

    def read(self) -> float:
        """Return the modelled DRAM power in W (constant for a machine)."""
        return self.power_w

    def info(self) -> dict[str, Any]:
        """Return the model, its source and the memory it was applied to."""
        return {
            "model": MODEL_NAME,
            "installed_gib": round(units.bytes_to_gib(self.installed_bytes), 3),
            "w_per_gib": W_PER_GIB,
            "power_w": round(self.power_w, 6),
            "source": SOURCE,
            "boundary": "installed DRAM (modelled)",
        }

    def close(self) -> None:
        """Nothing to release."""
