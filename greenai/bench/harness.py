"""The benchmark harness, after MLPerf Power and the AI Energy Score.

Per suite: one idle baseline. Per workload: warm-up (not metered), then N repetitions, each
a metered window of at least ``min_duration_s`` in which the work is repeated and its units
counted; one disclosure per workload (rated under the standard) with mean, standard
deviation and 95 % confidence interval of energy per unit; a suite summary. Workloads whose
result exists are skipped unless forced; Ctrl-C stops cleanly and keeps finished results.
"""

from __future__ import annotations

import json
import os
import platform
import re
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from greenai.bench.stats import summarise
from greenai.bench.suite import Suite, WorkloadSpec
from greenai.bench.workloads import WorkloadUnavailable, make
from greenai.errors import DisclosureError
from greenai.measurement import IdleBaseline, write_atomic
from greenai.meter import Meter
from greenai.probes.base import Probe

# A scheduler's node name wins over the hostname: two Slurm nodes on one host (or a node
# whose hostname differs from its Slurm name) keep their own results folder.
NODE_NAME_VARIABLES = ("GREENAI_NODE", "SLURMD_NODENAME")


def host_id(env: Mapping[str, str] | None = None) -> str:
    """Return a filesystem-safe id of this node: GREENAI_NODE, SLURMD_NODENAME or hostname."""
    env = os.environ if env is None else env
    name = next((env[v] for v in NODE_NAME_VARIABLES if env.get(v, "").strip()), None)
    name = name or platform.node() or "host"
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "host"


class Progress:
    """A progress bar with ETA on a terminal; plain log lines otherwise."""

    def __init__(self, planned_s: float, stream: TextIO | None = None):
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.planned_s = max(planned_s, 1e-9)
        self.done_s = 0.0
        self.started = time.monotonic()

    def log(self, text: str) -> None:
        if self.tty:
            self.stream.write("\r\033[K")
        self.stream.write(text + "\n")
        self.stream.flush()

    def advance(self, seconds: float, label: str) -> None:
        self.done_s += seconds
        if not self.tty:
            return
        frac = min(self.done_s / self.planned_s, 1.0)
        elapsed = time.monotonic() - self.started
        eta = elapsed / frac - elapsed if frac > 0 else 0.0
        bar = "#" * int(frac * 30)
        self.stream.write(f"\r[{bar:<30}] {frac * 100:5.1f}%  ETA {eta:5.0f} s  {label[:40]}")
        self.stream.flush()


@dataclass
class SuiteRun:
    """What a suite run did: results written, workloads skipped, and whether it completed."""

    suite: Suite
    directory: Path
    results: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> disclosure
    reused: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # id -> reason
    interrupted: bool = False


def _load_existing(path: Path) -> dict[str, Any] | None:
    from greenai.disclosure import read_document

    try:
        doc = read_document(path)
    except DisclosureError:
        return None  # unreadable or torn: run the workload again
    return doc if doc.get("status") == "ok" and "benchmark" in doc else None


