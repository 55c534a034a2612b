"""Meter a plain PyTorch training loop: energy per sample, train/eval phases, a disclosure.

pip install 'greenai[torch]'
python examples/torch_loop.py            # writes torch-loop.json
"""

import torch

from greenai.integrations.torch import TorchMeter
from greenai.report.text import summary

torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(32, 64), torch.nn.ReLU(), torch.nn.Linear(64, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.01)
x, y = torch.randn(4096, 32), torch.randn(4096, 1)

# TorchMeter synchronises CUDA at every window edge, so queued kernels land in the right phase
with TorchMeter(task="regression-training", unit="sample", output="torch-loop.json") as m:
    for epoch in range(3):
        with m.phase("train"):
            for i in range(0, len(x), 64):
                loss = torch.nn.functional.mse_loss(model(x[i : i + 64]), y[i : i + 64])
                opt.zero_grad()
                loss.backward()
                opt.step()
                m.count(64)
        with m.phase("eval"), torch.no_grad():
            val = torch.nn.functional.mse_loss(model(x), y).item()
        print(f"epoch {epoch}: loss {val:.4f}, energy so far {m.energy_j:.1f} J")

print(summary(m.result))
