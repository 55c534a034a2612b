"""Populations of disclosures, and grade bands derived from them.

    population = load_population("reports/")                  # result JSON files, recursively
    population = load_population("results.csv")               # or a table
    draft = calibrate(population, load_standard(), method="quantile", n_bands=5)
    Path("draft-2027.toml").write_text(draft.to_toml())

Per task class, band edges are the population's index quantiles (each grade then holds
about 1/n_bands of the results, as the AI Energy Score's fifths) or equal widths on the log
index between the smallest and largest result. A class with fewer results than
min_population keeps its bands and is listed as refused in the new file.
"""

from __future__ import annotations

import csv
import math
import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

from greenai import jsonio
from greenai.errors import DisclosureError, GreenAIWarning, StandardError
from greenai.scoring import PROVENANCE_CODES, Population, RatingInput, rate_many
from greenai.standard import (
    CALIBRATION_METHODS,
    DOMAINS,
    GRADES,
    MIN_GRADES,
    Bands,
    Calibration,
    Requirements,
    Standard,
    TaskClass,
    parse_standard,
)
from greenai.work import Work

DEFAULT_MIN_POPULATION = 30
EDGE_DIGITS = 6  # significant digits kept in a derived band edge
# The relative uncertainty (95 %) of a figure when its population discloses none: third-party
# tables publish no confidence interval, and a metered run without repetitions has none. 5 %
# is the stated measurement uncertainty assumed for both (MLPerf Power itself asks <= 1 % of
# the power analyser alone; a leaderboard's run-to-run spread is larger).
DEFAULT_UNCERTAINTY = 0.05

# Columns of a population table (CSV); per domain also <domain>_provenance, <domain>_complete.
TABLE_COLUMNS = (
    "label",
    "task",
    "unit",
    "units_done",
    "energy_j",
    "duration_s",
    "sampling_interval_s",
    "idle_baseline",
    "repetitions",
    "status",
    "water_l",
)
# What each run did (greenai.work.Work), optional columns of a population table.
WORK_COLUMNS = (
    "workload",
    "dataset",
    "split",
    "model",
    "params",
    "quality_metric",
    "quality",
    "phase",
)
_REQUIRED_COLUMNS = ("task", "units_done", "energy_j", "duration_s")


class CalibrationError(StandardError):
    """Bands cannot be derived from the population given (too few results, no spread)."""


# ----------------------------------------------------------------------- reading
def load_population(
    source: str | os.PathLike[str] | Sequence[Any] | Mapping[str, Any] | Any,
) -> Population:
    """Return the population in a folder of result JSON files (recursively), a file, or a table.

    `source` is a folder, a .json file (one disclosure or a list of them), a .csv table
    (TABLE_COLUMNS), a list of those, or columns in memory (a mapping of name -> values or a
    pandas DataFrame). Files that are not readable disclosures are skipped and listed in
    Population.skipped, so one bad file does not stop a calibration.
    """
    if isinstance(source, (str, os.PathLike)):
        return _from_path(Path(source))
    if isinstance(source, Mapping) or hasattr(source, "columns"):
        return population_from_columns(source)
    if isinstance(source, Sequence) and source and all(_is_json_source(i) for i in source):
        # folders and .json files read together, so a result given twice is counted once
        files = [
            f
            for item in map(Path, source)
            for f in (
                sorted(p for p in item.rglob("*.json") if p.is_file()) if item.is_dir() else [item]
            )
        ]
        return _from_json_files(files)
    if isinstance(source, Sequence):
        inputs: list[RatingInput] = []
        labels: list[str] = []
        skipped: list[str] = []
        for item in source:
            if isinstance(item, RatingInput):
                inputs.append(item)
                labels.append(f"#{len(labels)}")
                continue
            part = load_population(item)
            inputs.extend(part.input(i) for i in range(len(part)))
            labels.extend(part.label(i) for i in range(len(part)))
            skipped.extend(part.skipped)
        return Population.from_inputs(inputs, labels, skipped)
    raise TypeError(f"cannot read a population from {type(source).__name__}")


