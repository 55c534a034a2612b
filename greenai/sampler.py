"""One background thread that reads every probe and keeps exact cumulative energy.

Counter probes are differenced (wraparound undone with the probe's ``wrap_j``), power
probes integrated by trapezoid, model probes (mean power since the last read) by
rectangle. ``snapshot()`` reads every probe at the instant it is called, so a window
opened and closed with snapshots is as exact as the counters themselves. The power
timeline lives in a fixed number of slots, each keeping the totals at its end: when it
fills, neighbouring slots merge (the first's row dropped, so totals stay exact) and the
resolution halves.

The thread wakes only as often as something needs it (``tick_interval_s``): power and
model probes at ``interval_s`` (their energy is only as good as their sampling); the
timeline at ``timeline_hz``; and a wrap guard from each counter's range and maximum power.
A tick reads only what the timeline needs: one series per measured domain, so a counter
contained in another probe read here (RAPL core and uncore in their package) is read at
window edges and by its own wrap guard. A tick of raw counters keeps their integers and
is folded in with the next edge (or with a few other ticks), a few C loops each.
Where every probe is an energy counter, energy comes from the window-edge snapshots alone:
with the timeline off and counters that never wrap in practice there is no thread at all.
A sampler shared by many windows can ``park()`` its thread (it blocks, costing nothing)
and ``resume()`` it, so a window never pays for starting a thread.
"""

from __future__ import annotations

import bisect
import math
import operator
import threading
import time
import warnings
from array import array
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from greenai.errors import GreenAIWarning, ProbeError
from greenai.probes.base import Method, Probe

_read_raw = operator.methodcaller("read_raw")  # a counter's raw reading, called from C
_snapshot = tuple.__new__  # Snapshot's fields in order, made without its Python __new__
DEFAULT_INTERVAL_S = 0.1  # power and model probes: 10 Hz
# the sampling block's energy_reads where every probe is an energy counter: their energy is
# integrated by the hardware and read at window (and phase) edges, none of it sampled power
EDGE_READS = "window edges"
# The timeline a meter keeps by default: 0.5 Hz, a reading every 2 s. No energy figure
# depends on it (counters are read at window and phase edges, power probes at interval_s,
# and the standard's sampling limit bounds sampled power only), so it sets only how finely
# power over time is shown: 2 s slots resolve a run's phases (load, warm-up, steps, eval),
# finer than CodeCarbon's default of a reading every 15 s; 2048 slots hold 68 min before
# halving. A tick reading a RAPL package, its dram and 8 GPUs costs 0.2-0.25 ms of a core
# on a 2-core VM (the thread's wake ~0.08 ms, the reads the rest): 0.012 % of a core at
# 0.5 Hz, where 1 Hz (0.021 %) is over the 0.02 % budget of a counters-only meter
# (benchmarks/perf/overhead.py). timeline_hz=0 turns it off.
DEFAULT_TIMELINE_HZ = 0.5
TIMELINE_SLOTS = 2048
# Poll at least this many times per counter range at the channel's maximum power, so two
# wraps can never fall between reads (one would suffice; two leaves margin for jitter).
WRAP_READS_PER_RANGE = 2
# A negative delta whose wrap-corrected value would mean more than this multiple of the
# channel's maximum power is a counter reset (driver reload, firmware), not a wrap.
RESET_POWER_MARGIN = 1.5
# A counter that has not moved for this long has stopped (RAPL updates every ~1 ms, NVML's
# energy counter every ~100 ms, and no powered device draws exactly 0 W).
STALL_AFTER_S = 2.0
# Readings closer than this to the last that looked for stalls do not look again (windows
# back to back see RAPL counters, updated every ~1 ms, unmoved): a stall's start is known
# to this (its energy is not affected).
STALL_RESOLUTION_S = 0.01
# Ticks longer than this wait on an event (a faster rate can cut them short); shorter ones
# use time.sleep, the cheapest wait there is (a rate change waits out at most one tick).
LONG_TICK_S = 1.0
# A timeline slot takes in window-edge snapshots until it spans this share of its width.
SLOT_FULL = 0.75
# A tick of raw counters keeps its integers and is folded in with the next window edge, or
# with this many others on the thread: one wake in this many pays for the fold, warm.
PENDING_TICKS = 8


