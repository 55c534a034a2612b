"""PyTorch Lightning with one callback: energy per epoch and per sample next to the loss.

pip install 'greenai[lightning]'
python examples/lightning_train.py       # writes lightning-train.json, logs to lightning_logs/
"""

import lightning.pytorch as pl
import torch

from greenai.integrations.lightning import GreenAICallback
from greenai.report.text import summary


class Regressor(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(32, 64), torch.nn.ReLU(), torch.nn.Linear(64, 1)
        )

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.net(x), y)
        self.log("train_loss", loss)
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


data = torch.utils.data.TensorDataset(torch.randn(2048, 32), torch.randn(2048, 1))
loader = torch.utils.data.DataLoader(data, batch_size=64)
callback = GreenAICallback(task="regression-training", unit="sample", output="lightning-train.json")
trainer = pl.Trainer(
    max_epochs=3,
    callbacks=[callback],
    logger=pl.loggers.CSVLogger("."),
    accelerator="cpu",
    enable_progress_bar=False,
    enable_checkpointing=False,
)
trainer.fit(Regressor(), loader)
print(summary(callback.result))
print(f"per-epoch figures: {trainer.logger.log_dir}/metrics.csv (greenai/epoch_j_per_sample)")
