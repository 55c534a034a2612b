"""Where runs fall in a population: percentile of energy per unit, grade bands, and why not.

    ranking = rank("population/", [my_run], names=["my-run"], standard="draft-chat.toml")
    ranking.runs[0].percentile, ranking.runs[0].flags, ranking.runs[0].refused
    write_html(ranking, "rank.html")      # and rank.png beside it: the same chart

The population's energy per counted unit is drawn on a log axis with the standard's grade
bands behind it (band edges on the index x the class's reference energy per unit). A run is
placed only when it counts the same functional unit for the same task class as the
population; a different measurement boundary or provenance (GPU-only third-party figures
against a whole-node greenai measurement) is placed but flagged, with the reasons of
report.compare, so the page never shows a percentile without saying what it compares.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from greenai import units
from greenai.errors import DisclosureError
from greenai.report import _plots as fmt
from greenai.report import compare, table
from greenai.report import html as page_html

# compare's reasons that make a percentile meaningless (the rest only qualify it).
REFUSING = ("different task", "different functional unit")


@dataclass(frozen=True)
class PlacedRun:
    """One run against the population: its energy per unit, rank, percentile and grade."""

    name: str
    energy_per_unit_j: float | None
    unit: str | None
    rank: int | None  # 1: the least energy per unit; None when not placed
    percentile: float | None  # % of the population using at most this energy per unit
    index: float | None
    grade: str | None
    flags: tuple[str, ...]  # why the comparison is qualified (boundary, provenance, status)
    refused: tuple[str, ...]  # why the run is not placed (task, functional unit)

    @property
    def placed(self) -> bool:
        """Return True when the run has a rank in the population."""
        return self.rank is not None


@dataclass(frozen=True)
class Band:
    """A grade band in energy per counted unit (J), and how many of the population it holds."""

    grade: str
    low_j: float
    high_j: float
    count: int


@dataclass(frozen=True)
class Ranking:
    """A population's distribution of energy per unit, its grade bands, and runs placed in it."""

    standard: str  # "id version"
    task: str | None  # the population's task class
    unit: str | None  # the counted unit
    labels: tuple[str, ...]  # population results, sorted by energy per unit
    energy_per_unit_j: tuple[float, ...]  # sorted, ascending
    models: tuple[str | None, ...]
    grades: tuple[str | None, ...]
    bands: tuple[Band, ...]
    runs: tuple[PlacedRun, ...]
    population_flags: tuple[str, ...]  # results of other kinds left out, and why
    sources: tuple[str, ...]  # where the population comes from (third-party files)
    notes: tuple[str, ...]  # the population's rating notes (third-party figures)


