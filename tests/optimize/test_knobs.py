"""Knobs against the NVML stand-in (real API names, mW, NVML's errors) and CPU threads."""

from __future__ import annotations

import sys

import pytest

from greenai.optimize.knobs import CpuThreads, GpuPowerLimit, KnobError, restore_described


@pytest.fixture
def two_gpus(fake_nvml, clock):
    gpus = [fake_nvml.FakeLimitedGpu(uuid=f"GPU-{i}", max_limit_mw=700_000) for i in range(2)]
    gpus[1].min_limit_mw = 250_000  # the allowed range is what every GPU accepts
    fake_nvml.configure(gpus, clock=clock)
    fake_nvml.nvmlInit()
    return fake_nvml, gpus


def test_allowed_limits_every_gpu_accepts_in_steps_from_the_default(two_gpus):
    nvml, _ = two_gpus
    knob = GpuPowerLimit(nvml=nvml)
    allowed = knob.allowed()
    assert allowed[0] == 250.0 and allowed[-1] == 700.0 == knob.default()
    assert all(b - a == 25.0 for a, b in zip(allowed, allowed[1:], strict=False))


def test_apply_sets_every_gpu_in_mw_and_restore_puts_the_original_back(two_gpus):
    nvml, gpus = two_gpus
    gpus[0]._write_limit(650_000)  # an administrator's setting, not the default
    knob = GpuPowerLimit(nvml=nvml)
    knob.apply(400.0)
    assert [g.limit_mw() for g in gpus] == [400_000, 400_000]
    assert knob.describe()["devices"][0] == {"uuid": "GPU-0", "limit_mw": 650_000}
    assert knob.restore()
    assert [g.limit_mw() for g in gpus] == [650_000, 700_000]
    assert not knob.restore()  # nothing left to put back


def test_no_permission_says_root_and_what_to_do(two_gpus):
    nvml, gpus = two_gpus
    gpus[0].privileged = False
    with pytest.raises(KnobError, match="needs root") as info:
        GpuPowerLimit(nvml=nvml).apply(400.0)
    assert "Insufficient Permissions" in str(info.value)


def test_out_of_range_is_invalid_argument(two_gpus):
    nvml, _ = two_gpus
    with pytest.raises(KnobError, match="outside the GPU's constraints"):
        GpuPowerLimit(nvml=nvml).apply(150.0)


def test_restore_described_from_another_process(two_gpus):
    nvml, gpus = two_gpus
    knob = GpuPowerLimit(nvml=nvml)
    doc = knob.describe()
    knob.apply(300.0)
    assert restore_described(doc) == [
        "GPU GPU-0 power limit 700 W",
        "GPU GPU-1 power limit 700 W",
    ]
    assert [g.limit_mw() for g in gpus] == [700_000, 700_000]
    with pytest.raises(KnobError, match="unknown knob"):
        restore_described({"knob": "fan_speed"})


def test_cpu_threads_env_and_choices(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delitem(sys.modules, "torch", raising=False)  # a workload without torch
    knob = CpuThreads(cpus=6)
    assert knob.allowed() == (1.0, 2.0, 4.0, 6.0)
    assert knob.read() == knob.default() == 6.0
    knob.apply(2.0)
    assert knob.env() == {
        "OMP_NUM_THREADS": "2",
        "MKL_NUM_THREADS": "2",
        "OPENBLAS_NUM_THREADS": "2",
    }
    assert knob.restore() and knob.read() == 6.0
    assert not knob.changes_device


def test_cpu_threads_set_torch_in_this_process_and_restore():
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    knob = CpuThreads(cpus=2)
    knob.apply(1.0)
    assert torch.get_num_threads() == 1
    assert knob.restore()
    assert torch.get_num_threads() == before
