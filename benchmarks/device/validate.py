"""Proves greenai's NVML path on a real NVIDIA GPU (or on the stand-in, in CI); prints a table.

    python benchmarks/device/validate.py --out results/device      # < 5 minutes, one GPU
    python benchmarks/device/validate.py --quick --out /tmp/v      # ~15 s: CI, on the stand-in

For each visible GPU: a bf16 matmul loop and a small training loop (torch, model built here),
each metered by greenai's torch_meter, while this script reads pynvml itself (counter and
power at 20 Hz, and `nvidia-smi` if present) for the cross-checks. Writes probe.txt, one
disclosure per metered window and summary.json into --out; exits 1 when a check fails.
Tolerances and why they are what they are: README.md beside this file.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from greenai import units

POLL_INTERVAL_S = 0.05  # the direct cross-check reader: 20 Hz
PASS, FAIL, SKIP, INFO = "pass", "fail", "skip", "info"
CUDA_EVENT_MS_PER_S = 1000.0  # torch.cuda.Event.elapsed_time is in ms
SMI_TIME_FORMAT = "%Y/%m/%d %H:%M:%S.%f"  # nvidia-smi's timestamp field, local time


@dataclass(frozen=True)
class Plan:
    """How long each part runs (s); the full plan fits one GPU in about 90 s."""

    idle_s: float = 5.0
    warmup_s: float = 3.0  # load runs this long before a window opens: 1 s power averaging
    window_s: float = 20.0
    slowdown_block_s: float = 2.0
    slowdown_blocks: int = 5  # per side, interleaved: without, with, without, ...
    resolution_s: float = 3.0
    edge_pairs: int = 20


# For the stand-in (CI): too short for a real GPU, whose power is a 1 s mean that needs the
# full plan's warm-up, and whose windows must be long against the counter's updates.
QUICK = Plan(
    idle_s=0.6,
    warmup_s=1.0,  # also covers the start of nvidia-smi (a Python script, on the stand-in)
    window_s=2.0,
    slowdown_block_s=0.25,
    slowdown_blocks=3,
    resolution_s=0.5,
    edge_pairs=5,
)


@dataclass(frozen=True)
class Tolerances:
    """Limits of the checks; README.md says why each is what it is."""

    energy_rel: float = 0.05  # counter vs integrated power, and vs nvidia-smi
    max_slowdown: float = 0.05  # steps/s lost to greenai's sampler
    max_update_period_s: float = 0.5  # energy counter updates at least this often
    max_edge_s: float = 0.1  # median start+stop of a meter with CUDA sync, GPU idle
    min_load_ratio: float = 1.2  # loaded / idle power on the GPU doing the work
    limit_margin: float = 0.05  # loaded power may exceed the enforced limit by this much


@dataclass(frozen=True)
class Check:
    """One row of the table: a measured figure against a reference."""

    gpu: str
    name: str
    measured: float | None
    reference: float | None
    unit: str
    tolerance: str
    status: str
    note: str = ""


@dataclass(frozen=True)
class Sample:
    """One direct read of a GPU: when (monotonic s), its counter (J) and its power (W)."""

    t_s: float
    energy_j: float
    power_w: float


@dataclass
class Poller:
    """Reads one GPU's counter and power straight from pynvml at 20 Hz in a thread."""

    nvml: Any
    handle: Any
    samples: list[Sample] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def read(self) -> Sample:
        t = time.monotonic()
        energy_j = units.mj_to_j(self.nvml.nvmlDeviceGetTotalEnergyConsumption(self.handle))
        return Sample(t, energy_j, units.mw_to_w(self.nvml.nvmlDeviceGetPowerUsage(self.handle)))

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.samples.append(self.read())
            self._stop.wait(POLL_INTERVAL_S)

    def __enter__(self) -> Poller:
        self._thread = threading.Thread(target=self._loop, name="validate-poller", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join()


class SmiPoller:
    """Streams nvidia-smi's timestamped power.draw every 100 ms for one GPU, if present."""

    def __init__(self, nvml_index: int):
        self.samples: list[tuple[float, float]] = []
        self.available = shutil.which("nvidia-smi") is not None
        self._index = nvml_index
        self._proc: subprocess.Popen[str] | None = None
        self._thread: threading.Thread | None = None
        self._first = threading.Event()

    def __enter__(self) -> SmiPoller:
        if self.available:
            cmd = ["nvidia-smi", f"--id={self._index}", "--query-gpu=timestamp,power.draw"]
            cmd += ["--format=csv,noheader,nounits", "-lms", "100"]
            self._proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
            self._thread = threading.Thread(target=self._loop, daemon=True)
            self._thread.start()
            # nvidia-smi takes up to a second or so to start: wait, so its samples cover the window
            self._first.wait(timeout=10.0)
        return self

    def _loop(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        # nvidia-smi stamps each reading with local wall-clock time; a pipe may deliver them late
        wall_to_monotonic_s = time.monotonic() - time.time()
        for line in self._proc.stdout:
            try:
                stamp, power = (part.strip() for part in line.split(","))
                wall = datetime.strptime(stamp, SMI_TIME_FORMAT).timestamp()
                self.samples.append((wall + wall_to_monotonic_s, float(power)))
                self._first.set()
            except ValueError:
                continue  # "[N/A]" or a header: not a reading

    def __exit__(self, *exc: Any) -> None:
        if self._proc is not None:
            # one reading past the end, so the samples cover the window's close too
            closed, deadline = time.monotonic(), time.monotonic() + 2.0
            while time.monotonic() < deadline and not (
                self.samples and self.samples[-1][0] > closed
            ):
                time.sleep(0.02)
            self._proc.terminate()
            self._proc.wait(timeout=5)
        if self._thread is not None:
            self._thread.join(timeout=5)


def _interp(points: list[tuple[float, float]], t: float) -> float:
    """Return the power (W) at t (s), linear between the points around it."""
    for (t0, p0), (t1, p1) in zip(points, points[1:], strict=False):
        if t0 <= t <= t1:
            return p0 if t1 == t0 else p0 + (p1 - p0) * (t - t0) / (t1 - t0)
    raise ValueError(f"t = {t} s lies outside the samples")


def trapezoid_j(points: list[tuple[float, float]], t_a: float, t_b: float) -> float | None:
    """Return the trapezoid integral (J) of (t s, power W) points over [t_a, t_b].

    The ends are interpolated; None when the points do not cover [t_a, t_b].
    """
    if len(points) < 2 or not points[0][0] <= t_a < t_b <= points[-1][0]:
        return None
    inside = [(t_a, _interp(points, t_a))]
    inside += [(t, p) for t, p in points if t_a < t < t_b]
    inside.append((t_b, _interp(points, t_b)))
    return math.fsum(
        (t1 - t0) * (p0 + p1) / 2 for (t0, p0), (t1, p1) in zip(inside, inside[1:], strict=False)
    )


def counter_span(samples: list[Sample], t_a: float, t_b: float) -> tuple[float, float, float]:
    """Return (t of first update, t of last update, J between them) of the counter in [t_a, t_b].

    The counter steps every ~100 ms, so it is stale by up to a step at a window edge: aligning
    on its updates instead (each placed midway between the reads that saw it) keeps that
    staleness out of short windows.
    """
    inside = [s for s in samples if t_a <= s.t_s <= t_b]
    updates = [
        (a.t_s + b.t_s) / 2
        for a, b in zip(inside, inside[1:], strict=False)
        if b.energy_j != a.energy_j
    ]
    values = [
        b.energy_j for a, b in zip(inside, inside[1:], strict=False) if b.energy_j != a.energy_j
    ]
    if len(updates) < 2:
        raise RuntimeError(f"the energy counter changed {len(updates)} times in the window")
    return updates[0], updates[-1], values[-1] - values[0]


def rel_diff(measured: float, reference: float) -> float:
    return measured / reference - 1.0 if reference else math.inf


def energy_check(gpu: str, name: str, measured: float | None, ref: float, tol: float) -> Check:
    if measured is None:
        return Check(gpu, name, None, ref, "J", f"±{tol:.0%}", SKIP, "too few samples")
    diff = rel_diff(measured, ref)
    status = PASS if abs(diff) <= tol else FAIL
    return Check(gpu, name, measured, ref, "J", f"±{tol:.0%}", status, f"diff {diff:+.2%}")


# ---------------------------------------------------------------- workloads


@dataclass
class Workloads:
    """bf16 matmuls and a small MLP training step on one device (cuda:i, or cpu)."""

    device: str

    def __post_init__(self) -> None:
        import torch

        self.torch = torch
        on_gpu = self.device.startswith("cuda")
        if not on_gpu:
            # one thread: OpenMP workers spinning on a shared small VM would swamp the figures
            torch.set_num_threads(1)
        n = 8192 if on_gpu else 128
        self.a = torch.randn(n, n, device=self.device, dtype=torch.bfloat16)
        self.b = torch.randn(n, n, device=self.device, dtype=torch.bfloat16)
        width, self.batch = (4096, 512) if on_gpu else (256, 64)
        self.model = torch.nn.Sequential(
            torch.nn.Linear(width, 4 * width),
            torch.nn.GELU(),
            torch.nn.Linear(4 * width, width),
        ).to(self.device)
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=1e-4)
        self.x = torch.randn(self.batch, width, device=self.device)
        self.y = torch.randn(self.batch, width, device=self.device)
        self.dtype = torch.bfloat16 if on_gpu else torch.float32

    def sync(self) -> None:
        if self.device.startswith("cuda"):
            self.torch.cuda.synchronize(self.device)

    def matmul(self) -> None:
        for _ in range(20):  # a batch of kernels between clock checks
            self.a @ self.b

    def train_step(self) -> None:
        dev_type = "cuda" if self.device.startswith("cuda") else "cpu"
        with self.torch.autocast(dev_type, dtype=self.dtype, enabled=dev_type == "cuda"):
            loss = ((self.model(self.x) - self.y) ** 2).mean()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()

    def run_for(self, step: Callable[[], None], duration_s: float) -> int:
        """Return the steps done in duration_s (s), synchronised at the end."""
        steps, end = 0, time.perf_counter() + duration_s
        while time.perf_counter() < end:
            step()
            steps += 1
            if steps % 10 == 0:
                self.sync()  # bound the queue so the clock means GPU time
        self.sync()
        return steps


# ---------------------------------------------------------------- the checks


@dataclass(frozen=True)
class Gpu:
    """One GPU under test: greenai's probe for it and a direct pynvml handle."""

    label: str  # "nvml:<cuda index>", as greenai names the device
    cuda_index: int
    nvml_index: int
    power_limit_w: float | None
    nvml: Any
    info: dict[str, Any]
    handle: Any = field(repr=False)


def metered_window(
    gpu: Gpu,
    work: Workloads,
    step: Callable[[], None],
    name: str,
    plan: Plan,
    tol: Tolerances,
    out: Path,
) -> tuple[list[Check], float]:
    """Run one metered window of step(); return its checks and the window's mean power (W)."""
    from greenai.integrations.torch import torch_meter

    smi = SmiPoller(gpu.nvml_index)
    with Poller(gpu.nvml, gpu.handle) as poller, smi:
        work.run_for(step, plan.warmup_s)
        before = poller.read()
        with torch_meter(
            task=f"validate-{name}",
            unit="step",
            output=out / f"{name}-{gpu.label.replace(':', '')}.json",
        ) as m:
            first = poller.read()
            steps = work.run_for(step, plan.window_s)
            m.count(steps)
            last = poller.read()
        after = poller.read()
    result = m.result
    assert result is not None
    checks: list[Check] = []
    meter_j = result.by_device.get(gpu.label)
    # greenai reads the counter between `before` and `first`, and between `last` and `after`
    low, high = last.energy_j - first.energy_j, after.energy_j - before.energy_j
    ok = meter_j is not None and low - 1e-3 <= meter_j <= high + 1e-3
    checks.append(
        Check(
            gpu.label,
            f"{name}: greenai energy vs direct counter",
            meter_j,
            (low + high) / 2,
            "J",
            f"in [{low:.1f}, {high:.1f}]",
            PASS if ok else FAIL,
            "bracketed by reads before and after each edge",
        )
    )
    t_a, t_b, counter_j = counter_span(poller.samples, first.t_s, last.t_s)
    power_points = [(s.t_s, s.power_w) for s in poller.samples]
    checks.append(
        energy_check(
            gpu.label,
            f"{name}: integrated nvmlDeviceGetPowerUsage vs counter",
            trapezoid_j(power_points, t_a, t_b),
            counter_j,
            tol.energy_rel,
        )
    )
    if smi.available:
        checks.append(
            energy_check(
                gpu.label,
                f"{name}: integrated nvidia-smi power.draw vs counter",
                trapezoid_j(smi.samples, t_a, t_b),
                counter_j,
                tol.energy_rel,
            )
        )
    else:
        checks.append(
            Check(
                gpu.label,
                f"{name}: nvidia-smi power.draw",
                None,
                None,
                "J",
                "",
                SKIP,
                "nvidia-smi not found",
            )
        )
    return checks, counter_j / (t_b - t_a)


def idle_power_w(gpu: Gpu, plan: Plan) -> float:
    """Return the GPU's mean power (W) over plan.idle_s from its counter, nothing running."""
    poller = Poller(gpu.nvml, gpu.handle)
    with poller:
        time.sleep(plan.idle_s)
    t_a, t_b, energy_j = counter_span(poller.samples, -math.inf, math.inf)
    return energy_j / (t_b - t_a)


def load_checks(
    gpu: Gpu, idle_w: float, loaded_w: float, on_gpu: bool, tol: Tolerances
) -> list[Check]:
    ratio = loaded_w / idle_w if idle_w else math.inf
    if on_gpu:
        status = PASS if ratio >= tol.min_load_ratio else FAIL
        note = f"loaded/idle {ratio:.2f}: the work runs on this GPU"
    else:
        status, note = INFO, f"loaded/idle {ratio:.2f}: work ran on the CPU (no CUDA device)"
    rows = [
        Check(
            gpu.label,
            "idle vs loaded power",
            loaded_w,
            idle_w,
            "W",
            f"≥ {tol.min_load_ratio}x idle",
            status,
            note,
        )
    ]
    if gpu.power_limit_w:
        cap = gpu.power_limit_w * (1 + tol.limit_margin)
        rows.append(
            Check(
                gpu.label,
                "loaded power vs enforced limit",
                loaded_w,
                gpu.power_limit_w,
                "W",
                f"≤ limit +{tol.limit_margin:.0%}",
                PASS if loaded_w <= cap else FAIL,
            )
        )
    return rows


def resolution_check(gpu: Gpu, work: Workloads, plan: Plan, tol: Tolerances) -> Check:
    """Return the counter's update period (s) and step (J), read in a tight loop under load."""
    stop = threading.Event()
    seen: list[tuple[float, float]] = []

    def spin() -> None:
        last = None
        while not stop.is_set():
            value = units.mj_to_j(gpu.nvml.nvmlDeviceGetTotalEnergyConsumption(gpu.handle))
            if value != last:
                seen.append((time.monotonic(), value))
                last = value
            time.sleep(0.001)

    reader = threading.Thread(target=spin, daemon=True)
    reader.start()
    work.run_for(work.matmul, plan.resolution_s)
    stop.set()
    reader.join()
    gaps = [
        b[0] - a[0] for a, b in zip(seen[1:], seen[2:], strict=False)
    ]  # seen[0] is the first read
    steps_j = [b[1] - a[1] for a, b in zip(seen[1:], seen[2:], strict=False)]
    if not gaps:
        return Check(
            gpu.label,
            "energy counter update period",
            None,
            tol.max_update_period_s,
            "s",
            "",
            FAIL,
            f"counter changed {len(seen) - 1} times in {plan.resolution_s} s",
        )
    period = statistics.median(gaps)
    return Check(
        gpu.label,
        "energy counter update period",
        period,
        tol.max_update_period_s,
        "s",
        f"≤ {tol.max_update_period_s} s",
        PASS if period <= tol.max_update_period_s else FAIL,
        f"{len(gaps)} updates, smallest step {min(steps_j):.3g} J",
    )


def slowdown_check(gpu: Gpu, work: Workloads, plan: Plan, tol: Tolerances) -> Check:
    """Return steps/s of the training loop with greenai metering against without (interleaved)."""
    from greenai.integrations.torch import torch_meter

    rates: dict[bool, list[float]] = {False: [], True: []}
    for i in range(2 * plan.slowdown_blocks):
        metered = i % 2 == 1
        t0 = time.perf_counter()
        if metered:
            with torch_meter(task="validate-slowdown", unit="step", timeline=False):
                steps = work.run_for(work.train_step, plan.slowdown_block_s)
        else:
            steps = work.run_for(work.train_step, plan.slowdown_block_s)
        rates[metered].append(steps / (time.perf_counter() - t0))
    without, with_ = statistics.median(rates[False]), statistics.median(rates[True])
    slowdown = 1 - with_ / without
    return Check(
        gpu.label,
        "training steps/s with greenai vs without",
        with_,
        without,
        "step/s",
        f"≤ {tol.max_slowdown:.0%} slower",
        PASS if slowdown <= tol.max_slowdown else FAIL,
        f"slowdown {slowdown:+.2%} (median of {plan.slowdown_blocks} blocks each)",
    )


def edge_check(gpu: Gpu, work: Workloads, plan: Plan, tol: Tolerances) -> list[Check]:
    """Return meter start+stop latency (CUDA synced), and whether queued kernels land inside."""
    from greenai.integrations.torch import torch_meter

    edges: list[float] = []
    for _ in range(plan.edge_pairs):
        m = torch_meter(task="validate-edge", timeline=False)
        t0 = time.perf_counter()
        m.start()
        m.stop()
        edges.append(time.perf_counter() - t0)
    median = statistics.median(edges)
    rows = [
        Check(
            gpu.label,
            "window edges (start+stop, CUDA sync)",
            median,
            tol.max_edge_s,
            "s",
            f"≤ {tol.max_edge_s} s",
            PASS if median <= tol.max_edge_s else FAIL,
            f"median of {plan.edge_pairs}, max {max(edges):.4f} s",
        )
    ]
    if not work.device.startswith("cuda"):
        rows.append(
            Check(
                gpu.label,
                "queued kernels inside the window",
                None,
                None,
                "s",
                "",
                SKIP,
                "no CUDA device",
            )
        )
        return rows
    torch = work.torch
    work.sync()
    begin, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    with torch_meter(task="validate-edge", timeline=False) as m:
        begin.record()
        for _ in range(10):
            work.matmul()  # ~0.3 s of kernels queued; Python returns long before they finish
        end.record()
    end.synchronize()
    gpu_s = begin.elapsed_time(end) / CUDA_EVENT_MS_PER_S
    assert m.result is not None
    rows.append(
        Check(
            gpu.label,
            "queued kernels inside the window",
            m.result.duration_s,
            gpu_s,
            "s",
            "window ≥ kernel time",
            PASS if m.result.duration_s >= gpu_s * 0.99 else FAIL,
            "stop() waited for the queue",
        )
    )
    return rows


# ---------------------------------------------------------------- driver


def probe(out: Path) -> int:
    """Run `greenai probe` as a user would, into out/probe.txt; return its exit code."""
    res = subprocess.run([sys.executable, "-m", "greenai", "probe"], capture_output=True, text=True)
    (out / "probe.txt").write_text(res.stdout + res.stderr)
    print(res.stdout + res.stderr)
    return res.returncode


def open_gpus(wanted: list[int] | None) -> tuple[Any, list[Gpu], Check]:
    """Return pynvml, the GPUs to test (CUDA index -> NVML index mapped by greenai), a check."""
    from greenai.probes import nvml as nvml_probe

    found = nvml_probe.discover()
    import pynvml

    gpus = [
        Gpu(
            p.id,
            p.cuda_index,
            p.index,
            p.max_power_w,
            pynvml,
            p.info(),
            pynvml.nvmlDeviceGetHandleByIndex(p.index),
        )
        for p in found.probes
        if wanted is None or p.cuda_index in wanted
    ]
    counters = sum(p.method.value == "counter" for p in found.probes)
    total = len(found.probes)
    ok = total > 0 and counters == total
    why = "; ".join(u.reason for u in found.unavailable)
    note = f"{total} GPU(s), {counters} with an energy counter" + (f"; {why}" if why else "")
    row = Check(
        "-",
        "greenai finds GPUs",
        counters,
        total,
        "GPUs",
        "≥ 1, all counter",
        PASS if ok else FAIL,
        note,
    )
    return pynvml, gpus, row


def validate_gpu(gpu: Gpu, plan: Plan, tol: Tolerances, out: Path) -> list[Check]:
    """Return every check of one GPU: idle, two metered windows, counter, overhead, edges."""
    import torch

    on_gpu = torch.cuda.is_available() and gpu.cuda_index < torch.cuda.device_count()
    work = Workloads(f"cuda:{gpu.cuda_index}" if on_gpu else "cpu")
    idle_w = idle_power_w(gpu, plan)  # before any kernel: the GPU at rest, context created
    for step in (work.matmul, work.train_step):
        work.run_for(step, 0.2)  # first-call costs (cuBLAS, allocator) out of the figures
    checks, loaded_w = metered_window(gpu, work, work.matmul, "matmul", plan, tol, out)
    checks += load_checks(gpu, idle_w, loaded_w, on_gpu, tol)
    checks += metered_window(gpu, work, work.train_step, "train", plan, tol, out)[0]
    checks.append(resolution_check(gpu, work, plan, tol))
    checks.append(slowdown_check(gpu, work, plan, tol))
    checks += edge_check(gpu, work, plan, tol)
    return checks


def fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.4g}" if abs(value) < 1e4 else f"{value:.0f}"


