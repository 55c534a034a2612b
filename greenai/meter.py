"""Meter: a context manager and decorator that turns sampler snapshots into a Measurement."""

from __future__ import annotations

import atexit
import contextlib
import functools
import inspect
import math
import os
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timezone
from typing import Any, TypeVar

from greenai.assessment import ASSESSED, assessment
from greenai.assessment import attach_footprint as attach_footprint  # re-exported
from greenai.assessment import attach_rating as attach_rating  # re-exported
from greenai.errors import DisclosureError, GreenAIError, GreenAIWarning
from greenai.journal import JournalWriter, OutputClaim
from greenai.measurement import IdleBaseline, Measurement, Timeline
from greenai.probes.base import Probe, ProbeSpec
from greenai.runtime import NodeMarker, alive, runtime_dir
from greenai.sampler import (
    DEFAULT_INTERVAL_S,
    DEFAULT_TIMELINE_HZ,
    EDGE_READS,
    Sampler,
    Snapshot,
    slot_powers,
)
from greenai.session import JournalSession, SigtermGuard, Terminated, TuningSession
from greenai.window import RunInfo, assemble, domain_energy, host_inventory
from greenai.window import device_energy as device_energy  # re-exported

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_JOURNAL_PERIOD_S = 1.0


# --------------------------------------------------------------------- node registry
_runtime_dir = runtime_dir  # the names the tests and older callers use
_alive = alive


def _announce_on_node() -> tuple[NodeMarker | None, list[int]]:
    """Register this process as metering; return its marker and the other processes
    metering this node now.

    Once per process (the marker stays until the process exits, locked while it meters):
    a window pays one flock call, not a file written and listed.
    """
    folder = runtime_dir()
    marker = NodeMarker(folder)
    if not marker.create():
        return None, []
    others = marker.others()
    if any(folder.glob("tune-*.json")):
        # a tuner killed before it could restore its device left its originals here
        from greenai.optimize.guard import restore_stale

        restore_stale(folder)
    return marker, others


Rates = tuple[float, float | None]  # (power interval_s, timeline_hz: None follows it, 0 off)


def combined_rates(requests: Sequence[Rates]) -> Rates:
    """Return the rates that serve every open meter: the shortest interval, finest timeline."""
    interval = min(r[0] for r in requests)
    timelines = [r[0] if r[1] is None else (1.0 / r[1] if r[1] > 0 else math.inf) for r in requests]
    finest = min(timelines)
    if finest == interval and any(r[1] is None for r in requests):
        return interval, None
    return interval, 0.0 if math.isinf(finest) else 1.0 / finest