def _is_json_source(item: Any) -> bool:
    """Return True for a folder or a .json file (what _from_json_files reads)."""
    if not isinstance(item, (str, os.PathLike)):
        return False
    path = Path(item)
    return path.is_dir() or (path.is_file() and path.suffix.lower() == ".json")


def _from_path(path: Path) -> Population:
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.json") if p.is_file())
        return _from_json_files(files)
    if not path.is_file():
        raise DisclosureError(f"{path}: no such file or folder")
    if path.suffix.lower() == ".jsonl":  # one document per line (greenai import table)
        from greenai.population import load

        results = load(path)
        population = Population.from_disclosures(results.docs, results.labels, skip_invalid=True)
        return replace(population, skipped=(*results.skipped, *population.skipped))
    if path.suffix.lower() == ".csv":
        try:
            with path.open(newline="", encoding="utf-8") as fh:
                rows = list(csv.DictReader(fh))
        except UnicodeDecodeError as exc:
            raise DisclosureError(f"{path}: not UTF-8 text (byte {exc.start})") from None
        except csv.Error as exc:
            raise DisclosureError(f"{path}: not a readable CSV table: {exc}") from None
        if any(None in row or None in row.values() for row in rows):
            raise DisclosureError(f"{path}: a row has more or fewer cells than the header")
        columns = {key: [row[key] for row in rows] for key in (rows[0] if rows else {})}
        return population_from_columns(columns, source=str(path))
    return _from_json_files([path])


_NOT_RATED = frozenset({"timeline", "devices", "phases", "probes_unavailable", "benchmark"})


def _from_json_files(files: Iterable[Path]) -> Population:
    docs: list[Any] = []
    labels: list[str] = []
    unreadable: list[str] = []
    for path in files:
        try:
            doc = jsonio.read(path)
        except jsonio.JSONInputError as exc:
            reason = str(exc).removeprefix(f"{path}: ")
            unreadable.append(f"{path}: not readable JSON ({reason})")
            continue
        if isinstance(doc, dict) and doc.get("kind") == "greenai.bench-summary":
            continue  # a suite's summary sits beside its disclosures; it is not one
        parts = doc if isinstance(doc, list) else [doc]
        # Keep what rating reads, not the timeline and per-device detail (~100 KB a run).
        docs.extend(
            {k: v for k, v in part.items() if k not in _NOT_RATED}
            if isinstance(part, dict)
            else part
            for part in parts
        )
        labels.extend(str(path) if len(parts) == 1 else f"{path}[{n}]" for n in range(len(parts)))
    from greenai.disclosure import drop_duplicates

    docs, labels, repeats = drop_duplicates(docs, labels)  # a copy is one result, said once
    population = Population.from_disclosures(docs, labels, skip_invalid=True)
    return replace(population, skipped=(*unreadable, *repeats, *population.skipped))


