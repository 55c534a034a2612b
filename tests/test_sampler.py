"""Sampler: exact integration, bounded timeline, faults recorded and never raised."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from greenai.probes.base import Method
from greenai.sampler import Sampler
from tests.fakes.clock import FakeClock
from tests.fakes.probes import ClockProbe, constant


def test_trapezoid_is_exact_for_linear_power(clock: FakeClock):
    t0 = clock()
    probe = ClockProbe("p", clock, lambda t: 10.0 + 4.0 * (t - t0), method=Method.POWER)
    s = Sampler([probe], clock=clock)
    s.sample()
    for _ in range(30):
        clock.advance(0.1)
        s.sample()
    # integral of 10 + 4t over 3 s = 30 + 18
    assert s.sample().energy_j[0] == pytest.approx(48.0)


def test_model_probe_is_integrated_as_interval_mean(clock: FakeClock):
    probe = ClockProbe("m", clock, constant(7.0), method=Method.MODEL)
    s = Sampler([probe], clock=clock)
    s.sample()
    clock.advance(2.5)
    assert s.sample().energy_j[0] == pytest.approx(17.5)


def test_timeline_is_bounded_and_keeps_exact_totals(clock: FakeClock):
    t0 = clock()
    probes = [ClockProbe(f"g{i}", clock, lambda t, i=i: 100 + i + ((t - t0) % 7)) for i in range(8)]
    s = Sampler(probes, clock=clock, timeline_slots=64)
    s.sample()
    for _ in range(5000):
        clock.advance(0.1)
        s.sample()
    times, powers = s.timeline()
    assert len(times) <= 64
    assert s.timeline_resolution_s == pytest.approx(0.1 * 128)
    start = t0
    for i in range(8):
        energy = 0.0
        prev = start
        for t, p in zip(times, powers[i], strict=True):
            energy += p * (t - prev)
            prev = t
        assert energy == pytest.approx(s.sample().energy_j[i], rel=1e-9)


@pytest.mark.slow
def test_a_day_at_10hz_with_12_probes_stays_in_the_cap(clock: FakeClock):
    probes = [ClockProbe(f"p{i}", clock, constant(50.0)) for i in range(12)]
    s = Sampler(probes, clock=clock)
    s.sample()
    for _ in range(24 * 3600 * 10):
        clock.advance(0.1)
        s.sample()
    assert len(s._t_end) <= s._slots and len(s._slot_cum) <= s._slots * 12
    assert s.sample().energy_j[0] == pytest.approx(50.0 * 86400, rel=1e-9)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.floats(0.0, 2.0), st.floats(0.0, 1000.0)), min_size=1, max_size=50))
def test_energy_is_never_negative(steps):
    clock = FakeClock()
    powers = iter([p for _, p in steps] + [0.0])
    current = {"p": 0.0}
    probe = ClockProbe("p", clock, lambda _t: current["p"], method=Method.POWER)
    s = Sampler([probe], clock=clock)
    last = s.sample().energy_j[0]
    for dt, _ in steps:
        current["p"] = next(powers)
        clock.advance(dt)
        e = s.sample().energy_j[0]
        assert e >= last >= 0.0
        last = e


def test_failing_probe_is_marked_and_others_go_on(clock: FakeClock):
    good = ClockProbe("good", clock, constant(5.0))
    bad = ClockProbe("bad", clock, constant(9.0), fail_at_s=clock() + 1.05)
    s = Sampler([good, bad], clock=clock)
    s.sample()
    with pytest.warns(Warning, match="bad"):
        for _ in range(30):
            clock.advance(0.1)
            snap = s.sample()
    assert snap.energy_j[0] == pytest.approx(15.0)
    assert snap.energy_j[1] == pytest.approx(9.0)  # up to its last good read at 1.0 s
    assert snap.failed_at_s[1] == pytest.approx(clock() - 1.9)
    assert len(s.faults) == 1  # marked once, not re-read


def test_a_probe_bug_does_not_kill_the_thread():
    class Buggy:
        id, domain, method, counts_in_total, wrap_j, max_power_w = (
            "buggy",
            "cpu",
            Method.POWER,
            True,
            None,
            None,
        )

        def read(self) -> float:
            raise ZeroDivisionError("oops")

        def info(self):
            return {}

        def close(self):
            pass

    ok = ClockProbe("ok", time.monotonic, constant(1.0))
    s = Sampler([Buggy(), ok], interval_s=0.01)
    with pytest.warns(Warning, match="ZeroDivisionError"):
        s.start()
        time.sleep(0.1)
        snap = s.stop()
    assert s.samples >= 5 and snap.energy_j[1] > 0
    assert "ZeroDivisionError" in s.faults[0].error


def test_background_thread_samples_at_its_interval():
    probe = ClockProbe("p", time.monotonic, constant(1.0))
    s = Sampler([probe], interval_s=0.02)
    s.start()
    thread = s._thread
    assert thread is not None and thread.is_alive()
    time.sleep(0.3)
    s.stop()
    taken = s.samples
    assert 8 <= taken <= 20
    time.sleep(0.1)  # the thread leaves at its next wake without reading again
    assert s.samples == taken
    assert not thread.is_alive()


def test_counters_only_read_at_edges_with_no_thread_when_nothing_needs_one():
    probe = ClockProbe("c", time.monotonic, constant(5.0), method=Method.COUNTER)
    s = Sampler([probe], timeline_hz=0)
    assert s.counters_only and s.interval_s == float("inf")
    s.start()
    assert s._thread is None and not s.running
    a = s.snapshot()
    time.sleep(0.05)
    b = s.snapshot()
    assert b.energy_j[0] - a.energy_j[0] == pytest.approx(5.0 * (b.t_s - a.t_s), rel=0.05)
    assert s.samples == 3 and s.timeline() == ([], [[]])


def test_tick_follows_what_needs_it(clock: FakeClock):
    counter = ClockProbe("c", clock, constant(5.0), method=Method.COUNTER)
    power = ClockProbe("p", clock, constant(2.0), method=Method.POWER)
    assert Sampler([counter], clock=clock, timeline_hz=1.0).interval_s == pytest.approx(1.0)
    assert Sampler([counter], 0.05, clock=clock).interval_s == pytest.approx(0.05)  # follows
    both = Sampler([counter, power], 0.1, clock=clock, timeline_hz=0)
    assert both.interval_s == pytest.approx(0.1)  # the power probe needs its 10 Hz
    both.set_rates(0.1, 4.0)
    assert both.interval_s == pytest.approx(0.1) and both.timeline_interval_s == 0.25


def test_park_reads_nothing_and_resume_skips_the_parked_gap(clock: FakeClock):
    counter = ClockProbe("c", clock, constant(5.0), method=Method.COUNTER)
    s = Sampler([counter], clock=clock, timeline_hz=1.0)
    s.sample()
    clock.advance(1.0)
    s.sample()
    s.park()
    assert s.parked and not s.running
    clock.advance(100.0)  # a counter may wrap unseen here: the gap is never differenced
    s.resume()
    a = s.snapshot()
    clock.advance(2.0)
    b = s.snapshot()
    assert a.energy_j[0] == pytest.approx(5.0)  # totals carry on, the gap adds nothing
    assert b.energy_j[0] - a.energy_j[0] == pytest.approx(10.0)
    times, _ = s.timeline()
    assert times and min(times) > a.t_s - 1e-9  # the timeline restarted after the gap


def test_interval_must_be_positive():
    with pytest.raises(ValueError, match="interval_s"):
        Sampler([], interval_s=0)


def test_a_faster_rate_takes_effect_at_once_even_while_the_thread_sleeps_long():
    probe = ClockProbe("c", time.monotonic, constant(5.0), method=Method.COUNTER)
    probe.wrap_j, probe.max_power_w = 3000.0, 5.0  # a wrap guard of 300 s
    s = Sampler([probe], timeline_hz=0)
    assert s.interval_s == pytest.approx(300.0)
    s.start()
    time.sleep(0.05)  # the thread is asleep for 300 s now
    taken = s.samples
    s.set_rates(0.1, 50.0)  # a meter asks for a 50 Hz timeline
    time.sleep(0.3)
    assert s.samples - taken >= 5
    thread = s._thread
    assert thread is not None and thread.is_alive()
    s.stop()
    thread.join(timeout=2)  # woken by stop, it leaves at once (not after 300 s)
    assert not thread.is_alive()


def test_a_sampler_started_with_edges_only_gets_a_thread_when_a_rate_needs_one():
    probe = ClockProbe("c", time.monotonic, constant(5.0), method=Method.COUNTER)
    s = Sampler([probe], timeline_hz=0)
    s.start()
    assert s._thread is None
    s.set_rates(0.1, 50.0)
    assert s._thread is not None
    taken = s.samples
    time.sleep(0.2)
    assert s.samples - taken >= 3
    s.stop()


class _RawProbe(ClockProbe):
    """A counter offering the raw fast path (as RAPL and NVML do), which can be broken."""

    raw_per_j = 1000.0  # read_raw gives mJ

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.raw_error: Exception | None = None

    def read_raw(self) -> int:
        if self.raw_error is not None:
            raise self.raw_error
        return round(self.read() * 1000)


def test_raw_counters_read_in_one_pass_and_a_raw_failure_is_named_by_read(clock: FakeClock):

    a = _RawProbe("a", clock, constant(10.0))
    b = _RawProbe("b", clock, constant(5.0))
    s = Sampler([a, b], clock=clock)
    s.sample()
    for _ in range(10):
        clock.advance(0.1)
        s.sample()
    assert s._raw_all and s.snapshot().energy_j == pytest.approx((10.0, 5.0))
    a.raw_error = OSError(5, "Input/output error")
    a.fail_at_s = clock()  # read() then fails too, naming the device
    clock.advance(0.1)
    with pytest.warns(Warning, match="a: device went away"):
        snap = s.sample()
    assert snap.failed_at_s[0] == pytest.approx(clock()) and snap.failed_at_s[1] is None
    assert not s._raw_all and s.faults[0].error == "a: device went away"
    clock.advance(0.1)
    assert s.sample().energy_j[1] == pytest.approx(6.0)  # the other goes on, one by one


def test_a_sampler_with_no_probes_reads_nothing_and_stays_exact(clock: FakeClock):
    # a rank that meters no device of its own (node probes on local rank 0, no GPU here)
    s = Sampler([], clock=clock)
    s.sample()
    clock.advance(1.0)
    snap = s.sample()
    assert snap.energy_j == () and snap.failed_at_s == () and s.samples == 2


def _ticked(sampler: Sampler, steps: list[float], clock: FakeClock, edge_every: int) -> None:
    sampler.sample()
    for k, dt in enumerate(steps):
        clock.advance(dt)
        with sampler._lock:  # what the background thread does at each wake
            sampler._tick()
        if k % edge_every == edge_every - 1:
            sampler.sample()


@settings(max_examples=40, deadline=None)
@given(
    steps=st.lists(st.sampled_from([0.0, 0.05, 0.1, 0.3]), min_size=1, max_size=60),
    stop_at=st.floats(1000.0, 1010.0),
    edge_every=st.integers(1, 12),
)
def test_ticks_folded_in_batches_match_ticks_folded_one_by_one(steps, stop_at, edge_every):
    # a package, a core inside it (read at edges only), a GPU that stops for a while
    def probes(clock):
        package = _RawProbe("pkg", clock, lambda t: 50.0 + (t % 2.0))
        core = _RawProbe("pkg/core", clock, constant(20.0), counts_in_total=False)
        core.contained_in = "pkg"
        gpu = _RawProbe("gpu", clock, lambda t: 0.0 if stop_at <= t < stop_at + 2.5 else 300.0)
        return [package, core, gpu]

    results = []
    for batched in (True, False):
        clock = FakeClock()
        s = Sampler(probes(clock), clock=clock, timeline_hz=10.0)
        if not batched:
            s._fold_ticks = lambda pending: 0  # every tick through the one-by-one fold
        _ticked(s, steps, clock, edge_every)
        snap = s.sample()
        results.append((snap.energy_j, s.timeline(), [(f.probe, f.t_s) for f in s.faults]))
    (energy, (times, powers), faults), (energy_1, (times_1, powers_1), faults_1) = results
    assert energy == pytest.approx(energy_1, abs=1e-9) and faults == faults_1
    assert times == pytest.approx(times_1) and len(powers) == len(powers_1)
    for series, series_1 in zip(powers, powers_1, strict=True):
        assert series == pytest.approx(series_1, abs=1e-6)


def test_edges_back_to_back_still_see_a_stall_to_within_its_resolution(clock: FakeClock):
    from greenai.sampler import STALL_AFTER_S, STALL_RESOLUTION_S

    stops_at = clock() + 1.0
    moving = _RawProbe("a", clock, constant(10.0))
    stuck = _RawProbe("b", clock, lambda t: 5.0 if t < stops_at else 0.0)
    s = Sampler([moving, stuck], clock=clock, timeline_hz=0)
    s.sample()
    with pytest.warns(Warning, match="stopped advancing"):
        for _ in range(4000):  # a window every 1 ms for 4 s
            clock.advance(0.001)
            s.sample()
    (fault,) = s.faults
    assert fault.probe == "b" and abs(fault.t_s - stops_at) <= STALL_RESOLUTION_S + 1e-9
    assert s.sample().energy_j == pytest.approx((40.0, 5.0), abs=1e-6)
    assert STALL_AFTER_S > 100 * STALL_RESOLUTION_S