# --------------------------------------------------------------------- shared sampler
class _SharedSampler:
    """One sampler per process, shared by every meter that does not bring its own.

    Made on the first meter (probes discovered, the node announced) and kept for the
    process: when the last meter leaves, its thread parks (blocked, no reads, no CPU) and
    the next meter wakes it, so no window starts a thread or re-announces the node.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sampler: Sampler | None = None
        self._specs: tuple[ProbeSpec, ...] = ()
        self._unavailable: tuple[dict[str, str], ...] = ()
        self._requests: list[Rates] = []
        self._marker: NodeMarker | None = None
        self._announced = False
        self._found: Any = None  # the Discovery the sampler's probes came from
        self.other_meters: list[int] = []

    def acquire(
        self, rates: Rates
    ) -> tuple[Sampler, tuple[ProbeSpec, ...], tuple[dict[str, str], ...]]:
        with self._lock:
            if self._requests and self._sampler is not None:  # others open: join them
                self._requests.append(rates)
                if self._requests.count(rates) != len(self._requests):  # else the rates stand
                    self._sampler.set_rates(*combined_rates(self._requests))
                return self._sampler, self._specs, self._unavailable
            from greenai.probes.discover import discover_cached

            found = discover_cached()  # a dict look-up once discovered
            if self._sampler is not None and found is not self._found:
                self._sampler.stop()  # the probes changed here (env): a parked one goes
                self._sampler = None
            self._requests.append(rates)
            if self._sampler is None:
                self._found = found
                self._sampler = Sampler(found.probes, rates[0], timeline_hz=rates[1])
                self._specs = tuple(ProbeSpec.of(p) for p in found.probes)
                self._unavailable = tuple(u.to_dict() for u in found.unavailable)
                if not self._announced:
                    self._announced = True
                    self._marker, self.other_meters = _announce_on_node()
                    if self._marker is not None:
                        atexit.register(self._marker.remove)
                if self.other_meters:
                    warnings.warn(
                        f"greenai: process(es) {self.other_meters} also meter this node; each "
                        "measures the whole node's CPU, DRAM and GPU energy, so do not add "
                        "their results (use one meter per node, see greenai merge).",
                        GreenAIWarning,
                        stacklevel=4,
                    )
                self._sampler.start()
                if self._marker is not None:
                    self._marker.metering(True)  # a marker left idle by an earlier sampler
            else:
                self._sampler.set_rates(*combined_rates(self._requests))
                self._sampler.resume()
                if self._marker is not None:
                    self._marker.metering(True)
            return self._sampler, self._specs, self._unavailable

    def release(self, rates: Rates) -> None:
        with self._lock:
            self._requests.remove(rates)
            if self._sampler is None:
                return
            if self._requests:
                if self._requests.count(rates) != len(self._requests):  # else the rates stand
                    self._sampler.set_rates(*combined_rates(self._requests))
            else:
                self._sampler.park()
                if self._marker is not None:
                    self._marker.metering(False)  # idle: other processes do not count it


_shared = _SharedSampler()
_left_open: dict[int, Meter] = {}  # meters started and not stopped, in start order


@atexit.register
def _stop_left_open() -> None:
    # the interpreter is exiting with meters still running (start() without stop()): the
    # newest first, as one atexit hook per meter did (one hook: no register per window)
    for m in reversed(list(_left_open.values())):
        m._at_exit()


_sigterm = SigtermGuard()  # one SIGTERM handler while any meter of the process is open
__all__ = ["Meter", "Terminated", "meter", "measure"]


def _utc_text(epoch_s: float) -> str:
    return (
        datetime.fromtimestamp(epoch_s, timezone.utc)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


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
        interval_s: float | None = None,
        timeline_hz: float | None = None,
        idle_baseline_s: float = 0.0,
        output: str | os.PathLike[str] | None = None,
        site: Any = None,
        standard: Any = None,
        idle: IdleBaseline | None = None,
        journal: str | os.PathLike[str] | None = None,
        journal_period_s: float = DEFAULT_JOURNAL_PERIOD_S,
        handle_signals: bool = True,
        probes: Sequence[Probe] | None = None,
        sampler: Sampler | None = None,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        timeline: bool = True,
        tune: Any = None,
        work: Any = None,
    ):
        self.task = task
        self.unit = unit
        # interval_s: how often power and model probes are read (energy counters are read at
        # the window's edges whatever it is). Given without timeline_hz, the timeline follows
        # it (every probe polled at it, as before counter-edge metering).
        self.interval_s = DEFAULT_INTERVAL_S if interval_s is None else interval_s
        if not timeline:
            timeline_hz = 0.0 if timeline_hz is None else timeline_hz
        elif timeline_hz is None and interval_s is None:
            timeline_hz = DEFAULT_TIMELINE_HZ
        if timeline_hz is not None and timeline_hz < 0:
            raise ValueError(f"timeline_hz must be >= 0, got {timeline_hz}")
        self.timeline_hz = timeline_hz
        self._rates: Rates = (self.interval_s, timeline_hz)
        self.idle_baseline_s = idle_baseline_s
        self.output = output
        # held from start to the written result, so two live runs never write one path
        self._output_claim: OutputClaim | None = None
        self._own_claim = False
        self.site = site
        self.standard = standard
        self.journal_path = journal
        self.journal_period_s = journal_period_s
        self.handle_signals = handle_signals
        self.keep_timeline = timeline
        self._own_probes = probes
        self._given_sampler = sampler
        self._clock = clock
        self._sleep = sleep
        self._sampler: Sampler | None = None
        self._specs: tuple[ProbeSpec, ...] = ()
        self._shared_acquired = False
        self._unavailable: tuple[dict[str, str], ...] = ()
        self._start: Snapshot | None = None
        self._started_epoch_s: float | None = None  # formatted only when a result needs it
        self._units = 0.0
        self._lock = threading.Lock()
        self._phases: dict[str, list[Any]] = {}  # name -> [duration_s, units, {domain: J}]
        self._active_phases: list[str] = []
        self._idle: IdleBaseline | None = idle  # a baseline measured earlier (bench suites)
        self._problems: list[str] = []
        self._journal_session: JournalSession | None = None
        self._guarded = False  # registered with the process's SigtermGuard
        self._result: Measurement | None = None
        self._build: tuple[Any, ...] | None = None  # _assemble's arguments: not yet assembled
        self._stopped = False
        self.extra: dict[str, Any] = {}  # blocks the caller adds to the disclosure
        self.command: tuple[str, ...] | None = None
        self.exit_code: int | None = None
        self.journal_header: dict[str, Any] = {}  # more for the journal's header record
        # a greenai.optimize.Tuner, True (PowerLimitTuner()), or None: the untouched fast path
        self._tuner = tune
        self._tuning: TuningSession | None = None
        self.work = _as_work(work)  # what the run did (workload, model, quality, phase)
        warn_unfit(task, unit, standard, self.work.phase)

    def disclose(self, **fields: Any) -> None:
        """Record what the run did: workload, dataset, split, model, params, quality_metric,
        quality, phase (greenai.work.Work); call it again to add a field, e.g. the quality
        reached after evaluation (quality_metric and quality go together). The disclosure's
        `work` block; the rating checks it."""
        from dataclasses import replace

        self.work = replace(self.work, **fields)

    # ------------------------------------------------------------ life cycle
    def start(self) -> Meter:
        """Start metering (idle baseline first, if asked for); return self."""
        if self.output and self._output_claim is None:
            self._claim_output()
        try:
            if self._given_sampler is not None:
                self._sampler = self._given_sampler
                self._specs = tuple(ProbeSpec.of(p) for p in self._sampler.probes)
            elif self._own_probes is not None:
                kwargs = {"clock": self._clock} if self._clock else {}
                self._sampler = Sampler(
                    self._own_probes, self.interval_s, timeline_hz=self.timeline_hz, **kwargs
                )
                self._specs = tuple(ProbeSpec.of(p) for p in self._own_probes)
                if self._clock is None:
                    self._sampler.start()
            else:
                self._sampler, self._specs, self._unavailable = _shared.acquire(self._rates)
                self._shared_acquired = True
            if self.idle_baseline_s > 0:
                self._measure_idle()
            self._started_epoch_s = time.time()
            self._start = self._sampler.snapshot()
        except (GreenAIError, OSError, ValueError) as exc:
            self._problem(f"could not start metering: {exc}")
            return self
        if self.journal_path is not None:
            self._open_journal()
        if self.handle_signals:
            _sigterm.enter(self.checkpoint)
            self._guarded = True
        _left_open[id(self)] = self
        if self._tuner is not None:
            self._begin_tuning()
        return self

    def _claim_output(self) -> None:
        """Hold the output path for this run. If another live run holds it (two processes
        given one path), write to a free sibling, run.<pid>.json, and say so: a result is
        never lost to a shared path, and greenai's problem never raises into user code."""
        wanted = os.fspath(self.output)
        root, ext = os.path.splitext(wanted)
        taken = None
        for n in range(64):
            path = wanted if n == 0 else f"{root}.{os.getpid()}{'' if n == 1 else f'-{n}'}{ext}"
            if n and os.path.lexists(path):
                continue  # an earlier run's result: never overwritten
            claim = OutputClaim(path)
            try:
                claim.acquire()
            except DisclosureError as exc:
                taken = taken or str(exc).split(";")[0]
                continue
            except OSError:
                return  # its folder is not writable: writing the result says so, once
            self._output_claim, self._own_claim = claim, True
            if n:
                self.output = path
                self._problem(f"{taken}; this run's result goes to {path}")
            return
        self._problem(f"{taken}; no free sibling path: the result is not written to a file")
        self.output = None

    def _release_output(self) -> None:
        if self._own_claim and self._output_claim is not None:
            self._output_claim.release()
        self._output_claim, self._own_claim = None, False

    def _measure_idle(self) -> None:
        assert self._sampler is not None
        a = self._sampler.snapshot()
        self._sleep(self.idle_baseline_s)
        b = self._sampler.snapshot()
        dt = b.t_s - a.t_s
        power = {k: v.energy_j / dt for k, v in domain_energy(self._specs, a, b).items()}
        self._idle = IdleBaseline(dt, math.fsum(power.values()), power, 0.0, {})

    def stop(self, status: str = "ok", error: BaseException | None = None) -> Measurement | None:
        """Stop metering and return the Measurement (also kept in ``self.result``)."""
        self._finish(status, error)
        return self.result

    def _finish(self, status: str, error: BaseException | None) -> None:
        """Take the closing snapshot and release the sampler; the result is assembled on first
        use of ``result`` (at once when it must be written to an output or journal)."""
        if self._stopped:
            return
        sampler, start = self._sampler, self._start
        if sampler is None or start is None:
            self._release_output()
            return
        self._stopped = True
        if self._tuning is not None:
            self._end_tuning()
        _left_open.pop(id(self), None)
        if self._guarded:
            _sigterm.leave(self.checkpoint)
            self._guarded = False
        if self._journal_session is not None:
            self._journal_session.stop()
        try:
            end = sampler.snapshot()
            faults = list(sampler.faults)
            rates = (sampler.interval_s, sampler.samples, sampler.timeline_interval_s)
            # the timeline's slots as they stand now (the sampler goes on): powers when read
            slots = sampler.timeline_slots(start.t_s) if self.keep_timeline else None
            resolution_s = sampler.timeline_resolution_s
        except (GreenAIError, OSError, ValueError) as exc:
            self._problem(f"could not take the closing reading: {exc}")
            self._release_output()
            return
        finally:
            self._release()
        # not the exception itself: its traceback would keep the user's frames alive
        err = {"type": type(error).__name__, "message": str(error)} if error else None
        # what does not change after the closing reading is kept as it is; the result is
        # assembled from it on first use
        self._build = (start, end, faults, rates, slots, resolution_s, status, err)
        if self.output or self._journal_session is not None:
            self._write_outputs()

    def _assemble(
        self,
        start: Snapshot,
        end: Snapshot,
        faults: list[Any],
        rates: tuple[float, int, float | None],
        slots: Any,
        resolution_s: float,
        status: str,
        err: dict[str, str] | None,
    ) -> Measurement:
        """Return the window's Measurement; its timeline and assessment (footprint, rating,
        embodied) are worked out when one of their fields is first read."""
        sampling = self._sampling(end, rates)
        m = assemble(self._specs, start, end, faults, self._run_info(sampling), status, err)
        if slots is not None:
            timeline = functools.partial(self._timeline_of, slots, resolution_s, start, end)
            m._defer(("timeline",), lambda _: {"timeline": timeline()})
        m._defer(ASSESSED, self._assess)
        return m

    def _timeline_of(
        self, slots: Any, resolution_s: float, start: Snapshot, end: Snapshot
    ) -> Timeline | None:
        times, powers = slot_powers(*slots, len(self._specs))
        n = sum(1 for t in times if t <= end.t_s)  # a shared sampler may be past the end
        if not n or self._sampler is None:
            return None
        specs = self._specs  # one series per measured domain: no contained counter's
        return Timeline(
            resolution_s=resolution_s,
            t_s=tuple(t - start.t_s for t in times[:n]),
            power_w={specs[i].id: tuple(powers[i][:n]) for i in self._sampler.timeline_probes},
        )

    @property
    def result(self) -> Measurement | None:
        """Return the Measurement once metering has stopped (None before, or if it failed)."""
        if self._result is None and self._build is not None:
            build, self._build = self._build, None
            try:
                self._result = self._assemble(*build)
            except (GreenAIError, OSError, ValueError) as exc:
                self._problem(f"could not compute the result: {exc}")
        return self._result

    @result.setter
    def result(self, value: Measurement | None) -> None:
        self._result, self._build = value, None

    @property
    def footprint(self) -> Any:
        """Return the run's Footprint (facility energy, water, carbon) once it has stopped."""
        result = self.result
        return result.footprint if result is not None else None

    @property
    def rating(self) -> Any:
        """Return the run's Rating under the standard once it has stopped."""
        result = self.result
        return result.rating if result is not None else None

    def _write_outputs(self) -> None:
        result = self.result
        written = False
        if result is not None and self.output:
            try:
                result.save(self.output)
                written = True
            except OSError as exc:
                self._problem(f"could not write {self.output}: {exc.strerror or exc}")
        if self._journal_session is not None:
            # the journal is only needed when the final result could not be written
            self._journal_session.end(result.status if result is not None else None, written)
        self._release_output()

    def _release(self) -> None:
        if self._shared_acquired:
            _shared.release(self._rates)
            self._shared_acquired = False
        elif self._given_sampler is None and self._sampler is not None and self._sampler.running:
            self._sampler.stop()

    def _at_exit(self) -> None:
        # the interpreter is exiting with the meter still running (start() without stop())
        self.stop("interrupted")

    def _problem(self, text: str) -> None:
        self._problems.append(text)
        warnings.warn(f"greenai: {text}", GreenAIWarning, stacklevel=3)

    def __enter__(self) -> Meter:
        return self.start()

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        if exc is None:
            status = "ok"
        elif isinstance(exc, KeyboardInterrupt | Terminated):
            status = "interrupted"
        else:
            status = "failed"
        if type(self).stop is Meter.stop:
            self._finish(status, exc)  # the result is assembled when first asked for
        else:
            self.stop(status, exc)  # a subclass's stop() (CUDA sync, gathering ranks) runs
        return False  # the user's exception propagates unchanged

    @property
    def _started_at(self) -> str:
        epoch = self._started_epoch_s
        return "" if epoch is None else _utc_text(epoch)

    # ------------------------------------------------------------ journal
    @property
    def _journal(self) -> JournalWriter | None:
        return self._journal_session.writer if self._journal_session is not None else None

    def _open_journal(self) -> None:
        assert self._sampler is not None and self._start is not None
        self._journal_session = JournalSession(
            self.journal_path,  # type: ignore[arg-type]
            self.journal_period_s,
            self._sampler,
            self._journal_state,
            self._problem,
        )
        sampling = self._sampling()
        self._journal_session.open(
            {
                "task": self.task,
                "unit": self.unit,
                "started_at": self._started_at,
                "t0": self._start.t_s,
                "e0": list(self._start.energy_j),
                "f0": list(self._start.failed_at_s),
                "probes": [s.to_dict() for s in self._specs],
                "unavailable": list(self._unavailable),
                "host": host_inventory(self._specs),
                "interval_s": sampling["interval_s"],
                "energy_reads": sampling.get("energy_reads"),
                "period_s": self.journal_period_s,
                "command": list(self.command) if self.command else None,
                "idle": _idle_dict(self._idle),
                **self.journal_header,
            }
        )
        if not self._journal_session.writer.error:
            self.journal_path = self._journal_session.writer.path  # moved aside, maybe

    def _journal_state(self) -> dict[str, Any]:
        with self._lock:
            phases = {k: [v[0], v[1], dict(v[2])] for k, v in self._phases.items()}
            units = self._units
        return {"u": units, "ph": phases, "exit_code": self.exit_code}

    def checkpoint(self) -> bool:
        """Append a checkpoint to the journal now; return False if journaling has stopped."""
        session = self._journal_session
        if session is None or self._sampler is None:
            return False
        return session.checkpoint()

    # ------------------------------------------------------------ tuning
    def reading(self) -> tuple[float, float]:
        """Return (time in s, energy in J since start), read now."""
        assert self._sampler is not None and self._start is not None
        snap = self._sampler.snapshot()
        domains = domain_energy(self._specs, self._start, snap)
        return snap.t_s, math.fsum(d.energy_j for d in domains.values())

    def _begin_tuning(self) -> None:
        sampler = self._sampler
        if sampler is None or self._start is None:
            return
        tuning = TuningSession(self._tuner, self._problem)
        self._tuner = tuning.tuner
        journal = self._journal.append if self._journal is not None else None
        if not tuning.begin(self.reading, sampler.clock, journal):
            return
        self._tuning = tuning
        self.count = self._count_tuned  # type: ignore[method-assign]

    def _count_tuned(self, n: float = 1) -> None:
        type(self).count(self, n)
        if self._tuning is not None and not self._tuning.on_count(n):
            del self.count  # the search is over: back to the plain count

    def _end_tuning(self) -> None:
        self.__dict__.pop("count", None)
        assert self._tuning is not None
        self._tuning.end(self.provenance)

    @property
    def _optimisation(self) -> Any:
        return self._tuning.result if self._tuning is not None else None

    # ------------------------------------------------------------ during the run
    def count(self, n: float = 1) -> None:
        """Add n functional units (samples, tokens, queries) done."""
        with self._lock:
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
        domains = domain_energy(self._specs, self._start, self._sampler.snapshot())
        return math.fsum(d.energy_j for d in domains.values())

    @property
    def provenance(self) -> str:
        """Return how the energy read so far is obtained: 'measured', 'modelled' or 'mixed'."""
        kinds = {s.provenance for s in self._specs if s.counts_in_total}
        return kinds.pop() if len(kinds) == 1 else ("mixed" if kinds else "none")

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Attribute the energy of the block to phase ``name`` (re-entering accumulates)."""
        sampler = self._sampler
        if sampler is None or self._start is None:
            yield
            return
        a = sampler.snapshot()
        with self._lock:
            self._phases.setdefault(name, [0.0, 0.0, {}])
            self._active_phases = [*self._active_phases, name]
        try:
            yield
        finally:
            b = sampler.snapshot()
            with self._lock:
                self._active_phases = [p for p in self._active_phases if p != name]
                entry = self._phases[name]
                entry[0] += b.t_s - a.t_s
                for k, v in domain_energy(self._specs, a, b).items():
                    entry[2][k] = entry[2].get(k, 0.0) + v.energy_j

    # ------------------------------------------------------------ result
    def _run_info(self, sampling: dict[str, Any]) -> RunInfo:
        work = self.work.to_dict()  # what the run did (the rating checks it)
        return RunInfo(
            task=self.task,
            unit=self.unit,
            units_done=self._units,
            started_at=self._started_at,
            phases=self._phases,
            idle=self._idle,
            unavailable=self._unavailable,
            host=host_inventory(self._specs),
            sampling=sampling,
            command=self.command,
            exit_code=self.exit_code,
            extra={**self.extra, "work": work} if work else self.extra,  # assemble copies it
            optimisation=self._optimisation,
        )

    def _sampling(
        self, end: Snapshot | None = None, rates: tuple[float, int, float | None] | None = None
    ) -> dict[str, Any]:
        """Return the result's sampling block, from the sampler now or from its rates
        (interval_s, samples, timeline_interval_s) at the closing reading."""
        sampler = self._sampler
        assert sampler is not None
        if rates is None:
            rates = (sampler.interval_s, sampler.samples, sampler.timeline_interval_s)
        interval, samples, timeline_interval_s = rates
        if not math.isfinite(interval):  # read at the window's edges only
            interval = (end.t_s - self._start.t_s) if end and self._start else None
        out: dict[str, Any] = {
            "interval_s": interval,
            "requested_interval_s": self.interval_s,
            "samples": samples,
            "clock": "monotonic",
            "problems": list(self._problems),
        }
        if sampler.counters_only:
            out["energy_reads"] = EDGE_READS  # counters: exact between the two reads
        out["timeline_hz"] = 1.0 / timeline_interval_s if timeline_interval_s else 0.0
        return out

    def _assess(self, m: Measurement) -> dict[str, Any]:
        # warnings point at the user's line that first read the field (the frames between:
        # the Measurement's deferred field, this method, then assessment's own)
        return assessment(m, self.site, self.standard, stacklevel=_caller_level() + 1)


def _as_work(work: Any) -> Any:
    """Return a Work from a Work, a mapping of its fields, or None (nothing disclosed)."""
    from greenai.work import Work

    if isinstance(work, Work):
        return work
    return Work.from_dict(work, "Meter(work=...)")


def warn_unfit(
    task: str | None, unit: str | None, standard: Any = None, phase: str | None = None
) -> str | None:
    """Warn (once per call) when the task's class cannot rate this unit or phase; return the
    text. Only a named task is checked; a standard that cannot be loaded is left to the
    rating, which reports it."""
    if not task:
        return None
    from greenai.errors import StandardError
    from greenai.standard import fit_warning, load_standard

    try:
        text = fit_warning(load_standard(standard), task, unit, phase)
    except (StandardError, OSError, TypeError, ValueError):
        return None
    if text:
        warnings.warn(text, GreenAIWarning, stacklevel=_caller_level())
    return text


def _caller_level() -> int:
    """Return the warnings stacklevel of the first frame outside greenai (the user's line)."""
    import sys

    frame, level = sys._getframe(1), 1
    while frame is not None and _in_package(frame.f_code.co_filename):
        frame, level = frame.f_back, level + 1
    return level


_PACKAGE = os.path.dirname(os.path.abspath(__file__))


@functools.lru_cache(maxsize=256)
def _in_package(filename: str) -> bool:
    return os.path.abspath(filename).startswith(_PACKAGE)


def _idle_dict(idle: IdleBaseline | None) -> dict[str, Any] | None:
    if idle is None:
        return None
    return {"duration_s": idle.duration_s, "power_by_domain_w": idle.power_by_domain_w}


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