class Snapshot(NamedTuple):
    """Cumulative energy (J) of every probe at one instant of the sampler's clock (a
    window's edge: a named tuple, the cheapest frozen value to make twice a window)."""

    t_s: float
    energy_j: tuple[float, ...]
    failed_at_s: tuple[float | None, ...]


@dataclass(frozen=True)
class ProbeFault:
    """A probe that stopped working (or misbehaved) during sampling."""

    probe: str
    t_s: float
    error: str
    fatal: bool  # True: the probe is no longer read; False: a recovered anomaly (reset)


class Sampler:
    """Reads probes on a background thread (or by hand with ``sample()`` in tests)."""

    def __init__(
        self,
        probes: Sequence[Probe],
        interval_s: float = DEFAULT_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
        timeline_slots: int = TIMELINE_SLOTS,
        timeline_hz: float | None = None,
    ):
        """``timeline_hz`` None: the timeline follows ``interval_s`` (every probe polled at
        it, the behaviour before counter-edge metering); 0: no timeline."""
        if interval_s <= 0:
            raise ValueError(f"interval_s must be > 0, got {interval_s}")
        if timeline_hz is not None and timeline_hz < 0:
            raise ValueError(f"timeline_hz must be >= 0, got {timeline_hz}")
        self.probes = list(probes)
        self.clock = clock
        self.requested_interval_s = interval_s
        self._methods = [p.method for p in self.probes]
        self._sampled = any(m is not Method.COUNTER for m in self._methods)
        # what one reading does per probe, worked out once: (index, probe, method, units per
        # J of its raw counter, or 0: read() it). A counter probe that offers read_raw (the
        # raw integer, e.g. one pread of energy_uj) is read without its Python wrapper;
        # read() is the slow path that names an error.
        self._plan = [
            (i, p, p.method, getattr(p, "raw_per_j", None) or 0.0)
            for i, p in enumerate(self.probes)
        ]
        # counters contained in another probe that ticks read (RAPL core and uncore in their
        # package) are read at window edges and by the wrap guard only: the timeline keeps
        # one series per measured domain, their energy stays exact between edges
        self._edge_only = _edge_only(self.probes)
        self._tick_probes = [p for p, e in zip(self.probes, self._edge_only, strict=True) if not e]
        self._tick_index = [i for i, e in enumerate(self._edge_only) if not e]
        self._edge_wrap_s = _wrap_safe_s(
            p for p, e in zip(self.probes, self._edge_only, strict=True) if e
        )
        self._full_t = -math.inf  # the last reading of every probe (edge-only ones too)
        self._pending: list[tuple[float, list[int]]] = []  # ticks read, not yet folded in
        self._wrap_safe_s = self.wrap_safe_interval_s()
        self._power_interval_s = interval_s
        self.timeline_interval_s: float | None = None  # None: no timeline
        self.interval_s = interval_s
        self.set_rates(interval_s, timeline_hz)
        self._lock = threading.RLock()
        self._generation = 0  # the background thread runs while its generation is current
        self._thread: threading.Thread | None = None
        self._awake = threading.Event()  # cleared: a parked thread blocks on it
        self._awake.set()
        self._rates_changed = threading.Event()  # set: a faster tick than the one waited on
        n = len(self.probes)
        self._last_value: list[float | None] = [None] * n
        self._cum_j = [0.0] * n
        self._failed_at: list[float | None] = [None] * n
        self._failed_tuple: tuple[float | None, ...] | None = None  # of _failed_at, while valid
        # every probe a counter read raw, none failed: the one-pass read and fold
        self._per_j = [per_j for _, _, _, per_j in self._plan]
        self._tick_per_j = [self._per_j[i] for i in self._tick_index]
        self._edge_index = [i for i, e in enumerate(self._edge_only) if e]
        # a tick's totals (tick probes, then edge-only ones) put back in probe order
        concatenated = self._tick_index + self._edge_index
        self._public_order = (
            operator.itemgetter(*sorted(range(n), key=concatenated.__getitem__))
            if self._edge_index
            else None
        )
        self._tick_all = len(self._tick_index) == n  # ticks read every probe
        self._raw_all = bool(self._plan) and all(
            m is Method.COUNTER and per_j for _, _, m, per_j in self._plan
        )
        self.faults: list[ProbeFault] = []
        self._warned: set[str] = set()
        self._last_t: float | None = None
        self._changed_at: list[float | None] = [None] * n
        self._stalled = [False] * n
        self._stall_seen_t = -math.inf  # the last reading that looked for stalls
        self.samples = 0
        # timeline: slot k covers (t_end[k-1], t_end[k]]; the totals per probe at its end are
        # kept (a slot's energy is the difference of two rows: extending the open slot is
        # one row overwritten, merging two slots is dropping the first's row)
        self._slots = timeline_slots
        self._t_start: float | None = None
        self._cum_t0: list[float] = []  # the totals at _t_start
        self._t_end = array("d")
        self._slot_cum: list[float] = []  # flat: a row overwritten without an array made
        self._slot_width = 1  # doubles each time neighbouring slots merge
        self._slot_full_s = SLOT_FULL * self.timeline_resolution_s  # open slot takes edges

    def wrap_safe_interval_s(self) -> float:
        """Return the longest interval at which no counter can wrap twice unseen."""
        return _wrap_safe_s(self.probes)

    @property
    def timeline_probes(self) -> list[int]:
        """Return the indices of the probes the timeline has a power series for (every probe
        but the counters contained in another, which ticks do not read)."""
        return list(self._tick_index)

    # ----------------------------------------------------------------- sampling
    def sample(self) -> Snapshot:
        """Read every probe now, fold the readings into the totals, return the totals."""
        with self._lock:
            if self._pending:
                self._flush()
            t = self._read_and_fold()
            failed_now = self._failed_tuple
            if failed_now is None:  # a probe failed since the last reading
                failed_now = self._failed_tuple = tuple(self._failed_at)
            return _snapshot(Snapshot, (t, tuple(self._cum_j), failed_now))

    snapshot = sample

    def _read_and_fold(self) -> float:
        """Read every probe now and fold the readings in; return the time read (the
        thread's tick: no snapshot made). Called with the lock held."""
        t = self.clock()
        values: list[float | None] | None = None
        if self._raw_all:  # every probe a raw counter, none failed: one pass, no wrapper
            try:
                raw = map(int, map(_read_raw, self.probes))
                values = list(map(operator.truediv, raw, self._per_j))
            except Exception:  # noqa: BLE001, S110 - read one by one below, which names it
                pass
            else:
                last_t = self._last_t
                if (  # a window's edge, the common case
                    last_t is not None
                    and t >= last_t
                    and True not in self._stalled
                    and self._fold_counters(t, values)  # type: ignore[arg-type]
                ):
                    self._last_t = self._full_t = t
                    self.samples += 1
                    return t
        if values is None:
            values = self._read_all(t)
        self._fold_at(t, values, True)
        self._full_t = t
        self.samples += 1
        return t

    def _fold_at(self, t: float, values: list[float | None], whole: bool) -> None:
        """Fold readings taken at t in (whole: every probe read, so the one-pass fold may
        apply; else None stands for a probe not read, as for one that failed)."""
        last_t = self._last_t
        # no time passed since the last reading still folds in (an edge-only counter read at
        # a tick's instant has moved since its own last reading); a clock that went back
        # (or a first reading) only sets where the next reading counts from
        if last_t is None or t < last_t:
            last = self._last_value
            for i, value in enumerate(values):
                if value is not None:
                    last[i] = value
            if last_t is None:
                self._t_start, self._cum_t0 = t, list(self._cum_j)
        else:
            fast = whole and self._raw_all and True not in self._stalled
            if not (fast and self._fold_counters(t, values)):  # type: ignore[arg-type]
                self._fold(t, t - last_t, values)
                if self.timeline_interval_s is not None:
                    self._record(t, self._cum_j)
        self._last_t = t

    def _tick(self) -> None:
        """Read the probes ticks read (the lock held): raw counters kept as integers to fold
        in later, anything else (a power probe, a failed read, the wrap guard's turn for
        edge-only counters) read and folded in at once."""
        if self._raw_all and self._last_t is not None:
            t = self.clock()
            if t - self._full_t < self._edge_wrap_s:
                try:
                    raw = list(map(int, map(_read_raw, self._tick_probes)))
                except Exception:  # noqa: BLE001, S110 - read below, which names it
                    pass
                else:
                    pending = self._pending
                    pending.append((t, raw))
                    self.samples += 1
                    if len(pending) >= PENDING_TICKS:
                        self._flush()
                    return
        if self._pending:
            self._flush()
        self._read_and_fold()

    def _flush(self) -> None:
        """Fold in the ticks read and not yet folded, in the order they were read."""
        pending, self._pending = self._pending, []
        per_j, whole = self._tick_per_j, self._tick_all
        done = self._fold_ticks(pending) if self._raw_all and True not in self._stalled else 0
        for t, raw in pending[done:]:  # from a wrap, a reset or a stall on: one by one
            if whole:
                values: list[float | None] = list(map(operator.truediv, raw, per_j))
            else:
                values = [None] * len(self.probes)
                joules = map(operator.truediv, raw, per_j)
                for i, value in zip(self._tick_index, joules, strict=True):
                    values[i] = value
            self._fold_at(t, values, whole)

    def _fold_ticks(self, pending: list[tuple[float, list[int]]]) -> int:
        """Fold in ticks for the common case (the counters read went forward, none can have
        stalled) and return how many; the first that is not that case and those after it
        are left to the one-by-one fold. A counter's total is its reading plus a base that
        only a wrap or a reset changes, so each tick costs a few C loops over the readings."""
        index, last, cum = self._tick_index, self._last_value, self._cum_j
        if None in last:
            return 0
        prev = [last[i] for i in index]
        base = [cum[i] - last[i] for i in index]  # type: ignore[operator]
        changed = [self._changed_at[i] for i in index]
        rest = [cum[i] for i in self._edge_index]  # edge-only totals: unchanged by ticks
        order, per_j = self._public_order, self._tick_per_j
        record = self.timeline_interval_s is not None
        sub, last_t, done = operator.sub, self._last_t, 0
        for t, raw in pending:
            values = list(map(operator.truediv, raw, per_j))
            deltas = list(map(sub, values, prev))
            if t <= last_t or min(deltas) < 0:  # type: ignore[operator]
                break  # a wrap or a reset (or no time passed)
            if 0.0 in deltas:  # counters that did not move
                changed = [t if d else c for d, c in zip(deltas, changed, strict=True)]
                if None in changed or t - min(changed) >= STALL_AFTER_S:  # type: ignore[operator, type-var]
                    break  # not seen moving yet, or not for long: watched one by one
            else:
                changed = [t] * len(deltas)
            if record:
                totals = list(map(operator.add, base, values))
                self._record(t, totals if order is None else order(totals + rest))
            prev, last_t = values, t
            done += 1
        if done:
            totals = list(map(operator.add, base, prev))
            for k, i in enumerate(index):
                last[i], cum[i], self._changed_at[i] = prev[k], totals[k], changed[k]
            self._last_t = last_t
        return done

    def _read_all(self, t: float) -> list[float | None]:
        """Return every probe's reading now, one by one (None: failed, now or before)."""
        failed = self._failed_at
        values: list[float | None] = []
        for i, probe, _, per_j in self._plan:
            if failed[i] is not None:
                values.append(None)
                continue
            try:
                values.append(int(probe.read_raw()) / per_j if per_j else probe.read())
            except Exception as exc:  # noqa: BLE001 - a probe bug must not kill the thread
                values.append(self._read_failed(i, probe, t, exc, per_j))
        return values

    def _fold_counters(self, t: float, values: list[float]) -> bool:
        """Fold the readings in, and into the timeline, for the common case (every counter
        read, none went back, none can have stalled) and return True; False: not that case,
        nothing changed."""
        try:
            deltas = list(map(operator.sub, values, self._last_value))  # type: ignore[arg-type]
        except TypeError:  # a probe without a previous reading
            return False
        low = min(deltas)
        if low > 0.0:
            changed = [t] * len(deltas)
        elif low < 0.0:
            return False  # a wrap or a reset
        elif t - self._stall_seen_t < STALL_RESOLUTION_S:
            changed = self._changed_at  # windows back to back: movers' times kept a moment
        else:  # counters that did not move
            changed = [t if d else c for d, c in zip(deltas, self._changed_at, strict=True)]
            if None in changed or t - min(changed) >= STALL_AFTER_S:  # type: ignore[type-var, operator]
                return False  # not seen moving yet, or not for long: watched one by one
            self._stall_seen_t = t
        self._last_value = values
        self._cum_j = cum = list(map(operator.add, self._cum_j, deltas))
        self._changed_at = changed
        if self.timeline_interval_s is not None:
            self._record(t, cum)
        return True

    def _fold(self, t: float, dt: float, values: list[float | None]) -> None:
        """Fold the readings in probe by probe: differenced, integrated or unwrapped."""
        cum, last = self._cum_j, self._last_value
        changed, stalled = self._changed_at, self._stalled
        counter, power = Method.COUNTER, Method.POWER
        for i, probe, method, _ in self._plan:
            value = values[i]
            if value is None:
                continue
            prev = last[i]
            last[i] = value
            if prev is None:
                continue
            if method is counter:
                delta = value - prev
                if delta < 0:  # an edge-only counter was last read at the last full reading
                    span = t - self._full_t if self._edge_only[i] else dt
                    delta = self._unwrap(i, probe, value, prev, span, t)
                if delta and not stalled[i]:
                    changed[i] = t  # the common case, inline
                else:
                    self._watch_stall(i, t, delta != 0.0)
            elif method is power:
                delta = 0.5 * (value + prev) * dt
            else:
                delta = value * dt
            cum[i] += delta

    def _read_failed(
        self, i: int, probe: Probe, t: float, exc: Exception, per_j: float
    ) -> float | None:
        """Return the value of a read that raised exc, read again by read() where exc came
        from the raw fast path (read() names the error); None: the probe failed."""
        if per_j:
            try:
                return probe.read()
            except Exception as again:  # noqa: BLE001 - as in sample()
                exc = again
        self._fail(
            i, t, str(exc) if isinstance(exc, ProbeError) else f"{type(exc).__name__}: {exc}"
        )
        return None

    def _unwrap(
        self, i: int, probe: Probe, value: float, prev: float, dt: float, t: float
    ) -> float:
        wrap = probe.wrap_j
        if wrap:
            wrapped = value + wrap - prev
            if not probe.max_power_w or wrapped <= probe.max_power_w * dt * RESET_POWER_MARGIN:
                return wrapped
        # Not a wrap: the counter was reset. Energy since the reset is the new value.
        self._note(
            ProbeFault(
                probe.id,
                t,
                f"counter went back from {prev:.6f} J to "
                f"{value:.6f} J: treated as a reset, not a wrap",
                fatal=False,
            )
        )
        return value

    def _watch_stall(self, i: int, t: float, moved: bool) -> None:
        if moved or self._changed_at[i] is None:
            self._changed_at[i] = t
            if moved and self._stalled[i]:
                self._stalled[i] = False
                self._note(ProbeFault(self.probes[i].id, t, "counter advances again", fatal=False))
        elif not self._stalled[i] and t - self._changed_at[i] >= STALL_AFTER_S:
            self._stalled[i] = True
            since = self._changed_at[i]
            self._note(
                ProbeFault(
                    self.probes[i].id,
                    since,
                    f"counter stopped advancing at "
                    f"{since:.3f} s (monotonic); energy after it is missing",
                    fatal=False,
                )
            )

    def _fail(self, i: int, t: float, error: str) -> None:
        self._failed_at[i] = t
        self._failed_tuple = None
        self._raw_all = False
        self._note(ProbeFault(self.probes[i].id, t, error, fatal=True))

    def _note(self, fault: ProbeFault) -> None:
        self.faults.append(fault)
        if fault.probe not in self._warned:
            self._warned.add(fault.probe)
            verb = "stopped" if fault.fatal else "misbehaved"
            warnings.warn(
                f"greenai: probe {fault.probe} {verb}: {fault.error}. The other probes "
                "go on; the result marks the gap.",
                GreenAIWarning,
                stacklevel=2,
            )

    def _record(self, t: float, cum: Sequence[float]) -> None:
        n = len(cum)
        t_end = self._t_end
        if t_end:
            start = t_end[-2] if len(t_end) >= 2 else self._t_start
            # Window-edge snapshots between ticks extend the open slot instead of opening
            # short ones: slots stay about one nominal width wide, energy stays exact.
            if t_end[-1] - start < self._slot_full_s:  # type: ignore[operator]
                self._slot_cum[-n:] = cum
                t_end[-1] = t
                return
        if len(t_end) >= self._slots:
            self._merge_pairs(n)
        self._t_end.append(t)
        self._slot_cum.extend(cum)

    def _merge_pairs(self, n: int) -> None:
        t_end, rows = self._t_end, self._slot_cum
        merged_t = array("d", t_end[1::2])
        merged: list[float] = []
        for k in range(1, len(t_end), 2):  # a pair ends where its second slot ends
            merged.extend(rows[k * n : (k + 1) * n])
        if len(t_end) % 2:  # an odd last slot stays as it is
            merged_t.append(t_end[-1])
            merged.extend(rows[-n:])
        self._t_end, self._slot_cum = merged_t, merged
        self._slot_width *= 2
        self._slot_full_s = SLOT_FULL * self.timeline_resolution_s

    def timeline(self, since_s: float | None = None) -> tuple[list[float], list[list[float]]]:
        """Return slot end times and, per probe, mean power (W) in each slot after since_s."""
        return slot_powers(*self.timeline_slots(since_s), len(self.probes))

    def timeline_slots(
        self, since_s: float | None = None
    ) -> tuple[float | None, list[float], list[float], list[float]]:
        """Return the timeline after since_s as it stands: (start of its first slot, the
        totals per probe then, slot end times, the totals at each, flat); ``slot_powers``
        turns it into powers."""
        n = len(self.probes)
        with self._lock:
            if self._pending:
                self._flush()
            first = 0 if since_s is None else bisect.bisect_right(self._t_end, since_s)
            t_end = self._t_end[first:].tolist()
            rows = self._slot_cum[first * n :]
            if not first:
                return self._t_start, list(self._cum_t0), t_end, rows
            base = self._slot_cum[(first - 1) * n : first * n]
            return self._t_end[first - 1], base, t_end, rows

    @property
    def timeline_resolution_s(self) -> float:
        """Return the nominal seconds one timeline slot covers now (0: no timeline)."""
        return (self.timeline_interval_s or 0.0) * self._slot_width

    @property
    def counters_only(self) -> bool:
        """Return True when every probe is an energy counter (energy read at edges)."""
        return not self._sampled

    # ----------------------------------------------------------------- thread
    def start(self) -> None:
        """Take a first reading and start the background thread (none if nothing needs it)."""
        if self._thread is not None:
            return
        self.sample()
        with self._lock:
            self._generation += 1
            generation = self._generation
            self._awake.set()
            if not math.isfinite(self.interval_s):
                return  # counters read at window edges only: no thread
            self._thread = threading.Thread(
                target=self._run, args=(generation,), name="greenai-sampler", daemon=True
            )
        self._thread.start()

    def _run(self, generation: int) -> None:
        # time.sleep is the cheapest wait there is (no lock, no condition variable); stop()
        # does not wake the thread, it retires its generation, and the thread leaves at its
        # next wake without reading anything. A parked thread blocks on an event instead.
        awake, lock, sleep = self._awake, self._lock, time.sleep
        while True:
            interval = self.interval_s
            if interval <= LONG_TICK_S and awake.is_set():
                sleep(interval)  # the hot loop: a sleep, the lock, one tick
            else:
                wake = self._wait(generation, interval)
                if wake is None:
                    return
                if not wake:
                    continue
            with lock:
                if generation != self._generation:
                    return  # retired (stop, or a thread that took over)
                if awake.is_set():
                    self._tick()  # the totals and timeline (folded now or with the next edge)

    def _wait(self, generation: int, interval: float) -> bool | None:
        """Wait out what is not a short tick; return True to read, False to start over,
        None to leave (retired, or the rates changed to edges only)."""
        if generation != self._generation:
            return None
        if not self._awake.is_set():
            self._awake.wait()  # parked
            return False
        if not math.isfinite(interval):
            with self._lock:
                if generation == self._generation:
                    self._thread = None  # the rates changed to edges only: leave
                return None
        # a long tick (a wrap guard: minutes) waits on an event that a faster rate sets, so
        # a meter that needs a timeline or power samples gets them at once
        changed = self._rates_changed
        changed.clear()
        return not (interval == self.interval_s and changed.wait(interval))

    def park(self) -> None:
        """Stop reading in the background but keep the thread (blocked, costing nothing)."""
        self._awake.clear()

    def resume(self) -> None:
        """Wake a parked thread (or start one the current rates now need).

        Readings restart from the next one: a counter may have wrapped unseen while parked,
        so the parked gap is never differenced (the totals carry on from where they were),
        and the timeline starts afresh (no open window reaches into the gap).
        """
        with self._lock:
            if self._pending:
                self._flush()  # readings from before the park: folded as they were taken
            if not self._awake.is_set():
                n = len(self.probes)
                self._last_value = [None] * n
                self._changed_at = [None] * n
                self._last_t = None
                self._t_start = None  # the timeline starts afresh (no window spans the gap)
                self._t_end = array("d")
                self._slot_cum = []
                self._slot_width = 1
                self._slot_full_s = SLOT_FULL * self.timeline_resolution_s
            self._awake.set()
        if self._thread is None and self._generation and math.isfinite(self.interval_s):
            self._restart_thread()

    @property
    def parked(self) -> bool:
        """Return True while the background reads are parked."""
        return not self._awake.is_set()

    def stop(self) -> Snapshot:
        """Stop the thread (it leaves at its next wake, reading nothing) and return a final
        reading."""
        with self._lock:
            self._generation += 1
            self._thread = None
            self._awake.set()  # a parked thread wakes, sees its generation retired, leaves
            self._rates_changed.set()  # so does one waiting out a long tick
            return self.sample()

    def set_interval(self, interval_s: float) -> None:
        """Change the polling interval of power and model probes (and of a timeline that
        follows it), capped by the wrap-safe interval."""
        self.set_rates(interval_s, None if self._timeline_follows else self._timeline_hz)

    def set_rates(self, interval_s: float, timeline_hz: float | None) -> None:
        """Set the power-probe interval and the timeline rate; derive the thread's tick."""
        self._power_interval_s = interval_s
        self._timeline_follows = timeline_hz is None
        self._timeline_hz = timeline_hz
        if timeline_hz is None:
            self.timeline_interval_s = interval_s
        elif timeline_hz > 0:
            self.timeline_interval_s = 1.0 / timeline_hz
        else:
            self.timeline_interval_s = None
        width = getattr(self, "_slot_width", 1)  # (not yet set in __init__)
        self._slot_full_s = SLOT_FULL * (self.timeline_interval_s or 0.0) * width
        tick = self._wrap_safe_s
        if self._sampled:
            tick = min(tick, interval_s)
        if self.timeline_interval_s is not None:
            tick = min(tick, self.timeline_interval_s)
        slower = getattr(self, "interval_s", tick)
        self.interval_s = tick
        if not hasattr(self, "_thread"):
            return  # still in __init__
        if self._thread is None:
            if self._generation and math.isfinite(tick):
                self._restart_thread()  # started with edges only: now a tick needs a thread
        elif tick < slower:
            self._rates_changed.set()  # wakes a thread waiting out a long tick

    def _restart_thread(self) -> None:
        with self._lock:
            self._generation += 1
            generation = self._generation
            self._thread = threading.Thread(
                target=self._run, args=(generation,), name="greenai-sampler", daemon=True
            )
        self._thread.start()

    @property
    def running(self) -> bool:
        """Return whether the background thread runs (and is not parked)."""
        return self._thread is not None and self._awake.is_set()