def table(checks: list[Check]) -> str:
    """Return the checks as a fixed-width text table."""
    head = ("gpu", "check", "measured", "reference", "unit", "tolerance", "status", "note")
    rows = [head] + [
        (
            c.gpu,
            c.name,
            fmt(c.measured),
            fmt(c.reference),
            c.unit,
            c.tolerance,
            c.status.upper(),
            c.note,
        )
        for c in checks
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(head) - 1)]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=False)) + "  " + r[-1]
        for r in rows
    ]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(line.rstrip() for line in lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--out", type=Path, default=Path("results/device"), help="folder for all outputs"
    )
    ap.add_argument("--quick", action="store_true", help="short windows (CI, the stand-in)")
    ap.add_argument("--gpus", help="CUDA indices to test, e.g. 0,1 (default: every visible GPU)")
    ap.add_argument("--tolerance", type=float, default=Tolerances.energy_rel)
    ap.add_argument("--max-slowdown", type=float, default=Tolerances.max_slowdown)
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    plan = QUICK if args.quick else Plan()
    tol = Tolerances(energy_rel=args.tolerance, max_slowdown=args.max_slowdown)
    t0 = time.monotonic()
    # probe NVML even where greenai's cheap driver signs (/dev/nvidiactl, ...) are hidden, as
    # in some GPU sandboxes: `greenai probe` and the meters below inherit this
    os.environ.setdefault("GREENAI_NVML", "on")

    import greenai

    rc = probe(args.out)
    checks = [Check("-", "greenai probe", rc, 0, "exit", "= 0", PASS if rc == 0 else FAIL)]
    nvml, gpus, found = open_gpus([int(i) for i in args.gpus.split(",")] if args.gpus else None)
    checks.append(found)
    for gpu in gpus:
        print(f"validating {gpu.label} (NVML index {gpu.nvml_index}) ...", flush=True)
        try:
            checks += validate_gpu(gpu, plan, tol, args.out)
        except Exception as exc:  # noqa: BLE001 - recorded as a failed check, not ignored:
            # a one-shot run on a lent machine must still write its summary (CUDA OOM, NVML...)
            note = f"{type(exc).__name__}: {exc}"
            checks.append(Check(gpu.label, "validation run", None, None, "", "", FAIL, note))
    failed = [f"{c.gpu} {c.name}" for c in checks if c.status == FAIL]
    print(table(checks))
    summary = {
        "passed": not failed,
        "failed": failed,
        "checks": [asdict(c) for c in checks],
        "plan": asdict(plan),
        "tolerances": asdict(tol),
        "gpus": [g.info for g in gpus],
        "stand_in": "nvml_stub" in (getattr(nvml, "__file__", "") or ""),
        "greenai_version": greenai.__version__,
        "torch_version": __import__("torch").__version__,
        "elapsed_s": time.monotonic() - t0,
    }
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(
        f"\n{'PASS' if not failed else 'FAIL'}: {len(checks)} checks, {len(failed)} failed; "
        f"{summary['elapsed_s']:.0f} s; outputs in {args.out}"
    )
    for name in failed:
        print(f"  failed: {name}")
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
