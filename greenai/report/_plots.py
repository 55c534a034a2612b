"""Helpers the reporters share: figures with units for people, and charts as inline SVG.

Charts are drawn on a bare matplotlib ``Figure`` (no pyplot, so no global state and no
display), and come back as SVG text that can sit inside an HTML page: no XML prolog, no
DOCTYPE, no namespace URLs, ids made unique per chart, and text kept as text. matplotlib is
imported only inside the functions that draw.
"""

from __future__ import annotations

import io
import itertools
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from greenai import units
from greenai.units import MISSING

# EU energy-label band colours, A (best) to G.
GRADE_COLOURS = {
    "A": "#00a651",
    "B": "#50b848",
    "C": "#bed630",
    "D": "#fff200",
    "E": "#fdb913",
    "F": "#f37021",
    "G": "#ed1c24",
}
DOMAIN_COLOURS = {"cpu": "#4c72b0", "dram": "#55a868", "gpu": "#c44e52", "system": "#8172b2"}
_CYCLE = ("#4c72b0", "#c44e52", "#55a868", "#8172b2", "#ccb974", "#64b5cd", "#8c8c8c")

_chart_ids = itertools.count(1)


def number(value: float | None, unit: str = "", digits: int = 3) -> str:
    """Return a value with an SI prefix and `digits` significant digits ('870 J', '1.11 mL')."""
    return units.si(value, unit, digits)


def energy(energy_j: float | None) -> str:
    """Return an energy in J with an SI prefix ('1.23 kJ')."""
    return number(energy_j, "J")


def water(water_l: float | None) -> str:
    """Return a water volume in L with an SI prefix ('1.11 mL')."""
    return number(water_l, "L")


def carbon(carbon_g: float | None) -> str:
    """Return a mass of CO2e in g with an SI prefix ('128 mg CO2e')."""
    text = number(carbon_g, "g")
    return text if text == MISSING else f"{text} CO2e"


def power(power_w: float | None) -> str:
    """Return a power in W with an SI prefix ('290 W')."""
    return number(power_w, "W")


def seconds(duration_s: float | None) -> str:
    """Return a duration readably ('717 ms', '12.3 s', '2 min 05 s'): units.duration."""
    return units.duration(duration_s)


def figure(value: float | None, unit: str) -> str:
    """Return a figure in J, W, L or g with an SI prefix; per functional unit ('J/token',
    'L/pflop'): units.per_unit; any other unit: the bare number."""
    quantity, slash, per = unit.partition("/")
    if slash and quantity in ("J", "L", "g"):
        return units.per_unit(value, per, "g CO2e" if quantity == "g" else quantity)
    show = {"J": energy, "W": power, "L": water, "g": carbon}
    return show.get(unit, plain)(value)


def rated(
    measured: float | None, reference: float | None, functional_unit: object, quantity: str
) -> tuple[str, str]:
    """Return a rating's measured and reference figures (J or L per the standard's functional
    unit, e.g. '1000 gflop') in one scale, spelled as per_unit spells every other figure."""
    parsed = units.parse_functional_unit(functional_unit)
    if parsed is None:
        return figure(measured, quantity), figure(reference, quantity)
    amount_, unit = parsed
    one = [None if v is None else v / amount_ for v in (measured, reference)]
    scale = units.per_unit_scale(one[0] if one[0] is not None else one[1], unit, quantity)
    return scale(one[0]), scale(one[1])


def plain(value: Any) -> str:
    """Return a figure without unit (units.plain: no exponent notation)."""
    return units.plain(value)


def amount(value: float | None, unit: str | None) -> str:
    """Return a count of functional units ('1,000 query', '3.14 GFLOP'): units.amount."""
    return units.amount(value, unit)


def index(value: float | None) -> str:
    """Return an efficiency index, 3 significant digits, no exponent: units.index."""
    return units.index(value)


# ----------------------------------------------------------------------- charts
def chart_text(text: Any) -> str:
    """Return document text safe for matplotlib: '$' would start mathtext (and can raise)."""
    return str(text).replace("$", r"\$")