def rank(
    population: Any,
    runs: Sequence[Mapping[str, Any]],
    names: Sequence[str] | None = None,
    standard: Any = None,
) -> Ranking:
    """Return the ranking of `runs` (documents) in `population` (a folder, file or Results)."""
    from greenai.population import Results, load
    from greenai.scoring import rate_many
    from greenai.standard import load_standard

    results = population if isinstance(population, Results) else load(population)
    std = standard if hasattr(standard, "tasks") else load_standard(standard)
    names = list(names) if names is not None else [f"run {i + 1}" for i in range(len(runs))]
    pop = results.population  # documents that cannot be rated are left out of it
    kept = set(pop.labels)
    docs = [d for d, lab in zip(results.docs, results.labels, strict=True) if lab in kept]
    if not docs:
        raise DisclosureError(
            "the population has no result that can be rated (see the skipped lines)"
        )
    ratings = rate_many(pop, std)
    kinds = [_kind(doc, std) for doc in docs]
    main = max(set(kinds), key=lambda k: (kinds.count(k), str(k)))
    first = {k: kinds.index(k) for k in kinds}
    rep_names = [f"population ({_kind_text(k)})" for k in first]
    reps, label = compare.rerated([docs[i] for i in first.values()], rep_names, std)
    main_rep = reps[list(first).index(main)]
    population_flags = []
    for k, rep, rep_name in zip(first, reps, rep_names, strict=True):
        if k != main:
            why = "; ".join(compare.not_comparable(main_rep, rep, "the population", rep_name))
            population_flags.append(f"{kinds.count(k)} result(s) left out: {why}")
    import numpy as np

    with np.errstate(divide="ignore", invalid="ignore"):  # no units: no place on the axis
        per_unit = pop.energy_j / pop.units_done
    rows = [i for i, k in enumerate(kinds) if k == main and math.isfinite(per_unit[i])]
    if not rows:
        raise ValueError("the population has no result with energy per unit (no units counted)")
    grades = ratings.grades("energy")
    order = sorted(rows, key=lambda i: float(per_unit[i]))
    values = [float(per_unit[i]) for i in order]
    run_docs, _ = compare.rerated(runs, names, std)
    placed = tuple(
        _place(run, name, main_rep, values) for run, name in zip(run_docs, names, strict=True)
    )
    # the class the population is graded in: a size class of a sized task where its rows are
    rated_in = [ratings.task[i] for i in rows if ratings.task[i] is not None]
    if rated_in:
        task = std.task_class(max(set(rated_in), key=lambda t: (rated_in.count(t), t)))
    else:
        task = std.task_class(main[0]) if main[0] else None
    return Ranking(
        standard=label,
        task=task.id if task else main[0],
        unit=main[1],
        labels=tuple(pop.label(i) for i in order),
        energy_per_unit_j=tuple(values),
        models=tuple(_model(docs[i]) for i in order),
        grades=tuple(grades[i] for i in order),
        bands=_bands(task, [grades[i] for i in rows]),
        runs=placed,
        population_flags=tuple(population_flags),
        sources=_sources([docs[i] for i in rows]),
        notes=tuple((main_rep.get("rating") or {}).get("notes") or ()),
    )


def _kind(doc: Mapping[str, Any], std: Any) -> tuple[Any, ...]:
    """Return what must agree for two results to share one axis: task, unit, boundary, how."""
    from greenai.standard import canonical_unit, normalise_task

    task = table.text(doc.get("task"))
    cls = std.task_class(task)
    unit = table.text(doc.get("unit"))
    how = tuple((r["domain"], r["provenance"]) for r in table.domain_rows(doc))
    return (
        cls.id if cls else (normalise_task(task) if task else None),
        canonical_unit(unit) or unit,
        table.boundary(doc),
        tuple(sorted(how)),
    )


def _kind_text(kind: tuple[Any, ...]) -> str:
    task, unit, boundary, how = kind
    return f"{task}, per {unit}, {'+'.join(boundary)} {'/'.join(sorted({p for _, p in how}))}"


def _place(
    run: Mapping[str, Any], name: str, population: Mapping[str, Any], values: Sequence[float]
) -> PlacedRun:
    import bisect

    reasons = compare.not_comparable(run, population, name, "the population")
    how = table.text(run.get("provenance")), table.text(population.get("provenance"))
    shared_flagged = any("third-party" in r for r in reasons)  # compare: shared domains only
    if how[0] != how[1] and "third-party" in how and not shared_flagged:
        reasons = (
            *reasons,
            f"{name} is {how[0]}, the population {how[1]}: third-party figures are as "
            "published by their source, not greenai measurements",
        )
    refused = tuple(r for r in reasons if r.startswith(REFUSING))
    flags = tuple(r for r in reasons if not r.startswith(REFUSING))
    rec = table.record(run)
    per_unit = rec["energy_per_unit_j"]
    placed = not refused and per_unit is not None and math.isfinite(per_unit)
    if per_unit is None and not refused:
        refused = ("no energy per unit: the run counted no functional units",)
    return PlacedRun(
        name=name,
        energy_per_unit_j=per_unit,
        unit=rec["unit"],
        rank=bisect.bisect_left(values, per_unit) + 1 if placed else None,
        percentile=100.0 * bisect.bisect_right(values, per_unit) / len(values) if placed else None,
        index=rec["energy_index"],
        grade=rec["energy_grade"],
        flags=flags,
        refused=refused,
    )


