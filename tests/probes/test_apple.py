"""Apple silicon through powermetrics: the real plist stream format, truth, exit mid-run."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from greenai.meter import Meter
from greenai.probes import apple
from greenai.sampler import Sampler
from tests.fakes.clock import FakeClock
from tests.fakes.powermetrics import sample

FAKE = Path(__file__).resolve().parents[1] / "fakes" / "powermetrics.py"


def test_parse_a_sample():
    s = apple.parse_sample(sample(5000.0, 2000.0, 500.0, 0.1))
    assert s == {
        "cpu": 500.0,
        "gpu": 200.0,
        "ane": 50.0,
        "package": pytest.approx(750.0),
        "elapsed_s": 0.1,
    }
    with pytest.raises(Exception, match="unreadable plist"):
        apple.parse_sample(b"<plist><dict><key>x</key>")


def _probes(session: apple.PowermetricsSession):
    info = {"source": "powermetrics"}
    return {ch: apple.ApplePowerProbe(session, ch, info, lambda: None) for ch in apple.CHANNELS}


def test_containment_package_holds_cpu_gpu_ane():
    probes = _probes(apple.PowermetricsSession())
    counted = {ch for ch, p in probes.items() if p.counts_in_total}
    assert counted == {"cpu", "gpu", "ane"}
    assert probes["package"].info()["contains"] == "apple:cpu, apple:gpu, apple:ane"
    assert probes["ane"].domain == "gpu" and probes["cpu"].domain == "cpu"
    assert all(p.method.provenance == "measured" for p in probes.values())


def test_truth_within_1_percent_and_powermetrics_exit_mid_run(clock: FakeClock):
    session = apple.PowermetricsSession(clock=clock)
    probes = _probes(session)
    # samples every 0.25 s (not aligned with the 0.1 s sampler); 5 W -> 7 W at 5 s
    sampler = Sampler(list(probes.values()), interval_s=0.1, clock=clock)
    session.feed(sample(5000.0, 2000.0, 500.0, 0.25) + b"\0")
    m = Meter("t", "run", sampler=sampler).start()
    truth = dict.fromkeys(("cpu", "gpu", "ane"), 0.0)
    next_sample = clock() + 0.25
    for _ in range(80):  # 8 s
        clock.advance(0.1)
        while clock() >= next_sample - 1e-9:
            cpu = 5000.0 if clock() < 1005.0 else 7000.0
            session.feed(sample(cpu, 2000.0, 500.0, 0.25) + b"\0")
            for ch, mw in (("cpu", cpu), ("gpu", 2000.0), ("ane", 500.0)):
                truth[ch] += mw * 0.25 / 1000
            next_sample += 0.25
        sampler.sample()
    session.end("powermetrics exited (code 1): sampler stopped")
    with pytest.warns(Warning, match="exited"):
        clock.advance(0.1)
        sampler.sample()
    result = m.stop()
    for ch in ("cpu", "gpu", "ane"):
        assert result.by_device[f"apple:{ch}"] == pytest.approx(truth[ch], rel=0.01)
    assert truth["cpu"] == pytest.approx(5 * 5 + 7 * 3, abs=0.6)  # the step falls on a sample
    assert result.by_device["apple:package"] == pytest.approx(sum(truth.values()), rel=0.01)
    assert result.energy_j == pytest.approx(sum(truth.values()), rel=0.01)  # package not added
    assert {d.status for d in result.devices} == {"failed"}


def test_powermetrics_command_end_to_end(monkeypatch):
    monkeypatch.setenv("FAKE_PM_CPU_MW", "4000")
    env = {apple.ENV_POWERMETRICS: f"{sys.executable} {FAKE}", apple.ENV_INTERVAL_MS: "50"}
    found = apple.discover(env)
    assert [p.id for p in found.probes] == ["apple:cpu", "apple:gpu", "apple:ane", "apple:package"]
    assert any(u.probe == "ioreport" for u in found.unavailable)
    cpu = found.probes[0]
    session = cpu._session
    time.sleep(1.0)
    with session._lock:  # both from the same instant
        samples, total_mj = session.samples, session.total_mj["cpu"]
    # real time on a shared machine: the count of samples varies, each one's energy does not
    assert samples >= 3
    assert total_mj == pytest.approx(samples * 4000 * 0.05)  # 4 W x 50 ms per sample
    assert cpu.read() >= total_mj / 1000
    cpu.close()


def test_powermetrics_that_dies_and_reasons(monkeypatch):
    env = {apple.ENV_POWERMETRICS: f"{sys.executable} {FAKE} -n 0 --die"}
    found = apple.discover(env)
    assert not found.probes
    (u,) = [u for u in found.unavailable if u.probe == "powermetrics"]
    assert "exited (code 1)" in u.reason and "root" in u.remedy
    if sys.platform != "darwin":
        reasons = {u.probe: u.reason for u in apple.discover({}).unavailable}
        assert reasons == {
            "powermetrics": "not macOS (Apple silicon only)",
            "ioreport": "not macOS (Apple silicon only)",
        }
    monkeypatch.setattr(apple.sys, "platform", "darwin")
    monkeypatch.setattr(apple.os, "geteuid", lambda: 501)
    (_, u) = apple.discover({}).unavailable
    assert "needs root" in u.reason and "sudo" in u.remedy
