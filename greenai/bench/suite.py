"""Benchmark suite files (TOML): which workloads, with which sizes, repetitions and windows."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomllib

from greenai import textfile
from greenai.errors import GreenAIError

SUITE_KEYS = {"id", "description", "idle_baseline_s"}
WORKLOAD_KEYS = {
    "id",
    "kind",
    "task",
    "unit",
    "params",
    "device",
    "warmup_s",
    "repetitions",
    "min_duration_s",
    "work",
}


# Suite and workload ids become folder and file names: no separators, no leading dot.
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def _work(table: Any, where: str) -> dict[str, Any]:
    """Return a workload's `work` table, checked as a disclosure's work block would be."""
    from greenai.errors import DisclosureError
    from greenai.work import Work

    if not isinstance(table, dict):
        raise SuiteError(f'{where}.work: expected a table, e.g. work = {{ dataset = "..." }}')
    try:
        return Work.from_dict(table, f"{where}").to_dict()
    except DisclosureError as exc:
        raise SuiteError(f"{exc} (suite files: benchmarks/suites/)") from None


class SuiteError(GreenAIError):
    """A suite file is malformed; the message names the file, the key and the fix."""


@dataclass(frozen=True)
class WorkloadSpec:
    """One workload of a suite."""

    id: str
    kind: str
    task: str
    unit: str | None = None  # None: the workload's own unit
    params: dict[str, Any] = field(default_factory=dict)
    device: str = "cpu"
    warmup_s: float = 1.0
    repetitions: int = 3
    min_duration_s: float = 5.0
    # what the workload does beyond its own benchmark id (greenai.work.Work fields, e.g. a
    # dataset, model, quality reached): disclosed with each result, checked by the rating
    work: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Suite:
    """A named list of workloads."""

    id: str
    description: str
    idle_baseline_s: float
    workloads: tuple[WorkloadSpec, ...]
    source: str

    def planned_s(self) -> float:
        """Return the planned metered + warm-up time of the whole suite (s)."""
        return self.idle_baseline_s + sum(
            w.warmup_s + w.repetitions * w.min_duration_s for w in self.workloads
        )


def suites_dir() -> Path:
    """Return the directory of the shipped suite files (packaged or source tree)."""
    from importlib import resources

    packaged = Path(str(resources.files("greenai"))) / "_suites"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "benchmarks" / "suites"


def list_suites() -> list[Suite]:
    """Return every shipped suite."""
    return [load_suite(p) for p in sorted(suites_dir().glob("*.toml"))]


def load_suite(name_or_path: str | os.PathLike[str]) -> Suite:
    """Return a suite by shipped name (smoke, standard) or from a TOML file."""
    text_name = str(name_or_path)
    path = Path(text_name)
    if not text_name.endswith(".toml"):
        path = suites_dir() / f"{text_name}.toml"
        if not path.exists():
            known = ", ".join(p.stem for p in sorted(suites_dir().glob("*.toml")))
            raise SuiteError(f"no suite named {text_name!r}; shipped suites: {known}")
    try:
        doc = tomllib.loads(textfile.read_text(path))
    except OSError as exc:
        raise SuiteError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SuiteError(f"{path}: not valid TOML: {exc}") from exc
    except RecursionError:
        raise SuiteError(f"{path}: nested too deeply to be a suite") from None
    return parse_suite(doc, str(path))


def _check_keys(where: str, table: Any, allowed: set[str], source: str) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise SuiteError(f"{source}: {where}: expected a table")
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise SuiteError(f"{source}: {where}: unknown key(s) {unknown}; allowed: {sorted(allowed)}")
    return table


def _number(source: str, where: str, value: Any, minimum: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
        raise SuiteError(f"{source}: {where}: expected a number >= {minimum:g}, got {value!r}")
    return float(value)


def parse_suite(doc: dict[str, Any], source: str = "<suite>") -> Suite:
    """Return a Suite from parsed TOML; SuiteError names the bad key."""
    head = _check_keys("[suite]", doc.get("suite"), SUITE_KEYS, source)
    extra = sorted(set(doc) - {"suite", "workload"})
    if extra:
        raise SuiteError(f"{source}: unknown table(s) {extra}; use [suite] and [[workload]]")
    if not isinstance(head.get("id"), str) or not head["id"]:
        raise SuiteError(f"{source}: suite.id: missing; give the suite a name")
    if not _SAFE_ID.match(head["id"]):
        raise SuiteError(
            f"{source}: suite.id: {head['id']!r} must be letters, digits, '.', '_' "
            "or '-' (it names the results folder)"
        )
    items = doc.get("workload")
    if not isinstance(items, list) or not items:
        raise SuiteError(f"{source}: no [[workload]] entries")
    workloads = []
    seen = set()
    for i, item in enumerate(items):
        where = f"workload[{i}]"
        w = _check_keys(where, item, WORKLOAD_KEYS, source)
        for key in ("id", "kind", "task"):
            if not isinstance(w.get(key), str) or not w[key]:
                raise SuiteError(f"{source}: {where}.{key}: missing (a non-empty string)")
        if not _SAFE_ID.match(w["id"]):
            raise SuiteError(
                f"{source}: {where}.id: {w['id']!r} must be letters, digits, '.', "
                "'_' or '-' (it names the result file)"
            )
        if w["id"] in seen:
            raise SuiteError(f"{source}: {where}.id: duplicate workload id {w['id']!r}")
        seen.add(w["id"])
        reps = w.get("repetitions", 3)
        if isinstance(reps, bool) or not isinstance(reps, int) or reps < 1:
            raise SuiteError(f"{source}: {where}.repetitions: expected an integer >= 1")
        if not isinstance(w.get("params", {}), dict):
            raise SuiteError(f"{source}: {where}.params: expected a table")
        work = _work(w.get("work", {}), f"{source}: {where}")
        workloads.append(
            WorkloadSpec(
                id=w["id"],
                kind=w["kind"],
                task=w["task"],
                unit=w.get("unit"),
                params=dict(w.get("params", {})),
                device=str(w.get("device", "cpu")),
                warmup_s=_number(source, f"{where}.warmup_s", w.get("warmup_s", 1.0), 0.0),
                repetitions=reps,
                min_duration_s=_number(
                    source, f"{where}.min_duration_s", w.get("min_duration_s", 5.0), 0.0
                ),
                work=work,
            )
        )
    return Suite(
        id=head["id"],
        description=str(head.get("description", "")),
        idle_baseline_s=_number(
            source, "suite.idle_baseline_s", head.get("idle_baseline_s", 0.0), 0.0
        ),
        workloads=tuple(workloads),
        source=source,
    )
