"""Benchmark workloads: data and models made in code, no downloads.

A workload is set up once, then ``step()`` does one slice of work and returns the
functional units it completed. The harness calls ``sync()`` at window edges so queued GPU
work lands in the right window.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from greenai.errors import GreenAIError


class WorkloadUnavailable(GreenAIError):
    """A workload cannot run here (e.g. PyTorch or a GPU missing); the message says why."""


class Workload:
    """Base class: subclasses implement setup() and step()."""

    name = "workload"
    unit = "unit"
    # The benchmark identity a run discloses (work.workload): a standard's benchmark class
    # names exactly this, and grades no other work. Parameters (n, batch) may vary in it.
    benchmark: str | None = None
    phase = "inference"

    def __init__(self, params: dict[str, Any], device: str = "cpu"):
        self.params = params
        self.device = device

    def setup(self) -> None:
        """Build data and model."""

    def step(self) -> float:
        """Do one slice of work; return functional units completed."""
        raise NotImplementedError

    def sync(self) -> None:
        """Wait for queued device work (CUDA); nothing to do on the CPU."""

    def describe(self) -> dict[str, Any]:
        """Return what ran, for the disclosure."""
        return {"workload": self.name, "unit": self.unit, "device": self.device, **self.params}


# ----------------------------------------------------------------------- numpy
class Gemm(Workload):
    """Dense float32 matrix multiply; units: GFLOP (2 n^3 per product)."""

    name, unit = "gemm", "GFLOP"
    benchmark = "greenai-gemm-fp32"

    def setup(self) -> None:
        import numpy as np

        n = int(self.params.get("n", 512))
        rng = np.random.default_rng(0)
        self.a = rng.standard_normal((n, n), dtype=np.float32)
        self.b = rng.standard_normal((n, n), dtype=np.float32)
        self.gflop = 2 * n**3 / 1e9

    def step(self) -> float:
        self.a @ self.b
        return self.gflop


class MlpTrain(Workload):
    """A 2-layer MLP trained with plain numpy SGD on synthetic data; units: samples.

    With ``count = "pflop"`` it counts training compute instead (6 FLOP per parameter per
    sample: forward 2, backward 4), the unit of the standard's training-compute class.
    """

    name, unit = "mlp-train", "sample"
    benchmark, phase = "greenai-mlp-train-fp32", "training"

    def __init__(self, params: dict[str, Any], device: str = "cpu"):
        super().__init__(params, device)
        if params.get("count") in ("pflop", "gflop"):
            self.unit = params["count"]

    def setup(self) -> None:
        import numpy as np

        p = self.params
        self.batch = int(p.get("batch", 256))
        d_in, hidden, classes = int(p.get("d_in", 256)), int(p.get("hidden", 512)), 10
        rng = np.random.default_rng(0)
        self.x = rng.standard_normal((self.batch * 8, d_in), dtype=np.float32)
        self.y = rng.integers(0, classes, size=self.batch * 8)
        self.w1 = (rng.standard_normal((d_in, hidden)) * (2 / d_in) ** 0.5).astype(np.float32)
        self.w2 = (rng.standard_normal((hidden, classes)) * (1 / hidden) ** 0.5).astype(np.float32)
        self.lr = float(p.get("lr", 0.01))
        self.flop_per_sample = 6 * (d_in * hidden + hidden * classes)
        self.i = 0
        self.losses: list[float] = []

    def step(self) -> float:
        import numpy as np

        k = self.i % 8
        self.i += 1
        x = self.x[k * self.batch : (k + 1) * self.batch]
        y = self.y[k * self.batch : (k + 1) * self.batch]
        h = np.maximum(x @ self.w1, 0.0)
        logits = h @ self.w2
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        self.losses.append(float(-np.log(p[np.arange(len(y)), y] + 1e-9).mean()))
        p[np.arange(len(y)), y] -= 1.0
        p /= len(y)
        grad_w2 = h.T @ p
        grad_h = (p @ self.w2.T) * (h > 0)
        grad_w1 = x.T @ grad_h
        self.w1 -= self.lr * grad_w1
        self.w2 -= self.lr * grad_w2
        if self.unit == "pflop":
            return self.batch * self.flop_per_sample / 1e15
        if self.unit == "gflop":
            return self.batch * self.flop_per_sample / 1e9
        return float(self.batch)


class EmbedInfer(Workload):
    """Embedding-style inference: batched projections, then normalisation; units: queries.

    With ``count = "gflop"`` it counts its floating-point operations instead (2 d_in d_out per
    query for the projection, 3 d_out for the norm and division), the unit of the standard's
    greenai-embed-fp32 benchmark class: it is a matrix product, not a sentence-embedding model.
    """

    name, unit = "embed-infer", "query"
    benchmark = "greenai-embed-fp32"

    def __init__(self, params: dict[str, Any], device: str = "cpu"):
        super().__init__(params, device)
        if params.get("count") == "gflop":
            self.unit = "gflop"

    def setup(self) -> None:
        import numpy as np

        p = self.params
        self.batch = int(p.get("batch", 64))
        d_in, d_out = int(p.get("d_in", 768)), int(p.get("d_out", 384))
        rng = np.random.default_rng(0)
        self.w = rng.standard_normal((d_in, d_out), dtype=np.float32)
        self.q = rng.standard_normal((self.batch, d_in), dtype=np.float32)
        self.gflop = self.batch * (2 * d_in * d_out + 3 * d_out) / 1e9

    def step(self) -> float:
        import numpy as np

        e = self.q @ self.w
        e /= np.linalg.norm(e, axis=1, keepdims=True)
        return self.gflop if self.unit == "gflop" else float(self.batch)


# ----------------------------------------------------------------------- torch
def _torch(device: str) -> Any:
    try:
        import torch
    except ImportError as exc:
        raise WorkloadUnavailable(
            "PyTorch is not installed (pip install 'greenai[torch]')"
        ) from exc
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise WorkloadUnavailable("no CUDA device is available to PyTorch")
    return torch


def _resolve_device(device: str) -> str:
    if device != "auto":
        return device
    try:
        import torch
    except ImportError:
        return "cpu"
    return "cuda" if torch.cuda.is_available() else "cpu"


class _TorchWorkload(Workload):
    """A PyTorch workload. With ``count = "gflop"`` it counts the floating-point operations
    of its steps instead of samples, tokens or images: one step is counted once at setup by
    PyTorch's own FlopCounterMode (matrix products and convolutions, backward included), the
    unit of the standard's benchmark classes for these toy models."""

    def __init__(self, params: dict[str, Any], device: str = "auto"):
        super().__init__(params, _resolve_device(device))
        self.torch = _torch(self.device)
        self.gflop_per_step: float | None = None
        if params.get("count") == "gflop":
            self.unit = "gflop"

    def sync(self) -> None:
        if self.device.startswith("cuda"):
            self.torch.cuda.synchronize()

    def count_flops(self) -> None:
        """Count one step's GFLOP (setup, outside any metered window), if counting FLOP."""
        if self.unit != "gflop":
            return
        from torch.utils.flop_counter import FlopCounterMode

        # the fused attention fast path of eval-mode transformer layers is one op the counter
        # does not see into: count with it off (same arithmetic), then restore it
        mha = self.torch.backends.mha
        fast = mha.get_fastpath_enabled()
        mha.set_fastpath_enabled(False)
        try:
            counter = FlopCounterMode(display=False)
            with counter:
                self._work()
            self.sync()
        finally:
            mha.set_fastpath_enabled(fast)
        self.gflop_per_step = counter.get_total_flops() / 1e9

    def _work(self) -> float:
        raise NotImplementedError

    def step(self) -> float:
        done = self._work()
        return self.gflop_per_step if self.gflop_per_step is not None else done


