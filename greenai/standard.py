"""Efficiency standards: versioned TOML files of task classes, references, bands, requirements.

    std = load_standard()                       # the default shipped standard, greenai-2026.1
    std = load_standard("drafts/my-2027.toml")  # a drafter's file
    task = std.task_class("text_generation")    # by id or alias, spelling normalised
    text = std.to_toml()                        # the file form (calibration writes it)

The file format is documented for drafters in standards/README.md. Every problem found in
a file raises StandardFileError naming the file, the key path, the line where the key is
(when it can be found) and what to do about it.
"""

from __future__ import annotations

import bisect
import functools
import json
import math
import os
import re
import stat
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NoReturn

from greenai import textfile, units
from greenai._resources import standards_dir
from greenai.errors import StandardError

DEFAULT_STANDARD = "greenai-2026.3"
STATUSES = ("draft", "adopted")
GRADES = ("A", "B", "C", "D", "E", "F", "G")
MIN_GRADES = 2
DOMAINS = ("cpu", "dram", "gpu", "system")
CALIBRATION_METHODS = ("quantile", "log-equal", "equal-range")
PHASES = ("training", "inference")
# A class grades an index only inside [low, high]: outside it the run did not do the same
# kind of work as the reference (a toy kernel rated against a real model, a training loop
# under an inference class). 1/100 to 100 times the reference unless a class says otherwise.
DEFAULT_PLAUSIBLE = (0.01, 100.0)
BAND_METHODS = ("manual", *CALIBRATION_METHODS)

# Functional units a standard may rate per, with the plural a run may count them under.
FUNCTIONAL_UNITS = {
    "query": "queries",
    "token": "tokens",
    "sample": "samples",
    "image": "images",
    "clip": "clips",
    "request": "requests",
    "step": "steps",
    "gflop": "gflops",
    "pflop": "pflops",
    "run": "runs",  # one training run to a fixed quality target (MLPerf Training)
}
_SINGULAR = {plural: unit for unit, plural in FUNCTIONAL_UNITS.items()}

_ID_RE = re.compile(r"[a-z0-9][a-z0-9._-]*")
_TASK_ID_RE = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
_VERSION_RE = re.compile(r"\d+(\.\d+)+")
_BARE_KEY_RE = re.compile(r"[A-Za-z0-9_-]+")
_RATE_UNIT_RE = re.compile(
    r"\s*(?P<quantity>[^/\s]+)\s*/\s*(?:(?P<count>[0-9][0-9_.eE+-]*)\s+)?(?P<unit>[A-Za-z-]+)\s*"
)


def canonical_unit(name: str | None) -> str | None:
    """Return the functional unit that `name` counts ('queries' -> 'query'), None if unknown."""
    if name is None:
        return None
    key = name.strip().lower()
    return key if key in FUNCTIONAL_UNITS else _SINGULAR.get(key)


def normalise_task(name: str) -> str:
    """Return a task name as standards spell ids: lower case, words joined by hyphens."""
    return re.sub(r"[\s_]+", "-", re.sub(r"\s*/\s*", "/", name.strip().lower()))


class StandardFileError(StandardError):
    """A standard file is malformed: says which file, key path, line, problem and fix."""

    def __init__(self, path: str, key: str, line: int | None, problem: str, fix: str):
        self.path = path
        self.key = key
        self.line = line
        self.problem = problem
        self.fix = fix
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {key + ': ' if key else ''}{problem}. Fix: {fix}")


# ----------------------------------------------------------------------- values
@dataclass(frozen=True)
class Reference:
    """A reference value, as the file states it and converted to one counted unit.

    per_unit is J (energy) or L (water) per one counted unit. derived is True for a
    water reference computed from the energy reference and the reference site.
    """

    per_unit: float
    value: float
    unit: str  # as written, e.g. "Wh/1000 query"
    source: str
    note: str = ""
    derived: bool = False


@dataclass(frozen=True)
class Band:
    """Grade `grade` covers efficiency indices lower <= index < upper."""

    grade: str
    lower: float
    upper: float


@dataclass(frozen=True)
class Bands:
    """Grade bands on an efficiency index, A (lowest index, best) first; how they were set."""

    bands: tuple[Band, ...]
    method: str = "manual"  # manual | quantile | log-equal
    population: int | None = None  # results the edges were derived from (calibration)
    date: str | None = None  # ISO date of the calibration

    @property
    def grades(self) -> tuple[str, ...]:
        """Return the grade letters, best first."""
        return tuple(b.grade for b in self.bands)

    @property
    def edges(self) -> tuple[float, ...]:
        """Return the inner band edges (len(bands) - 1 values, increasing)."""
        return tuple(b.upper for b in self.bands[:-1])

    def grade(self, index: float) -> str | None:
        """Return the grade of an efficiency index (None for NaN)."""
        if math.isnan(index):
            return None
        return self.bands[bisect.bisect_right(self.edges, index)].grade

    @classmethod
    def from_edges(
        cls,
        edges: Sequence[float],
        method: str = "manual",
        population: int | None = None,
        on: str | None = None,
    ) -> Bands:
        """Return bands A, B, ... from increasing inner edges (first starts at 0, last open)."""
        bounds = [0.0, *map(float, edges), math.inf]
        if len(bounds) - 1 > len(GRADES):
            raise StandardError(f"{len(bounds) - 1} bands asked for; grades go A to G (at most 7)")
        return cls(
            tuple(Band(GRADES[i], bounds[i], bounds[i + 1]) for i in range(len(bounds) - 1)),
            method=method,
            population=population,
            date=on,
        )


@dataclass(frozen=True)
class Requirements:
    """What a run must meet to be graded."""

    min_duration_s: float
    max_sampling_interval_s: float
    required_domains: tuple[str, ...]  # must be in the run and measured
    measured_domains: tuple[str, ...]  # where in the run, must be measured, not modelled
    idle_baseline: bool
    min_repetitions: int
    # Grade third-party figures (published tables, imported as provenance "third-party").
    # Only a class calibrated on a third-party population sets it: there the grade places
    # a figure among others measured the same way, never against greenai measurements.
    third_party: bool = False


@dataclass(frozen=True)
class ReferenceSite:
    """The site water references are derived at: L/kWh IT = WUE + PUE x EWIF."""

    pue: float
    pue_source: str
    wue_l_per_kwh: float
    wue_source: str
    ewif_l_per_kwh: float
    ewif_source: str
    description: str = ""

    @property
    def water_l_per_kwh(self) -> float:
        """Return water consumed per kWh of IT energy (L/kWh): on-site plus off-site."""
        return self.wue_l_per_kwh + self.pue * self.ewif_l_per_kwh


@dataclass(frozen=True)
class Workload:
    """The work a class holds fixed: a named benchmark workload, or a dataset and split."""

    benchmark: str | None = None  # e.g. "greenai-gemm-fp32"
    dataset: str | None = None  # e.g. "imagenet-1k"
    split: str | None = None  # e.g. "validation"
    description: str = ""
    dataset_aliases: tuple[str, ...] = ()  # other ids of the same dataset (a renamed owner)

    @property
    def fixed(self) -> bool:
        """Return True when the class names an identity a run must match."""
        return bool(self.benchmark or self.dataset)

    def same_dataset(self, dataset: str) -> bool:
        """Return True when `dataset` is the class's dataset or one of its aliases."""
        return dataset == self.dataset or dataset in self.dataset_aliases


@dataclass(frozen=True)
class Quality:
    """The quality a run must disclose and reach: metric, target, direction, source."""

    metric: str  # e.g. "top1-accuracy"
    target: float
    higher_is_better: bool = True
    source: str = ""

    def met(self, value: float) -> bool:
        """Return True when `value` reaches the target."""
        return value >= self.target if self.higher_is_better else value <= self.target


@dataclass(frozen=True)
class SizeClass:
    """A model-size class of a task class: parameter counts low <= params < high."""

    id: str
    low: float
    high: float
    name: str = ""

    def holds(self, params: float) -> bool:
        """Return True when a model with `params` parameters is in this size class."""
        return self.low <= params < self.high

    @property
    def label(self) -> str:
        """Return the band in words, e.g. '1-8 B' or '>= 20 B'."""
        lo, hi = _fmt_params(self.low), _fmt_params(self.high)
        if math.isinf(self.high):
            return f">= {lo} B"
        return f"{lo}-{hi} B" if self.low > 0 else f"< {hi} B"


def _fmt_params(value: float) -> str:
    return "inf" if math.isinf(value) else f"{value / 1e9:g}"


@dataclass(frozen=True)
class TaskClass:
    """One task class: functional unit, references, bands and requirements (resolved)."""

    id: str
    name: str
    unit: str  # the counted unit, singular ("query")
    per: float  # the functional unit is `per` counted units (1000 queries)
    energy: Reference
    water: Reference
    bands: Bands
    water_bands: Bands
    requirements: Requirements
    aliases: tuple[str, ...] = ()
    unit_aliases: tuple[str, ...] = ()  # other names the run may count the same unit under
    description: str = ""
    phase: str | None = None  # training | inference; None: not fixed (older files)
    workload: Workload = Workload()
    quality: Quality | None = None
    plausible: tuple[float, float] = DEFAULT_PLAUSIBLE  # index range a grade is given in
    # Size classes of a sized task (text generation, training): each is a TaskClass with its
    # own reference (id "<task>/<size>"); `size` is set on those, `sizes` on the parent.
    sizes: tuple[TaskClass, ...] = ()
    size: SizeClass | None = None
    parent: str | None = None  # the id of the sized task a size class belongs to

    # optional lifecycle references: ("carbon", g CO2e per unit), ("water", L per unit) of
    # operational + embodied totals; graded only when the standard declares the index
    lifecycle: tuple[tuple[str, Reference], ...] = ()

    def size_class(self, params: float | None) -> TaskClass | None:
        """Return the size class holding a model of `params` parameters (None if none)."""
        if params is None:
            return None
        return next((s for s in self.sizes if s.size and s.size.holds(params)), None)

    @property
    def functional_unit(self) -> str:
        """Return the functional unit in words, e.g. '1000 query'."""
        return f"{_fmt_number(self.per)} {self.unit}"

    def accepts_unit(self, run_unit: str | None) -> bool:
        """Return True when a run counting `run_unit` can be rated by this class."""
        unit = canonical_unit(run_unit)
        return unit is not None and (unit == self.unit or unit in self.unit_aliases)


@dataclass(frozen=True)
class Calibration:
    """How a standard's bands were derived from a population of results."""

    method: str
    date: str
    population: int  # results read
    min_population: int
    n_bands: int
    calibrated: tuple[str, ...] = ()  # task ids whose bands were derived
    refused: tuple[str, ...] = ()  # "task-id: why" for classes left as they were
    source: str = ""  # where the population came from


@dataclass(frozen=True)
class Standard:
    """A versioned efficiency standard, as loaded and validated from its TOML file."""

    id: str
    version: str
    status: str  # draft | adopted
    date: str  # ISO 8601 date
    title: str
    description: str
    requirements: Requirements
    bands: Bands
    tasks: Mapping[str, TaskClass]
    water_bands: Bands | None = None
    reference_site: ReferenceSite | None = None
    calibration: Calibration | None = None
    lifecycle: tuple[str, ...] = ()  # optional indices on operational + embodied totals
    lifecycle_description: str = ""
    path: str | None = field(default=None, compare=False)
    _lookup: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        lookup: dict[str, TaskClass] = {}
        for task in self.tasks.values():
            for name in (task.id, *task.aliases):
                lookup[normalise_task(name)] = task
            for size in task.sizes:
                lookup[normalise_task(size.id)] = size
        object.__setattr__(self, "_lookup", lookup)

    def task_class(self, name: str | None) -> TaskClass | None:
        """Return the task class a run's task name (id, alias or 'task/size') names, or None."""
        if not name:
            return None
        return self._lookup.get(normalise_task(name))

    def rating_classes(self) -> tuple[TaskClass, ...]:
        """Return every class a run can be graded in: each task, and each of its size classes."""
        return tuple(c for t in self.tasks.values() for c in (t, *t.sizes))

    def to_toml(self) -> str:
        """Return the standard as TOML text that load_standard reads back to an equal Standard."""
        return _Writer(self).text()


@dataclass(frozen=True)
class StandardSummary:
    """One shipped standard file: its id, version, status, and the error if it does not load."""

    id: str
    path: Path
    version: str | None = None
    status: str | None = None
    date: str | None = None
    title: str | None = None
    error: str | None = None


# ----------------------------------------------------------------------- loading
def resolve_standard(path_or_id: str | Path | None = None) -> Path:
    """Return the file of a standard given by path, id (standards/<id>.toml) or None (default)."""
    return _resolve(path_or_id)[0]


def _file_stat(path: Path | str) -> os.stat_result | None:
    """Return the stat of a regular file (what Path.is_file() looks at), None otherwise."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return st if stat.S_ISREG(st.st_mode) else None


def _resolve(path_or_id: str | Path | None) -> tuple[Path, os.stat_result]:
    """Return resolve_standard's file and its stat (one stat per place looked at)."""
    if path_or_id is None:
        path_or_id = DEFAULT_STANDARD
    if isinstance(path_or_id, Path) or _looks_like_path(path_or_id):
        path = Path(path_or_id)
        st = _file_stat(path)
        if st is None and path.name == str(path_or_id):
            shipped = standards_dir() / path.name
            shipped_st = _file_stat(shipped)
            if shipped_st is not None:
                return shipped, shipped_st  # "greenai-2026.1.toml": a shipped standard's file
        if st is None:
            raise StandardError(f"{path}: no such standard file. Fix: check the path")
        return path, st
    path = _shipped_file(path_or_id)
    st = _file_stat(path)
    if st is None:
        known = ", ".join(s.id for s in list_standards()) or "none"
        raise StandardError(
            f"no standard with id {path_or_id!r} in {standards_dir()} (shipped: {known}). "
            "Fix: give a shipped id or the path of a .toml file"
        )
    return path, st


@functools.lru_cache(maxsize=32)
def _shipped_file(standard_id: str) -> Path:
    """Return where the shipped standard of an id would be (a name, not a file look-up)."""
    return standards_dir() / f"{standard_id}.toml"


def _looks_like_path(text: str) -> bool:
    return text.endswith(".toml") or "/" in text or "\\" in text or _file_stat(text) is not None


def load_standard(path_or_id: str | Path | None = None) -> Standard:
    """Return the validated standard from a file path, an id, or None for the default one."""
    path, st = _resolve(path_or_id)
    return _load_cached(str(path), st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=32)
