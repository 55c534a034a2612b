"""Tuning through a framework callback: Lightning passes tune= to its meter."""

from __future__ import annotations

import json
import time

import pytest

torch = pytest.importorskip("torch", reason="torch is not installed")
pl = pytest.importorskip("lightning.pytorch", reason="lightning is not installed")

from greenai.integrations.lightning import GreenAICallback  # noqa: E402
from greenai.optimize import CpuThreads, ThreadTuner  # noqa: E402
from tests.fakes.probes import ClockProbe, constant  # noqa: E402
from tests.integrations.test_lightning import Tiny  # noqa: E402


def test_lightning_fit_tunes_threads_and_restores_them(tmp_path, monkeypatch):
    monkeypatch.setenv("GREENAI_RUNTIME_DIR", str(tmp_path / "run"))
    before = torch.get_num_threads()
    probe = ClockProbe("fake:cpu", time.monotonic, constant(50.0), domain="cpu")
    tuner = ThreadTuner(CpuThreads(cpus=2), window_s=0.005, min_steps=2, splits=2)
    out = tmp_path / "train.json"
    cb = GreenAICallback(unit="sample", output=out, probes=[probe], interval_s=0.02, tune=tuner)
    data = torch.utils.data.TensorDataset(torch.randn(1024, 4), torch.randn(1024))
    trainer = pl.Trainer(
        max_epochs=1,
        callbacks=[cb],
        logger=False,
        enable_progress_bar=False,
        enable_checkpointing=False,
        accelerator="cpu",
        num_sanity_val_steps=0,
    )
    trainer.fit(Tiny(), torch.utils.data.DataLoader(data, batch_size=8))
    block = json.loads(out.read_text())["optimisation"]
    assert block["knob"] == "cpu_threads" and block["baseline"] == 2.0
    assert {c["setting"] for c in block["candidates"]} == {1.0, 2.0}
    assert block["chosen"] in (1.0, 2.0)
    assert torch.get_num_threads() == before
