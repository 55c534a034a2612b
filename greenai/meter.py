"""Meter: a context manager and decorator that turns sampler snapshots into a Measurement."""

from __future__ import annotations

import atexit
import contextlib
import functools
import inspect
import math
import os
import signal
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

from greenai.assessment import assess
from greenai.assessment import attach_footprint as attach_footprint  # re-exported
from greenai.assessment import attach_rating as attach_rating  # re-exported
from greenai.errors import GreenAIError, GreenAIWarning
from greenai.journal import JournalWriter
from greenai.measurement import IdleBaseline, Measurement, Timeline
from greenai.probes.base import Probe, ProbeSpec
from greenai.runtime import alive, runtime_dir
from greenai.sampler import DEFAULT_INTERVAL_S, Sampler, Snapshot
from greenai.window import RunInfo, assemble, domain_energy, host_inventory
from greenai.window import device_energy as device_energy  # re-exported

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_JOURNAL_PERIOD_S = 1.0
JOURNAL_MARGIN_S = 0.002  # scheduling slack kept between a checkpoint and the period's end


class Terminated(SystemExit):
    """Raised in the main thread when SIGTERM arrives during metering (exit code 128 + N)."""

    def __init__(self, signum: int):
        super().__init__(128 + signum)
        self.signum = signum


# --------------------------------------------------------------------- node registry
_runtime_dir = runtime_dir  # the names the tests and older callers use
_alive = alive


def _announce_on_node() -> tuple[Path | None, list[int]]:
    """Register this process as metering; return its marker and other live metering pids."""
    folder = runtime_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        marker = folder / f"meter-{os.getpid()}"
        marker.write_text(str(os.getpid()))
    except OSError:
        return None, []
    others = []
    for f in folder.glob("meter-*"):
        try:
            pid = int(f.name.removeprefix("meter-"))
        except ValueError:
            continue
        if pid == os.getpid():
            continue
        if alive(pid):
            others.append(pid)
        else:
            f.unlink(missing_ok=True)
    if any(folder.glob("tune-*.json")):
        # a tuner killed before it could restore its device left its originals here
        from greenai.optimize.guard import restore_stale

        restore_stale(folder)
    return marker, sorted(others)


