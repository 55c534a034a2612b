"""Meter: a context manager and decorator that turns sampler snapshots into a Measurement."""

from __future__ import annotations

import contextlib
import functools
import inspect
import math
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timezone
from typing import Any, TypeVar

from greenai._version import __version__
from greenai.errors import GreenAIError, GreenAIWarning
from greenai.measurement import (
    DeviceEnergy,
    DomainEnergy,
    Gap,
    IdleBaseline,
    Measurement,
    PhaseEnergy,
    Timeline,
)
from greenai.probes.base import Probe
from greenai.sampler import DEFAULT_INTERVAL_S, Sampler, Snapshot

F = TypeVar("F", bound=Callable[..., Any])


# --------------------------------------------------------------------- shared sampler
class _SharedSampler:
    """One sampler per process, shared by every meter that does not bring its own."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sampler: Sampler | None = None
        self._unavailable: tuple[dict[str, str], ...] = ()
        self._intervals: list[float] = []

    def acquire(self, interval_s: float) -> tuple[Sampler, tuple[dict[str, str], ...]]:
        with self._lock:
            if self._sampler is None:
                from greenai.probes.discover import discover_cached

                found = discover_cached()
                self._sampler = Sampler(found.probes, interval_s=interval_s)
                self._unavailable = tuple(u.to_dict() for u in found.unavailable)
                self._sampler.start()
            self._intervals.append(interval_s)
            self._sampler.set_interval(min(self._intervals))
            return self._sampler, self._unavailable

    def release(self, interval_s: float) -> None:
        with self._lock:
            self._intervals.remove(interval_s)
            if self._sampler is None:
                return
            if self._intervals:
                self._sampler.set_interval(min(self._intervals))
            else:
                self._sampler.stop()
                self._sampler = None


_shared = _SharedSampler()


# --------------------------------------------------------------------- window maths
def _window(
    sampler: Sampler, a: Snapshot, b: Snapshot
) -> tuple[list[DeviceEnergy], dict[str, DomainEnergy]]:
    """Return per-device and per-domain energy between two snapshots."""
    devices: list[DeviceEnergy] = []
    sums: dict[str, list[float]] = {}
    provenance: dict[str, set[str]] = {}
    complete: dict[str, bool] = {}
    for i, probe in enumerate(sampler.probes):
        failed_before = a.failed_at_s[i] is not None
        failed_at = b.failed_at_s[i]
        energy = None if failed_before else b.energy_j[i] - a.energy_j[i]
        prov = probe.method.provenance
        devices.append(
            DeviceEnergy(
                id=probe.id,
                domain=probe.domain,
                method=probe.method.value,
                provenance=prov,
                energy_j=energy,
                counts_in_total=probe.counts_in_total,
                status="failed" if failed_at is not None else "ok",
                failed_at_s=None if failed_at is None else max(failed_at - a.t_s, 0.0),
                error=_fault_text(sampler, probe.id) if failed_at is not None else None,
                info=probe.info(),
            )
        )
        if probe.counts_in_total:
            sums.setdefault(probe.domain, []).append(energy or 0.0)
            provenance.setdefault(probe.domain, set()).add(prov)
            complete[probe.domain] = complete.get(probe.domain, True) and failed_at is None
    domains = {
        name: DomainEnergy(
            energy_j=math.fsum(values),
            provenance=provenance[name].pop() if len(provenance[name]) == 1 else "mixed",
            complete=complete[name],
        )
        for name, values in sorted(sums.items())
    }
    return devices, domains


def _fault_text(sampler: Sampler, probe_id: str) -> str | None:
    for fault in sampler.faults:
        if fault.probe == probe_id and fault.fatal:
            return fault.error
    return None


def _host_inventory(devices: Sequence[DeviceEnergy]) -> dict[str, Any]:
    import os
    import platform

    import psutil

    from greenai.probes.cpu_model import cpu_brand

    gpus = [
        {k: d.info.get(k) for k in ("name", "uuid", "power_limit_w", "driver_version")}
        for d in devices
        if d.domain == "gpu"
    ]
    return {
        "hostname": platform.node(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "cpu": cpu_brand(),
        "logical_cpus": os.cpu_count(),
        "memory_bytes": psutil.virtual_memory().total,
        "gpus": gpus,
    }


def _utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --------------------------------------------------------------------- Meter
class Meter:
    """Meters the energy of a block of code.

    >>> with Meter(task="image-classification", unit="sample") as m:
    ...     m.count(32)
    >>> m.result.energy_per_unit_j
    """

    def __init__(
        self,
        task: str | None = None,
        unit: str | None = None,
        *,
        interval_s: float = DEFAULT_INTERVAL_S,
        idle_baseline_s: float = 0.0,
        output: str | None = None,
        site: Any = None,
        probes: Sequence[Probe] | None = None,
        sampler: Sampler | None = None,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        timeline: bool = True,
    ):
        self.task = task
        self.unit = unit
        self.interval_s = interval_s
        self.idle_baseline_s = idle_baseline_s
        self.output = output
        self.site = site
        self.keep_timeline = timeline
        self._own_probes = probes
        self._given_sampler = sampler
        self._clock = clock
        self._sleep = sleep
        self._sampler: Sampler | None = None
        self._shared_acquired = False
        self._unavailable: tuple[dict[str, str], ...] = ()
        self._start: Snapshot | None = None
        self._started_at = ""
        self._units = 0.0
        self._units_lock = threading.Lock()
        self._phases: dict[str, list[float]] = {}  # name -> [duration_s, units]
        self._phase_energy: dict[str, dict[str, float]] = {}
        self._active_phases: list[str] = []
        self._idle: tuple[float, dict[str, float]] | None = None
        self._problems: list[str] = []
        self.result: Measurement | None = None
        self.command: tuple[str, ...] | None = None
        self.exit_code: int | None = None

    # ------------------------------------------------------------ life cycle
    def start(self) -> Meter:
        """Start metering (idle baseline first, if asked for); return self."""
        try:
            if self._given_sampler is not None:
                self._sampler = self._given_sampler
            elif self._own_probes is not None:
                kwargs = {"clock": self._clock} if self._clock else {}
                self._sampler = Sampler(self._own_probes, interval_s=self.interval_s, **kwargs)
                if self._clock is None:
                    self._sampler.start()
            else:
                self._sampler, self._unavailable = _shared.acquire(self.interval_s)
                self._shared_acquired = True
            if self.idle_baseline_s > 0:
                self._measure_idle()
            self._started_at = _utc_now()
            self._start = self._sampler.snapshot()
        except (GreenAIError, OSError, ValueError) as exc:
            self._problem(f"could not start metering: {exc}")
        return self

    def _measure_idle(self) -> None:
        assert self._sampler is not None
        a = self._sampler.snapshot()
        self._sleep(self.idle_baseline_s)
        b = self._sampler.snapshot()
        dt = b.t_s - a.t_s
        _, domains = _window(self._sampler, a, b)
        self._idle = (dt, {k: v.energy_j / dt for k, v in domains.items()} if dt > 0 else {})

    def stop(self, status: str = "ok", error: BaseException | None = None) -> Measurement | None:
        """Stop metering and return the Measurement (also kept in ``self.result``)."""
        if self.result is not None:
            return self.result
        sampler, start = self._sampler, self._start
        if sampler is None or start is None:
            return None
        try:
            end = sampler.snapshot()
            self.result = self._build(sampler, start, end, status, error)
        except (GreenAIError, OSError, ValueError) as exc:
            self._problem(f"could not compute the result: {exc}")
        finally:
            self._release()
        if self.result is not None and self.output:
            try:
                self.result.save(self.output)
            except OSError as exc:
                self._problem(f"could not write {self.output}: {exc.strerror or exc}")
        return self.result

    def _release(self) -> None:
        if self._shared_acquired:
            _shared.release(self.interval_s)
            self._shared_acquired = False
        elif self._given_sampler is None and self._sampler is not None and self._sampler.running:
            self._sampler.stop()

    def _problem(self, text: str) -> None:
        self._problems.append(text)
        warnings.warn(f"greenai: {text}", GreenAIWarning, stacklevel=3)

    def __enter__(self) -> Meter:
        return self.start()

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        if exc is None:
            self.stop("ok")
        elif isinstance(exc, KeyboardInterrupt):
            self.stop("interrupted", exc)
        else:
            self.stop("failed", exc)
        return False  # the user's exception propagates unchanged

    # ------------------------------------------------------------ during the run
    def count(self, n: float = 1) -> None:
        """Add n functional units (samples, tokens, queries) done."""
        with self._units_lock:
            self._units += n
            for name in self._active_phases:
                self._phases[name][1] += n

    @property
    def units_done(self) -> float:
        """Return the functional units counted so far."""
        return self._units

    @property
    def energy_j(self) -> float:
        """Return the energy (J) since start, read now (for progress logging)."""
        if self._sampler is None or self._start is None:
            return 0.0
        _, domains = _window(self._sampler, self._start, self._sampler.snapshot())
        return math.fsum(d.energy_j for d in domains.values())

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Attribute the energy of the block to phase ``name`` (re-entering accumulates)."""
        sampler = self._sampler
        if sampler is None or self._start is None:
            yield
            return
        a = sampler.snapshot()
        self._phases.setdefault(name, [0.0, 0.0])
        self._active_phases = [*self._active_phases, name]
        try:
            yield
        finally:
            self._active_phases = [p for p in self._active_phases if p != name]
            b = sampler.snapshot()
            _, domains = _window(sampler, a, b)
            self._phases[name][0] += b.t_s - a.t_s
            acc = self._phase_energy.setdefault(name, {})
            for k, v in domains.items():
                acc[k] = acc.get(k, 0.0) + v.energy_j

    # ------------------------------------------------------------ result
    def _build(
        self, sampler: Sampler, a: Snapshot, b: Snapshot, status: str, error: BaseException | None
    ) -> Measurement:
        devices, domains = _window(sampler, a, b)
        duration = b.t_s - a.t_s
        idle = None
        if self._idle is not None:
            idle_dt, idle_w = self._idle
            net = {k: domains[k].energy_j - idle_w.get(k, 0.0) * duration for k in domains}
            idle = IdleBaseline(
                duration_s=idle_dt,
                power_w=math.fsum(idle_w.values()),
                power_by_domain_w=idle_w,
                net_energy_j=math.fsum(net.values()),
                net_by_domain_j=net,
            )
        phases = tuple(
            PhaseEnergy(
                name=name,
                duration_s=dur_units[0],
                energy_j=math.fsum(self._phase_energy.get(name, {}).values()),
                by_domain=dict(sorted(self._phase_energy.get(name, {}).items())),
                units=dur_units[1],
            )
            for name, dur_units in self._phases.items()
        )
        gaps = tuple(
            Gap(probe=f.probe, from_s=max(f.t_s - a.t_s, 0.0), error=f.error, fatal=f.fatal)
            for f in sampler.faults
            if f.t_s >= a.t_s or f.fatal
        )
        timeline = None
        if self.keep_timeline:
            times, powers = sampler.timeline(since_s=a.t_s)
            if times:
                timeline = Timeline(
                    resolution_s=sampler.timeline_resolution_s,
                    t_s=tuple(t - a.t_s for t in times),
                    power_w={p.id: tuple(powers[i]) for i, p in enumerate(sampler.probes)},
                )
        err = None
        if error is not None:
            err = {"type": type(error).__name__, "message": str(error)}
        return Measurement(
            status=status,
            task=self.task,
            unit=self.unit,
            units_done=self._units,
            started_at=self._started_at,
            duration_s=duration,
            domains=domains,
            devices=tuple(devices),
            phases=phases,
            idle=idle,
            gaps=gaps,
            probes_unavailable=self._unavailable,
            host=_host_inventory(devices),
            sampling={
                "interval_s": sampler.interval_s,
                "requested_interval_s": self.interval_s,
                "samples": sampler.samples,
                "clock": "monotonic",
                "problems": list(self._problems),
            },
            timeline=timeline,
            error=err,
            command=self.command,
            exit_code=self.exit_code,
            greenai_version=__version__,
        )