class CnnTrain(_TorchWorkload):
    """A small CNN trained on synthetic 32x32 images; units: samples."""

    name, unit = "cnn-train", "sample"
    benchmark, phase = "greenai-cnn-train-fp32", "training"

    def setup(self) -> None:
        torch = self.torch
        nn = torch.nn
        torch.manual_seed(0)
        self.batch = int(self.params.get("batch", 32))
        size = int(self.params.get("image_size", 32))
        self.model = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(4),
            nn.Flatten(),
            nn.Linear(32 * 16, 10),
        ).to(self.device)
        self.opt = torch.optim.SGD(self.model.parameters(), lr=0.01)
        self.x = torch.randn(self.batch, 3, size, size, device=self.device)
        self.y = torch.randint(0, 10, (self.batch,), device=self.device)
        self.loss_fn = nn.CrossEntropyLoss()
        self.count_flops()

    def _work(self) -> float:
        self.opt.zero_grad()
        loss = self.loss_fn(self.model(self.x), self.y)
        loss.backward()
        self.opt.step()
        return float(self.batch)


class ImageClassify(CnnTrain):
    """Inference of the same small CNN on synthetic images; units: queries (images)."""

    name, unit = "image-classify", "query"
    benchmark, phase = "greenai-image-classify-fp32", "inference"

    def _work(self) -> float:
        with self.torch.inference_mode():
            self.model(self.x)
        return float(self.batch)


class TextGenerate(_TorchWorkload):
    """Greedy generation with a small decoder-only transformer (random weights); units: tokens."""

    name, unit = "text-generate", "token"
    benchmark = "greenai-text-generate-fp32"

    def setup(self) -> None:
        torch = self.torch
        nn = torch.nn
        torch.manual_seed(0)
        p = self.params
        self.vocab, d, layers = (
            int(p.get("vocab", 1000)),
            int(p.get("d_model", 128)),
            int(p.get("layers", 2)),
        )
        self.new_tokens = int(p.get("new_tokens", 16))
        self.batch = int(p.get("batch", 4))
        self.embed = nn.Embedding(self.vocab, d).to(self.device)
        layer = nn.TransformerEncoderLayer(d, nhead=4, dim_feedforward=4 * d, batch_first=True)
        self.body = nn.TransformerEncoder(layer, layers).to(self.device).eval()
        self.head = nn.Linear(d, self.vocab).to(self.device)
        self.prompt = torch.randint(0, self.vocab, (self.batch, 8), device=self.device)
        self.count_flops()

    def _work(self) -> float:
        torch = self.torch
        tokens = self.prompt
        with torch.inference_mode():
            for _ in range(self.new_tokens):
                n = tokens.shape[1]
                mask = torch.triu(torch.full((n, n), float("-inf"), device=self.device), 1)
                h = self.body(self.embed(tokens), mask=mask)
                nxt = self.head(h[:, -1]).argmax(-1, keepdim=True)
                tokens = torch.cat([tokens, nxt], dim=1)
        return float(self.batch * self.new_tokens)


REGISTRY: dict[str, Callable[..., Workload]] = {
    cls.name: cls for cls in (Gemm, MlpTrain, EmbedInfer, CnnTrain, ImageClassify, TextGenerate)
}


def make(kind: str, params: dict[str, Any], device: str = "cpu") -> Workload:
    """Return a workload instance by registry name; WorkloadUnavailable when it cannot run."""
    try:
        cls = REGISTRY[kind]
    except KeyError:
        raise GreenAIError(
            f"unknown workload kind {kind!r}; known: {', '.join(sorted(REGISTRY))}"
        ) from None
    return cls(params, device)
