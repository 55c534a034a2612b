"""Prints how fast greenai re-rates and calibrates a population of disclosures.

    python benchmarks/perf/rating.py              # 100 000 disclosures
    python benchmarks/perf/rating.py -n 1000000
    python benchmarks/perf/rating.py --json out.json

The population is generated: result JSON documents (as Measurement.to_dict() writes them,
with a footprint block) spread over the default standard's task classes, one in five
failing a requirement. Figures are wall-clock, best of --repeat runs, on this machine.
The target from issue 4 is re-rating 100 000 disclosures in under a second (rate_many).
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import random
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from greenai.calibration import calibrate  # noqa: E402
from greenai.scoring import Population, compare_ratings, rate, rate_many  # noqa: E402
from greenai.standard import Bands, Standard, load_standard  # noqa: E402

TARGET_RATE_MANY_S = 1.0


def disclosures(std: Standard, n: int, seed: int = 2026) -> list[dict[str, Any]]:
    """Return n generated result documents; indices log-normal around 1 per task."""
    rng = random.Random(seed)
    tasks = list(std.tasks.values())
    docs = []
    for _ in range(n):
        task = rng.choice(tasks)
        units = rng.choice([1_000, 10_000, 100_000])
        energy = math.exp(rng.gauss(0.0, 1.0)) * task.energy.per_unit * units
        cpu = "modelled" if rng.random() < 0.1 else "measured"
        docs.append(
            {
                "kind": "greenai.measurement",
                "status": "ok" if rng.random() > 0.02 else "failed",
                "task": task.id,
                "unit": task.unit,
                "units_done": units,
                "duration_s": rng.choice([30.0, 120.0, 900.0, 3600.0]),
                "energy_j": energy,
                "domains": {
                    "cpu": {"energy_j": 0.2 * energy, "provenance": cpu, "complete": True},
                    "gpu": {"energy_j": 0.8 * energy, "provenance": "measured", "complete": True},
                },
                "idle": None,
                "sampling": {"interval_s": 0.1},
                "repetitions": rng.choice([1, 3]),
                "footprint": {
                    "computed": True,
                    "water_l": {"total": energy / 3.6e6 * rng.uniform(0.5, 6.0)},
                },
            }
        )
    return docs


def best_of(repeat: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    """Return the shortest wall time (s) of `repeat` calls, and the last result."""
    best, result = math.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def import_cost_ms() -> dict[str, Any]:
    """Return ms to import greenai.standard + greenai.scoring after greenai, in a fresh process."""
    code = (
        "import sys, time; import greenai; t = time.perf_counter(); "
        "import greenai.standard, greenai.scoring; "
        "print((time.perf_counter() - t) * 1e3, 'numpy' in sys.modules, 'pandas' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    ).stdout.split()
    return {"ms": float(out[0]), "numpy": out[1] == "True", "pandas": out[2] == "True"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=100_000, help="disclosures (default 100 000)")
    parser.add_argument("--repeat", type=int, default=5, help="best of this many runs")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)

    std = load_standard()
    docs = disclosures(std, args.n)
    parse_s, population = best_of(1, lambda: Population.from_disclosures(docs))
    rate_many_s, table = best_of(args.repeat, lambda: rate_many(population, std))
    sample = [population.input(i) for i in range(min(10_000, args.n))]
    rate_s, _ = best_of(1, lambda: [rate(inp, std) for inp in sample])
    calibrate_s, draft = best_of(1, lambda: calibrate(population, std, n_bands=5, on="2026-01-01"))
    wider = _shifted(std)
    compare_s, comparison = best_of(1, lambda: compare_ratings(population, wider, against=std))

    graded = int((table.energy_grade >= 0).sum())
    figures = {
        "n": args.n,
        "rate_many_s": rate_many_s,
        "rate_many_per_s": args.n / rate_many_s,
        "target_s": TARGET_RATE_MANY_S,
        "meets_target": rate_many_s < TARGET_RATE_MANY_S * args.n / 100_000,
        "parse_s": parse_s,
        "rate_one_us": rate_s / len(sample) * 1e6,
        "calibrate_s": calibrate_s,
        "compare_s": compare_s,
        "graded": graded,
        "moved": len(comparison.moved),
        "calibrated_classes": len(draft.calibration.calibrated),
        "import": import_cost_ms(),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    imp = figures["import"]
    print(f"greenai rating benchmark: {args.n:,} generated disclosures, default standard {std.id}")
    print(
        f"  rate_many (numpy)         {rate_many_s * 1e3:8.1f} ms   best of {args.repeat}   "
        f"{figures['rate_many_per_s'] / 1e6:.2f} M disclosures/s   "
        f"target < {TARGET_RATE_MANY_S:.0f} s per 100 000: "
        f"{'met' if figures['meets_target'] else 'NOT met'}"
    )
    print(
        f"  documents -> columns      {parse_s * 1e3:8.1f} ms   "
        f"(Population.from_disclosures, checks as RatingInput.from_disclosure)"
    )
    print(
        f"  documents -> ratings      {(parse_s + rate_many_s) * 1e3:8.1f} ms   "
        f"(the two above: parsed JSON in, every rating out)"
    )
    print(f"  rate() one run            {figures['rate_one_us']:8.1f} us   (pure Python, per run)")
    print(
        f"  calibrate (quantile, 5)   {calibrate_s * 1e3:8.1f} ms   "
        f"{figures['calibrated_classes']} classes / water calibrated"
    )
    print(
        f"  compare_ratings           {compare_s * 1e3:8.1f} ms   "
        f"{figures['moved']:,} grades moved under shifted bands"
    )
    print(f"  graded (conformant)       {graded:>8,} of {args.n:,}")
    print(
        f"  import standard + scoring {imp['ms']:8.1f} ms   (after greenai) numpy loaded: "
        f"{imp['numpy']}, pandas loaded: {imp['pandas']}"
    )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


def _shifted(std: Standard) -> Standard:
    """Return the standard with every band edge 10 % higher (for the comparison figure)."""
    from dataclasses import replace

    tasks = {}
    for task in std.tasks.values():
        bands = Bands.from_edges([e * 1.1 for e in task.bands.edges])
        tasks[task.id] = replace(task, bands=bands, water_bands=bands)
    return replace(std, id=f"{std.id}-shifted", tasks=tasks)


if __name__ == "__main__":
    raise SystemExit(main())
