"""Which probes work on this machine, and for each that does not, why."""

from __future__ import annotations

import os

from greenai.probes.base import Discovery, ProbeUnavailable


def discover(env: dict[str, str] | None = None) -> Discovery:
    """Return the working probes (counters first, models where no counter covers a domain)."""
    from greenai.probes import nvml, rapl

    env = os.environ if env is None else env
    found = Discovery()
    rapl_found = rapl.discover()
    found.extend(rapl_found)
    counted = {p.domain for p in rapl_found.probes if p.counts_in_total}
    if "cpu" not in counted:
        from greenai.probes.cpu_model import discover_cpu_model

        found.probes.append(discover_cpu_model(env))
    if "dram" not in counted:
        from greenai.probes.memory import DramModelProbe

        found.probes.append(DramModelProbe())
        if counted:
            found.unavailable.append(
                ProbeUnavailable(
                    "rapl:dram",
                    "RAPL has no dram domain here (common on AMD and "
                    "client CPUs): DRAM energy is modelled",
                )
            )
    found.extend(nvml.discover(env))
    return found


_cache: dict[tuple[str | None, ...], Discovery] = {}


def discover_cached() -> Discovery:
    """Return the discovery for this process, reused while the relevant env is unchanged."""
    key = (
        os.environ.get("GREENAI_POWERCAP_ROOT"),
        os.environ.get("CUDA_VISIBLE_DEVICES"),
        os.environ.get("GREENAI_CPU_PACKAGE_THREADS"),
        os.environ.get("GREENAI_CPU_TDP_W"),
        os.environ.get("GREENAI_NVML"),
    )
    if key not in _cache:
        _cache.clear()
        _cache[key] = discover()
    return _cache[key]
