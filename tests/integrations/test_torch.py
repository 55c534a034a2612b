"""greenai.integrations.torch: CUDA sync before window edges, units from batches."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch", reason="torch is not installed (pip install 'greenai[torch]')")

from greenai.integrations import torch as gt  # noqa: E402
from tests.fakes.clock import FakeClock  # noqa: E402
from tests.fakes.probes import ClockProbe, constant  # noqa: E402


def test_cuda_sync_is_a_no_op_without_initialised_cuda():
    assert gt.cuda_sync() is (torch.cuda.is_available() and torch.cuda.is_initialized())


def test_queued_work_is_counted_in_the_window_it_belongs_to(monkeypatch):
    # A sync that takes 2 s stands for kernels still queued when the Python code returns:
    # their energy must land before the edge snapshot, inside the phase.
    clock = FakeClock()
    calls = []

    def slow_sync() -> bool:
        calls.append(clock())
        clock.advance(2.0)
        return True

    monkeypatch.setattr(gt, "cuda_sync", slow_sync)
    probe = ClockProbe("fake:gpu", clock, constant(100.0), domain="gpu")
    m = gt.TorchMeter("t", "sample", probes=[probe], clock=clock, handle_signals=False)
    m.start()  # sync (2 s, before the window: not counted), then the start snapshot
    with m.phase("train"):  # sync on entry (2 s, counted in the run, not the phase)
        clock.advance(1.0)  # the Python side returns after 1 s; 2 s of kernels are queued
    result = m.stop()  # sync (2 s, counted in the run)
    phase = {p.name: p for p in result.phases}["train"]
    assert phase.energy_j == pytest.approx(100.0 * 3.0)  # 1 s + the 2 s queued
    assert result.energy_j == pytest.approx(100.0 * 7.0)  # 2 + 1 + 2 + 2 s after start
    assert len(calls) == 4


def test_units_from_batches():
    x, y = torch.zeros(8, 3), torch.zeros(8)
    assert gt.batch_samples((x, y)) == 8
    assert gt.batch_samples({"input_ids": torch.zeros(4, 16, dtype=torch.long)}) == 4
    mask = torch.ones(4, 16, dtype=torch.long)
    mask[:, 10:] = 0  # padding is not a token
    batch = {"input_ids": torch.zeros(4, 16, dtype=torch.long), "attention_mask": mask}
    assert gt.batch_tokens(batch) == 40
    assert gt.count_units(batch, "token") == 40 and gt.count_units(batch, "sample") == 4
    assert gt.batch_tokens({"input_ids": torch.zeros(2, 5)}) == 10


def test_torch_meter_is_distributed_in_a_job(monkeypatch):
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    probe = ClockProbe("fake:cpu", FakeClock(), constant(1.0))
    assert isinstance(gt.torch_meter("t", probes=[probe]), gt.TorchDistributedMeter)
    monkeypatch.setenv("WORLD_SIZE", "1")
    monkeypatch.setenv("RANK", "0")
    assert type(gt.torch_meter("t", probes=[probe])) is gt.TorchMeter
