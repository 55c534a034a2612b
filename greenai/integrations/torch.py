"""PyTorch helpers: CUDA synchronisation at window edges, and units counted from batches.

CUDA runs kernels asynchronously: without a synchronisation, a window closed right after
``loss.backward()`` returns would leave the queued kernels' energy to the next window.
TorchMeter synchronises every initialised CUDA device before each window edge (start,
stop, phase entry and exit). It never initialises CUDA itself.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from greenai.distributed import DistributedMeter, detect_rank
from greenai.measurement import Measurement
from greenai.meter import Meter


def cuda_sync() -> bool:
    """Wait for every queued kernel on every CUDA device; return whether it synchronised."""
    import torch

    if not (torch.cuda.is_available() and torch.cuda.is_initialized()):
        return False
    for index in range(torch.cuda.device_count()):
        torch.cuda.synchronize(index)
    return True


class _CudaSyncedWindows:
    """Mixin: synchronise CUDA before every window edge of a Meter."""

    def start(self) -> Any:
        cuda_sync()
        return super().start()  # type: ignore[misc]

    def stop(self, status: str = "ok", error: BaseException | None = None) -> Measurement | None:
        cuda_sync()
        return super().stop(status, error)  # type: ignore[misc]

    def reading(self) -> tuple[float, float]:
        cuda_sync()  # a tuner's window edge: queued kernels belong to the window they ran in
        return super().reading()  # type: ignore[misc]

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        cuda_sync()
        with super().phase(name):  # type: ignore[misc]
            try:
                yield
            finally:
                cuda_sync()


class TorchMeter(_CudaSyncedWindows, Meter):
    """A Meter whose window edges wait for queued CUDA work (see module docstring)."""


class TorchDistributedMeter(_CudaSyncedWindows, DistributedMeter):
    """A DistributedMeter whose window edges wait for queued CUDA work."""


def torch_meter(task: str | None = None, unit: str | None = None, **kwargs: Any) -> Meter:
    """Return a TorchDistributedMeter in a multi-process job, else a TorchMeter.

    ``output`` is the job's disclosure (written by rank 0 in a job).
    """
    if detect_rank().world_size > 1:
        return TorchDistributedMeter(task, unit, **kwargs)
    return TorchMeter(task, unit, **kwargs)


def batch_samples(batch: Any) -> int:
    """Return the number of samples in a batch: the leading size of its first tensor."""
    tensor = _first_tensor(batch)
    if tensor is None or tensor.dim() == 0:
        return 0
    return int(tensor.shape[0])


def batch_tokens(batch: Any, key: str = "input_ids") -> int:
    """Return the number of real tokens in a batch (attention_mask sum, else input_ids size)."""
    if isinstance(batch, Mapping):
        mask = batch.get("attention_mask")
        if mask is not None:
            return int(mask.sum().item())
        if batch.get(key) is not None:
            return int(batch[key].numel())
    tensor = _first_tensor(batch)
    return 0 if tensor is None else int(tensor.numel())


def _first_tensor(batch: Any) -> Any:
    import torch

    if isinstance(batch, torch.Tensor):
        return batch
    if isinstance(batch, Mapping):
        items: Sequence[Any] = list(batch.values())
    elif isinstance(batch, list | tuple):
        items = batch
    else:
        return None
    for item in items:
        found = _first_tensor(item)
        if found is not None:
            return found
    return None


def count_units(batch: Any, unit: str | None, token_key: str = "input_ids") -> int:
    """Return the units in a batch for a unit name: tokens for "token", else samples."""
    if unit == "token":
        return batch_tokens(batch, token_key)
    return batch_samples(batch)