def run_suite(
    suite: Suite,
    out_dir: str | Path = "results",
    *,
    site: Any = None,
    standard: Any = None,
    force: bool = False,
    cooldown_s: float = 0.0,
    repetitions: int | None = None,
    min_duration_s: float | None = None,
    interval_s: float = 0.1,
    probes: Sequence[Probe] | None = None,
    stream: TextIO | None = None,
    workload_factory: Callable[..., Any] = make,
) -> SuiteRun:
    """Run a suite; return what was done. Results go to out_dir/<suite>/<host>/."""
    directory = Path(out_dir) / suite.id / host_id()
    directory.mkdir(parents=True, exist_ok=True)
    run = SuiteRun(suite, directory)
    todo: list[WorkloadSpec] = []
    for w in suite.workloads:
        existing = None if force else _load_existing(directory / f"{w.id}.json")
        if existing is not None:
            run.results[w.id] = existing
            run.reused.append(w.id)
        else:
            todo.append(w)
    progress = Progress(
        suite.idle_baseline_s
        + sum(
            w.warmup_s + (repetitions or w.repetitions) * (min_duration_s or w.min_duration_s)
            for w in todo
        ),
        stream,
    )
    for w in run.reused:
        progress.log(f"{suite.id}/{w}: result exists, skipped (use --force to run again)")
    meter_kwargs = {"interval_s": interval_s, "site": site, "standard": standard, "probes": probes}
    try:
        idle = None
        if todo and suite.idle_baseline_s > 0:
            progress.log(f"{suite.id}: measuring idle power for {suite.idle_baseline_s:g} s")
            with Meter(idle_baseline_s=suite.idle_baseline_s, timeline=False, **meter_kwargs) as m:
                pass
            idle = m.result.idle if m.result else None
            progress.advance(suite.idle_baseline_s, "idle baseline")
            if idle is not None:
                progress.log(f"{suite.id}: idle power {idle.power_w:.3g} W")
        for k, spec in enumerate(todo):
            if k and cooldown_s > 0:
                time.sleep(cooldown_s)
            doc = _run_workload(
                spec,
                suite,
                directory,
                idle,
                progress,
                meter_kwargs,
                repetitions,
                min_duration_s,
                workload_factory,
                run,
            )
            if doc is not None:
                run.results[spec.id] = doc
    except KeyboardInterrupt:
        run.interrupted = True
        progress.log(f"{suite.id}: interrupted; finished results are kept in {directory}")
    write_summary(run)
    return run


def _run_workload(
    spec: WorkloadSpec,
    suite: Suite,
    directory: Path,
    idle: IdleBaseline | None,
    progress: Progress,
    meter_kwargs: dict[str, Any],
    repetitions: int | None,
    min_duration_s: float | None,
    factory: Callable[..., Any],
    run: SuiteRun,
) -> dict[str, Any] | None:
    reps = repetitions or spec.repetitions
    window_s = spec.min_duration_s if min_duration_s is None else min_duration_s
    try:
        workload = factory(spec.kind, spec.params, spec.device)
        workload.setup()
    except WorkloadUnavailable as exc:
        run.skipped[spec.id] = str(exc)
        progress.log(f"{suite.id}/{spec.id}: skipped: {exc}")
        progress.advance(spec.warmup_s + reps * window_s, spec.id)
        return None
    unit = spec.unit or workload.unit
    progress.log(
        f"{suite.id}/{spec.id}: warm-up {spec.warmup_s:g} s, then {reps} x "
        f">= {window_s:g} s ({unit})"
    )
    deadline = time.monotonic() + spec.warmup_s
    while time.monotonic() < deadline:
        workload.step()
    workload.sync()
    progress.advance(spec.warmup_s, f"{spec.id} warm-up")
    m = Meter(spec.task, unit, idle=idle, **meter_kwargs)
    per_rep: list[dict[str, float]] = []
    with m:
        for r in range(reps):
            name = f"rep-{r + 1}"
            units_before = m.units_done
            workload.sync()
            with m.phase(name):
                started = time.monotonic()
                while True:
                    m.count(workload.step())
                    if time.monotonic() - started >= window_s:
                        break
                workload.sync()  # queued device work belongs to this window
            per_rep.append({"units": m.units_done - units_before})
            progress.advance(window_s, f"{spec.id} {name}")
        m.extra = {"repetitions": reps}  # the rating checks the standard's minimum
    result = m.result
    if result is None:
        return None
    phases = {p.name: p for p in result.phases}
    for r, rec in enumerate(per_rep):
        p = phases[f"rep-{r + 1}"]
        rec.update(
            energy_j=p.energy_j,
            duration_s=p.duration_s,
            energy_per_unit_j=p.energy_j / rec["units"] if rec["units"] else float("nan"),
            throughput_units_per_s=rec["units"] / p.duration_s if p.duration_s else 0.0,
        )
        if idle is not None:
            rec["net_energy_per_unit_j"] = (
                (p.energy_j - idle.power_w * p.duration_s) / rec["units"] if rec["units"] else 0.0
            )
    block = {
        "suite": suite.id,
        "workload": spec.id,
        "description": workload.describe(),
        "warmup_s": spec.warmup_s,
        "min_duration_s": window_s,
        "repetitions": per_rep,
        "energy_per_unit_j": summarise([r["energy_per_unit_j"] for r in per_rep]).to_dict(),
        "throughput_units_per_s": summarise(
            [r["throughput_units_per_s"] for r in per_rep]
        ).to_dict(),
    }
    if idle is not None:
        block["net_energy_per_unit_j"] = summarise(
            [r["net_energy_per_unit_j"] for r in per_rep]
        ).to_dict()
    from dataclasses import replace

    final = replace(result, extra={**result.extra, "benchmark": block})
    final.save(directory / f"{spec.id}.json")
    rating = final.extra.get("rating")
    doc = json.loads(final.to_json())
    e = block["energy_per_unit_j"]
    grade = (rating or {}).get("energy", {})
    progress.log(
        f"{suite.id}/{spec.id}: {e['mean']:.4g} J/{unit} "
        f"(95% CI {e['ci95_low']:.4g}-{e['ci95_high']:.4g}), "
        f"{block['throughput_units_per_s']['mean']:.4g} {unit}/s, "
        f"grade {grade.get('grade') or '-'}: {grade.get('verdict', 'not rated')}"
    )
    return doc


