"""AMD SMI probe against a stand-in amdsmi: accumulator x resolution, wrap, partitions, loss."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

from greenai.meter import Meter
from greenai.probes import amd
from greenai.probes.base import Method
from greenai.sampler import Sampler
from tests.fakes.clock import FakeClock

STUB = Path(__file__).resolve().parents[1] / "fakes" / "amdsmi_stub"
ON = {amd.ENV_AMDSMI: "on"}


@pytest.fixture
def fake_amdsmi(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.syspath_prepend(str(STUB))
    monkeypatch.delitem(sys.modules, "amdsmi", raising=False)
    module = importlib.import_module("amdsmi")
    assert "amdsmi_stub" in (module.__file__ or "")
    module.configure([])
    yield module
    # not monkeypatch.delitem: its undo would put the stub back into sys.modules after this
    # teardown, and every later test would discover a fake AMD GPU
    sys.modules.pop("amdsmi", None)


def _meter(probes, clock: FakeClock, seconds: float, on_step=None):
    sampler = Sampler(probes, interval_s=0.1, clock=clock)
    m = Meter("t", "sample", sampler=sampler).start()
    for k in range(round(seconds / 0.1)):
        clock.advance(0.1)
        if on_step:
            on_step(k)
        sampler.sample()
    return m.stop()


def test_accumulator_times_resolution_with_a_wrap(fake_amdsmi, clock: FakeClock):
    # 300 J before the 64-bit accumulator wraps: 600 W wraps it half a second in
    res = 15.3
    gpu = fake_amdsmi.FakeAmdGpu(
        "0000:0c:00.0",
        power_w=lambda t: 600.0 + 20.0 * (t - 1000.0),
        start_ticks=2**64 - int(300e6 / res),
        counter_resolution=res,
    )
    fake_amdsmi.configure([gpu])
    clock.on_advance(gpu.advance)
    found = amd.discover(ON)
    (probe,) = found.probes
    assert probe.method is Method.COUNTER and probe.domain == "gpu"
    assert probe.wrap_j == pytest.approx(2**64 * res / 1e6)
    assert probe.max_power_w == pytest.approx(750.0)
    assert "15.3 uJ" in probe.info()["reading"]
    t0 = gpu.total_uj
    result = _meter([probe], clock, 10.0)
    truth = (gpu.total_uj - t0) / 1e6
    assert truth == pytest.approx(600 * 10 + 20 * 50)
    assert result.by_device["amdsmi:0"] == pytest.approx(truth, rel=0.01)
    assert not [g for g in result.gaps if g.fatal]


def test_gpu_lost_mid_run(fake_amdsmi, clock: FakeClock):
    gpu = fake_amdsmi.FakeAmdGpu("0000:0c:00.0", power_w=lambda _t: 500.0)
    fake_amdsmi.configure([gpu])
    clock.on_advance(gpu.advance)
    (probe,) = amd.discover(ON).probes

    def lose(k: int) -> None:
        if k == 50:
            gpu.lost = True

    with pytest.warns(Warning, match="NOT_FOUND"):
        result = _meter([probe], clock, 8.0, lose)
    (dev,) = result.devices
    assert dev.status == "failed" and "Device Not found" in (dev.error or "")
    assert dev.energy_j == pytest.approx(500 * 5.0, rel=0.01)  # up to the last good read


def test_mi300x_cpx_partitions_meter_the_socket_once(fake_amdsmi, clock: FakeClock):
    gpus = [
        fake_amdsmi.FakeAmdGpu(f"0000:0c:00.{p}", partition=p, partition_mode="CPX")
        for p in range(8)
    ] + [fake_amdsmi.FakeAmdGpu("0000:22:00.0", power_w=lambda _t: 400.0)]
    fake_amdsmi.configure(gpus)
    for g in gpus:
        clock.on_advance(g.advance)
    found = amd.discover(ON)
    assert [p.id for p in found.probes] == ["amdsmi:0", "amdsmi:8"]
    assert found.probes[0].info()["compute_partition"] == "CPX"
    assert "amdsmi:7" in found.probes[0].info()["contains"]
    shared = [u for u in found.unavailable if "shares its socket" in u.reason]
    assert len(shared) == 7
    result = _meter(found.probes, clock, 5.0)
    assert result.by_domain["gpu"] == pytest.approx(500 * 5 + 400 * 5, rel=0.01)


def test_socket_power_fallback_and_permission(fake_amdsmi, clock: FakeClock):
    gpu = fake_amdsmi.FakeAmdGpu("0000:0c:00.0", power_w=lambda _t: 250.0, energy_supported=False)
    denied = fake_amdsmi.FakeAmdGpu("0000:22:00.0", no_perm=True)
    fake_amdsmi.configure([gpu, denied])
    clock.on_advance(gpu.advance)
    found = amd.discover(ON)
    (probe,) = found.probes
    assert probe.method is Method.POWER and "current_socket_power" in probe.info()["reading"]
    assert any("Permission Denied" in u.reason for u in found.unavailable)
    result = _meter([probe], clock, 4.0)
    assert result.by_device["amdsmi:0"] == pytest.approx(1000.0, rel=0.01)


def test_absence_reasons(fake_amdsmi, monkeypatch):
    fake_amdsmi.configure([], init_error=True)
    (u,) = amd.discover(ON).unavailable
    assert "Initialization error" in u.reason
    assert "amdsmi=off" in amd.discover({amd.ENV_AMDSMI: "off"}).unavailable[0].reason.lower()
    monkeypatch.delitem(sys.modules, "amdsmi")
    monkeypatch.setattr(amd, "_driver_present", lambda: False)
    assert "no AMD GPU driver" in amd.discover({}).unavailable[0].reason


def test_amdsmi_without_rocm_is_a_reason_not_a_crash(tmp_path, monkeypatch):
    # the real package raises KeyError('libamd_smi.so') on import without ROCm
    pkg = tmp_path / "amdsmi"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("raise KeyError('libamd_smi.so')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "amdsmi", raising=False)
    (u,) = amd.discover(ON).unavailable
    assert "ROCm is missing" in u.reason and "libamd_smi.so" in u.reason
    monkeypatch.delitem(sys.modules, "amdsmi", raising=False)
