"""The benchmark harness, after MLPerf Power and the AI Energy Score.

Per suite: one idle baseline. Per workload: warm-up (not metered), then N repetitions, each
a metered window of at least ``min_duration_s`` in which the work is repeated and its units
counted; one disclosure per workload (rated under the standard) with mean, standard
deviation and 95 % confidence interval of energy per unit; a suite summary. Workloads whose
result exists are skipped unless forced; Ctrl-C stops cleanly and keeps finished results.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from greenai import jsonio, units
from greenai.bench.stats import Summary, summarise
from greenai.bench.suite import Suite, WorkloadSpec
from greenai.bench.workloads import WorkloadUnavailable, make
from greenai.errors import DisclosureError
from greenai.journal import OutputClaim
from greenai.measurement import IdleBaseline, write_atomic
from greenai.meter import Meter
from greenai.probes.base import Probe
from greenai.runtime import NODE_NAME_VARIABLES, host_id  # noqa: F401 (re-exported)

DEFAULT_TARGET_CI = 0.05  # +-5 % of the mean: the summary flags results with a wider CI


class Progress:
    """Progress of a suite: a live bar (rich) with workload, repetition and ETA on a terminal;
    plain log lines otherwise (CI logs, files), so nothing but text reaches a pipe."""

    def __init__(self, planned_s: float, stream: TextIO | None = None):
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self._bar: Any = None
        if self.tty:
            # rich, not tqdm: codecarbon already depends on it (no new dependency), and its
            # console prints log lines above a live bar without tearing it
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                TaskProgressColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )
            from rich.progress import Progress as Bar

            self._bar = Bar(
                TextColumn("{task.description}"),
                BarColumn(),
                TaskProgressColumn(),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=Console(file=self.stream, highlight=False),
                refresh_per_second=2,  # the bar's own thread: kept rare beside metered work
                transient=True,
            )
            self._task = self._bar.add_task("starting", total=max(planned_s, 1e-9))
            self._bar.start()

    def log(self, text: str) -> None:
        """Print a line (above the bar on a terminal)."""
        if self._bar is not None:
            self._bar.console.print(text, markup=False)
        else:
            self.stream.write(text + "\n")
            self.stream.flush()

    def advance(self, seconds: float, label: str) -> None:
        """Count `seconds` of the planned time as done; `label` says what runs now."""
        if self._bar is not None:
            self._bar.update(self._task, advance=seconds, description=label)

    def extend(self, seconds: float) -> None:
        """Add time to the plan (an adaptive run adds repetitions)."""
        if self._bar is not None:
            total = self._bar.tasks[0].total or 0.0
            self._bar.update(self._task, total=total + seconds)

    def close(self) -> None:
        """Remove the bar (the log lines stay)."""
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


@dataclass(frozen=True)
class Adaptive:
    """Repeat a workload until the energy-per-unit CI is within +-target_ci of the mean.

    After MLPerf Power's ranging run: repetitions continue past the suite's count until the
    95 % CI half-width is below the target, max_repetitions are done, or the repetitions
    have taken time_cap_s.
    """

    target_ci: float = 0.05
    max_repetitions: int = 30
    time_cap_s: float = 600.0


@dataclass
class SuiteRun:
    """What a suite run did: results written, workloads skipped, and whether it completed."""

    suite: Suite
    directory: Path
    results: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> disclosure
    reused: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # id -> reason
    interrupted: bool = False
    target_ci: float = 0.05


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
    adaptive: Adaptive | None = None,
    target_ci: float = DEFAULT_TARGET_CI,
) -> SuiteRun:
    """Run a suite; return what was done. Results go to out_dir/<suite>/<host>/.

    `target_ci` is the CI half-width (fraction of the mean) above which the summary flags a
    result; with `adaptive`, repetitions go on until the CI is within adaptive.target_ci.
    """
    if adaptive is not None:
        target_ci = adaptive.target_ci
    directory = Path(out_dir) / suite.id / host_id()
    directory.mkdir(parents=True, exist_ok=True)
    # Two runs of one suite into one folder would each re-run, and overwrite, the other's
    # workloads: the second is refused while the first is alive (DIR.lock, fcntl).
    with OutputClaim(directory):
        return _run_suite_claimed(
            suite,
            directory,
            target_ci=target_ci,
            force=force,
            site=site,
            standard=standard,
            cooldown_s=cooldown_s,
            repetitions=repetitions,
            min_duration_s=min_duration_s,
            interval_s=interval_s,
            probes=probes,
            stream=stream,
            workload_factory=workload_factory,
            adaptive=adaptive,
        )


def _run_suite_claimed(
    suite: Suite,
    directory: Path,
    *,
    target_ci: float,
    force: bool,
    site: Any,
    standard: Any,
    cooldown_s: float,
    repetitions: int | None,
    min_duration_s: float | None,
    interval_s: float,
    probes: Sequence[Probe] | None,
    stream: TextIO | None,
    workload_factory: Callable[..., Any],
    adaptive: Adaptive | None,
) -> SuiteRun:
    run = SuiteRun(suite, directory, target_ci=target_ci)
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
                progress.log(f"{suite.id}: idle power {units.si(idle.power_w, 'W')}")
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
                adaptive,
            )
            if doc is not None:
                run.results[spec.id] = doc
    except KeyboardInterrupt:
        run.interrupted = True
        progress.log(f"{suite.id}: interrupted; finished results are kept in {directory}")
    finally:
        progress.close()
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
    adaptive: Adaptive | None = None,
) -> dict[str, Any] | None:
    reps = repetitions or spec.repetitions
    window_s = spec.min_duration_s if min_duration_s is None else min_duration_s
    label = f"{suite.id}/{spec.id}"
    try:
        workload = factory(spec.kind, spec.params, spec.device)
        workload.setup()
    except WorkloadUnavailable as exc:
        run.skipped[spec.id] = str(exc)
        progress.log(f"{label}: skipped: {exc}")
        progress.advance(spec.warmup_s + reps * window_s, spec.id)
        return None
    unit = spec.unit or workload.unit
    plan = f"{reps} x >= {window_s:g} s ({unit})"
    if adaptive is not None:
        plan = (
            f"at least {reps} x >= {window_s:g} s ({unit}), more until the 95 % CI is within "
            f"±{adaptive.target_ci * 100:g} % (at most {adaptive.max_repetitions} "
            f"repetitions or {adaptive.time_cap_s:g} s)"
        )
    progress.log(f"{label}: warm-up {spec.warmup_s:g} s, then {plan}")
    progress.advance(0.0, f"{label} warm-up")
    deadline = time.monotonic() + spec.warmup_s
    while time.monotonic() < deadline:
        workload.step()
    workload.sync()
    progress.advance(spec.warmup_s, f"{label} rep 1")
    # what the run did: the workload's own benchmark id and phase, and what the suite adds
    own = {
        "workload": getattr(workload, "benchmark", None),
        "phase": getattr(workload, "phase", None),
    }
    work = {**{k: v for k, v in own.items() if v}, **spec.work}
    m = Meter(spec.task, unit, idle=idle, work=work, **meter_kwargs)
    per_rep: list[dict[str, float]] = []
    live: list[float] = []  # J/unit of each repetition, read live, for the adaptive stop
    stopped_by = None
    with m:
        started_reps = time.monotonic()
        r = 0
        while True:
            name = f"rep-{r + 1}"
            total = f"{reps}" if adaptive is None else f"{max(reps, r + 1)}+"
            units_before, energy_before = m.units_done, m.energy_j
            workload.sync()
            with m.phase(name):
                started = shown = time.monotonic()
                while True:
                    m.count(workload.step())
                    now = time.monotonic()
                    if now - shown >= 0.5:  # the bar moves while the window runs
                        progress.advance(now - shown, f"{label} rep {r + 1}/{total}")
                        shown = now
                    if now - started >= window_s:
                        break
                workload.sync()  # queued device work belongs to this window
            progress.advance(max(window_s - (shown - started), 0.0), f"{label} rep {r + 1}/{total}")
            done = m.units_done - units_before
            per_rep.append({"units": done})
            live.append((m.energy_j - energy_before) / done if done else float("nan"))
            r += 1
            if r < reps:
                continue
            if adaptive is None:
                break
            stopped_by = _adaptive_stop(adaptive, live, r, time.monotonic() - started_reps)
            if stopped_by is not None:
                break
            progress.extend(window_s)
        m.extra = {"repetitions": r}  # the rating checks the standard's minimum
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
    if adaptive is not None:
        block["adaptive"] = {
            "target_ci": adaptive.target_ci,
            "max_repetitions": adaptive.max_repetitions,
            "time_cap_s": adaptive.time_cap_s,
            "stopped_by": stopped_by,
        }
    from dataclasses import replace

    final = replace(result, extra={**result.extra, "benchmark": block})
    final.save(directory / f"{spec.id}.json")
    doc = json.loads(final.to_json())
    rating = doc.get("rating")
    energy = Summary.from_dict(block["energy_per_unit_j"])
    throughput = block["throughput_units_per_s"]["mean"]
    grade = (rating or {}).get("energy", {})
    progress.log(
        f"{label}: {format_energy_per_unit(energy, unit)}, "
        f"{units.rate_scale(throughput, unit)(throughput)}, "
        f"grade {grade.get('grade') or '-'}: {grade.get('verdict', 'not rated')}"
    )
    return doc


def _adaptive_stop(adaptive: Adaptive, live: list[float], reps: int, spent_s: float) -> str | None:
    """Return why an adaptive run stops now ('target', 'max repetitions', 'time cap'), or None."""
    finite = [v for v in live if math.isfinite(v)]
    if len(finite) >= 2 and not summarise(finite).wider_than(adaptive.target_ci):
        return "target"
    if reps >= adaptive.max_repetitions:
        return "max repetitions"
    if spent_s >= adaptive.time_cap_s:
        return "time cap"
    return None


def format_energy_per_unit(energy: Summary, unit: str | None) -> str:
    """Return '85.3 J/TFLOP ±2.5 % (95 % CI 83.2-87.5, n=3)' for a summary of J per unit."""
    scale = units.energy_per_unit_scale(energy.mean, unit)
    return units.with_ci(scale, energy.mean, energy.ci95_low, energy.ci95_high, energy.n)


def summary_rows(
    results: dict[str, dict[str, Any]], target_ci: float = DEFAULT_TARGET_CI
) -> list[dict[str, Any]]:
    """Return one flat row per workload result (for summary.json and the summary report)."""
    rows = []
    for wid, doc in results.items():
        b = doc.get("benchmark", {})
        rating = doc.get("rating") or {}
        energy = b.get("energy_per_unit_j")
        try:
            wide = Summary.from_dict(energy).wider_than(target_ci)
        except (KeyError, TypeError, ValueError):
            wide = True  # no readable interval is no evidence of a narrow one
        rows.append(
            {
                "workload": wid,
                "task": doc.get("task"),
                "unit": doc.get("unit"),
                "host": (doc.get("host") or {}).get("hostname"),
                "provenance": doc.get("provenance"),
                "energy_per_unit_j": energy,
                "throughput_units_per_s": b.get("throughput_units_per_s"),
                "ci_wider_than_target": wide,
                "energy_j": doc.get("energy_j"),
                "duration_s": doc.get("duration_s"),
                "water_l": ((doc.get("footprint") or {}).get("water_l") or {}).get("total"),
                "carbon_g": (doc.get("footprint") or {}).get("carbon_g"),
                "energy_grade": (rating.get("energy") or {}).get("grade"),
                "water_grade": (rating.get("water") or {}).get("grade"),
                "verdict": (rating.get("energy") or {}).get("verdict"),
                "file": f"{wid}.json",
            }
        )
    return rows


def gradability(results: dict[str, dict[str, Any]]) -> str | None:
    """Return one line on what would make ungraded results gradable here (None: all graded)."""
    reasons: dict[str, list[str]] = {}
    unavailable: dict[str, str] = {}
    for wid, doc in results.items():
        energy = (doc.get("rating") or {}).get("energy") or {}
        if energy.get("grade"):
            continue
        for reason in energy.get("reasons") or ["not rated"]:
            reasons.setdefault(str(reason), []).append(wid)
        for u in doc.get("probes_unavailable") or []:
            if isinstance(u, dict):
                unavailable.setdefault(str(u.get("probe")), str(u.get("reason")))
    if not reasons:
        return None
    modelled = sorted({w for r, ws in reasons.items() if "modelled" in r for w in ws})
    if modelled:
        why = unavailable.get("rapl")
        return (
            f"not graded: energy is modelled, not measured ({', '.join(modelled)})"
            + (f": RAPL: {why}" if why else "")
            + ". Grades need a hardware counter: run where RAPL energy_uj is readable "
            "(root, or chmod o+r /sys/class/powercap/intel-rapl:*/energy_uj) or an NVIDIA "
            "GPU does the work."
        )
    first = sorted(reasons.items(), key=lambda kv: -len(kv[1]))
    return "not graded: " + "; ".join(f"{', '.join(ws)}: {r}" for r, ws in first)


def write_summary(run: SuiteRun) -> Path:
    """Write summary.json and summary.html for a suite run; return the JSON path."""
    from greenai.report.bench import summary_html

    rows = summary_rows(run.results, run.target_ci)
    summary = {
        "kind": "greenai.bench-summary",
        "suite": run.suite.id,
        "host": host_id(),
        "complete": not run.interrupted
        and len(run.results) + len(run.skipped) == len(run.suite.workloads),
        "target_ci": run.target_ci,
        "workloads": rows,
        "skipped": [{"workload": k, "reason": v} for k, v in run.skipped.items()],
        "wide_ci": [r["workload"] for r in rows if r["ci_wider_than_target"]],
        "gradability": gradability(run.results),
    }
    path = run.directory / "summary.json"
    write_atomic(path, json.dumps(summary, indent=2, allow_nan=False) + "\n")
    write_atomic(run.directory / "summary.html", summary_html({host_id(): summary}))
    return path


def summary_table(rows: list[dict[str, Any]]) -> list[str]:
    """Return the suite summary as text, one line per workload: energy per unit with its CI,
    total energy, duration, water, carbon, and the grade or why there is none."""
    lines = []
    for r in rows:
        e = r.get("energy_per_unit_j")
        try:
            per = format_energy_per_unit(Summary.from_dict(e), r.get("unit")) if e else None
        except (KeyError, TypeError, ValueError):
            per = None
        grade = r.get("energy_grade")
        lines.append(
            f"{r['workload']}: {per or 'no energy per unit'}; "
            f"energy {units.si(r.get('energy_j'), 'J')}"
            f" in {units.duration(r.get('duration_s'))}, water {units.si(r.get('water_l'), 'L')}, "
            f"carbon {units.si(r.get('carbon_g'), 'g CO2e')}; "
            + (f"grade {grade}" if grade else f"no grade: {r.get('verdict') or 'not rated'}")
        )
    return lines


def summary_notes(run: SuiteRun) -> list[str]:
    """Return the lines printed after a suite: results with a wide CI, what would grade."""
    notes = []
    target = f"±{run.target_ci * 100:g} %"
    for row in summary_rows(run.results, run.target_ci):
        if row["ci_wider_than_target"]:
            e = row["energy_per_unit_j"]
            shown = format_energy_per_unit(Summary.from_dict(e), row["unit"]) if e else "no CI"
            notes.append(
                f"flag: {row['workload']}: {shown} is wider than the {target} target "
                "(more repetitions, or --adaptive)"
            )
    hint = gradability(run.results)
    if hint:
        notes.append(hint)
    return notes


def load_results(folders: Sequence[str | Path]) -> ResultSets:
    """Return {label: summary} for every summary.json under the given folders (recursively).

    Every result set is kept: a label is "host (suite)", and a host name seen again (a
    before/after on one machine, two VMs both called `vm`) gets "host (2) (suite)" and so on,
    in the order the folders were given. Only a true duplicate, a file with the same
    SHA-256 as one already read (the same folder given twice, a copy), is read once; it is
    listed in the result's `duplicates` with the label it repeats.
    """
    import hashlib

    summaries: dict[str, dict[str, Any]] = {}
    seen: dict[str, str] = {}  # sha256 of the file -> label
    dropped: list[tuple[str, str]] = []
    for folder in folders:
        for path in sorted(Path(folder).rglob("summary.json")):
            try:
                doc = jsonio.read(path)
                raw = path.read_bytes()  # its SHA-256 tells a copy from another result set
            except jsonio.JSONInputError as exc:
                raise DisclosureError(f"cannot read summary: {exc}") from exc
            except OSError as exc:
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
            digest = hashlib.sha256(raw).hexdigest()
            if digest in seen:
                dropped.append((str(path), seen[digest]))
                continue
            host, suite = doc.get("host"), doc.get("suite")
            key, n = f"{host} ({suite})", 1
            while key in summaries:
                n += 1
                key = f"{host} ({n}) ({suite})"
            seen[digest] = key
            summaries[key] = {**doc, "directory": str(path.parent), "sha256": digest}
    return ResultSets(summaries, duplicates=dropped)


class ResultSets(dict):
    """{label: summary} as load_results read them; `duplicates` lists (path, label it
    repeats) for each summary.json that was the same file as one already read."""

    def __init__(self, items: dict[str, dict[str, Any]], duplicates: list[tuple[str, str]]):
        super().__init__(items)
        self.duplicates = list(duplicates)