def _bands(task: Any, grades: Sequence[str | None]) -> tuple[Band, ...]:
    if task is None:
        return ()
    per_unit = task.energy.per_unit
    return tuple(
        Band(b.grade, b.lower * per_unit, b.upper * per_unit, grades.count(b.grade))
        for b in task.bands.bands
    )


def _model(doc: Mapping[str, Any]) -> str | None:
    return table.text(table.block(doc, "source").get("model"))


def _sources(docs: Sequence[Mapping[str, Any]]) -> tuple[str, ...]:
    seen: dict[str, int] = {}
    for doc in docs:
        src = table.block(doc, "source")
        if src:
            key = (
                f"{table.text(src.get('publisher')) or table.text(src.get('format'))}: "
                f"{table.text(src.get('file'))} (SHA-256 {table.text(src.get('sha256'))}), "
                f"measured {'+'.join(map(str, src.get('domains_measured') or [])) or '?'}, "
                f"not counted: {', '.join(map(str, src.get('missing') or [])) or 'nothing said'}"
            )
            seen[key] = seen.get(key, 0) + 1
    return tuple(f"{n} result(s) from {key}" for key, n in seen.items())


# ----------------------------------------------------------------------- chart and page
def _chart(ranking: Ranking) -> Any:
    """Return the matplotlib figure: population on a log axis, bands behind, runs marked."""
    fig = fmt._figure(7.5, 3.4)
    ax = fig.add_subplot()
    values = ranking.energy_per_unit_j
    placed = [r for r in ranking.runs if r.placed]
    shown = [*values, *(r.energy_per_unit_j for r in placed)]
    low, high = min(shown) / 1.5, max(shown) * 1.5
    spans = [(b, max(b.low_j, low), min(b.high_j, high)) for b in ranking.bands]
    spans = [(b, lo, hi) for b, lo, hi in spans if lo < hi]
    grade_rows = label_rows([math.sqrt(lo * hi) for _, lo, hi in spans], low, high, width=0.03)
    for (band, lo, hi), row in zip(spans, grade_rows, strict=True):
        if lo < hi:
            ax.axvspan(lo, hi, color=fmt.GRADE_COLOURS[band.grade], alpha=0.35, lw=0)
            ax.text(
                math.sqrt(lo * hi),
                1.02 + 0.07 * row,
                band.grade,
                ha="center",
                va="bottom",
                fontsize=9,
                transform=ax.get_xaxis_transform(),
                fontweight="bold",
            )
    y = [0.15 + 0.7 * (i % 7) / 6 for i in range(len(values))]  # spread, so ties stay visible
    ax.scatter(values, y, s=22, color="#1a1a1a", zorder=3, label="population")
    run_rows = label_rows([r.energy_per_unit_j for r in placed], low, high, width=0.32)
    for n, (run, row) in enumerate(zip(placed, run_rows, strict=True)):
        colour = fmt._CYCLE[n % len(fmt._CYCLE)]
        ax.axvline(run.energy_per_unit_j, color=colour, lw=2, zorder=4)
        ax.text(
            run.energy_per_unit_j,
            0.95 - 0.1 * row,
            fmt.chart_text(
                f" {run.name}: {units.placement(run.rank or 0, len(ranking.energy_per_unit_j))}"
            ),
            color=colour,
            fontsize=8,
            va="top",
            zorder=5,
        )
    ax.set_xscale("log")
    ax.set_xlim(low, high)
    ax.set_ylim(0, 1)
    ax.set_yticks([])
    ax.set_xlabel(fmt.chart_text(f"energy per {units.unit_label(ranking.unit)} (log scale)"))
    units.si_axis(ax.xaxis, "J")
    ax.grid(axis="x", which="both", alpha=0.3)
    return fig