def _figure(width_in: float, height_in: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width_in, height_in), layout="constrained")


def to_svg(fig: Any) -> str:
    """Return a matplotlib figure as an SVG fragment for inline use in HTML."""
    import matplotlib

    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "greenai"}):
        buf = io.StringIO()
        fig.savefig(
            buf,
            format="svg",
            metadata={"Date": None, "Creator": None, "Format": None, "Type": None},
        )
    return inline_svg(buf.getvalue(), prefix=f"c{next(_chart_ids)}-")


def inline_svg(svg: str, prefix: str) -> str:
    """Return SVG text fit for an HTML page: no prolog, doctype, metadata or namespace URLs,
    xlink:href as href, and every id (and reference to it) prefixed so charts never clash."""
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.S)
    svg = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", svg, count=2)
    svg = svg.replace("xlink:href=", "href=")
    ids = re.findall(r'\bid="([^"]+)"', svg)
    if ids:
        pattern = "|".join(re.escape(i) for i in sorted(set(ids), key=len, reverse=True))
        svg = re.sub(
            rf'(\bid="|href="#|url\(#)({pattern})(?=[")])', lambda m: m[1] + prefix + m[2], svg
        )
    return svg.strip()


def timeline_chart(t_s: Sequence[float], power_w: Mapping[str, Sequence[float]]) -> str | None:
    """Return an SVG line chart of power (W) per device over time (s); None without data."""
    series = {k: v for k, v in power_w.items() if len(v) == len(t_s) and len(v) > 0}
    if not t_s or not series:
        return None
    fig = _figure(7.5, 3.0)
    ax = fig.add_subplot()
    for i, (device, values) in enumerate(series.items()):
        ax.plot(t_s, values, label=chart_text(device), color=_CYCLE[i % len(_CYCLE)], linewidth=1.4)
    ax.set_xlabel("time since start")
    ax.set_ylabel("mean power")
    units.si_axis(ax.xaxis, "s")
    units.si_axis(ax.yaxis, "W")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    return to_svg(fig)


def bar_chart(
    categories: Sequence[str],
    stacks: Mapping[str, Sequence[float]],
    ylabel: str,
    colours: Mapping[str, str] | None = None,
    reference: float | None = None,
) -> str | None:
    """Return an SVG stacked bar chart: one bar per category, one stack segment per series,
    and a dashed line at `reference` when given.

    Values that are None or not finite count as 0; None when there is nothing to draw.
    """
    if not categories or not stacks:
        return None
    clean = {
        name: [v if isinstance(v, int | float) and math.isfinite(v) else 0.0 for v in values]
        for name, values in stacks.items()
    }
    if not any(v for values in clean.values() for v in values):
        return None
    fig = _figure(min(7.5, 2.2 + 0.9 * len(categories)), 2.8)
    ax = fig.add_subplot()
    x = list(range(len(categories)))
    bottom = [0.0] * len(categories)
    for i, (name, values) in enumerate(clean.items()):
        colour = (colours or {}).get(name, _CYCLE[i % len(_CYCLE)])
        ax.bar(x, values, bottom=bottom, label=chart_text(name), color=colour, width=0.6)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    if reference is not None:
        ax.axhline(reference, color="#1a1a1a", linestyle="--", linewidth=1)
    ax.set_xticks(x, [chart_text(c) for c in categories], fontsize=8)
    unit = re.search(r"\s*\((J|W|L|g|g CO2e|s)\)$", ylabel)
    if unit:  # the unit goes on the ticks, with its SI prefix: '300 nL', not 3e-7 and an offset
        ylabel = ylabel[: unit.start()]
        units.si_axis(ax.yaxis, unit[1])
    else:
        ax.yaxis.get_major_formatter().set_useOffset(False)
        ax.yaxis.get_major_formatter().set_scientific(False)
    ax.set_ylabel(chart_text(ylabel))
    ax.grid(axis="y", alpha=0.3)
    if len(clean) > 1:
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    return to_svg(fig)