def meter(task: str | None = None, unit: str | None = None, **kwargs: Any) -> Meter:
    """Return a Meter to use as ``with greenai.meter(task=..., unit=...) as m:``."""
    return Meter(task, unit, **kwargs)


def measure(
    task: str | None = None,
    unit: str | None = None,
    *,
    units: Callable[[Any], float] | float | None = None,
    **kwargs: Any,
) -> Callable[[F], F]:
    """Return a decorator that meters every call of a function (sync or async).

    ``units`` is a number of units per call, or a function of the return value giving it.
    The latest Measurement is on ``fn.last_result``.
    """

    def decorate(fn: F) -> F:
        def _count(m: Meter, value: Any) -> None:
            if callable(units):
                m.count(units(value))
            elif units is not None:
                m.count(units)

        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kw: Any) -> Any:
                m = Meter(task, unit, **kwargs)
                try:
                    with m:
                        value = await fn(*args, **kw)
                        _count(m, value)
                finally:
                    async_wrapper.last_result = m.result  # type: ignore[attr-defined]
                return value

            async_wrapper.last_result = None  # type: ignore[attr-defined]
            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(fn)
        def wrapper(*args: Any, **kw: Any) -> Any:
            m = Meter(task, unit, **kwargs)
            try:
                with m:
                    value = fn(*args, **kw)
                    _count(m, value)
            finally:
                wrapper.last_result = m.result  # type: ignore[attr-defined]
            return value

        wrapper.last_result = None  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate
