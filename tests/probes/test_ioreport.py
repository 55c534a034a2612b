"""IOReport Energy Model (Apple silicon, no root) through a stand-in of its function layer."""

from __future__ import annotations

import pytest

from greenai.meter import Meter
from greenai.probes import ioreport
from greenai.sampler import Sampler
from tests.fakes.clock import FakeClock
from tests.fakes.ioreport import FakeIOReport


def test_channel_names_map_to_whole_blocks_only():
    assert ioreport.channel_kind("CPU Energy") == "cpu"
    assert ioreport.channel_kind("DIE_1_CPU Energy") == "cpu"
    assert ioreport.channel_kind("PCPU") is None  # a cluster inside CPU Energy
    assert ioreport.channel_kind("GPU SRAM") is None
    assert ioreport.channel_kind("GPU Energy") == "gpu"
    assert ioreport.channel_kind("ANE0") == "ane"
    assert ioreport.channel_kind("DRAM0") == "dram"


def test_truth_within_1_percent_and_subscription_lost(clock: FakeClock):
    powers = {
        "cpu": lambda t: 8.0 + 0.5 * (t - 1000.0),
        "gpu": lambda _t: 12.3,
        "ane": lambda _t: 0.7,
        "dram": lambda _t: 1.1,
    }
    fake = FakeIOReport(clock, powers)
    found = ioreport.discover({}, source_factory=lambda: fake, clock=clock)
    ids = [p.id for p in found.probes]
    assert ids == ["ioreport:cpu", "ioreport:gpu", "ioreport:ane", "ioreport:dram"]
    assert {p.id: p.domain for p in found.probes}["ioreport:ane"] == "gpu"
    assert all(p.counts_in_total and p.method.provenance == "measured" for p in found.probes)
    sampler = Sampler(found.probes, interval_s=0.1, clock=clock)
    m = Meter("t", "run", sampler=sampler).start()
    t0 = dict(fake.true_j)
    for _ in range(100):
        clock.advance(0.1)
        sampler.sample()
    truth = {k: fake.true_j[k] - t0[k] for k in powers}
    fake.lost = True
    with pytest.warns(Warning, match="subscription gone"):
        clock.advance(0.1)
        sampler.sample()
    result = m.stop()
    assert truth["cpu"] == pytest.approx(8 * 10 + 0.5 * 50, rel=1e-6)
    for kind in powers:
        assert result.by_device[f"ioreport:{kind}"] == pytest.approx(truth[kind], rel=0.01)
    # clusters (ECPU, PCPU) and GPU SRAM are parts of their blocks: not counted again
    assert result.energy_j == pytest.approx(sum(truth.values()), rel=0.01)
    assert {d.status for d in result.devices} == {"failed"}


def test_unknown_unit_and_absence_reasons(clock: FakeClock, monkeypatch):
    class Odd(FakeIOReport):
        def deltas(self):
            return [("Energy Model", "CPU Energy", "kWh", 1)]

    found = ioreport.discover({}, source_factory=lambda: Odd(clock, {"cpu": lambda _t: 1.0}))
    assert not found.probes and "unknown unit 'kWh'" in found.unavailable[0].reason
    monkeypatch.setattr(ioreport.sys, "platform", "linux")
    assert ioreport.discover({}).unavailable[0].reason == "not macOS (Apple silicon only)"
    monkeypatch.setattr(ioreport.sys, "platform", "darwin")
    (u,) = ioreport.discover({}).unavailable
    assert "opt-in" in u.reason and "GREENAI_IOREPORT=on" in u.remedy
