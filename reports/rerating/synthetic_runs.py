"""Write synthetic measured runs (fake powercap tree, fake clock) for re-rating standards.

    PYTHONPATH=. python reports/rerating/synthetic_runs.py OUT_DIR

Each run is metered by greenai's own Meter and Sampler reading a fake RAPL package-0 zone
(tests/fakes/powercap.py) at a constant power, so its energy is exact: power x window. The
figures are synthetic (chosen to land near each class's reference), not measurements of any
machine: they exist to show which grades move between two standards, and why.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from greenai.bench.suite import load_suite  # noqa: E402
from greenai.bench.workloads import make  # noqa: E402
from greenai.meter import Meter  # noqa: E402
from greenai.probes import rapl  # noqa: E402
from greenai.sampler import Sampler  # noqa: E402
from tests.fakes.clock import FakeClock  # noqa: E402
from tests.fakes.powercap import FakePowercap  # noqa: E402

STEP_S = 0.5
TC, SS = "EnergyStarAI/text_classification", "EnergyStarAI/sentence_similarity"
OD = "EnergyStarAI/object_detection"
INF, TRAIN = {"phase": "inference"}, {"phase": "training"}
# name: task, unit, package power (W), window (s), units, work block
RUNS = {
    "text-classification-no-dataset": ("text-classification", "query", 30, 90, 3000, INF),
    "text-classification": ("text-classification", "query", 30, 90, 3000, {**INF, "dataset": TC}),
    "text-classification-renamed-id": (
        "text-classification", "query", 30, 90, 3000,
        {**INF, "dataset": "AIEnergyScore/text_classification"},
    ),
    "embeddings-no-dataset": ("embeddings", "query", 30, 90, 1000, INF),
    "embeddings": ("embeddings", "query", 30, 90, 1000, {**INF, "dataset": SS}),
    "object-detection": ("object-detection", "image", 60, 90, 500, {**INF, "dataset": OD}),
    "image-generation": (
        "image-generation", "image", 200, 120, 20,
        {**INF, "dataset": "AIEnergyScore/image_generation"},
    ),
    "text-generation-7b": ("text-generation", "token", 60, 90, 30000, {**INF, "params": 7e9}),
    "text-generation-70b": ("text-generation", "token", 300, 120, 12000, {**INF, "params": 70e9}),
    "text-generation-no-params": ("text-generation", "token", 60, 90, 30000, INF),
    "training-7b": ("training", "token", 300, 660, 1_500_000, {**TRAIN, "params": 7e9}),
    "training-70b": ("training", "token", 300, 660, 160_000, {**TRAIN, "params": 70e9}),
    "training-176b": ("training", "token", 300, 660, 50_000, {**TRAIN, "params": 176e9}),
    "training-per-sample": ("training", "sample", 300, 660, 50_000, {**TRAIN, "params": 7e9}),
    "resnet50-as-image-classification": (
        "image-classification", "image", 100, 90, 30000,
        {**INF, "dataset": "imagenet-1k", "split": "validation",
         "quality_metric": "top1-accuracy", "quality": 0.7612},
    ),
    "resnet50-mlperf": (
        "image-classification-resnet50", "image", 100, 90, 30000,
        {**INF, "dataset": "imagenet-1k", "split": "validation",
         "quality_metric": "top1-accuracy", "quality": 0.7612},
    ),
    "resnet50-mlperf-below-target": (
        "image-classification-resnet50", "image", 100, 90, 30000,
        {**INF, "dataset": "imagenet-1k", "split": "validation",
         "quality_metric": "top1-accuracy", "quality": 0.75},
    ),
    "bert-mlperf": (
        "question-answering-bert", "query", 100, 90, 2000,
        {**INF, "dataset": "squad", "split": "validation", "quality_metric": "f1",
         "quality": 0.905},
    ),
}


def _meter(out: Path, name: str, task, unit, power_w, seconds, units, work, step=None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        import os

        tree = FakePowercap(Path(tmp) / "sys")
        os.environ["GREENAI_POWERCAP_ROOT"] = str(tree.root)
        clock = FakeClock()
        tree.add_zone("0", "package-0", power_w=power_w, max_power_uw=280_000_000)
        clock.on_advance(tree.update)
        sampler = Sampler(rapl.discover().probes, interval_s=0.1, clock=clock)
        sampler.sample()
        with Meter(task, unit, sampler=sampler, handle_signals=False, work=work) as m:
            steps = round(seconds / STEP_S)
            for _ in range(steps):
                m.count(step() if step else units / steps)
                clock.advance(STEP_S)
                sampler.sample()
        (out / f"{name}.json").write_text(m.result.to_json(), encoding="utf-8")


def main(out: Path) -> None:
    import warnings

    out.mkdir(parents=True, exist_ok=True)
    warnings.simplefilter("ignore")  # fit warnings: the rating says the same
    for name, (task, unit, power_w, seconds, units, work) in RUNS.items():
        _meter(out, name, task, unit, power_w, seconds, units, work)
    # the smoke suite's embed-infer, as the harness meters it, at 0.25 W of package power
    spec = next(w for w in load_suite("smoke").workloads if w.id == "embed-infer")
    workload = make(spec.kind, spec.params)
    workload.setup()
    work = {"workload": workload.benchmark, "phase": workload.phase}
    seconds = spec.repetitions * spec.min_duration_s
    _meter(out, "smoke-embed-infer", spec.task, workload.unit, 0.25, seconds, 0, work,
           step=workload.step)  # fmt: skip


if __name__ == "__main__":
    main(Path(sys.argv[1]))
