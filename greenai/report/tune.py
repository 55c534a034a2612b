"""A tuning run for people: a table of the settings tried, and the energy/throughput chart."""

from __future__ import annotations

from pathlib import Path

from greenai import units
from greenai.optimize.result import Optimisation
from greenai.report._plots import _CYCLE, _figure, chart_text, number


def tune_table(block: Optimisation) -> str:
    """Return the settings tried as a text table: J/unit with 95 % CI, throughput, EDP."""
    head = (
        f"{'setting':>12}  {'J/unit':>10}  {'95 % CI':>21}  {'units/s':>9}  "
        f"{'EDP J s/unit2':>13}  {'slowdown':>8}  role"
    )
    lines = [head, "-" * len(head)]
    for c in sorted(block.candidates, key=lambda c: -c.setting):
        low, high = c.energy_per_unit_ci95_j
        role = "baseline, chosen" if c.role == "chosen" and c.setting == block.baseline else c.role
        role += "" if c.feasible else " (breaks the slowdown bound)"
        lines.append(
            f"{c.setting:>8g} {block.knob_unit:<3}  {number(c.energy_per_unit_j, 'J'):>10}  "
            f"{number(low, 'J') + ' .. ' + number(high, 'J'):>21}  "
            f"{units.plain(c.throughput_units_per_s, 3):>9}  {units.plain(c.edp_j_s, 3):>13}  "
            f"{c.slowdown:>+8.1%}  {role}"
        )
    lines.append("")
    if block.chosen is None:
        lines.append("chosen: none (the search did not finish, or nothing kept the bound)")
    else:
        low, high = block.saving_ci95 or (float("nan"), float("nan"))
        lines.append(
            f"chosen: {block.chosen:g} {block.knob_unit}; saving {block.saving:.1%} of energy per "
            f"unit (95 % CI {low:.1%} .. {high:.1%}) against the baseline "
            f"{block.baseline:g} {block.knob_unit}, slowdown {block.slowdown:+.1%}"
        )
    grading = "graded" if block.graded else "NOT graded"
    lines.append(f"energy: {block.provenance} ({grading})")
    lines.extend(f"note: {n}" for n in block.notes)
    return "\n".join(lines)


def tradeoff_png(block: Optimisation, path: Path, unit: str = "unit", title: str = "") -> Path:
    """Write the trade-off chart of a tuning run as PNG to path; return path."""
    from greenai.optimize.search import pareto_front

    fig = _figure(6.4, 4.0)
    ax = fig.add_subplot()
    cands = block.candidates
    x = [c.throughput_units_per_s for c in cands]
    y = [c.energy_per_unit_j for c in cands]
    err = [
        [c.energy_per_unit_j - c.energy_per_unit_ci95_j[0] for c in cands],
        [c.energy_per_unit_ci95_j[1] - c.energy_per_unit_j for c in cands],
    ]
    ax.errorbar(
        x,
        y,
        yerr=err,
        fmt="o",
        color=_CYCLE[0],
        ecolor="#8c8c8c",
        capsize=3,
        label="setting (95 % CI)",
    )
    front = [cands[i] for i in pareto_front(list(zip(y, x, strict=True)))]
    ax.plot(
        [c.throughput_units_per_s for c in front],
        [c.energy_per_unit_j for c in front],
        "o--",
        color=_CYCLE[1],
        markerfacecolor="none",
        markersize=11,
        linewidth=1.2,
        label="Pareto front (no setting beats these on both)",
    )
    for c in cands:
        mark = ", ".join(
            [
                r
                for r, hit in (
                    ("baseline", c.setting == block.baseline),
                    ("chosen", c.role == "chosen"),
                )
                if hit
            ]
        )
        mark = f" ({mark})" if mark else ""
        ax.annotate(
            chart_text(f"{c.setting:g} {block.knob_unit}{mark}"),
            (c.throughput_units_per_s, c.energy_per_unit_j),
            textcoords="offset points",
            xytext=(6, 4),
            fontsize=8,
        )
    chosen = [c for c in cands if c.role == "chosen"]
    if chosen:
        ax.plot(
            [chosen[0].throughput_units_per_s],
            [chosen[0].energy_per_unit_j],
            "*",
            markersize=14,
            color=_CYCLE[2],
            label="chosen",
        )
    ax.margins(x=0.25, y=0.15)
    ax.set_xlabel(chart_text(f"throughput ({unit}/s)"))
    modelled = " [modelled]" if block.provenance != "measured" else ""
    ax.set_ylabel(f"energy per {chart_text(unit)}{modelled}")
    units.si_axis(ax.xaxis)
    units.si_axis(ax.yaxis, "J")
    heading = title or f"{block.knob}: energy vs throughput"
    if block.provenance != "measured":
        heading += f" - {block.provenance} energy, not graded"
    ax.set_title(chart_text(heading), fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, frameon=False)
    fig.savefig(path, format="png", dpi=120, metadata={"Software": None})
    return path