def population_from_columns(columns: Mapping[str, Any] | Any, source: str = "table") -> Population:
    """Return the population in columns (TABLE_COLUMNS; a mapping or a pandas DataFrame).

    Values may be strings, as read from a CSV file; empty cells mean "not disclosed".
    """
    import numpy as np

    if hasattr(columns, "columns") and not isinstance(columns, Mapping):
        columns = {str(c): columns[c].tolist() for c in columns.columns}
    for key in _REQUIRED_COLUMNS:
        if key not in columns:
            raise DisclosureError(
                f"{source}: column {key!r} missing (required: {', '.join(_REQUIRED_COLUMNS)})"
            )
    n = len(columns["energy_j"])

    def column(key: str, default: Any = None) -> list[Any]:
        values = list(columns.get(key, [default] * n))
        if len(values) != n:
            raise DisclosureError(f"{source}: column {key!r} has {len(values)} rows, not {n}")
        return [default if _blank(v) else v for v in values]

    def numbers(key: str, default: float = math.nan) -> np.ndarray:
        try:
            values = np.array([float(v) for v in column(key, default)], dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise DisclosureError(f"{source}: column {key!r}: {exc}") from None
        if (values < 0).any():
            raise DisclosureError(f"{source}: column {key!r}: negative value")
        return values

    for key in ("units_done", "energy_j", "duration_s"):
        if np.isnan(numbers(key)).any():
            raise DisclosureError(f"{source}: column {key!r}: empty or NaN cells")
    provenance = {}
    complete = {}
    codes = {**PROVENANCE_CODES, None: 0}
    for d in DOMAINS:
        values = column(f"{d}_provenance")
        bad = {v for v in values if v not in codes}
        if bad:
            raise DisclosureError(
                f"{source}: column {d}_provenance: {sorted(map(str, bad))} "
                f"not in {sorted(PROVENANCE_CODES)}"
            )
        provenance[d] = np.array([codes[v] for v in values], dtype=np.int8)
        complete[d] = np.array([_truth(v) for v in column(f"{d}_complete", True)], dtype=bool)
    labels = column("label")
    work = _work_columns(column, n, source)
    return Population(
        task=np.array([None if v is None else str(v) for v in column("task")], dtype=object),
        unit=np.array([None if v is None else str(v) for v in column("unit")], dtype=object),
        units_done=numbers("units_done"),
        energy_j=numbers("energy_j"),
        duration_s=numbers("duration_s"),
        sampling_interval_s=numbers("sampling_interval_s"),
        idle_baseline=np.array([_truth(v) for v in column("idle_baseline", False)], dtype=bool),
        repetitions=np.array([int(float(v)) for v in column("repetitions", 1)], dtype=np.int64),
        status=np.array([str(v) for v in column("status", "ok")], dtype=object),
        water_l=numbers("water_l"),
        provenance=provenance,
        complete=complete,
        labels=tuple(str(v) if v is not None else f"{source}#{i}" for i, v in enumerate(labels)),
        work=work,
    )


def _work_columns(column: Any, n: int, source: str) -> tuple[Work, ...]:
    """Return each row's Work from the optional WORK_COLUMNS (blank cells: not disclosed)."""
    cells = {key: column(key) for key in WORK_COLUMNS}
    out = []
    for i in range(n):
        row = {k: v[i] for k, v in cells.items() if v[i] is not None}
        for key in ("params", "quality"):
            if key in row:
                try:
                    row[key] = float(row[key])
                except (TypeError, ValueError):
                    raise DisclosureError(
                        f"{source}: column {key!r}, row {i + 1}: {row[key]!r} is not a number"
                    ) from None
        out.append(
            Work.from_dict(
                {k: v if k in ("params", "quality") else str(v) for k, v in row.items()},
                f"{source} row {i + 1}",
            )
        )
    return tuple(out)


def save_population_csv(population: Population, path: str | os.PathLike[str]) -> Path:
    """Write a population as a CSV table that load_population reads back; return the path."""
    names = {code: name for name, code in PROVENANCE_CODES.items()}
    header = [
        *TABLE_COLUMNS,
        *(f"{d}_provenance" for d in DOMAINS),
        *(f"{d}_complete" for d in DOMAINS),
        *WORK_COLUMNS,
    ]
    out = Path(path)
    with out.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        for i in range(len(population)):
            interval = float(population.sampling_interval_s[i])
            water = float(population.water_l[i])
            writer.writerow(
                [
                    population.label(i),
                    population.task[i] or "",
                    population.unit[i] or "",
                    repr(float(population.units_done[i])),
                    repr(float(population.energy_j[i])),
                    repr(float(population.duration_s[i])),
                    "" if math.isnan(interval) else repr(interval),
                    "true" if population.idle_baseline[i] else "false",
                    int(population.repetitions[i]),
                    population.status[i],
                    "" if math.isnan(water) else repr(water),
                    *(names.get(int(population.provenance[d][i]), "") for d in DOMAINS),
                    *("true" if population.complete[d][i] else "false" for d in DOMAINS),
                    *_work_cells(population.work_of(i)),
                ]
            )
    return out


def _work_cells(work: Work) -> list[str]:
    values = [getattr(work, key) for key in WORK_COLUMNS]
    return ["" if v is None else repr(v) if isinstance(v, float) else str(v) for v in values]


def _blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _truth(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "y", "t")
    return bool(value)


# ----------------------------------------------------------------------- calibration
def calibrate(
    population: Population,
    std: Standard,
    method: str = "quantile",
    n_bands: int = len(GRADES),
    min_population: int = DEFAULT_MIN_POPULATION,
    *,
    tasks: Iterable[str] | None = None,
    conformant_only: bool = True,
    new_id: str | None = None,
    new_version: str | None = None,
    on: str | None = None,
    source: str = "",
    relax: bool = False,
    uncertainty: float | None = None,
    report: list[ClassReport] | None = None,
) -> Standard:
    """Return a new draft standard whose band edges are derived from `population`, per class.

    method is "quantile" (each grade holds ~1/n_bands of the class's results) or
    "log-equal" (equal widths on the log index between its smallest and largest result).
    Only results that meet the requirements of `std` count unless conformant_only is False.
    Classes with fewer than min_population results keep their bands and are listed as
    refused; CalibrationError when none can be calibrated, or when a class named in `tasks`
    has too few. "equal-range" divides the range between the smallest and largest index into
    n_bands equal sections (the AI Energy Score's stars: five 20 % sections of the energy
    range, within a size class).

    No band is narrower than the population's uncertainty (`uncertainty`, relative, 95 %; by
    default the median disclosed CI of the results, else DEFAULT_UNCERTAINTY): adjacent bands
    that noise cannot separate are merged, and the class's report says so.

    Requirements are never changed unless `relax`: then a class whose results are all
    third-party figures (imported tables) is calibrated on them with third_party_requirements,
    so its grades rank such figures among themselves. A class mixing them with greenai results
    is refused. `on` is the calibration date (ISO; default today). References and sources are
    carried over. `report`, when given, receives one ClassReport per class (the CLI's table).
    """
    import numpy as np

    if method not in CALIBRATION_METHODS:
        raise ValueError(f"method must be one of {CALIBRATION_METHODS}, not {method!r}")
    if not MIN_GRADES <= n_bands <= len(GRADES):
        raise ValueError(
            f"n_bands must be {MIN_GRADES} to {len(GRADES)} (grades A-G), not {n_bands}"
        )
    if min_population < n_bands:
        raise ValueError(f"min_population ({min_population}) must be at least n_bands ({n_bands})")
    on = on or date.today().isoformat()
    wanted = None
    if tasks is not None:
        wanted = []
        for name in tasks:
            task = std.task_class(name)
            if task is None:
                raise CalibrationError(f"task {name!r} is not a task class of {std.id}")
            wanted.append(task.id)
    if uncertainty is not None and not 0 <= uncertainty < 1:
        raise ValueError(f"uncertainty must be a fraction in [0, 1), not {uncertainty!r}")
    third = _third_party_rows(population)
    if relax:
        std, refused = _third_party_classes(population, std)
    else:
        refused = []
    table = rate_many(population, std)
    changed: dict[str, TaskClass] = {}
    calibrated: list[str] = []
    reports: list[ClassReport] = []
    for task in std.rating_classes():
        if wanted is not None and task.id not in wanted and task.parent not in wanted:
            continue
        in_class = table.task == task.id
        n_results = int(in_class.sum())
        if task.sizes:  # a sized task grades nothing itself: its size classes do
            if n_results:
                why = "model size not disclosed or outside every size class"
                refused.append(f"{task.id}: {n_results} results not in a size class ({why})")
            reports.append(ClassReport(task.id, n_results, 0, None, "rated in its size classes"))
            continue
        mixed = [r for r in refused if r.startswith(f"{task.id}: mixes")]
        if mixed:
            if wanted is not None:
                raise CalibrationError(f"cannot calibrate {mixed[0]}")
            reports.append(ClassReport(task.id, n_results, 0, None, mixed[0].split(": ", 1)[1]))
            continue
        n_third = int((third & in_class).sum())
        changes: dict[str, Bands] = {}
        notes: list[str] = []
        n_conformant = int((in_class & (table.energy_reasons == 0)).sum())
        for kind, index, reasons in (
            ("energy", table.energy_index, table.energy_reasons),
            ("water", table.water_index, table.water_reasons),
        ):
            usable = in_class & np.isfinite(index) & (index > 0)
            if conformant_only:
                usable &= reasons == 0
            values = index[usable]
            label = task.id if kind == "energy" else f"{task.id} (water)"
            problem = _too_few(values, min_population, method, conformant_only)
            if problem and n_third and not relax and kind == "energy":
                problem += (
                    f": {n_third} third-party figures cannot meet its requirements "
                    "(--relax calibrates on them under the requirements they can meet)"
                )
            if problem:
                if wanted is not None and kind == "energy":
                    raise CalibrationError(f"cannot calibrate {task.id}: {problem}")
                if n_results:  # classes without any result share one entry (below)
                    refused.append(f"{label}: {problem}")
                if kind == "energy":
                    notes.append(problem)
                continue
            u, u_source = _uncertainty(population, usable, uncertainty, n_third)
            edges = _edges(values, method, n_bands)
            kept, merged = merge_noisy_bands(edges, u)
            if merged:
                note = (
                    f"{kind}: {merged} adjacent band(s) narrower than the uncertainty "
                    f"(±{u * 100:g} %, {u_source}) merged: {len(kept) + 1} grades, not {n_bands}"
                )
                notes.append(note)
                warnings.warn(
                    f"greenai: calibrating {task.id}: {note}", GreenAIWarning, stacklevel=2
                )
            changes["bands" if kind == "energy" else "water_bands"] = Bands.from_edges(
                kept, method=method, population=int(values.size), on=on
            )
            calibrated.append(label)
        if changes:
            # water bands the class shared with its energy bands stay as they were
            changes.setdefault("water_bands", task.water_bands)
            changed[task.id] = replace(task, **changes)
        reports.append(
            ClassReport(
                task.id,
                n_results,
                n_conformant,
                changes.get("bands"),
                "; ".join(notes) or "calibrated",
            )
        )
    empty_classes = [r.task for r in reports if not r.results]
    if empty_classes:
        refused.append(f"no results: {', '.join(empty_classes)}")
    if report is not None:
        report.extend(reports)
    new_tasks = _with_classes(std, changed)
    if not calibrated:
        with_results = [r for r in reports if r.results]
        empty = len(reports) - len(with_results)
        why = [f"{r.task}: {r.note}" for r in with_results]
        if empty:
            why.append(f"{empty} other class(es) have no results")
        raise CalibrationError(
            f"no task class could be calibrated from {len(population)} results: " + "; ".join(why)
        )
    draft = replace(
        std,
        id=new_id or f"{std.id}-calibrated",
        version=new_version or std.version,
        status="draft",
        date=on,
        tasks=new_tasks,
        calibration=Calibration(
            method=method,
            date=on,
            population=len(population),
            min_population=min_population,
            n_bands=n_bands,
            calibrated=tuple(calibrated),
            refused=tuple(refused),
            source=source,
        ),
        path=None,
    )
    # the file form is the product: make sure it reads back as the same standard
    return replace(parse_standard(draft.to_toml(), source=f"<calibrated {draft.id}>"), path=None)


@dataclass(frozen=True)
class ClassReport:
    """One class in a calibration: its results, conformant ones, new bands (None: not
    calibrated) and, in a few words, what happened (why not, or which bands were merged)."""

    task: str
    results: int
    conformant: int
    bands: Bands | None
    note: str


def merge_noisy_bands(edges: Sequence[float], uncertainty: float) -> tuple[list[float], int]:
    """Return the edges with every inner band at least as wide as the uncertainty, and how
    many bands were merged.

    A band [a, b) is too narrow when b / a < (1 + u) / (1 - u): an index known to ±u (95 %)
    at its lower edge could lie at its upper edge, so noise cannot tell its results from its
    neighbours'. Such a band is merged with the band above it (the edge between them goes).
    """
    if uncertainty <= 0 or not edges:
        return list(edges), 0
    ratio = (1 + uncertainty) / (1 - uncertainty)
    kept = [float(edges[0])]
    for edge in edges[1:]:
        if edge / kept[-1] < ratio:
            continue
        kept.append(float(edge))
    return kept, len(edges) - len(kept)


def _uncertainty(
    population: Population, rows: Any, stated: float | None, n_third: int
) -> tuple[float, str]:
    """Return (relative 95 % uncertainty, where it comes from) of the results in `rows`."""
    import numpy as np

    if stated is not None:
        return stated, "stated"
    ci = population.energy_ci_rel[rows] if len(population.energy_ci_rel) else np.array([])
    ci = ci[np.isfinite(ci)]
    if ci.size:
        return float(np.median(ci)), f"median disclosed 95 % CI of {ci.size} results"
    if n_third:
        return DEFAULT_UNCERTAINTY, "stated uncertainty of third-party figures, which publish none"
    return DEFAULT_UNCERTAINTY, "assumed: the results disclose no CI"


def _third_party_rows(population: Population) -> Any:
    import numpy as np

    code = PROVENANCE_CODES["third-party"]
    return np.logical_or.reduce([population.provenance[d] == code for d in DOMAINS])


def _with_classes(std: Standard, changed: Mapping[str, TaskClass]) -> dict[str, TaskClass]:
    """Return std's tasks with the changed classes (size classes put back in their task)."""
    tasks = dict(std.tasks)
    for task_id, task in std.tasks.items():
        sizes = tuple(changed.get(s.id, s) for s in task.sizes)
        tasks[task_id] = replace(changed.get(task_id, task), sizes=sizes)
    return tasks


def third_party_requirements(domains: Iterable[str]) -> Requirements:
    """Return the requirements a class calibrated on third-party figures grades them by.

    A published table can meet no greenai measurement requirement (no window, no sampling
    interval, GPU only): its figures are graded only among figures of the same kind, so
    the class requires the domains the source measured and accepts its provenance.
    """
    return Requirements(
        min_duration_s=0.0,
        max_sampling_interval_s=math.inf,
        required_domains=tuple(domains),
        measured_domains=(),
        idle_baseline=False,
        min_repetitions=1,
        third_party=True,
    )


def _third_party_classes(population: Population, std: Standard) -> tuple[Standard, list[str]]:
    """Return std with third-party requirements in each class whose results are all
    third-party figures, and the classes refused for mixing them with greenai results."""
    import numpy as np

    third_code = PROVENANCE_CODES["third-party"]
    third = {d: population.provenance[d] == third_code for d in DOMAINS}
    any_third = np.logical_or.reduce(list(third.values()))
    if not any_third.any():
        return std, []
    task_of = rate_many(population, std).task
    changed: dict[str, TaskClass] = {}
    refused = []
    for task in std.rating_classes():
        in_class = task_of == task.id
        n_third, n_all = int((any_third & in_class).sum()), int(in_class.sum())
        if n_third == 0 or task.sizes:
            continue
        if n_third < n_all:
            refused.append(
                f"{task.id}: mixes {n_third} third-party figures with {n_all - n_third} greenai "
                "results, which are not comparable (calibrate them apart)"
            )
            continue
        domains = [d for d in DOMAINS if third[d][in_class].all()]
        changed[task.id] = replace(task, requirements=third_party_requirements(domains))
    return replace(std, tasks=_with_classes(std, changed)), refused


def _too_few(values: Any, min_population: int, method: str, conformant_only: bool) -> str | None:
    which = "conformant results" if conformant_only else "results"
    if values.size < min_population:
        return f"{values.size} {which} < {min_population} minimum"
    if method in ("log-equal", "equal-range") and values.min() == values.max():
        return f"all {values.size} {which} have the same index"
    return None


def _edges(values: Any, method: str, n_bands: int) -> list[float]:
    """Return n_bands - 1 strictly increasing positive edges for the index values."""
    import numpy as np

    if method == "quantile":
        raw = np.quantile(values, np.arange(1, n_bands) / n_bands)
    elif method == "equal-range":  # the AI Energy Score: equal sections of the range
        raw = np.linspace(values.min(), values.max(), n_bands + 1)[1:-1]
    else:
        raw = np.geomspace(values.min(), values.max(), n_bands + 1)[1:-1]
    edges: list[float] = []
    for value in raw.tolist():
        edge = float(f"{value:.{EDGE_DIGITS}g}")
        floor = edges[-1] if edges else 0.0
        if edge <= floor:  # ties in the population, or rounding, would leave an empty band
            edge = float(np.nextafter(floor, math.inf))
        edges.append(edge)
    return edges


# ----------------------------------------------------------------------- writing
def calibrated_toml(draft: Standard, base_text: str) -> str:
    """Return the source standard's text with the draft's calibration written into it.

    The drafter's file is edited in place (tomlkit), not rewritten: its comments, order and
    layout stay; what calibration changed is replaced: the [standard] head, each calibrated
    class's bands (and requirements, where --relax changed them), and [calibration]. The
    result reads back as `draft` (checked).
    """
    import tomlkit

    from greenai.standard import _date, _requirement_items, _Writer

    doc = tomlkit.parse(base_text)
    writer = _Writer(draft)
    head = doc["standard"]
    for key in ("id", "version", "status"):
        head[key] = getattr(draft, key)
    head["date"] = _date(draft.date)
    for task in draft.rating_classes():
        table = _class_table(doc, task)
        if table is None:
            continue
        if task.bands.method != "manual":
            table["bands"] = writer._bands(task.bands)
        if task.parent is None:
            derived = draft.water_bands or task.bands
        else:
            parent = draft.tasks[task.parent]
            derived = parent.water_bands if parent.water_bands != parent.bands else task.bands
        if task.water_bands != derived or (
            "water_bands" in table and task.water_bands.method != "manual"
        ):
            table["water_bands"] = writer._bands(task.water_bands)
        base = _requirement_items(draft.requirements)
        if task.parent is not None:
            base = _requirement_items(draft.tasks[task.parent].requirements)
        own = [
            i for i, b in zip(_requirement_items(task.requirements), base, strict=True) if i != b
        ]
        if own and task.requirements.third_party:  # set by --relax only
            table["requirements"] = writer._table(own)
    cal = draft.calibration
    if cal is not None:
        if "calibration" in doc:
            del doc["calibration"]
        doc.add("calibration", writer.calibration_table(cal))
    text = tomlkit.dumps(doc)
    again = parse_standard(text, source=f"<calibrated {draft.id}>")
    if replace(again, path=None) != replace(draft, path=None):
        raise CalibrationError(
            f"the calibrated file of {draft.id} does not read back as calibrated "
            "(a greenai bug): write it with Standard.to_toml() instead"
        )
    return text


def _class_table(doc: Any, task: TaskClass) -> Any:
    """Return the TOML table of a class in a parsed standard (a size class's [[sizes]] entry)."""
    tasks = doc.get("tasks", {})
    if task.parent is None:
        return tasks.get(task.id)
    size_id = task.size.id if task.size else None
    for entry in tasks.get(task.parent, {}).get("sizes", []):
        if entry.get("id") == size_id:
            return entry
    return None
