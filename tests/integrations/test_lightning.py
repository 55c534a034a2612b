"""Lightning callback: a tiny CPU fit with a fake 100 W probe."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import pytest

pytest.importorskip("torch", reason="torch is not installed")
pl = pytest.importorskip("lightning.pytorch", reason="lightning is not installed")

import torch  # noqa: E402

from greenai.disclosure import validation_errors  # noqa: E402
from greenai.integrations.lightning import GreenAICallback  # noqa: E402
from greenai.measurement import load  # noqa: E402
from tests.fakes.probes import ClockProbe, constant  # noqa: E402


class Tiny(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(4, 1)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.layer(x).squeeze(-1), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", torch.nn.functional.mse_loss(self.layer(x).squeeze(-1), y))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


def _loader(n: int) -> torch.utils.data.DataLoader:
    data = torch.utils.data.TensorDataset(torch.randn(n, 4), torch.randn(n))
    return torch.utils.data.DataLoader(data, batch_size=16)


def test_callback_logs_energy_per_epoch_and_sample_and_writes_a_disclosure(tmp_path: Path):
    probe = ClockProbe("fake:gpu", time.monotonic, constant(100.0), domain="gpu")
    out = tmp_path / "train.json"
    cb = GreenAICallback(unit="sample", output=out, probes=[probe], interval_s=0.02)
    logger = pl.loggers.CSVLogger(tmp_path, name="logs")
    trainer = pl.Trainer(
        max_epochs=2,
        callbacks=[cb],
        logger=logger,
        log_every_n_steps=1,
        enable_progress_bar=False,
        enable_checkpointing=False,
        accelerator="cpu",
        num_sanity_val_steps=0,
    )
    trainer.fit(Tiny(), _loader(64), _loader(32))
    result = cb.result
    assert result is not None and result.status == "ok"
    assert result.units_done == 2 * 64  # samples of the training batches only
    assert result.energy_j == pytest.approx(100.0 * result.duration_s, rel=1e-3)
    phases = {p.name: p for p in result.phases}
    assert set(phases) == {"train", "eval"} and phases["train"].units == 128
    assert phases["eval"].units == 0  # validation batches are not training samples
    doc = load(out).to_dict()
    assert validation_errors(doc) == []
    rows = list(csv.DictReader((Path(logger.log_dir) / "metrics.csv").read_text().splitlines()))
    epochs = [r for r in rows if r.get("greenai/epoch_j_per_sample")]
    assert len(epochs) == 2
    for r in epochs:
        per_sample = float(r["greenai/epoch_j_per_sample"])
        assert per_sample == pytest.approx(float(r["greenai/epoch_energy_j"]) / 64)
        assert per_sample > 0
    steps = [float(r["greenai/energy_j"]) for r in rows if r.get("greenai/energy_j")]
    assert len(steps) == 8 and steps == sorted(steps)  # logged each step, growing
    assert any(r.get("train_loss") and r.get("greenai/energy_j") for r in rows)  # next to loss
