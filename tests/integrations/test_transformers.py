"""Hugging Face Trainer callback: a tiny random-weight GPT-2 trained on CPU, no downloads."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="torch is not installed")
transformers = pytest.importorskip("transformers", reason="transformers is not installed")
pytest.importorskip("accelerate", reason="accelerate (needed by Trainer) is not installed")

from greenai.disclosure import validation_errors  # noqa: E402
from greenai.integrations.transformers import GreenAICallback  # noqa: E402
from greenai.measurement import load  # noqa: E402
from tests.fakes.probes import ClockProbe, constant  # noqa: E402

SEQ = 12


class Tokens(torch.utils.data.Dataset):
    def __init__(self, n: int):
        g = torch.Generator().manual_seed(0)
        self.ids = torch.randint(0, 64, (n, SEQ), generator=g)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict:
        return {"input_ids": self.ids[i], "labels": self.ids[i]}


def _trainer(tmp_path: Path, cb: GreenAICallback) -> transformers.Trainer:
    config = transformers.GPT2Config(vocab_size=64, n_positions=SEQ, n_embd=16, n_layer=1, n_head=2)
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path / "hf"),
        per_device_train_batch_size=4,
        num_train_epochs=2,
        logging_steps=2,
        report_to=[],
        save_strategy="no",
        use_cpu=True,
        disable_tqdm=True,
        include_num_input_tokens_seen=True,
    )
    model = transformers.GPT2LMHeadModel(config)
    return transformers.Trainer(model=model, args=args, train_dataset=Tokens(16), callbacks=[cb])


@pytest.mark.parametrize("unit, per_step", [("sample", 4), ("token", 4 * SEQ)])
def test_trainer_callback_logs_energy_next_to_loss_and_writes_a_disclosure(
    tmp_path: Path, unit: str, per_step: int
):
    probe = ClockProbe("fake:gpu", time.monotonic, constant(100.0), domain="gpu")
    out = tmp_path / "train.json"
    cb = GreenAICallback(unit=unit, output=out, probes=[probe], interval_s=0.02)
    trainer = _trainer(tmp_path, cb)
    cb.install(trainer)
    assert trainer.callback_handler.callbacks[0] is cb
    trainer.train()
    result = cb.result
    assert result is not None and result.status == "ok"
    assert result.units_done == 8 * per_step  # 2 epochs x 4 steps
    assert result.energy_j == pytest.approx(100.0 * result.duration_s, rel=1e-3)
    logged = [h for h in trainer.state.log_history if "loss" in h]
    assert len(logged) == 4
    for h in logged:
        assert h["greenai_energy_j"] > 0
        assert h[f"greenai_j_per_{unit}"] == pytest.approx(
            h["greenai_energy_j"] / (h["step"] * per_step), rel=0.05
        )
    epochs = [h for h in trainer.state.log_history if "greenai_epoch_energy_j" in h]
    assert len(epochs) == 2
    assert validation_errors(load(out).to_dict()) == []