def _load_cached(path: str, _mtime_ns: int, _size: int) -> Standard:
    try:
        text = textfile.read_text(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise StandardError(f"{path}: cannot read: {exc}. Fix: check the file") from exc
    return parse_standard(text, source=path)


def parse_standard(text: str, source: str = "<string>") -> Standard:
    """Return the validated standard in TOML `text`; errors name `source` as the file."""
    return _Parser(text, source).standard()


def list_standards() -> list[StandardSummary]:
    """Return a summary of every standard file shipped under standards/, sorted by id."""
    found = []
    for path in sorted(standards_dir().glob("*.toml")):
        try:
            std = load_standard(path)
        except StandardError as exc:
            found.append(StandardSummary(id=path.stem, path=path, error=str(exc)))
            continue
        found.append(StandardSummary(std.id, path, std.version, std.status, std.date, std.title))
    return found


# ----------------------------------------------------------------------- parsing
_TOP_KEYS = (
    "standard",
    "requirements",
    "bands",
    "water_bands",
    "reference_site",
    "tasks",
    "calibration",
    "lifecycle",
)
LIFECYCLE_INDICES = ("carbon", "water")
_LIFECYCLE_KEYS = ("indices", "description")
_STANDARD_KEYS = ("id", "version", "status", "date", "title", "description")
_REQUIREMENT_KEYS = (
    "min_duration_s",
    "max_sampling_interval_s",
    "required_domains",
    "measured_domains",
    "idle_baseline",
    "min_repetitions",
    "third_party",
)
_SITE_KEYS = (
    "description",
    "pue",
    "pue_source",
    "wue_l_per_kwh",
    "wue_source",
    "ewif_l_per_kwh",
    "ewif_source",
)
_TASK_KEYS = (
    "name",
    "description",
    "unit",
    "unit_aliases",
    "per",
    "aliases",
    "energy",
    "water",
    "bands",
    "water_bands",
    "requirements",
    "phase",
    "workload",
    "quality",
    "plausible",
    "sizes",
    "lifecycle",
)
_WORKLOAD_KEYS = ("benchmark", "dataset", "dataset_aliases", "split", "description")
_QUALITY_KEYS = ("metric", "target", "higher_is_better", "source")
_SIZE_KEYS = ("id", "name", "params", "energy", "water", "bands", "water_bands", "requirements")
_REFERENCE_KEYS = ("value", "unit", "source", "note")
_BAND_META_KEYS = ("method", "population", "date")
_CALIBRATION_KEYS = (
    "method",
    "date",
    "population",
    "min_population",
    "n_bands",
    "calibrated",
    "refused",
    "source",
)
_KIND_WORDS = {
    "number": "a number",
    "int": "a whole number",
    "str": "a string in quotes",
    "bool": "true or false",
    "table": "a table",
    "list": 'a list of strings, e.g. ["cpu", "gpu"]',
    "date": "a date, e.g. 2026-01-15",
}


class _Parser:
    def __init__(self, text: str, source: str):
        self.text = text
        self.source = source

    # -------------------------------------------------------------- errors
    def fail(self, where: Sequence[str], problem: str, fix: str) -> NoReturn:
        raise StandardFileError(
            self.source, _keypath(where), _find_line(self.text, where), problem, fix
        )

    def keys(self, table: Mapping[str, Any], where: Sequence[str], allowed: Iterable[str]) -> None:
        allowed = tuple(allowed)
        for key in table:
            if key not in allowed:
                close = _close_matches(key, allowed)
                hint = f"did you mean {close[0]!r}? " if close else ""
                self.fail(
                    (*where, key),
                    "unknown key",
                    f"{hint}keys allowed here: {', '.join(allowed)}",
                )

    def get(
        self,
        table: Mapping[str, Any],
        where: Sequence[str],
        key: str,
        kind: str,
        required: bool = True,
        default: Any = None,
    ) -> Any:
        if key not in table:
            if required:
                self.fail((*where, key), "missing (required)", f"add {key} = <{_KIND_WORDS[kind]}>")
            return default
        value = table[key]
        if not _is_kind(value, kind):
            self.fail(
                (*where, key),
                f"expected {_KIND_WORDS[kind]}, found {_describe(value)}",
                f"write {key} as {_KIND_WORDS[kind]}",
            )
        if kind == "number":
            value = float(value)
            if math.isnan(value):
                self.fail((*where, key), "is nan", "write a number")
        elif kind == "list":
            value = tuple(value)
        elif kind == "date":
            value = self.date(value, (*where, key))
        return value

    def date(self, value: Any, where: Sequence[str]) -> str:
        from datetime import date, datetime

        if isinstance(value, datetime):
            self.fail(where, "has a time of day", "write the date alone, e.g. 2026-01-15")
        if isinstance(value, date):
            return value.isoformat()
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            self.fail(where, f"{value!r} is not a date", "write it as YYYY-MM-DD, e.g. 2026-01-15")

    # -------------------------------------------------------------- top level
    def standard(self) -> Standard:
        try:
            doc = _toml_loads(self.text)
        except ValueError as exc:  # tomllib.TOMLDecodeError is a ValueError
            self.syntax_error(exc)
        self.keys(doc, (), _TOP_KEYS)
        for key in ("standard", "requirements", "bands", "tasks"):
            if key not in doc:
                self.fail(
                    (key,), "missing (required table)", f"add a [{key}] table (standards/README.md)"
                )
        for key in _TOP_KEYS:
            if key in doc and not isinstance(doc[key], dict):
                self.fail(
                    (key,), f"expected a table, found {_describe(doc[key])}", f"write [{key}]"
                )
        head = self.head(doc["standard"])
        requirements = self.requirements(doc["requirements"], ("requirements",), None)
        bands = self.bands(doc["bands"], ("bands",))
        water_bands = (
            self.bands(doc["water_bands"], ("water_bands",)) if "water_bands" in doc else None
        )
        site = self.site(doc["reference_site"]) if "reference_site" in doc else None
        tasks = self.tasks(doc["tasks"], requirements, bands, water_bands, site)
        calibration = self.calibration(doc["calibration"]) if "calibration" in doc else None
        lifecycle, lifecycle_description = self.lifecycle(doc.get("lifecycle"), tasks)
        return Standard(
            lifecycle=lifecycle,
            lifecycle_description=lifecycle_description,
            **head,
            requirements=requirements,
            bands=bands,
            water_bands=water_bands,
            tasks=tasks,
            reference_site=site,
            calibration=calibration,
            path=self.source,
        )

    def syntax_error(self, exc: Exception) -> NoReturn:
        message = str(exc)
        at = re.search(r"\(at line (\d+), column \d+\)", message)
        line = int(at.group(1)) if at else None
        head = message[: at.start()].strip() if at else message
        dup = re.search(r"Cannot (?:declare|overwrite) (?:a value|\(([^)]*)\))", head)
        if dup:
            key = ".".join(p.strip().strip("'\"") for p in (dup.group(1) or "").split(",") if p)
            what = "task id" if key.startswith("tasks.") and key.count(".") == 1 else "key"
            raise StandardFileError(
                self.source,
                key,
                line,
                f"declared twice (duplicate {what})",
                "each task class and each key may appear once: rename or merge the duplicate",
            ) from None
        raise StandardFileError(
            self.source,
            "",
            line,
            f"not valid TOML ({head})",
            "check the syntax on that line: strings in double quotes, one key = value per line",
        ) from None

    def head(self, table: dict[str, Any]) -> dict[str, str]:
        where = ("standard",)
        self.keys(table, where, _STANDARD_KEYS)
        std_id = self.get(table, where, "id", "str")
        if not _ID_RE.fullmatch(std_id):
            self.fail(
                (*where, "id"),
                f"{std_id!r} is not a valid id",
                "use lower-case letters, digits, '.', '-' and '_', e.g. 'greenai-2027.1'",
            )
        version = self.get(table, where, "version", "str")
        if not _VERSION_RE.fullmatch(version):
            self.fail(
                (*where, "version"),
                f"{version!r} is not a version",
                "write numbers separated by dots, e.g. '2026.1'",
            )
        suffix = std_id.rsplit("-", 1)[-1] if "-" in std_id else ""
        if _VERSION_RE.fullmatch(suffix) and suffix != version:
            self.fail(
                (*where, "version"),
                f"the id {std_id!r} says version {suffix} but version is {version!r}",
                "make the id and the version agree (a new version needs a new id)",
            )
        status = self.get(table, where, "status", "str")
        if status not in STATUSES:
            self.fail(
                (*where, "status"),
                f"{status!r} is not a status",
                f"use one of: {', '.join(STATUSES)}",
            )
        return {
            "id": std_id,
            "version": version,
            "status": status,
            "date": self.get(table, where, "date", "date"),
            "title": self.get(table, where, "title", "str", required=False, default=std_id),
            "description": self.get(table, where, "description", "str", required=False, default=""),
        }

    def requirements(
        self, table: Any, where: Sequence[str], base: Requirements | None
    ) -> Requirements:
        if not isinstance(table, dict):
            self.fail(where, f"expected a table, found {_describe(table)}", "write it as a table")
        self.keys(table, where, _REQUIREMENT_KEYS)
        required = base is None
        values: dict[str, Any] = {}
        kinds = {
            "min_duration_s": "number",
            "max_sampling_interval_s": "number",
            "required_domains": "list",
            "measured_domains": "list",
            "idle_baseline": "bool",
            "min_repetitions": "int",
        }
        for key, kind in kinds.items():
            default = None if base is None else getattr(base, key)
            values[key] = self.get(table, where, key, kind, required=required, default=default)
        inherited = bool(base and base.third_party)
        values["third_party"] = self.get(
            table, where, "third_party", "bool", required=False, default=inherited
        )
        if values["min_duration_s"] < 0:
            self.fail((*where, "min_duration_s"), "is negative", "give a duration >= 0 s")
        if not values["max_sampling_interval_s"] > 0:
            self.fail(
                (*where, "max_sampling_interval_s"), "must be > 0", "give an interval in seconds"
            )
        if values["min_repetitions"] < 1:
            self.fail((*where, "min_repetitions"), "must be >= 1", "write 1 or more")
        for key in ("required_domains", "measured_domains"):
            for domain in values[key]:
                if domain not in DOMAINS:
                    self.fail(
                        (*where, key),
                        f"{domain!r} is not a measurement domain",
                        f"use domains from: {', '.join(DOMAINS)}",
                    )
        return Requirements(**values)

    def bands(self, table: Any, where: Sequence[str]) -> Bands:
        if not isinstance(table, dict):
            self.fail(where, f"expected a table, found {_describe(table)}", "write it as a table")
        self.keys(table, where, (*GRADES, *_BAND_META_KEYS))
        present = [g for g in GRADES if g in table]
        expected = list(GRADES[: len(present)])
        if present != expected:
            missing = next(g for g in expected if g not in present)
            self.fail(
                (*where, missing),
                f"grades must run A, B, C, ... without a gap; {missing} is missing "
                f"(found {', '.join(present)})",
                f"add {missing} = [lower, upper] or rename the grades after it",
            )
        if len(present) < MIN_GRADES:
            self.fail(where, f"only {len(present)} grade", "give at least A and B")
        ranges = []
        for grade in present:
            value = table[grade]
            ok = (
                isinstance(value, list)
                and len(value) == 2
                and all(_is_kind(v, "number") for v in value)
            )
            if not ok:
                self.fail(
                    (*where, grade),
                    f"expected [lower, upper], found {_describe(value)}",
                    f"write {grade} = [lower, upper], e.g. {grade} = [0.5, 0.8]",
                )
            lower, upper = float(value[0]), float(value[1])
            if math.isnan(lower) or math.isnan(upper) or not math.isfinite(lower):
                self.fail(
                    (*where, grade), "has a bound that is not a finite number", "fix the bound"
                )
            if not lower < upper:
                self.fail(
                    (*where, grade),
                    f"empty or reversed band [{_fmt_number(lower)}, {_fmt_number(upper)}]",
                    "the lower bound comes first and must be below the upper bound",
                )
            ranges.append(Band(grade, lower, upper))
        if ranges[0].lower != 0:
            self.fail(
                (*where, "A"),
                f"starts at {_fmt_number(ranges[0].lower)}",
                "start A at 0 so every index has a grade: A = [0, upper]",
            )
        # order first: a band listed out of order also looks like a gap or an overlap
        for prev, band in zip(ranges, ranges[1:], strict=False):
            if band.lower < prev.lower:
                self.fail(
                    (*where, band.grade),
                    f"bands are unordered: {band.grade} = [{_fmt_number(band.lower)}, "
                    f"{_fmt_number(band.upper)}] starts below {prev.grade}, which starts at "
                    f"{_fmt_number(prev.lower)}",
                    "order the grades by index: A covers the lowest (best) indices, then B, C, ...",
                )
        for prev, band in zip(ranges, ranges[1:], strict=False):
            key = (*where, band.grade)
            shown = f"{band.grade} = [{_fmt_number(band.lower)}, {_fmt_number(band.upper)}]"
            if band.lower < prev.upper:
                self.fail(
                    key,
                    f"overlaps {prev.grade}: {shown} starts before {prev.grade} ends at "
                    f"{_fmt_number(prev.upper)}",
                    f"start {band.grade} where {prev.grade} ends ({_fmt_number(prev.upper)})",
                )
            if band.lower > prev.upper:
                self.fail(
                    key,
                    f"leaves a gap: {prev.grade} ends at {_fmt_number(prev.upper)} but {shown} "
                    f"starts at {_fmt_number(band.lower)}",
                    f"start {band.grade} where {prev.grade} ends ({_fmt_number(prev.upper)})",
                )
        if not math.isinf(ranges[-1].upper):
            last = ranges[-1]
            self.fail(
                (*where, last.grade),
                f"the last band ends at {_fmt_number(last.upper)}, so larger indices get no grade",
                f"make it open-ended: {last.grade} = [{_fmt_number(last.lower)}, inf]",
            )
        method = self.get(table, where, "method", "str", required=False, default="manual")
        if method not in BAND_METHODS:
            self.fail(
                (*where, "method"),
                f"{method!r} is not a band method",
                f"use one of: {', '.join(BAND_METHODS)}",
            )
        population = self.get(table, where, "population", "int", required=False)
        if population is not None and population < 0:
            self.fail((*where, "population"), "is negative", "give the number of results used")
        on = self.get(table, where, "date", "date", required=False)
        return Bands(tuple(ranges), method=method, population=population, date=on)

    def site(self, table: dict[str, Any]) -> ReferenceSite:
        where = ("reference_site",)
        self.keys(table, where, _SITE_KEYS)
        values = {
            "pue": self.get(table, where, "pue", "number"),
            "wue_l_per_kwh": self.get(table, where, "wue_l_per_kwh", "number"),
            "ewif_l_per_kwh": self.get(table, where, "ewif_l_per_kwh", "number"),
        }
        if values["pue"] < 1:
            self.fail((*where, "pue"), "is below 1", "PUE is facility / IT energy: give >= 1.0")
        for key in ("wue_l_per_kwh", "ewif_l_per_kwh"):
            if values[key] < 0 or math.isinf(values[key]):
                self.fail((*where, key), "must be a finite number >= 0", "give litres per kWh")
        for key in ("pue_source", "wue_source", "ewif_source"):
            values[key] = self.source_text(table, where, key)
        values["description"] = self.get(table, where, "description", "str", False, "")
        return ReferenceSite(**values)

    def source_text(self, table: Mapping[str, Any], where: Sequence[str], key: str) -> str:
        text = self.get(table, where, key, "str")
        if not text.strip():
            self.fail((*where, key), "is empty", "name the publication the figure comes from")
        return text

    # -------------------------------------------------------------- tasks
    def tasks(
        self,
        table: dict[str, Any],
        requirements: Requirements,
        bands: Bands,
        water_bands: Bands | None,
        site: ReferenceSite | None,
    ) -> dict[str, TaskClass]:
        if not table:
            self.fail(("tasks",), "no task classes", "add at least one [tasks.<id>] table")
        tasks: dict[str, TaskClass] = {}
        owner: dict[str, str] = {}
        for task_id, body in table.items():
            where = ("tasks", task_id)
            if not _TASK_ID_RE.fullmatch(task_id):
                self.fail(
                    where,
                    f"{task_id!r} is not a valid task id",
                    f"use lower-case words joined by hyphens, e.g. {normalise_task(task_id)!r}",
                )
            if not isinstance(body, dict):
                self.fail(
                    where, f"expected a table, found {_describe(body)}", f"write [tasks.{task_id}]"
                )
            task = self.task(task_id, body, requirements, bands, water_bands, site)
            for name, key in [(task_id, None), *((a, "aliases") for a in task.aliases)]:
                norm = normalise_task(name)
                if norm in owner:
                    other = owner[norm]
                    self.fail(
                        (*where, key) if key else where,
                        f"duplicate task id: {name!r} is already the id or an alias of task "
                        f"{other!r}",
                        "each task id and alias must name one task class: rename or remove one",
                    )
                owner[norm] = task_id
            tasks[task_id] = task
        return tasks

    def task(
        self,
        task_id: str,
        body: dict[str, Any],
        requirements: Requirements,
        bands: Bands,
        water_bands: Bands | None,
        site: ReferenceSite | None,
    ) -> TaskClass:
        where = ("tasks", task_id)
        self.keys(body, where, _TASK_KEYS)
        name = self.get(body, where, "name", "str")
        unit = self.unit(self.get(body, where, "unit", "str"), (*where, "unit"))
        unit_aliases = tuple(
            self.unit(u, (*where, "unit_aliases"))
            for u in self.get(body, where, "unit_aliases", "list", False, ())
        )
        if unit in unit_aliases:
            self.fail(
                (*where, "unit_aliases"),
                f"repeats the task's own unit {unit!r}",
                "list only other names the same unit is counted under",
            )
        per = self.get(body, where, "per", "number")
        if not (per > 0 and math.isfinite(per)):
            self.fail(
                (*where, "per"), f"must be a count > 0, found {per!r}", "write e.g. per = 1000"
            )
        aliases = self.get(body, where, "aliases", "list", False, ())
        for alias in aliases:
            if not _TASK_ID_RE.fullmatch(alias):
                self.fail(
                    (*where, "aliases"),
                    f"alias {alias!r} is not a valid task id",
                    f"use lower-case words joined by hyphens, e.g. {normalise_task(alias)!r}",
                )
        if "energy" not in body:
            self.fail(
                (*where, "energy"),
                "missing (required): every task class needs a reference energy",
                f"add [tasks.{task_id}.energy] with value, unit and source",
            )
        energy = self.reference(
            body["energy"], (*where, "energy"), unit, units.ENERGY_UNITS_J, "energy"
        )
        if "water" in body:
            water = self.reference(
                body["water"], (*where, "water"), unit, units.WATER_UNITS_L, "water"
            )
        elif site is not None:
            water = _derived_water(energy, site, per, unit)
        else:
            self.fail(
                (*where, "water"),
                "missing: no water reference and no [reference_site] to derive one from",
                f"add [tasks.{task_id}.water] or a [reference_site] table",
            )
        own_bands = self.bands(body["bands"], (*where, "bands")) if "bands" in body else bands
        if "water_bands" in body:
            own_water_bands = self.bands(body["water_bands"], (*where, "water_bands"))
        else:
            own_water_bands = water_bands or own_bands
        own_requirements = (
            self.requirements(body["requirements"], (*where, "requirements"), requirements)
            if "requirements" in body
            else requirements
        )
        phase = self.get(body, where, "phase", "str", False, None)
        if phase is not None and phase not in PHASES:
            self.fail(
                (*where, "phase"), f"{phase!r} is not a phase", f"use one of: {', '.join(PHASES)}"
            )
        task = TaskClass(
            id=task_id,
            name=name,
            unit=unit,
            per=per,
            energy=energy,
            water=water,
            bands=own_bands,
            water_bands=own_water_bands,
            requirements=own_requirements,
            aliases=aliases,
            unit_aliases=unit_aliases,
            description=self.get(body, where, "description", "str", False, ""),
            phase=phase,
            workload=self.workload(body.get("workload"), (*where, "workload")),
            quality=self.quality(body.get("quality"), (*where, "quality")),
            plausible=self.plausible(body, where),
            lifecycle=self.task_lifecycle(body, where, unit),
        )
        if "sizes" in body:
            sizes = self.sizes(body["sizes"], (*where, "sizes"), task, site)
            task = replace(task, sizes=sizes)
        return task

    def lifecycle(
        self, table: dict[str, Any] | None, tasks: Mapping[str, TaskClass]
    ) -> tuple[tuple[str, ...], str]:
        """Return the declared lifecycle indices; a task reference needs its index declared."""
        indices: tuple[str, ...] = ()
        description = ""
        if table is not None:
            where = ("lifecycle",)
            self.keys(table, where, _LIFECYCLE_KEYS)
            indices = tuple(self.get(table, where, "indices", "list"))
            for kind in indices:
                if kind not in LIFECYCLE_INDICES:
                    self.fail(
                        (*where, "indices"),
                        f"{kind!r} is not a lifecycle index",
                        f"list some of: {', '.join(LIFECYCLE_INDICES)}",
                    )
            description = self.get(table, where, "description", "str", False, "")
        for task in tasks.values():
            for kind, _ in task.lifecycle:
                if kind not in indices:
                    self.fail(
                        ("tasks", task.id, "lifecycle", kind),
                        f"a {kind} lifecycle reference, but the standard grades no {kind} "
                        "lifecycle index",
                        f'add [lifecycle] indices = ["{kind}"] or remove the reference',
                    )
        return indices, description

    def task_lifecycle(
        self, body: dict[str, Any], where: Sequence[str], unit: str
    ) -> tuple[tuple[str, Reference], ...]:
        table = body.get("lifecycle")
        if table is None:
            return ()
        where = (*where, "lifecycle")
        if not isinstance(table, dict):
            self.fail(where, f"expected a table, found {_describe(table)}", "write carbon/water")
        self.keys(table, where, LIFECYCLE_INDICES)
        quantities = {"carbon": units.CARBON_UNITS_G, "water": units.WATER_UNITS_L}
        return tuple(
            (kind, self.reference(table[kind], (*where, kind), unit, quantities[kind], kind))
            for kind in LIFECYCLE_INDICES
            if kind in table
        )

    def workload(self, table: Any, where: Sequence[str]) -> Workload:
        if table is None:
            return Workload()
        if not isinstance(table, dict):
            self.fail(where, f"expected a table, found {_describe(table)}", "write benchmark = ...")
        self.keys(table, where, _WORKLOAD_KEYS)
        values = {
            k: self.get(table, where, k, "str", False, None)
            for k in _WORKLOAD_KEYS
            if k != "dataset_aliases"
        }
        aliases = tuple(self.get(table, where, "dataset_aliases", "list", False, ()))
        if aliases and not values["dataset"]:
            self.fail(
                (*where, "dataset_aliases"),
                "aliases without a dataset",
                "add dataset = <id>, or remove dataset_aliases",
            )
        if values["benchmark"] and values["dataset"]:
            self.fail(
                (*where, "dataset"),
                "a class fixes either a benchmark workload or a dataset, not both",
                "keep benchmark (a named workload) or dataset and split",
            )
        if values["split"] and not values["dataset"]:
            self.fail((*where, "split"), "a split without a dataset", "add dataset = <id>")
        if not (values["benchmark"] or values["dataset"] or values["description"]):
            self.fail(where, "empty", "give benchmark, or dataset and split")
        values["description"] = values["description"] or ""
        return Workload(**values, dataset_aliases=aliases)

    def quality(self, table: Any, where: Sequence[str]) -> Quality | None:
        if table is None:
            return None
        if not isinstance(table, dict):
            self.fail(where, f"expected a table, found {_describe(table)}", "write metric, target")
        self.keys(table, where, _QUALITY_KEYS)
        target = self.get(table, where, "target", "number")
        if not math.isfinite(target):
            self.fail((*where, "target"), "must be a finite number", "give the target value")
        return Quality(
            metric=self.get(table, where, "metric", "str"),
            target=target,
            higher_is_better=self.get(table, where, "higher_is_better", "bool", False, True),
            source=self.source_text(table, where, "source"),
        )

    def plausible(self, body: Mapping[str, Any], where: Sequence[str]) -> tuple[float, float]:
        if "plausible" not in body:
            return DEFAULT_PLAUSIBLE
        value = body["plausible"]
        ok = (
            isinstance(value, list)
            and len(value) == 2
            and all(_is_kind(v, "number") for v in value)
        )
        if not ok or not 0 < float(value[0]) < float(value[1]):
            self.fail(
                (*where, "plausible"),
                f"expected [low, high] with 0 < low < high, found {_describe(value)}",
                "write plausible = [0.01, 100] (indices a grade is given for)",
            )
        return float(value[0]), float(value[1])

    def sizes(
        self, items: Any, where: Sequence[str], task: TaskClass, site: ReferenceSite | None
    ) -> tuple[TaskClass, ...]:
        if not (isinstance(items, list) and items and all(isinstance(i, dict) for i in items)):
            self.fail(
                where,
                f"expected one or more [[{_keypath(where)}]] tables, found {_describe(items)}",
                "write each size class as [[tasks.<id>.sizes]] with id, params and energy",
            )
        out: list[TaskClass] = []
        for body in items:
            self.keys(body, where, _SIZE_KEYS)
            size_id = self.get(body, where, "id", "str")
            if not _TASK_ID_RE.fullmatch(size_id):
                self.fail((*where, "id"), f"{size_id!r} is not a valid id", "e.g. id = 'small'")
            bounds = body.get("params")
            ok = (
                isinstance(bounds, list)
                and len(bounds) == 2
                and all(_is_kind(v, "number") for v in bounds)
            )
            if not ok or not 0 <= float(bounds[0]) < float(bounds[1]):
                self.fail(
                    (*where, "params"),
                    f"size class {size_id!r}: expected [low, high] parameter counts with "
                    f"0 <= low < high, found {_describe(bounds)}",
                    "write params = [1e9, 8e9] (high may be inf)",
                )
            size = SizeClass(size_id, float(bounds[0]), float(bounds[1]), body.get("name", ""))
            if out and size.low < out[-1].size.high:  # type: ignore[union-attr]
                self.fail(
                    (*where, "params"),
                    f"size class {size_id!r} ({size.label}) overlaps or precedes "
                    f"{out[-1].size.id!r} ({out[-1].size.label})",  # type: ignore[union-attr]
                    "list size classes by increasing parameter count, without overlap",
                )
            if "energy" not in body:
                self.fail(
                    (*where, "energy"),
                    f"size class {size_id!r}: missing (required): each size class has its own "
                    "reference energy",
                    "add energy = { value = ..., unit = ..., source = ... }",
                )
            energy = self.reference(
                body["energy"], (*where, "energy"), task.unit, units.ENERGY_UNITS_J, "energy"
            )
            if "water" in body:
                water = self.reference(
                    body["water"], (*where, "water"), task.unit, units.WATER_UNITS_L, "water"
                )
            elif site is not None:
                water = _derived_water(energy, site, task.per, task.unit)
            else:
                self.fail((*where, "water"), "missing", "add water or a [reference_site]")
            bands = self.bands(body["bands"], (*where, "bands")) if "bands" in body else task.bands
            water_bands = (
                self.bands(body["water_bands"], (*where, "water_bands"))
                if "water_bands" in body
                else (task.water_bands if task.water_bands != task.bands else bands)
            )
            requirements = (
                self.requirements(body["requirements"], (*where, "requirements"), task.requirements)
                if "requirements" in body
                else task.requirements
            )
            out.append(
                replace(
                    task,
                    requirements=requirements,
                    id=f"{task.id}/{size_id}",
                    name=f"{task.name}, {size.name or size.label}",
                    aliases=(),
                    energy=energy,
                    water=water,
                    bands=bands,
                    water_bands=water_bands,
                    size=size,
                    parent=task.id,
                )
            )
        return tuple(out)

    def unit(self, text: str, where: Sequence[str]) -> str:
        unit = canonical_unit(text)
        if unit is None:
            known = list(FUNCTIONAL_UNITS)
            close = _close_matches(text.lower(), [*known, *_SINGULAR])
            hint = f"did you mean {canonical_unit(close[0])!r}? " if close else ""
            self.fail(
                where, f"{text!r} is not a functional unit", f"{hint}use one of: {', '.join(known)}"
            )
        return unit

    def reference(
        self,
        table: Any,
        where: Sequence[str],
        task_unit: str,
        quantities: Mapping[str, float],
        what: str,
    ) -> Reference:
        if not isinstance(table, dict):
            self.fail(
                where, f"expected a table, found {_describe(table)}", "write value, unit, source"
            )
        self.keys(table, where, _REFERENCE_KEYS)
        value = self.get(table, where, "value", "number")
        if not (value > 0 and math.isfinite(value)):
            self.fail(
                (*where, "value"),
                f"a reference {what} must be a finite number > 0, found {_fmt_number(value)}",
                "give the published value (an index divides by it)",
            )
        stated = self.get(table, where, "unit", "str")
        example = f"{ {'energy': 'Wh', 'carbon': 'g'}.get(what, 'L') }/1000 {task_unit}"
        try:
            quantity, count, counted_text = _split_rate_unit(stated)
        except ValueError:
            self.fail(
                (*where, "unit"),
                f"cannot read {stated!r}",
                f"write <{what} unit>/<count> <functional unit>, e.g. {example!r}",
            )
        if quantity not in quantities:
            self.fail(
                (*where, "unit"),
                f"{quantity!r} is not a unit of {what}",
                f"use one of: {', '.join(quantities)} (e.g. {example!r})",
            )
        if not (count > 0 and math.isfinite(count)):
            self.fail(
                (*where, "unit"), f"the count in {stated!r} must be > 0", f"write e.g. {example!r}"
            )
        if canonical_unit(counted_text) != task_unit:
            self.fail(
                (*where, "unit"),
                f"unit mismatch: the reference is per {counted_text!r} but the task counts "
                f"{task_unit!r}",
                f"state the reference per {task_unit} (e.g. {example!r}) or change the task's unit",
            )
        per_unit = value * quantities[quantity] / count
        return Reference(
            per_unit=per_unit,
            value=value,
            unit=stated,
            source=self.source_text(table, where, "source"),
            note=self.get(table, where, "note", "str", False, ""),
        )

    def calibration(self, table: dict[str, Any]) -> Calibration:
        where = ("calibration",)
        self.keys(table, where, _CALIBRATION_KEYS)
        method = self.get(table, where, "method", "str")
        if method not in CALIBRATION_METHODS:
            self.fail(
                (*where, "method"),
                f"{method!r} is not a calibration method",
                f"use one of: {', '.join(CALIBRATION_METHODS)}",
            )
        ints = {
            k: self.get(table, where, k, "int") for k in ("population", "min_population", "n_bands")
        }
        return Calibration(
            method=method,
            date=self.get(table, where, "date", "date"),
            calibrated=self.get(table, where, "calibrated", "list", False, ()),
            refused=self.get(table, where, "refused", "list", False, ()),
            source=self.get(table, where, "source", "str", False, ""),
            **ints,
        )


def _derived_water(energy: Reference, site: ReferenceSite, per: float, unit: str) -> Reference:
    per_unit = units.j_to_kwh(energy.per_unit) * site.water_l_per_kwh
    return Reference(
        per_unit=per_unit,
        value=per_unit * per,
        unit=f"L/{_fmt_number(per)} {unit}",
        source=(
            f"derived: reference energy {_fmt_number(energy.value)} {energy.unit} x reference site "
            f"(WUE {_fmt_number(site.wue_l_per_kwh)} + PUE {_fmt_number(site.pue)} x EWIF "
            f"{_fmt_number(site.ewif_l_per_kwh)}) L/kWh"
        ),
        derived=True,
    )


def _split_rate_unit(text: str) -> tuple[str, float, str]:
    """Return (quantity unit, count, counted unit) of e.g. 'Wh/1000 query'; ValueError if not."""
    match = _RATE_UNIT_RE.fullmatch(text)
    if not match:
        raise ValueError(text)
    count_text = match.group("count")
    count = float(count_text.replace("_", "")) if count_text else 1.0
    return match.group("quantity"), count, match.group("unit")


def _toml_loads(text: str) -> dict[str, Any]:
    # imported here: only reading a standard needs the parser (greenai's import time is tracked)
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: tomli is the same parser under another name
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        return tomllib.loads(text)
    except RecursionError:  # hostile nesting ([[[[...]]]]): an error like any bad syntax
        raise ValueError("nested too deeply to be a greenai file") from None


def _close_matches(word: str, choices: Sequence[str]) -> list[str]:
    import difflib

    return difflib.get_close_matches(word, choices, n=1)


def _is_kind(value: Any, kind: str) -> bool:
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "str":
        return isinstance(value, str)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "table":
        return isinstance(value, dict)
    if kind == "list":
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if kind == "date":
        from datetime import date

        return isinstance(value, (date, str))
    raise ValueError(kind)


def _describe(value: Any) -> str:
    kinds = {bool: "a boolean", int: "a number", float: "a number", str: "a string"}
    kind = kinds.get(type(value))
    if kind is None:
        kind = {dict: "a table", list: "a list"}.get(type(value), type(value).__name__)
    return f"{kind} ({_short(value)})"


def _short(value: Any) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, float) else _fmt_number(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _keypath(parts: Sequence[str]) -> str:
    return ".".join(p if _BARE_KEY_RE.fullmatch(p) else json.dumps(p) for p in parts)


# ----------------------------------------------------------------------- line finding
def _split_key(text: str) -> tuple[str, ...]:
    """Return the parts of a (possibly dotted, possibly quoted) TOML key."""
    parts = re.findall(r'\s*("(?:[^"\\]|\\.)*"|\'[^\']*\'|[A-Za-z0-9_-]+)\s*(?:\.|$)', text)
    return tuple(p[1:-1] if p[:1] in "\"'" else p for p in parts)


def _find_line(text: str, where: Sequence[str]) -> int | None:
    """Return the 1-based line where key path `where` is written, or its closest table."""
    target = tuple(where)
    if not target:
        return None
    best, best_len = None, 0
    header: tuple[str, ...] = ()
    in_multiline = False
    for number, line in enumerate(text.splitlines(), start=1):
        if in_multiline:
            if line.count('"""') % 2 == 1 or line.count("'''") % 2 == 1:
                in_multiline = False
            continue
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        head = re.match(r"\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$", stripped)
        if head:
            header = _split_key(head.group(1))
            path = header
        else:
            assign = re.match(r"((?:\"[^\"]*\"|'[^']*'|[A-Za-z0-9_.\-\s])+?)\s*=", stripped)
            if not assign:
                continue
            path = header + _split_key(assign.group(1))
            rest = stripped[assign.end() :]
            if rest.count('"""') == 1 or rest.count("'''") == 1:
                in_multiline = True
        if path == target:
            return number
        common = len(path) if target[: len(path)] == path else 0
        if common > best_len:
            best, best_len = number, common
    return best


# ----------------------------------------------------------------------- writing
def _fmt_number(value: float) -> str:
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


class _Writer:
    """Writes a Standard as TOML with tomlkit.

    tomlkit, not tomli-w: the file is for drafters to read and edit, and tomlkit keeps what
    a hand-edited file has (comments, one-line arrays such as bands, TOML date literals)
    where tomli-w writes every array over several lines and cannot write comments.
    """

    def __init__(self, std: Standard):
        import tomlkit

        self.tk = tomlkit
        self.std = std
        self.doc = tomlkit.document()

    def _table(self, items: Iterable[tuple[str, Any]]) -> Any:
        table = self.tk.table()
        for key, value in items:
            if value is None:
                continue
            if key == "date":
                value = _date(value)
            table.add(key, list(value) if isinstance(value, tuple) else value)
        return table

    def _bands(self, bands: Bands) -> Any:
        table = self._table(
            [
                ("method", None if bands.method == "manual" else bands.method),
                ("population", bands.population),
                ("date", bands.date),
            ]
        )
        for b in bands.bands:
            table.add(b.grade, [_whole(b.lower), _whole(b.upper)])
        return table

    def text(self) -> str:
        std, doc = self.std, self.doc
        doc.add(self.tk.comment(std.title))
        doc.add(
            self.tk.comment(
                "Written by greenai (Standard.to_toml). File format: standards/README.md"
            )
        )
        doc.add(
            "standard",
            self._table(
                [
                    ("id", std.id),
                    ("version", std.version),
                    ("status", std.status),
                    ("date", std.date),
                    ("title", std.title),
                    ("description", std.description or None),
                ]
            ),
        )
        if std.reference_site is not None:
            site = std.reference_site
            doc.add(
                "reference_site",
                self._table(
                    [
                        ("description", site.description or None),
                        ("pue", site.pue),
                        ("pue_source", site.pue_source),
                        ("wue_l_per_kwh", site.wue_l_per_kwh),
                        ("wue_source", site.wue_source),
                        ("ewif_l_per_kwh", site.ewif_l_per_kwh),
                        ("ewif_source", site.ewif_source),
                    ]
                ),
            )
        doc.add("requirements", self._table(_requirement_items(std.requirements)))
        doc.add("bands", self._bands(std.bands))
        if std.water_bands is not None:
            doc.add("water_bands", self._bands(std.water_bands))
        if std.calibration is not None:
            doc.add("calibration", self.calibration_table(std.calibration))
        if std.lifecycle:
            doc.add(
                "lifecycle",
                self._table(
                    [
                        ("indices", list(std.lifecycle)),
                        ("description", std.lifecycle_description or None),
                    ]
                ),
            )
        tasks = self.tk.table(is_super_table=True)
        for task in std.tasks.values():
            tasks.add(task.id, self.task(task))
        doc.add("tasks", tasks)
        return self.tk.dumps(doc)

    def task(self, task: TaskClass) -> Any:
        std = self.std
        table = self._table(
            [
                ("name", task.name),
                ("description", task.description or None),
                ("unit", task.unit),
                ("unit_aliases", list(task.unit_aliases) or None),
                ("per", _whole(task.per)),
                ("aliases", list(task.aliases) or None),
                ("phase", task.phase),
                (
                    "plausible",
                    None if task.plausible == DEFAULT_PLAUSIBLE else list(task.plausible),
                ),
            ]
        )
        if task.workload != Workload():
            w = task.workload
            table.add(
                "workload",
                self._table(
                    [
                        ("benchmark", w.benchmark),
                        ("dataset", w.dataset),
                        ("dataset_aliases", list(w.dataset_aliases) or None),
                        ("split", w.split),
                        ("description", w.description or None),
                    ]
                ),
            )
        if task.quality is not None:
            q = task.quality
            table.add(
                "quality",
                self._table(
                    [
                        ("metric", q.metric),
                        ("target", _whole(q.target)),
                        ("higher_is_better", None if q.higher_is_better else False),
                        ("source", q.source),
                    ]
                ),
            )
        self._references(table, task)
        inherited = _requirement_items(std.requirements)
        own = [
            item
            for item, base in zip(_requirement_items(task.requirements), inherited, strict=True)
            if item != base
        ]
        if own:
            table.add("requirements", self._table(own))
        if task.bands != std.bands:
            table.add("bands", self._bands(task.bands))
        if task.water_bands != (std.water_bands or task.bands):
            table.add("water_bands", self._bands(task.water_bands))
        if task.lifecycle:
            lifecycle = self.tk.table()
            for kind, ref in task.lifecycle:
                lifecycle.add(
                    kind,
                    self._table(
                        [
                            ("value", _whole(ref.value)),
                            ("unit", ref.unit),
                            ("source", ref.source),
                            ("note", ref.note or None),
                        ]
                    ),
                )
            table.add("lifecycle", lifecycle)
        if task.sizes:
            sizes = self.tk.aot()
            for size_class in task.sizes:
                size = size_class.size
                assert size is not None
                entry = self._table(
                    [
                        ("id", size.id),
                        ("name", size.name or None),
                        ("params", [_whole(size.low), _whole(size.high)]),
                    ]
                )
                self._references(entry, size_class)
                own = [
                    item
                    for item, base in zip(
                        _requirement_items(size_class.requirements),
                        _requirement_items(task.requirements),
                        strict=True,
                    )
                    if item != base
                ]
                if own:
                    entry.add("requirements", self._table(own))
                if size_class.bands != task.bands:
                    entry.add("bands", self._bands(size_class.bands))
                if size_class.water_bands != size_class.bands:
                    entry.add("water_bands", self._bands(size_class.water_bands))
                sizes.append(entry)
            table.add("sizes", sizes)
        return table

    def calibration_table(self, cal: Any) -> Any:
        """Return the [calibration] table of a calibrated standard."""
        return self._table(
            [
                ("method", cal.method),
                ("date", cal.date),
                ("population", cal.population),
                ("min_population", cal.min_population),
                ("n_bands", cal.n_bands),
                ("calibrated", list(cal.calibrated)),
                ("refused", list(cal.refused)),
                ("source", cal.source or None),
            ]
        )

    def _references(self, table: Any, task: TaskClass) -> None:
        for kind in ("energy", "water"):
            ref: Reference = getattr(task, kind)
            if ref.derived:
                continue
            table.add(
                kind,
                self._table(
                    [
                        ("value", _whole(ref.value)),
                        ("unit", ref.unit),
                        ("source", ref.source),
                        ("note", ref.note or None),
                    ]
                ),
            )


def _whole(value: float) -> float | int:
    """Return an integral float as an int (1000, not 1000.0), as a person writes it."""
    return int(value) if float(value).is_integer() and abs(value) < 1e15 else value


def _date(value: Any) -> Any:
    """Return an ISO date string as a date, so it is written as a TOML date literal."""
    import datetime

    try:
        return datetime.date.fromisoformat(str(value))
    except ValueError:
        return str(value)


def _requirement_items(req: Requirements) -> list[tuple[str, Any]]:
    return [
        ("min_duration_s", req.min_duration_s),
        ("max_sampling_interval_s", req.max_sampling_interval_s),
        ("required_domains", list(req.required_domains)),
        ("measured_domains", list(req.measured_domains)),
        ("idle_baseline", req.idle_baseline),
        ("min_repetitions", req.min_repetitions),
        ("third_party", req.third_party or None),  # written only where set
    ]


def _is_training(task: TaskClass) -> bool:
    """Return True for a class that rates training (its id or an alias says so)."""
    names = (task.id, *task.aliases)
    return any("train" in n or "tuning" in n for n in names)


def fit_warning(
    standard: Standard, task: str | None, unit: str | None, phase: str | None = None
) -> str | None:
    """Return why a run of `task` counting `unit` in `phase` ('training' or 'inference';
    None: not known) cannot be rated by its class of `standard`; None when it fits.

    A task the standard does not know, or a run that names no unit, is left to the rating
    (which says so); this only catches a class that exists but does not fit.
    """
    cls = standard.task_class(task)
    if cls is None:
        return None
    problems = []
    if unit is not None and not cls.accepts_unit(unit):
        counted = " or ".join((cls.unit, *cls.unit_aliases))
        problems.append(f"it is rated per {cls.functional_unit}, so count {counted}, not {unit!r}")
    if phase is not None:
        training = _is_training(cls)
        if phase == "training" and not training:
            choices = [t for t in standard.tasks.values() if _is_training(t)]
            hint = ", ".join(f"{t.id!r} (per {t.unit})" for t in choices) or "none in this standard"
            problems.append(f"it rates inference, not training: for a training run use {hint}")
        elif phase == "inference" and training:
            problems.append("it rates training, not inference")
    if not problems:
        return None
    return (
        f"task {task!r} is class {cls.id!r} of {standard.id}: {'; '.join(problems)}; "
        "this run will not be graded"
    )