def _wrap_safe_s(probes: Iterable[Probe]) -> float:
    """Return the longest interval at which none of these counters can wrap twice unseen."""
    safe = math.inf
    for p in probes:
        if p.method is Method.COUNTER and p.wrap_j and p.max_power_w:
            safe = min(safe, p.wrap_j / p.max_power_w / WRAP_READS_PER_RANGE)
    return safe


def _edge_only(probes: Sequence[Probe]) -> list[bool]:
    """Return, per probe, whether ticks leave it to window edges: an energy counter kept out
    of the total because another probe here contains it (``contained_in`` names it), that
    container itself read at ticks."""
    contained = [
        p.method is Method.COUNTER and not p.counts_in_total and getattr(p, "contained_in", None)
        for p in probes
    ]
    containers = {p.id for p, c in zip(probes, contained, strict=True) if not c}
    return [bool(c) and c in containers for c in contained]


def slot_powers(
    prev: float | None,
    base: Sequence[float],
    t_end: Sequence[float],
    rows: Sequence[float],
    n: int,
) -> tuple[list[float], list[list[float]]]:
    """Return slot end times and, per probe, mean power (W) in each slot, from
    ``Sampler.timeline_slots`` (slots of zero width are left out)."""
    times: list[float] = []
    powers: list[list[float]] = [[] for _ in range(n)]
    for k, t in enumerate(t_end):
        row = rows[k * n : (k + 1) * n]
        if prev is not None and t > prev and len(base) == n:
            times.append(t)
            dt = t - prev
            for j in range(n):
                powers[j].append((row[j] - base[j]) / dt)
        prev, base = t, row
    return times, powers
