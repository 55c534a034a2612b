"""Window accounting: the energy of a window between two sampler snapshots.

Pure functions of snapshots and probe specs (no clock, no threads), shared by the live
meter and by journal recovery: energy per domain and per device, and the Measurement of
a window with its run information.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from greenai._version import __version__
from greenai.measurement import (
    DeviceEnergy,
    DomainEnergy,
    Gap,
    IdleBaseline,
    Measurement,
    PhaseEnergy,
    Timeline,
)
from greenai.probes.base import ProbeSpec
from greenai.sampler import ProbeFault, Snapshot


def domain_energy(specs: Sequence[ProbeSpec], a: Snapshot, b: Snapshot) -> dict[str, DomainEnergy]:
    """Return energy per domain between two snapshots (non-overlapping probes only)."""
    ea, eb, fa, fb = a.energy_j, b.energy_j, a.failed_at_s, b.failed_at_s
    if fb.count(None) == len(fb):  # no probe failed (the common case): nothing to mask
        return {
            name: DomainEnergy(math.fsum([eb[i] - ea[i] for i in members]), provenance, True)
            for name, members, provenance in _domain_plan(specs)
        }
    return {
        name: DomainEnergy(
            energy_j=math.fsum([0.0 if fa[i] is not None else eb[i] - ea[i] for i in members]),
            provenance=provenance,
            complete=all(fb[i] is None for i in members),
        )
        for name, members, provenance in _domain_plan(specs)
    }


_plans: list[Any] = [None, ()]  # [specs, their plan]: the shared sampler's, worked out once


def _domain_plan(specs: Sequence[ProbeSpec]) -> tuple[tuple[str, tuple[int, ...], str], ...]:
    """Return (domain, indices of the probes that count in it, provenance), domains sorted."""
    if _plans[0] is specs:
        return _plans[1]  # type: ignore[no-any-return]
    members: dict[str, list[int]] = {}
    kinds: dict[str, set[str]] = {}
    for i, spec in enumerate(specs):
        if spec.counts_in_total:
            members.setdefault(spec.domain, []).append(i)
            kinds.setdefault(spec.domain, set()).add(spec.provenance)
    plan = tuple(
        (name, tuple(members[name]), kinds[name].pop() if len(kinds[name]) == 1 else "mixed")
        for name in sorted(members)
    )
    _plans[:] = [specs, plan]
    return plan


def device_energy(
    specs: Sequence[ProbeSpec], a: Snapshot, b: Snapshot, faults: Sequence[ProbeFault]
) -> list[DeviceEnergy]:
    """Return energy per probe between two snapshots; a probe dead before ``a`` gets None."""
    errors = {}
    for f in faults:
        if f.fatal:
            errors.setdefault(f.probe, f.error)
    devices = []
    for i, spec in enumerate(specs):
        failed_at = b.failed_at_s[i]
        devices.append(
            DeviceEnergy(
                id=spec.id,
                domain=spec.domain,
                method=spec.method,
                provenance=spec.provenance,
                energy_j=None if a.failed_at_s[i] is not None else b.energy_j[i] - a.energy_j[i],
                counts_in_total=spec.counts_in_total,
                status="failed" if failed_at is not None else "ok",
                failed_at_s=None if failed_at is None else max(failed_at - a.t_s, 0.0),
                error=errors.get(spec.id) if failed_at is not None else None,
                info=spec.info,
            )
        )
    return devices


@dataclass
class RunInfo:
    """What a meter knows of a run besides the snapshots (also what the journal keeps)."""

    task: str | None = None
    unit: str | None = None
    units_done: float = 0.0
    started_at: str = ""
    phases: dict[str, list[Any]] | None = None  # name -> [duration_s, units, {domain: J}]
    idle: IdleBaseline | None = None
    unavailable: tuple[dict[str, str], ...] = ()
    host: dict[str, Any] | None = None
    sampling: dict[str, Any] | None = None
    command: tuple[str, ...] | None = None
    exit_code: int | None = None
    extra: dict[str, Any] | None = None  # blocks the caller adds to the disclosure
    optimisation: Any = None  # a tuner's Optimisation block


def assemble(
    specs: Sequence[ProbeSpec],
    a: Snapshot,
    b: Snapshot,
    faults: Sequence[ProbeFault],
    run: RunInfo,
    status: str,
    error: dict[str, str] | None = None,
    timeline: Timeline | None = None,
) -> Measurement:
    """Return the Measurement of the window [a, b] (used live and by journal recovery)."""
    domains = domain_energy(specs, a, b)
    duration = b.t_s - a.t_s
    idle = run.idle
    if idle is not None:
        net = {
            k: domains[k].energy_j - idle.power_by_domain_w.get(k, 0.0) * duration for k in domains
        }
        idle = IdleBaseline(
            duration_s=idle.duration_s,
            power_w=idle.power_w,
            power_by_domain_w=idle.power_by_domain_w,
            net_energy_j=math.fsum(net.values()),
            net_by_domain_j=net,
        )
    phases = tuple(
        PhaseEnergy(
            name=name,
            duration_s=float(v[0]),
            energy_j=math.fsum(v[2].values()),
            by_domain=dict(sorted(v[2].items())),
            units=float(v[1]),
        )
        for name, v in (run.phases or {}).items()
    )
    gaps = tuple(
        Gap(probe=f.probe, from_s=max(f.t_s - a.t_s, 0.0), error=f.error, fatal=f.fatal)
        for f in faults
        if f.t_s >= a.t_s or f.fatal
    )
    m = Measurement(
        status=status,
        task=run.task,
        unit=run.unit,
        units_done=run.units_done,
        started_at=run.started_at,
        duration_s=duration,
        domains=domains,
        devices=(),  # per-probe energy: worked out when first read
        phases=phases,
        idle=idle,
        gaps=gaps,
        probes_unavailable=run.unavailable,
        host=run.host or {},
        sampling=run.sampling or {},
        timeline=timeline,
        error=error,
        command=run.command,
        exit_code=run.exit_code,
        extra=dict(run.extra) if run.extra else {},
        optimisation=run.optimisation,
        greenai_version=__version__,
    )
    m._defer(("devices",), lambda _: {"devices": tuple(device_energy(specs, a, b, faults))})
    return m


@functools.lru_cache(maxsize=1)
def _static_host() -> tuple[tuple[str, Any], ...]:
    import platform

    from greenai.probes.cpu_model import cpu_brand
    from greenai.probes.memory import installed_memory_bytes

    return (
        ("hostname", platform.node()),
        ("os", f"{platform.system()} {platform.release()}"),
        ("python", platform.python_version()),
        ("cpu", cpu_brand()),
        ("logical_cpus", os.cpu_count()),
        ("memory_bytes", installed_memory_bytes()),
    )


_last_inventory: list[Any] = [None, None]  # [specs, their GPUs]: one process, one set


def host_inventory(specs: Sequence[ProbeSpec]) -> dict[str, Any]:
    """Return the host and hardware inventory (name, OS, CPU, memory, GPUs)."""
    if _last_inventory[0] is not specs:  # the shared sampler's specs: worked out once
        gpus = [
            {k: s.info.get(k) for k in ("name", "uuid", "power_limit_w", "driver_version")}
            for s in specs
            if s.domain == "gpu"
        ]
        _last_inventory[:] = [specs, gpus]
    return {**dict(_static_host()), "gpus": [dict(g) for g in _last_inventory[1]]}