def label_rows(xs: Sequence[float], low: float, high: float, width: float) -> list[int]:
    """Return a row for each label at x (log axis low..high) so that no two labels overlap.

    A label is taken to span `width` of the axis from its x, rightwards (left-aligned
    texts) or centred when drawn centred: two labels in one row are at least `width` apart.
    Rows are filled first come, first served in order of x.
    """
    span = math.log(high) - math.log(low)
    where = [(math.log(x) - math.log(low)) / span for x in xs]
    rows = [0] * len(xs)
    last: list[float] = []  # the right end of the last label in each row
    for i in sorted(range(len(xs)), key=lambda i: where[i]):
        row = next((r for r, end in enumerate(last) if where[i] >= end), len(last))
        if row == len(last):
            last.append(0.0)
        last[row] = where[i] + width
        rows[i] = row
    return rows


def write_html(ranking: Ranking, path: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Write the ranking page and its chart as PNG beside it (same stem); return both paths."""
    from greenai.measurement import write_atomic

    out = Path(path)
    png = out.with_suffix(".png")
    fig = _chart(ranking)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, format="png", dpi=120, metadata={"Software": None})
    write_atomic(out, to_html(ranking, chart_svg=fmt.to_svg(fig)))
    return out, png


def to_html(ranking: Ranking, chart_svg: str | None = None) -> str:
    """Return the ranking as one self-contained HTML page."""
    e, Safe = page_html.e, page_html.Safe
    svg = chart_svg if chart_svg is not None else fmt.to_svg(_chart(ranking))
    unit = ranking.unit or "unit"
    title = f"Ranking in a population of {len(ranking.energy_per_unit_j)} results"
    parts = [
        f"<h1>{e(title)}</h1>",
        f'<p class="sub">task {e(ranking.task)} · energy per {e(unit)} · grades under '
        f"{e(ranking.standard)}</p>",
    ]
    for note in (*ranking.notes, *ranking.sources):
        parts.append(f'<p class="warn">{e(note)}</p>')
    for flag in ranking.population_flags:
        parts.append(f'<p class="warn">Population: {e(flag)}</p>')
    parts.append('<h2 id="runs">Your runs</h2>')
    rows = []
    for r in ranking.runs:
        where = (
            units.placement(r.rank or 0, len(ranking.energy_per_unit_j))
            if r.placed
            else "not placed"
        )
        why = [*(f"not placed: {x}" for x in r.refused), *(f"flag: {x}" for x in r.flags)]
        rows.append(
            [
                r.name,
                f"{fmt.energy(r.energy_per_unit_j)} / {r.unit or 'unit'}",
                where,
                page_html.grade_badge(r.grade),
                Safe("<br>".join(e(x) for x in why)) if why else "comparable",
            ]
        )
    parts.append(
        page_html.html_table(
            ["run", "energy per unit", "rank", "grade", "comparability"], rows, numeric=(1,)
        )
    )
    parts += [
        '<h2 id="distribution">Distribution</h2>',
        page_html.chart(svg, "Nothing to chart."),
        '<p class="how">Each dot is one result of the population; coloured spans are the grade '
        "bands of the standard (band edges on the index x the reference energy per unit); a "
        "line marks each placed run with its percentile (share of the population using at "
        "most its energy per unit).</p>",
        '<h2 id="bands">Grade bands</h2>',
        page_html.html_table(
            ["grade", f"energy per {unit}", "results in band"],
            [
                [page_html.grade_badge(b.grade), f"{_j(b.low_j)} to {_j(b.high_j)}", b.count]
                for b in ranking.bands
            ],
            numeric=(1, 2),
        ),
        '<h2 id="population">Population</h2>',
        page_html.html_table(
            ["#", "result", "model", f"energy per {unit}", "grade"],
            [
                [i + 1, lab, m, _j(v), page_html.grade_badge(g)]
                for i, (lab, m, v, g) in enumerate(
                    zip(
                        ranking.labels,
                        ranking.models,
                        ranking.energy_per_unit_j,
                        ranking.grades,
                        strict=True,
                    )
                )
            ],
            numeric=(0, 3),
        ),
    ]
    footer = Safe("Made by greenai from the documents given; nothing was measured again.")
    return page_html.page(title, "\n".join(parts), footer)


def _j(value: float) -> str:
    return "∞" if math.isinf(value) else fmt.energy(value)


__all__ = ["Band", "PlacedRun", "Ranking", "rank", "to_html", "write_html"]
