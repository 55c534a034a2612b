"""RAPL probe: hierarchy, wraparound, permissions, exact energy against a fake tree."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from greenai.meter import Meter
from greenai.probes import rapl
from greenai.sampler import Sampler
from tests.fakes.clock import FakeClock
from tests.fakes.powercap import FakePowercap, make_unreadable_to_others, unprivileged_command

REPO = Path(__file__).resolve().parents[2]


def _by_id(found):
    return {p.id: p for p in found.probes}


def test_hierarchy_counts_only_non_overlapping_zones(powercap: FakePowercap):
    tree = powercap
    tree.add_zone("0", "package-0", power_w=120.0)
    tree.add_zone("0:0", "core", power_w=80.0)
    tree.add_zone("0:1", "uncore", power_w=15.0)
    tree.add_zone("0:2", "dram", power_w=20.0)
    tree.add_zone("1", "psys", power_w=170.0)
    found = rapl.discover()
    probes = _by_id(found)
    assert set(probes) == {
        "rapl:package-0",
        "rapl:package-0/core",
        "rapl:package-0/uncore",
        "rapl:dram-0",
        "rapl:psys",
    }
    counted = {pid for pid, p in probes.items() if p.counts_in_total}
    assert counted == {"rapl:package-0", "rapl:dram-0"}
    assert probes["rapl:package-0"].domain == "cpu"
    assert probes["rapl:dram-0"].domain == "dram"
    assert probes["rapl:psys"].domain == "system"
    assert probes["rapl:package-0/core"].info()["contained_in"] == "rapl:package-0"


def test_mmio_duplicate_is_skipped_with_reason(powercap: FakePowercap):
    powercap.add_zone("0", "package-0")
    (powercap.devices / "intel-rapl-mmio").mkdir()
    powercap.add_zone("0", "package-0", control="intel-rapl-mmio")
    found = rapl.discover()
    assert [p.id for p in found.probes] == ["rapl:package-0"]
    assert any("counted twice" in u.reason for u in found.unavailable)


def test_two_sockets_and_amd_package_only(powercap: FakePowercap):
    powercap.add_zone("0", "package-0")
    powercap.add_zone("1", "package-1")
    found = rapl.discover()
    assert sorted(p.id for p in found.probes if p.counts_in_total) == [
        "rapl:package-0",
        "rapl:package-1",
    ]


def test_psys_alone_counts(powercap: FakePowercap):
    powercap.add_zone("0", "psys")
    (probe,) = rapl.discover().probes
    assert probe.counts_in_total and probe.domain == "system"


def test_disabled_zone_and_missing_root(powercap: FakePowercap, tmp_path: Path):
    powercap.add_zone("0", "package-0", enabled=False)
    found = rapl.discover()
    assert not found.probes and "disabled" in found.unavailable[0].reason
    missing = rapl.discover(tmp_path / "nope")
    assert not missing.probes and "does not exist" in missing.unavailable[0].reason


def test_exact_energy_with_wrapping_counters(powercap: FakePowercap, clock: FakeClock):
    # A small range wraps many times: 100 W through a 50 J range wraps every 0.5 s.
    powercap.add_zone(
        "0",
        "package-0",
        power_w=100.0,
        max_range_uj=50_000_000,
        max_power_uw=200_000_000,
        start_uj=31_000_000,
    )
    powercap.add_zone(
        "0:2",
        "dram",
        power_w=lambda t: 5.0 + 0.01 * (t - 1000.0),
        max_range_uj=7_000_000,
        max_power_uw=20_000_000,
    )
    clock.on_advance(powercap.update)
    found = rapl.discover()
    sampler = Sampler(found.probes, interval_s=0.1, clock=clock)
    # wrap safety: 50 J / 200 W / 2 = 0.125 s; 7 J / 20 W / 2 = 0.175 s
    assert sampler.interval_s == pytest.approx(0.1)
    assert sampler.wrap_safe_interval_s() == pytest.approx(0.125)
    m = Meter("t", "sample", sampler=sampler)
    m.start()
    truth0 = {z: powercap.energy_j(z) for z in powercap.zones}
    for _ in range(600):  # 60 s
        clock.advance(sampler.interval_s)
        sampler.sample()
    m.count(600)
    result = m.stop()
    truth = {z: powercap.energy_j(z) - truth0[z] for z in powercap.zones}
    assert truth["intel-rapl:0"] == pytest.approx(6000.0)
    assert result.by_device["rapl:package-0"] == pytest.approx(truth["intel-rapl:0"], rel=1e-3)
    assert result.by_device["rapl:dram-0"] == pytest.approx(truth["intel-rapl:0:2"], rel=1e-3)
    # uJ rounding is the only error: far inside 0.1 %
    assert abs(result.energy_j - sum(truth.values())) < 1e-3
    assert result.by_domain["cpu"] == pytest.approx(6000.0, abs=1e-3)
    assert result.domains["cpu"].provenance == "measured"
    assert result.energy_per_unit_j == pytest.approx(result.energy_j / 600)


def test_a_short_window_is_exact_at_the_edges(powercap: FakePowercap, clock: FakeClock):
    powercap.add_zone("0", "package-0", power_w=42.0)
    clock.on_advance(powercap.update)
    sampler = Sampler(rapl.discover().probes, clock=clock)
    sampler.sample()
    clock.advance(0.37)
    m = Meter(sampler=sampler).start()
    clock.advance(0.05)  # a 50 ms window with no background sample inside it
    result = m.stop()
    assert result.energy_j == pytest.approx(42.0 * 0.05, abs=2e-6)


@settings(max_examples=60, deadline=None)
@given(
    power_w=st.floats(0.5, 400.0),  # a powered domain: 0 W would (rightly) read as stalled
    range_j=st.floats(5.0, 500.0),
    steps=st.lists(st.floats(0.001, 1.0), min_size=1, max_size=40),
    start_frac=st.floats(0.0, 0.999),
)
def test_wraparound_never_loses_energy(tmp_path_factory, power_w, range_j, steps, start_frac):
    tree = FakePowercap(tmp_path_factory.mktemp("pc"))
    range_uj = int(range_j * 1e6)
    zone = tree.add_zone(
        "0",
        "package-0",
        power_w=power_w,
        max_range_uj=range_uj,
        max_power_uw=int(max(power_w, 1.0) * 1e6),
        start_uj=start_frac * range_uj,
    )
    clock = FakeClock()
    clock.on_advance(tree.update)
    probes = rapl.discover(tree.root).probes
    sampler = Sampler(probes, interval_s=1.0, clock=clock)
    first = sampler.sample()
    for dt in steps:
        # never step past the wrap-safe interval: that is the sampler's own contract
        clock.advance(min(dt, sampler.interval_s))
        snap = sampler.sample()
        assert snap.energy_j[0] >= first.energy_j[0]  # energy never negative
    true_j = zone.total_uj / 1e6 - start_frac * range_uj / 1e6
    assert snap.energy_j[0] == pytest.approx(true_j, abs=1e-6 * (len(steps) + 1) + 1e-9)
    for p in probes:
        p.close()


def test_counter_reset_is_not_taken_for_a_wrap(powercap: FakePowercap, clock: FakeClock):
    zone = powercap.add_zone(
        "0",
        "package-0",
        power_w=50.0,
        max_range_uj=262_143_000_000,
        max_power_uw=100_000_000,
        start_uj=1e11,
    )
    clock.on_advance(powercap.update)
    sampler = Sampler(rapl.discover().probes, clock=clock)
    sampler.sample()
    clock.advance(1.0)
    sampler.sample()
    zone.reset()
    clock.advance(1.0)
    with pytest.warns(Warning, match="reset, not a wrap"):
        snap = sampler.sample()
    # a wrap would add ~162 kJ; a reset adds only the energy since the reset (50 J)
    assert snap.energy_j[0] == pytest.approx(100.0, abs=1e-3)
    assert sampler.faults and "reset" in sampler.faults[0].error and not sampler.faults[0].fatal


def _run_unprivileged(tree: FakePowercap, code: str) -> str:
    make_unreadable_to_others(tree)
    argv = unprivileged_command([sys.executable, "-c", code])
    if argv is None:
        pytest.skip("running as root without setpriv: cannot drop CAP_DAC_OVERRIDE")
    env = {**os.environ, "GREENAI_POWERCAP_ROOT": str(tree.root), "PYTHONPATH": str(REPO)}
    env.pop("CUDA_VISIBLE_DEVICES", None)
    out = subprocess.run(argv, env=env, capture_output=True, text=True, check=True, cwd="/")
    return out.stdout


def test_root_only_energy_says_what_to_do(tmp_path: Path):
    tree = FakePowercap(tmp_path / "sys")
    tree.add_zone("0", "package-0", root_only=True)
    tree.add_zone("0:2", "dram", root_only=True)
    code = (
        "import json; from greenai.probes import rapl; f = rapl.discover(); "
        "print(json.dumps({'probes': [p.id for p in f.probes], "
        "'unavailable': [u.to_dict() for u in f.unavailable]}))"
    )
    report = json.loads(_run_unprivileged(tree, code))
    assert report["probes"] == []
    reasons = {u["probe"]: u for u in report["unavailable"]}
    assert "permission denied" in reasons["rapl:package-0"]["reason"]
    assert "udev" in reasons["rapl:package-0"]["remedy"]
    assert "chmod o+r" in reasons["rapl:package-0"]["remedy"]
    assert "permission denied" in reasons["rapl:dram-0"]["reason"]


def test_root_only_falls_back_to_cpu_model(tmp_path: Path):
    tree = FakePowercap(tmp_path / "sys")
    tree.add_zone("0", "package-0", root_only=True)
    code = (
        "from greenai.probes.discover import discover; "
        "print(','.join(p.id for p in discover().probes))"
    )
    ids = _run_unprivileged(tree, code).strip().split(",")
    assert ids[:2] == ["model:cpu", "model:dram"]


def test_energy_file_removed_mid_run_marks_probe(powercap: FakePowercap, clock: FakeClock):
    zone = powercap.add_zone("0", "package-0", power_w=10.0)
    powercap.add_zone("0:2", "dram", power_w=3.0)
    clock.on_advance(powercap.update)
    sampler = Sampler(rapl.discover().probes, clock=clock)
    m = Meter(sampler=sampler).start()
    clock.advance(1.0)
    sampler.sample()
    # the driver goes away: reads on the open file fail from now on
    probe = sampler.probes[0]
    os.close(probe._fd)
    probe._fd = os.open("/proc/self/mem", os.O_RDONLY)  # pread at 0 gives EIO
    clock.advance(1.0)
    with pytest.warns(Warning, match="rapl:package-0"):
        sampler.sample()
    result = m.stop()
    pkg = next(d for d in result.devices if d.id == "rapl:package-0")
    assert pkg.status == "failed" and pkg.energy_j == pytest.approx(10.0, abs=1e-5)
    assert pkg.failed_at_s == pytest.approx(2.0)
    assert result.by_device["rapl:dram-0"] == pytest.approx(6.0, abs=1e-5)
    assert result.domains["cpu"].complete is False
    assert result.gaps[0].probe == "rapl:package-0"
    del zone


def test_counter_that_stops_advancing_is_marked(powercap: FakePowercap, clock: FakeClock):
    stuck = powercap.add_zone("0", "package-0", power_w=80.0)
    powercap.add_zone("0:2", "dram", power_w=10.0)
    clock.on_advance(powercap.update)
    sampler = Sampler(rapl.discover().probes, clock=clock)
    m = Meter(sampler=sampler).start()
    for _ in range(10):
        clock.advance(0.1)
        sampler.sample()
    stuck.frozen = True  # firmware stops updating the package counter
    with pytest.warns(Warning, match="stopped advancing"):
        for _ in range(40):
            clock.advance(0.1)
            sampler.sample()
    result = m.stop()
    gap = next(g for g in result.gaps if g.probe == "rapl:package-0")
    assert gap.from_s == pytest.approx(1.0) and "stopped advancing" in gap.error
    assert result.by_device["rapl:package-0"] == pytest.approx(80.0, abs=1e-5)  # up to 1 s
    assert result.by_device["rapl:dram-0"] == pytest.approx(50.0, abs=1e-5)  # healthy: exact


def test_a_closed_zone_reads_nothing_from_a_reused_descriptor(powercap: FakePowercap, clock):
    powercap.add_zone("0", "package-0", power_w=10.0)
    clock.on_advance(powercap.update)
    probe = rapl.discover().probes[0]
    sampler = Sampler([probe], clock=clock)
    sampler.sample()
    probe.close()
    other = os.open(powercap.root / "intel-rapl:0" / "name", os.O_RDONLY)  # may reuse the fd
    try:
        clock.advance(1.0)
        with pytest.warns(Warning, match="probe is closed"):
            snap = sampler.sample()
    finally:
        os.close(other)
    assert snap.failed_at_s[0] is not None and sampler.faults[0].error.endswith("closed")


def _tick(sampler: Sampler) -> None:
    with sampler._lock:  # what the background thread does at each wake
        sampler._tick()


def test_ticks_leave_contained_zones_to_the_edges_and_energy_stays_exact(
    powercap: FakePowercap, clock: FakeClock
):
    # core wraps every 2 s; at the package's 120 W either could wrap in 1 s: the wrap guard
    # reads them every 0.5 s
    powercap.add_zone("0", "package-0", power_w=100.0, max_power_uw=200_000_000)
    powercap.add_zone("0:0", "core", power_w=60.0, max_range_uj=120_000_000)
    powercap.add_zone("0:1", "uncore", power_w=lambda t: 10.0 + (t % 3.0), max_range_uj=120_000_000)
    powercap.add_zone("0:2", "dram", power_w=8.0)
    clock.on_advance(powercap.update)
    found = rapl.discover()
    for p in found.probes:
        if p.id.endswith(("core", "uncore")):
            p.max_power_w = 120.0  # the package's ceiling (else 1000 W is assumed)
    ids = [p.id for p in found.probes]
    sampler = Sampler(found.probes, clock=clock, timeline_hz=10.0)
    edge_only = {ids[i] for i in range(len(ids))} - {ids[i] for i in sampler.timeline_probes}
    assert edge_only == {"rapl:package-0/core", "rapl:package-0/uncore"}
    reads: dict[str, int] = {i: 0 for i in ids}
    for p in found.probes:
        raw = p.read_raw
        p.read_raw = lambda raw=raw, p=p: reads.__setitem__(p.id, reads[p.id] + 1) or raw()
    m = Meter("t", "sample", sampler=sampler)
    m.start()
    truth0 = {z: powercap.energy_j(z) for z in powercap.zones}
    for k in range(600):  # 60 s of 10 Hz ticks, a window edge every 7 s
        clock.advance(0.1)
        _tick(sampler)
        if k % 70 == 69:
            sampler.snapshot()
    result = m.stop()
    truth = {z: powercap.energy_j(z) - truth0[z] for z in powercap.zones}
    for zone, probe_id in (
        ("intel-rapl:0", "rapl:package-0"),
        ("intel-rapl:0:0", "rapl:package-0/core"),
        ("intel-rapl:0:1", "rapl:package-0/uncore"),
        ("intel-rapl:0:2", "rapl:dram-0"),
    ):
        assert result.by_device[probe_id] == pytest.approx(truth[zone], abs=1e-3), probe_id
    assert not sampler.faults  # no wrap taken for a reset, no stall
    # ticks read the package and dram; core and uncore at edges and every 0.5 s (wrap guard)
    assert reads["rapl:package-0"] >= 600 and reads["rapl:dram-0"] >= 600
    assert 100 <= reads["rapl:package-0/core"] <= 200  # not 600
    timeline = result.timeline
    assert timeline is not None and set(timeline.power_w) == {"rapl:package-0", "rapl:dram-0"}
    slots = zip(timeline.t_s, (0.0, *timeline.t_s), strict=False)
    widths = [t - prev for t, prev in slots]
    package_j = sum(p * w for p, w in zip(timeline.power_w["rapl:package-0"], widths, strict=True))
    assert package_j == pytest.approx(truth["intel-rapl:0"], rel=1e-6)
