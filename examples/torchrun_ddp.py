"""A torchrun job metered once per node: one disclosure for the whole job.

    pip install 'greenai[torch]'
    torchrun --standalone --nproc-per-node 2 examples/torchrun_ddp.py   # writes ddp-job.json

Node-level probes (RAPL or the CPU/DRAM models) run on local rank 0 only; each GPU is
metered by the rank that uses it; results are gathered over the job's process group.
Without a process group each rank writes shards/rank-N.json: greenai merge shards/*.json -o job.json
"""

import torch
import torch.distributed as dist

from greenai.integrations.torch import torch_meter
from greenai.report.text import summary

dist.init_process_group("gloo")  # "nccl" on GPUs
rank = dist.get_rank()
torch.manual_seed(rank)
model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(32, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.01)

with torch_meter(task="regression-training", unit="sample", output="ddp-job.json") as m:
    for _ in range(200):
        x, y = torch.randn(64, 32), torch.randn(64, 1)
        loss = torch.nn.functional.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        m.count(64)

if rank == 0:  # every rank holds the merged result; one prints it
    print(summary(m.result))
    print("ranks:", [r["rank"] for r in m.result.extra["distributed"]["ranks"]])
dist.barrier()  # no rank tears the group down while another still uses it
dist.destroy_process_group()
