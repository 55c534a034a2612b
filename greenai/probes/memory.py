"""DRAM power model, used when RAPL has no dram domain."""

from __future__ import annotations

import math
import os
from typing import Any

from greenai import units
from greenai.probes.base import Method

MODEL_NAME = "dram-dimm-v2"
# CodeCarbon 3.3.2's RAM model (codecarbon/external/ram.py: RAM._estimate_dimm_count and
# RAM._calculate_ram_power), which replaced its earlier 3 W per 8 GB: the DIMMs are guessed
# from the installed memory, each draws 5 W on x86 (RAM_SLOT_POWER_X86; 1.5 W on ARM), with
# less per DIMM beyond 4, 8 and 16 DIMMs, and at least two DIMMs' worth (3 W on ARM).
# Followed here, in CodeCarbon's GB (2^30 bytes), so an import of a CodeCarbon run and a
# greenai run on the same machine model DRAM alike.
W_PER_DIMM_X86 = 5.0
W_PER_DIMM_ARM = 1.5
SOURCE = (
    "CodeCarbon 3.3.2 RAM model (codecarbon/external/ram.py, RAM._calculate_ram_power): "
    "DIMM count estimated from installed memory, 5 W per DIMM on x86 (1.5 W on ARM), "
    "90/80/70 % per DIMM beyond 4/8/16 DIMMs, at least 2 DIMMs' worth"
)


def dimm_count(total_gib: float) -> int:
    """Return the DIMMs CodeCarbon 3.3.2 assumes for this much memory (RAM._estimate_dimm_count)."""
    if total_gib <= 2:
        return 1
    if total_gib <= 16:
        return 2
    if total_gib <= 32:
        return 4
    if total_gib <= 64:
        return 4
    if total_gib <= 128:
        return 8
    for size in (128, 64, 32, 16, 8, 4):
        if size <= total_gib / 8:
            return min(math.ceil(total_gib / size), 32)
    return 8


def ram_power_w(total_gib: float, arm: bool = False) -> float:
    """Return CodeCarbon 3.3.2's RAM power estimate in W (RAM._calculate_ram_power)."""
    per = W_PER_DIMM_ARM if arm else W_PER_DIMM_X86
    floor = 3.0 if arm else 2 * per
    n = dimm_count(total_gib)
    steps = ((4, 1.0), (4, 0.9), (8, 0.8), (math.inf, 0.7))  # DIMMs at each share of `per`
    power, left = 0.0, n
    for count, share in steps:
        take = min(left, count)
        power += per * share * take
        left -= take
    return max(floor, power)


def _is_arm() -> bool:
    if hasattr(os, "uname"):  # what platform.machine() reads, without importing platform
        machine = os.uname().machine
    else:
        import platform

        machine = platform.machine()
    return any(arm in machine.lower() for arm in ("arm", "aarch"))


def installed_memory_bytes() -> int:
    """Return the memory installed (visible to the OS), in bytes."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not POSIX
        import psutil

        return int(psutil.virtual_memory().total)


class DramModelProbe:
    """Estimated DRAM power (W): CodeCarbon 3.3.2's DIMM model of installed memory; MODEL."""

    id = "model:dram"
    domain = "dram"
    method = Method.MODEL
    counts_in_total = True
    wrap_j = None
    max_power_w = None

    def __init__(self, installed_bytes: int | None = None, arm: bool | None = None):
        self.installed_bytes = (
            installed_bytes if installed_bytes is not None else installed_memory_bytes()
        )
        self.arm = _is_arm() if arm is None else arm
        self.dimms = dimm_count(units.bytes_to_gib(self.installed_bytes))
        self.power_w = ram_power_w(units.bytes_to_gib(self.installed_bytes), self.arm)

    def read(self) -> float:
        """Return the modelled DRAM power in W (constant for a machine)."""
        return self.power_w

    def info(self) -> dict[str, Any]:
        """Return the model, its source and the memory it was applied to."""
        return {
            "model": MODEL_NAME,
            "installed_gib": round(units.bytes_to_gib(self.installed_bytes), 3),
            "dimms_assumed": self.dimms,
            "w_per_dimm": W_PER_DIMM_ARM if self.arm else W_PER_DIMM_X86,
            "power_w": round(self.power_w, 6),
            "source": SOURCE,
            "boundary": "installed DRAM (modelled)",
        }

    def close(self) -> None:
        """Nothing to release."""
