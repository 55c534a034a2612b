"""Ratings of what the registry holds: a grade distribution under any standard, leaderboards."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from greenai.registry.store import Store


def rerate(store: Store, std: Any, filters: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Return the grade distribution of every matching disclosure under `std`, per task class.

    {"standard": {...}, "total": n, "seconds": {"read": s, "rate": s}, "classes": {task:
    {"rated": n, "grades": {"A": n, ...}, "not graded": n}}, "unknown task": n,
    "not re-indexed": n}. The classes are the standard's rating classes, size classes
    ("text-generation/small") included; "not re-indexed" counts the rows whose work block is
    not known (summaries stored without a document), rated as disclosing no work.
    """
    import numpy as np

    from greenai.scoring import GRADES, rate_many

    t0 = time.perf_counter()
    population, _ids = store.population(filters)
    t1 = time.perf_counter()
    table = rate_many(population, std)
    t2 = time.perf_counter()
    classes: dict[str, Any] = {}
    task_ids = np.array([c.id for c in std.rating_classes()] + [None], dtype=object)
    position = {tid: i for i, tid in enumerate(task_ids.tolist())}
    codes = np.array([position.get(t, len(task_ids) - 1) for t in table.task.tolist()])
    grades = table.energy_grade
    for i, task_id in enumerate(task_ids.tolist()[:-1]):
        rows = codes == i
        counts = np.bincount(grades[rows & (grades >= 0)], minlength=len(GRADES))
        classes[task_id] = {
            "rated": int(rows.sum()),
            "grades": {GRADES[g]: int(c) for g, c in enumerate(counts.tolist()) if c},
            "not graded": int((rows & (grades < 0)).sum()),
        }
    return {
        "standard": {"id": std.id, "version": std.version, "status": std.status},
        "total": len(population),
        "seconds": {"read": round(t1 - t0, 3), "rate": round(t2 - t1, 3)},
        "classes": classes,
        "unknown task": int((codes == len(task_ids) - 1).sum()),
        "not re-indexed": store.not_indexed(filters),
    }


@dataclass(frozen=True)
class Entry:
    """One leaderboard row: the stored index row and its rating under the board's standard."""

    row: Mapping[str, Any]
    energy_per_unit_j: float | None
    index: float | None
    grade: str | None
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Board:
    """The leaderboard of one task class: its unit, reference, grade band edges and rows."""

    task: str
    name: str
    unit: str
    reference_j_per_unit: float
    grades: tuple[str, ...]  # best first
    band_edges: tuple[float, ...]  # on the index (energy / reference), between the grades
    entries: tuple[Entry, ...]


def boards(
    store: Store, std: Any, filters: Mapping[str, Any] | None = None, limit: int = 1000
) -> list[Board]:
    """Return one Board per rating class of `std` with its matching disclosures, best first.

    A sized task (text generation) has a board per size class, and one for its runs that fit
    none (no parameter count disclosed). Each task's boards hold at most `limit` rows
    together: the least energy per counted unit, chosen by the database, then rated here.
    """
    from greenai.scoring import DomainState, Population, RatingInput, rate_many
    from greenai.standard import DOMAINS
    from greenai.work import Work

    rows = []
    for cls in std.tasks.values():
        names = [cls.id, *cls.aliases]
        rows.extend(store.query(filters, limit=limit, tasks=names, best_first=True))
    names = {1: "measured", 2: "modelled", 3: "mixed", 4: "third-party"}
    inputs = []
    for r in rows:
        domains = {}
        for i, d in enumerate(DOMAINS):
            state = (int(r["domains"]) >> (4 * i)) & 15
            if state & 7:
                domains[d] = DomainState(names[state & 7], not state & 8)
        inputs.append(
            RatingInput(
                task=r["task"],
                unit=r["unit"],
                units_done=float(r["units_done"]),
                energy_j=float(r["energy_j"]),
                duration_s=float(r["duration_s"]),
                domains=domains,
                sampling_interval_s=r["sampling_interval_s"],
                idle_baseline=bool(r["idle_baseline"]),
                repetitions=int(r["repetitions"]),
                status=r["run_status"],
                water_l=r["water_l"],
                water_reason=r["water_reason"],
                work=Work.from_dict(r["work"], f"registry row {r['id']}"),
                energy_ci_rel=r["energy_ci_rel"],
            )
        )
    table = rate_many(Population.from_inputs(inputs), std)
    grades = table.grades("energy")
    out = []
    for cls in std.rating_classes():  # a sized task's rows are ranked in their size class
        entries = []
        for i, r in enumerate(rows):
            if table.task[i] != cls.id:
                continue
            index = float(table.energy_index[i])
            per_unit = r["energy_j"] / r["units_done"] if r["units_done"] else None
            entries.append(
                Entry(
                    row=r,
                    energy_per_unit_j=per_unit,
                    index=None if index != index else index,
                    grade=grades[i],
                    reasons=table.reasons(i) if grades[i] is None else (),
                )
            )
        entries.sort(key=lambda e: (e.index is None, e.index or 0.0))
        out.append(
            Board(
                task=cls.id,
                name=cls.name,
                unit=cls.unit,
                grades=cls.bands.grades,
                reference_j_per_unit=float(cls.energy.per_unit),
                band_edges=tuple(float(e) for e in cls.bands.edges),
                entries=tuple(entries),
            )
        )
    return out


__all__ = ["Board", "Entry", "boards", "rerate"]
