"""Prints what online tuning costs: extra time of a tuned run over an untuned one, as a ratio.

    python benchmarks/perf/tuner.py               # ~20 s
    python benchmarks/perf/tuner.py --pairs 3 --steps 1000   # quicker, noisier
    python benchmarks/perf/tuner.py --json out.json

The same CPU loop (a numpy matmul per step, ``m.count(1)`` after each) runs untuned and
tuned, side by side: the two alternate in ABBA order so drift on a shared machine hits
both alike. The tuner is a PowerLimitTuner on the NVML stand-in (tests/fakes/nvml_stub),
so every candidate's apply, its journal-free state file, the window snapshots and the
restore run the real code, while the loop's speed does not depend on the limit: what is
left is greenai's own cost. Reported: the ratio of the tuned run's wall time to the
untuned one's, minus 1 (median of pairs and its spread), and the per-count() cost while
the search runs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # BLAS threads fighting over 2 cores is noise
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "fakes" / "nvml_stub"))

import numpy as np  # noqa: E402
import pynvml  # noqa: E402  (the stand-in)

import greenai  # noqa: E402
from greenai.optimize import PowerLimitTuner  # noqa: E402


class TimedTuner(PowerLimitTuner):
    """A PowerLimitTuner that adds up the wall time spent in its own methods."""

    def __init__(self, **kwargs: float):
        super().__init__(**kwargs)
        self.spent_s = 0.0

    def _timed(self, fn, *args):
        began = time.perf_counter()
        try:
            return fn(*args)
        finally:
            self.spent_s += time.perf_counter() - began

    def begin(self, *args):
        return self._timed(super().begin, *args)

    def on_count(self, *args):
        return self._timed(super().on_count, *args)

    end_block = None

    def end(self, *args):
        self.end_block = self._timed(super().end, *args)
        return self.end_block


def loop(steps: int, tune: PowerLimitTuner | None) -> tuple[float, float]:
    """Return (wall s, main-thread CPU s) of `steps` metered steps, tuned when a tuner is given.

    The main thread's CPU clock leaves out other processes on a shared machine (and the
    sampler thread, the same in both runs), so it is the steadier of the two figures.
    """
    a = np.ones((96, 96), np.float32)
    began, began_cpu = time.perf_counter(), time.thread_time()
    with greenai.meter("training", "sample", tune=tune, timeline=False) as m:
        for _ in range(steps):
            a @ a
            m.count(1)
    return time.perf_counter() - began, time.thread_time() - began_cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=6, help="ABBA pairs of runs")
    parser.add_argument("--steps", type=int, default=20000)
    parser.add_argument("--window", type=float, default=0.01, help="tuner window (s)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    os.environ["GREENAI_RUNTIME_DIR"] = tempfile.mkdtemp(prefix="greenai-tuner-bench-")
    pynvml.configure([pynvml.FakeLimitedGpu()])
    loop(200, None)  # imports, probe discovery and caches are not part of either figure
    ratios, cpu_ratios, plain_s, tuned_s, per_count_us, candidates, direct = ([] for _ in range(7))
    finished: list[bool] = []
    for i in range(args.pairs):
        order = ("plain", "tuned") if i % 2 == 0 else ("tuned", "plain")
        got = {}
        tuner = TimedTuner(window_s=args.window)
        for kind in order:
            got[kind] = loop(args.steps, tuner if kind == "tuned" else None)
        (plain, plain_cpu), (tuned, tuned_cpu) = got["plain"], got["tuned"]
        plain_s.append(plain)
        tuned_s.append(tuned)
        ratios.append(tuned / plain - 1.0)
        cpu_ratios.append(tuned_cpu / plain_cpu - 1.0)
        if tuner.end_block is not None:
            direct.append(tuner.spent_s / plain)
            per_count_us.append(tuner.spent_s / max(tuner.profiling_steps, 1) * 1e6)
            candidates.append(len(tuner.end_block.candidates))
            finished.append(tuner.end_block.chosen is not None)
    load = os.getloadavg()[0]
    print(f"tuner overhead: {args.pairs} ABBA pairs of {args.steps} steps (load {load:.2f})")
    print(f"  untuned run                 median {statistics.median(plain_s) * 1e3:8.1f} ms")
    print(
        f"  tuned run                   median {statistics.median(tuned_s) * 1e3:8.1f} ms "
        f"({statistics.median(candidates):g} candidates profiled; "
        f"{sum(finished)}/{len(finished)} searches finished in the run)"
    )
    print(
        f"  ratio (tuned/untuned - 1)   median {statistics.median(ratios):+.4f} "
        f"(min {min(ratios):+.4f}, max {max(ratios):+.4f})  wall clock"
    )
    print(
        f"  ratio (tuned/untuned - 1)   median {statistics.median(cpu_ratios):+.4f} "
        f"(min {min(cpu_ratios):+.4f}, max {max(cpu_ratios):+.4f})  main-thread CPU"
    )
    print(
        f"  ratio (tuner's own time / untuned run)  median {statistics.median(direct):.5f} "
        f"(max {max(direct):.5f}); {statistics.median(per_count_us):.1f} us per profiled step"
    )
    if args.json:
        doc = {
            "ratios": ratios,
            "cpu_ratios": cpu_ratios,
            "direct_ratios": direct,
            "plain_s": plain_s,
            "tuned_s": tuned_s,
            "per_profiled_step_us": per_count_us,
            "candidates": candidates,
        }
        Path(args.json).write_text(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
