"""NVML probe against the stand-in pynvml: units, CUDA_VISIBLE_DEVICES, lost GPUs."""

from __future__ import annotations

import pytest

from greenai.meter import Meter
from greenai.probes import nvml
from greenai.sampler import Sampler
from tests.fakes.clock import FakeClock


def _gpus(fake, n: int, **kw):
    return [
        fake.FakeGpu(uuid=f"GPU-{i:08x}-aaaa-bbbb-cccc-{i:012x}", power_w=100.0 + 50 * i, **kw)
        for i in range(n)
    ]


def test_no_driver_is_a_reason_not_a_crash(fake_nvml):
    found = nvml.discover({})
    assert found.probes == []
    assert "NVML Shared Library Not Found" in found.unavailable[0].reason


def test_counter_energy_per_device(fake_nvml, clock: FakeClock):
    fake_nvml.configure(_gpus(fake_nvml, 3), clock=clock)
    found = nvml.discover({})
    assert [p.id for p in found.probes] == ["nvml:0", "nvml:1", "nvml:2"]
    assert all(p.method.value == "counter" for p in found.probes)
    info = found.probes[0].info()
    assert info["power_limit_w"] == 700.0 and info["driver_version"] == "550.54.15"
    assert info["uuid"].startswith("GPU-00000000")
    sampler = Sampler(found.probes, clock=clock)
    m = Meter("t", "token", sampler=sampler).start()
    for _ in range(100):
        clock.advance(0.1)
        sampler.sample()
    r = m.stop()
    assert r.by_device == pytest.approx(
        {"nvml:0": 1000.0, "nvml:1": 1500.0, "nvml:2": 2000.0}, abs=0.002
    )
    assert r.by_domain["gpu"] == pytest.approx(4500.0, abs=0.005)
    assert r.domains["gpu"].provenance == "measured"


def test_old_gpu_falls_back_to_power_integration(fake_nvml, clock: FakeClock):
    # a pre-Volta GPU whose power ramps linearly: trapezoid integration is exact
    gpu = fake_nvml.FakeGpu(
        name="Tesla P100",
        energy_supported=False,
        arch=fake_nvml.NVML_DEVICE_ARCH_VOLTA - 1,
        power_w=lambda t: 50.0 + 10.0 * (t - 1000.0),
    )
    fake_nvml.configure([gpu], clock=clock)
    (probe,) = nvml.discover({}).probes
    assert probe.method.value == "power"
    sampler = Sampler([probe], clock=clock)
    m = Meter(sampler=sampler).start()
    for _ in range(20):
        clock.advance(0.1)
        sampler.sample()
    r = m.stop()
    # integral of 50 + 10 t over [0, 2] s = 100 + 20 = 120 J (mW rounding only)
    assert r.energy_j == pytest.approx(120.0, abs=1e-3)
    assert r.devices[0].provenance == "measured" and r.devices[0].method == "power"


def test_averaged_power_is_noted_on_ampere_and_newer(fake_nvml, clock: FakeClock):
    gpu = fake_nvml.FakeGpu(energy_supported=False, arch=fake_nvml.NVML_DEVICE_ARCH_AMPERE)
    fake_nvml.configure([gpu], clock=clock)
    (probe,) = nvml.discover({}).probes
    assert "1 s moving average" in probe.info()["power_averaging"]


@pytest.mark.parametrize(
    ("visible", "expected_nvml_indices"),
    [
        ("2,0", [2, 0]),
        ("", []),
        ("1,-1,0", [1]),  # CUDA stops at the first invalid entry
        ("GPU-00000003", [3]),  # UUID prefix, as CUDA accepts
        ("GPU-00000001-aaaa-bbbb-cccc-000000000001,3", [1, 3]),
        ("7", []),  # beyond the GPUs present
    ],
)
def test_cuda_visible_devices_is_honoured(fake_nvml, clock, visible, expected_nvml_indices):
    fake_nvml.configure(_gpus(fake_nvml, 4), clock=clock)
    found = nvml.discover({"CUDA_VISIBLE_DEVICES": visible})
    assert [p.index for p in found.probes] == expected_nvml_indices
    assert [p.id for p in found.probes] == [f"nvml:{i}" for i in range(len(expected_nvml_indices))]
    if not expected_nvml_indices:
        assert found.unavailable