# --------------------------------------------------------------------- shared sampler
class _SharedSampler:
    """One sampler per process, shared by every meter that does not bring its own."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sampler: Sampler | None = None
        self._specs: tuple[ProbeSpec, ...] = ()
        self._unavailable: tuple[dict[str, str], ...] = ()
        self._intervals: list[float] = []
        self._marker: Path | None = None
        self.other_meters: list[int] = []

    def acquire(
        self, interval_s: float
    ) -> tuple[Sampler, tuple[ProbeSpec, ...], tuple[dict[str, str], ...]]:
        with self._lock:
            if self._sampler is None:
                from greenai.probes.discover import discover_cached

                found = discover_cached()
                self._sampler = Sampler(found.probes, interval_s=interval_s)
                self._specs = tuple(ProbeSpec.of(p) for p in found.probes)
                self._unavailable = tuple(u.to_dict() for u in found.unavailable)
                self._marker, self.other_meters = _announce_on_node()
                if self.other_meters:
                    warnings.warn(
                        f"greenai: process(es) {self.other_meters} also meter this node; each "
                        "measures the whole node's CPU, DRAM and GPU energy, so do not add "
                        "their results (use one meter per node, see greenai merge).",
                        GreenAIWarning,
                        stacklevel=4,
                    )
                self._sampler.start()
            self._intervals.append(interval_s)
            self._sampler.set_interval(min(self._intervals))
            return self._sampler, self._specs, self._unavailable

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
                if self._marker is not None:
                    self._marker.unlink(missing_ok=True)
                    self._marker = None


_shared = _SharedSampler()


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
    ):
        self.task = task
        self.unit = unit
        self.interval_s = interval_s
        self.idle_baseline_s = idle_baseline_s
        self.output = output
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
        self._started_at = ""
        self._units = 0.0
        self._lock = threading.Lock()
        self._phases: dict[str, list[Any]] = {}  # name -> [duration_s, units, {domain: J}]
        self._active_phases: list[str] = []
        self._idle: IdleBaseline | None = idle  # a baseline measured earlier (bench suites)
        self._problems: list[str] = []
        self._journal: JournalWriter | None = None
        self._journal_stop = threading.Event()
        self._journal_thread: threading.Thread | None = None
        self._previous_sigterm: Any = None
        self._sigterm_installed = False
        self._result: Measurement | None = None
        self._build: Callable[[], Measurement] | None = None  # the result, not yet assembled
        self._stopped = False
        self._footprint: Any = None
        self._rating: Any = None
        self.extra: dict[str, Any] = {}  # blocks the caller adds to the disclosure
        self.command: tuple[str, ...] | None = None
        self.exit_code: int | None = None
        self.journal_header: dict[str, Any] = {}  # more for the journal's header record
        # a greenai.optimize.Tuner, True (PowerLimitTuner()), or None: the untouched fast path
        self._tuner = tune
        self._optimisation: Any = None  # the tuner's Optimisation once it has ended
        warn_unfit(task, unit, standard)

    # ------------------------------------------------------------ life cycle
    def start(self) -> Meter:
        """Start metering (idle baseline first, if asked for); return self."""
        try:
            if self._given_sampler is not None:
                self._sampler = self._given_sampler
                self._specs = tuple(ProbeSpec.of(p) for p in self._sampler.probes)
            elif self._own_probes is not None:
                kwargs = {"clock": self._clock} if self._clock else {}
                self._sampler = Sampler(self._own_probes, interval_s=self.interval_s, **kwargs)
                self._specs = tuple(ProbeSpec.of(p) for p in self._own_probes)
                if self._clock is None:
                    self._sampler.start()
            else:
                self._sampler, self._specs, self._unavailable = _shared.acquire(self.interval_s)
                self._shared_acquired = True
            if self.idle_baseline_s > 0:
                self._measure_idle()
            self._started_at = _utc_now()
            self._start = self._sampler.snapshot()
        except (GreenAIError, OSError, ValueError) as exc:
            self._problem(f"could not start metering: {exc}")
            return self
        if self.journal_path is not None:
            self._open_journal()
        if self.handle_signals:
            self._install_sigterm()
        atexit.register(self._at_exit)
        if self._tuner is not None:
            self._begin_tuning()
        return self

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
            return
        self._stopped = True
        if self._tuner is not None:
            self._end_tuning()
        atexit.unregister(self._at_exit)
        self._restore_sigterm()
        self._stop_journal_thread()
        try:
            end = sampler.snapshot()
            faults = list(sampler.faults)
            run = self._run_info()
            timeline = self._timeline(sampler, start, end)
        except (GreenAIError, OSError, ValueError) as exc:
            self._problem(f"could not take the closing reading: {exc}")
            return
        finally:
            self._release()
        err = {"type": type(error).__name__, "message": str(error)} if error else None

        def build() -> Measurement:
            return self._with_footprint(
                assemble(self._specs, start, end, faults, run, status, err, timeline)
            )

        self._build = build
        if self.output or self._journal is not None:
            self._write_outputs()

    @property
    def result(self) -> Measurement | None:
        """Return the Measurement once metering has stopped (None before, or if it failed)."""
        if self._result is None and self._build is not None:
            build, self._build = self._build, None
            try:
                self._result = build()
            except (GreenAIError, OSError, ValueError) as exc:
                self._problem(f"could not compute the result: {exc}")
        return self._result

    @result.setter
    def result(self, value: Measurement | None) -> None:
        self._result, self._build = value, None

    @property
    def footprint(self) -> Any:
        """Return the run's Footprint (facility energy, water, carbon) once it has stopped."""
        _ = self.result
        return self._footprint

    @property
    def rating(self) -> Any:
        """Return the run's Rating under the standard once it has stopped."""
        _ = self.result
        return self._rating

    def _write_outputs(self) -> None:
        result = self.result
        written = False
        if result is not None and self.output:
            try:
                result.save(self.output)
                written = True
            except OSError as exc:
                self._problem(f"could not write {self.output}: {exc.strerror or exc}")
        if self._journal is not None:
            if result is not None:
                self._journal.append({"k": "e", "status": result.status})
            # the journal is only needed when the final result could not be written
            self._journal.close(remove=written)

    def _release(self) -> None:
        if self._shared_acquired:
            _shared.release(self.interval_s)
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

    # ------------------------------------------------------------ signals
    def _install_sigterm(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        previous = signal.getsignal(signal.SIGTERM)
        if previous == signal.SIG_IGN or previous is None:
            return

        def on_sigterm(signum: int, frame: Any) -> None:
            if callable(previous):
                # the user's own handler decides what happens; keep what we have first
                self.checkpoint()
                previous(signum, frame)
            else:
                raise Terminated(signum)

        signal.signal(signal.SIGTERM, on_sigterm)
        self._previous_sigterm = previous
        self._sigterm_installed = True
        self._sigterm_handler = on_sigterm

    def _restore_sigterm(self) -> None:
        if not self._sigterm_installed:
            return
        self._sigterm_installed = False
        if threading.current_thread() is threading.main_thread() and (
            signal.getsignal(signal.SIGTERM) is self._sigterm_handler
        ):
            signal.signal(signal.SIGTERM, self._previous_sigterm)

    # ------------------------------------------------------------ journal
    def _open_journal(self) -> None:
        assert self._sampler is not None and self._start is not None
        self._journal = JournalWriter(self.journal_path)  # type: ignore[arg-type]
        self._journal.open(
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
                "interval_s": self._sampler.interval_s,
                "period_s": self.journal_period_s,
                "command": list(self.command) if self.command else None,
                "idle": _idle_dict(self._idle),
                **self.journal_header,
            }
        )
        self._journal_faults = 0
        if self._journal.error:
            self._problem(self._journal.error)
            return
        if self._journal.moved_from is not None:
            self._problem(
                f"journal {self._journal.moved_from} exists (another run's, or one a killed "
                f"run left for recovery): this run journals to {self._journal.path}"
            )
        self.journal_path = self._journal.path
        self._journal_thread = threading.Thread(
            target=self._journal_loop, name="greenai-journal", daemon=True
        )
        self._journal_thread.start()

    def _journal_loop(self) -> None:
        # Checkpoints start early by the time a checkpoint takes, so that the newest record
        # on disk is never older than one period: a kill loses at most one period.
        cost_s = 0.0
        next_s = time.monotonic() + self.journal_period_s
        while not self._journal_stop.wait(max(next_s - cost_s - time.monotonic(), 0.0)):
            began = time.monotonic()
            if not self.checkpoint():
                return
            cost_s = max(time.monotonic() - began, 0.5 * cost_s) + JOURNAL_MARGIN_S
            next_s = began + self.journal_period_s

    def checkpoint(self) -> bool:
        """Append a checkpoint to the journal now; return False if journaling has stopped."""
        journal, sampler = self._journal, self._sampler
        if journal is None or sampler is None or journal.error:
            return False
        snap = sampler.snapshot()
        with self._lock:
            phases = {k: [v[0], v[1], dict(v[2])] for k, v in self._phases.items()}
            units = self._units
        faults = sampler.faults[self._journal_faults :]
        ok = journal.append(
            {
                "k": "c",
                "t": snap.t_s,
                "e": list(snap.energy_j),
                "f": list(snap.failed_at_s),
                "u": units,
                "ph": phases,
                "faults": [[f.probe, f.t_s, f.error, f.fatal] for f in faults],
                "exit_code": self.exit_code,
            }
        )
        if ok:
            self._journal_faults += len(faults)
        else:
            self._problem(journal.error or "journal write failed")
        return ok

    def _stop_journal_thread(self) -> None:
        self._journal_stop.set()
        if (
            self._journal_thread is not None
            and self._journal_thread is not threading.current_thread()
        ):
            self._journal_thread.join()
        self._journal_thread = None

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
        journal = self._journal.append if self._journal is not None else None
        if self._tuner is True:  # tune=True (also through the framework callbacks)
            from greenai.optimize import PowerLimitTuner

            self._tuner = PowerLimitTuner()
        try:
            self._tuner.begin(self.reading, sampler.clock, journal)
        except (GreenAIError, OSError) as exc:  # the device is unchanged: the run goes on
            self._problem(f"not tuned: {exc}")
            return
        self.count = self._count_tuned  # type: ignore[method-assign]

    def _count_tuned(self, n: float = 1) -> None:
        type(self).count(self, n)
        if not self._tuner.on_count(n):
            del self.count  # the search is over: back to the plain count

    def _end_tuning(self) -> None:
        self.__dict__.pop("count", None)
        block = self._tuner.end(self.provenance)
        for note in block.notes:
            if not note.startswith("the run ended"):
                self._problem(note)
        self._optimisation = block

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
    def _run_info(self) -> RunInfo:
        assert self._sampler is not None
        return RunInfo(
            task=self.task,
            unit=self.unit,
            units_done=self._units,
            started_at=self._started_at,
            phases=self._phases,
            idle=self._idle,
            unavailable=self._unavailable,
            host=host_inventory(self._specs),
            sampling={
                "interval_s": self._sampler.interval_s,
                "requested_interval_s": self.interval_s,
                "samples": self._sampler.samples,
                "clock": "monotonic",
                "problems": list(self._problems),
            },
            command=self.command,
            exit_code=self.exit_code,
        )

    def _timeline(self, sampler: Sampler, a: Snapshot, b: Snapshot) -> Timeline | None:
        if not self.keep_timeline:
            return None
        times, powers = sampler.timeline(since_s=a.t_s)
        n = sum(1 for t in times if t <= b.t_s)  # a shared sampler may already be past b
        if not n:
            return None
        return Timeline(
            resolution_s=sampler.timeline_resolution_s,
            t_s=tuple(t - a.t_s for t in times[:n]),
            power_w={s.id: tuple(powers[i][:n]) for i, s in enumerate(self._specs)},
        )

    def _with_footprint(self, m: Measurement) -> Measurement:
        m = assess(_replace_extra(m, self.extra), self.site, self.standard, stacklevel=3)
        self._footprint, self._rating = m.footprint, m.rating
        if self._optimisation is not None:
            from dataclasses import replace

            m = replace(m, optimisation=self._optimisation)
        return m


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

    package = os.path.dirname(os.path.abspath(__file__))
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package):
        frame, level = frame.f_back, level + 1
    return level


def _replace_extra(m: Measurement, extra: dict[str, Any]) -> Measurement:
    from dataclasses import replace

    return replace(m, extra={**m.extra, **extra})


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