def summary_rows(results: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Return one flat row per workload result (for summary.json and the summary report)."""
    rows = []
    for wid, doc in results.items():
        b = doc.get("benchmark", {})
        rating = doc.get("rating") or {}
        rows.append(
            {
                "workload": wid,
                "task": doc.get("task"),
                "unit": doc.get("unit"),
                "host": (doc.get("host") or {}).get("hostname"),
                "provenance": doc.get("provenance"),
                "energy_per_unit_j": b.get("energy_per_unit_j"),
                "throughput_units_per_s": b.get("throughput_units_per_s"),
                "water_l": ((doc.get("footprint") or {}).get("water_l") or {}).get("total"),
                "carbon_g": (doc.get("footprint") or {}).get("carbon_g"),
                "energy_grade": (rating.get("energy") or {}).get("grade"),
                "water_grade": (rating.get("water") or {}).get("grade"),
                "verdict": (rating.get("energy") or {}).get("verdict"),
                "file": f"{wid}.json",
            }
        )
    return rows


def write_summary(run: SuiteRun) -> Path:
    """Write summary.json and summary.html for a suite run; return the JSON path."""
    from greenai.report.bench import summary_html

    summary = {
        "kind": "greenai.bench-summary",
        "suite": run.suite.id,
        "host": host_id(),
        "complete": not run.interrupted
        and len(run.results) + len(run.skipped) == len(run.suite.workloads),
        "workloads": summary_rows(run.results),
        "skipped": [{"workload": k, "reason": v} for k, v in run.skipped.items()],
    }
    path = run.directory / "summary.json"
    write_atomic(path, json.dumps(summary, indent=2, allow_nan=False) + "\n")
    write_atomic(run.directory / "summary.html", summary_html({host_id(): summary}))
    return path


def load_results(folders: Sequence[str | Path]) -> dict[str, dict[str, Any]]:
    """Return {host: summary} for every summary.json under the given folders (recursively)."""
    summaries: dict[str, dict[str, Any]] = {}
    for folder in folders:
        for path in sorted(Path(folder).rglob("summary.json")):
            try:
                doc = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise DisclosureError(f"{path}: cannot read summary: {exc}") from exc
            if not isinstance(doc, dict) or doc.get("kind") != "greenai.bench-summary":
                continue
            rows = doc.get("workloads")
            if not isinstance(rows, list) or not all(
                isinstance(r, dict) and isinstance(r.get("workload"), str) for r in rows
            ):
                raise DisclosureError(
                    f"{path}: workloads: expected a list of objects each naming its workload"
                )
            key = f"{doc.get('host')} ({doc.get('suite')})"
            summaries[key] = {**doc, "directory": str(path.parent)}
    return summaries