def test_cuda_visible_devices_mig_is_explained(fake_nvml, clock):
    fake_nvml.configure(_gpus(fake_nvml, 1), clock=clock)
    found = nvml.discover({"CUDA_VISIBLE_DEVICES": "MIG-1234"})
    assert not found.probes and "MIG" in found.unavailable[0].reason


def test_lost_gpu_leaves_other_devices_intact(fake_nvml, clock: FakeClock):
    gpus = _gpus(fake_nvml, 3)
    gpus[1].lost_at_s = 4.05  # falls off the bus 4 s into the run
    fake_nvml.configure(gpus, clock=clock)
    sampler = Sampler(nvml.discover({}).probes, clock=clock)
    m = Meter("t", "sample", sampler=sampler).start()
    with pytest.warns(Warning, match="nvml:1"):
        for _ in range(100):
            clock.advance(0.1)
            sampler.sample()
    r = m.stop()
    lost = next(d for d in r.devices if d.id == "nvml:1")
    assert lost.status == "failed" and "GpuIsLost" in lost.error
    assert lost.failed_at_s == pytest.approx(4.1)
    assert lost.energy_j == pytest.approx(150.0 * 4.0, abs=0.01)  # energy up to the last read
    assert r.by_device["nvml:0"] == pytest.approx(1000.0, abs=0.002)
    assert r.by_device["nvml:2"] == pytest.approx(2000.0, abs=0.002)
    assert r.domains["gpu"].complete is False
    assert [g.probe for g in r.gaps] == ["nvml:1"]


def test_gpu_lost_before_the_window_is_not_zero(fake_nvml, clock: FakeClock):
    gpus = _gpus(fake_nvml, 2)
    gpus[0].lost_at_s = 0.5
    fake_nvml.configure(gpus, clock=clock)
    sampler = Sampler(nvml.discover({}).probes, clock=clock)
    sampler.sample()
    clock.advance(1.0)
    with pytest.warns(Warning):
        sampler.sample()
    m = Meter(sampler=sampler).start()
    clock.advance(1.0)
    r = m.stop()
    dead = next(d for d in r.devices if d.id == "nvml:0")
    assert dead.energy_j is None and dead.status == "failed"
    assert r.by_device["nvml:1"] == pytest.approx(150.0, abs=0.002)


def test_energy_counter_going_unsupported_mid_run(fake_nvml, clock: FakeClock):
    gpus = _gpus(fake_nvml, 2)
    gpus[0].energy_not_supported_at_s = 1.0
    fake_nvml.configure(gpus, clock=clock)
    sampler = Sampler(nvml.discover({}).probes, clock=clock)
    m = Meter(sampler=sampler).start()
    with pytest.warns(Warning, match="NotSupported"):
        for _ in range(20):
            clock.advance(0.1)
            sampler.sample()
    r = m.stop()
    assert r.devices[0].status == "failed"
    assert r.devices[0].energy_j == pytest.approx(100.0 * 0.9, abs=0.002)
    assert r.by_device["nvml:1"] == pytest.approx(300.0, abs=0.002)


def test_auto_mode_skips_pynvml_where_no_driver_shows(monkeypatch):
    import sys

    from greenai.probes import nvml as nvml_probe

    monkeypatch.delitem(sys.modules, "pynvml", raising=False)
    monkeypatch.setattr(nvml_probe, "_driver_present", lambda: False)
    found = nvml_probe.discover({})
    assert "pynvml" not in sys.modules  # the ~20 ms import was not paid
    assert "no NVIDIA driver" in found.unavailable[0].reason
    assert "GREENAI_NVML=on" in found.unavailable[0].remedy
    off = nvml_probe.discover({"GREENAI_NVML": "off"})
    assert off.unavailable[0].reason == "GREENAI_NVML=off"
