"""Fixtures for the tuner tests: a fake GPU on the NVML stand-in whose speed follows its limit."""

from __future__ import annotations

import pytest

from greenai.probes.nvml import discover


@pytest.fixture
def limited_gpu(fake_nvml, clock, tmp_path, monkeypatch):
    """Return (pynvml stand-in, its one FakeLimitedGpu, the GPU probe) on the fake clock."""
    monkeypatch.setenv("GREENAI_RUNTIME_DIR", str(tmp_path / "run"))
    gpu = fake_nvml.FakeLimitedGpu(limit_file=str(tmp_path / "limit"))
    fake_nvml.configure([gpu], clock=clock)
    found = discover({"GREENAI_NVML": "on"})
    assert found.probes, found.unavailable
    return fake_nvml, gpu, found.probes[0]


def train(meter, gpu, clock, steps: int, batch: int = 32) -> None:
    """Run a training loop on the fake GPU: each step takes batch / speed seconds."""
    for _ in range(steps):
        clock.advance(batch / gpu.speed())
        meter.count(batch)
