"""Which probes work on this machine, and for each that does not, why."""

from __future__ import annotations

import os
from typing import Any

from greenai.probes.base import Discovery, ProbeUnavailable


def discover(env: dict[str, str] | None = None) -> Discovery:
    """Return the working probes (counters first, models where no counter covers a domain)."""
    from greenai.probes import amd, apple, hwmon, nvml, rapl, wall

    env = os.environ if env is None else env
    found = Discovery()
    rapl_found = rapl.discover()
    found.extend(rapl_found)
    # GPUs and SoCs read through vendor interfaces; their hwmon twins are then skipped
    amd_found = amd.discover(env)
    apple_found = apple.discover(env)
    rapl_counted = {p.domain for p in rapl_found.probes if p.counts_in_total}
    skip = ("amdgpu",) if amd_found.probes else ()
    if "cpu" in rapl_counted:
        skip += ("amd_energy", "zenergy")  # the same socket counters RAPL already reads
    hwmon_found = hwmon.discover(skip_drivers=skip)
    counted = rapl_counted | {
        p.domain
        for d in (hwmon_found, apple_found)
        for p in d.probes
        if p.counts_in_total and p.domain in ("cpu", "dram")
    }
    if "cpu" not in counted:
        from greenai.probes.cpu_model import discover_cpu_model

        found.probes.append(discover_cpu_model(env))
    if "dram" not in counted:
        from greenai.probes.memory import DramModelProbe

        found.probes.append(DramModelProbe())
        if rapl_counted:
            found.unavailable.append(
                ProbeUnavailable(
                    "rapl:dram",
                    "RAPL has no dram domain here (common on AMD and "
                    "client CPUs): DRAM energy is modelled",
                )
            )
    found.extend(nvml.discover(env))
    found.extend(amd_found)
    found.extend(apple_found)
    found.extend(hwmon_found)
    found.extend(wall.discover(env))
    return found


_cache: dict[tuple[Any, ...], Discovery] = {}
# what discovery depends on besides the machine
_ENV_KEYS = (
    "GREENAI_POWERCAP_ROOT",
    "CUDA_VISIBLE_DEVICES",
    "GREENAI_CPU_PACKAGE_THREADS",
    "GREENAI_CPU_TDP_W",
    "GREENAI_NVML",
    "GREENAI_HWMON_ROOT",
    "GREENAI_AMDSMI",
    "GREENAI_POWERMETRICS",
    "GREENAI_IOREPORT",
    "GREENAI_REDFISH_URL",
    "GREENAI_IPMI_HOST",
    "GREENAI_IPMITOOL",
)
_ENV_KEYS_RAW = tuple(os.fsencode(k) for k in _ENV_KEYS) if os.name == "posix" else ()


def _env_key() -> tuple[Any, ...]:
    # a meter with none other open checks this: on POSIX, os.environ's own bytes mapping
    # (updated by every os.environ change) is read without decoding 12 values (~9 us)
    raw = getattr(os.environ, "_data", None)
    if _ENV_KEYS_RAW and isinstance(raw, dict):
        return tuple(map(raw.get, _ENV_KEYS_RAW))
    return tuple(map(os.environ.get, _ENV_KEYS))


def discover_cached() -> Discovery:
    """Return the discovery for this process, reused while the relevant env is unchanged."""
    key = _env_key()
    if key not in _cache:
        _cache.clear()
        _cache[key] = discover()
    return _cache[key]
