"""An appliance-style efficiency label for one run, as SVG or PNG.

    svg = to_label_svg(doc)               # standalone SVG text
    write_label_png(doc, "label.png")     # the same label as a PNG (matplotlib, Agg)

A fixed layout, like the EU energy label: two A-G scales (energy, water) with the run's
grade marked, or "not graded" and why; energy and water per functional unit; task,
hardware, standard version and date. The layout is computed once as a list of shapes
and drawn by two renderers, so the SVG and the PNG are the same label.
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from greenai import units
from greenai.report import _plots as fmt
from greenai.report import table

WIDTH = 420
HEIGHT = 660  # room for the operational + embodied carbon and water rows
PNG_SCALE = 2  # the PNG is WIDTH x HEIGHT at this many pixels per label unit
FONT = "DejaVu Sans, Verdana, Arial, Helvetica, sans-serif"
INK = "#1a1a1a"
MUTED = "#5f6368"
DIMMED = 0.3  # opacity of the bands that are not the run's grade
UNGRADED = 0.55  # opacity of every band when the run has no grade
DARK_LETTERS = {"C", "D"}  # light bands take dark letters

# Geometry: two columns of seven bands.
_COLUMN_X = (16.0, 216.0)
_COLUMN_W = 188.0
_BAND_TOP = 142.0
_BAND_PITCH = 30.0
_BAND_H = 26.0
_MARKER_X = 134.0  # marker tip, from the column's left edge
_CHAR_W = 0.58  # mean glyph width as a fraction of the font size (DejaVu Sans is wide)


@dataclass(frozen=True)
class _Rect:
    x: float
    y: float
    w: float
    h: float
    fill: str
    stroke: str | None = None
    stroke_w: float = 0.0
    opacity: float = 1.0


@dataclass(frozen=True)
class _Poly:
    points: tuple[tuple[float, float], ...]
    fill: str
    stroke: str | None = None
    stroke_w: float = 0.0
    opacity: float = 1.0


@dataclass(frozen=True)
class _Text:
    x: float
    y: float  # baseline
    text: str
    size: float
    fill: str = INK
    bold: bool = False
    anchor: str = "start"  # start | middle | end


_Shape = _Rect | _Poly | _Text


# ----------------------------------------------------------------------- public
def to_label_svg(doc: Any) -> str:
    """Return the label of one disclosure document as standalone SVG text."""
    shapes = _layout(table.require_document(doc))
    body = "\n".join(_svg_shape(s) for s in shapes)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{_aria(doc)}" '
        f'font-family="{FONT}">\n{body}\n</svg>\n'
    )


def write_label_png(doc: Any, path: str | os.PathLike[str]) -> Path:
    """Write the label of one disclosure document as a PNG image; return the path."""
    import matplotlib.patches as patches
    from matplotlib.figure import Figure

    shapes = _layout(table.require_document(doc))
    dpi = 100.0
    fig = Figure(figsize=(WIDTH / dpi, HEIGHT / dpi), dpi=dpi)
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    ax.set_xlim(0, WIDTH)
    ax.set_ylim(HEIGHT, 0)
    ax.axis("off")
    points_per_unit = 72.0 / dpi
    for s in shapes:
        if isinstance(s, _Rect):
            ax.add_patch(
                patches.Rectangle(
                    (s.x, s.y),
                    s.w,
                    s.h,
                    facecolor=s.fill,
                    edgecolor=s.stroke or "none",
                    linewidth=s.stroke_w * points_per_unit,
                    alpha=s.opacity,
                )
            )
        elif isinstance(s, _Poly):
            ax.add_patch(
                patches.Polygon(
                    s.points,
                    closed=True,
                    facecolor=s.fill,
                    edgecolor=s.stroke or "none",
                    linewidth=s.stroke_w * points_per_unit,
                    alpha=s.opacity,
                )
            )
        else:
            ax.text(
                s.x,
                s.y,
                fmt.chart_text(s.text),
                fontsize=s.size * points_per_unit,
                color=s.fill,
                fontweight="bold" if s.bold else "normal",
                ha={"start": "left", "middle": "center", "end": "right"}[s.anchor],
                va="baseline",
                family="DejaVu Sans",
            )
    path = Path(path)
    fig.savefig(path, format="png", dpi=dpi * PNG_SCALE, metadata={"Software": None})
    return path


# ----------------------------------------------------------------------- layout
def _layout(doc: Any) -> list[_Shape]:
    rec = table.record(doc)
    rating = table.rating_of(doc)
    shapes: list[_Shape] = [
        _Rect(0, 0, WIDTH, HEIGHT, "#ffffff", stroke=INK, stroke_w=2),
        _Rect(0, 0, WIDTH, 56, INK),
        _Text(16, 36, "greenai", 24, "#ffffff", bold=True),
        _Text(WIDTH - 16, 25, "AI energy and water label", 12, "#ffffff", anchor="end"),
        _Text(WIDTH - 16, 43, _fit(_standard_text(rating), 11, 220), 11, "#d0d0d0", anchor="end"),
    ]
    shapes.append(
        _Text(16, 86, _fit(rec["task"] or "task not stated", 17, WIDTH - 32), 17, bold=True)
    )
    parsed = units.parse_functional_unit(rating.get("functional_unit"))
    unit = parsed[1] if parsed else rec["unit"]
    per = f"figures per {units.unit_label(unit)}" if unit else "figures per unit (none counted)"
    shapes.append(_Text(16, 106, _fit(per, 12, WIDTH - 32), 12, MUTED))
    for column, (kind, title) in enumerate((("energy", "ENERGY"), ("water", "WATER"))):
        shapes += _column(_COLUMN_X[column], kind, title, rec, rating)
    shapes.append(_Rect(16, 492, WIDTH - 32, 1, "#c8c8c8"))
    info = (
        ("Task", rec["task"] or "not stated"),
        ("Hardware", table.hardware(doc)),
        ("Measured", _measured_text(doc, rec)),
        ("Standard", _standard_text(rating, long=True)),
        ("Date", (rec["started_at"] or "not stated")[:10]),
        *_lifecycle_rows(rec, per),
    )
    for i, (key, value) in enumerate(info):
        y = 512 + i * 19
        shapes.append(_Text(16, y, key, 11, MUTED))
        shapes.append(_Text(96, y, _fit(value, 12, WIDTH - 112), 12))
    footer = f"greenai {rec['greenai_version'] or ''}".strip()
    if rec["sha256"]:
        footer += f"  ·  sha256 {rec['sha256'][:16]}…"
    shapes.append(
        _Text(WIDTH - 16, HEIGHT - 10, _fit(footer, 9, WIDTH - 32), 9, MUTED, anchor="end")
    )
    return shapes


def _column(
    x0: float, kind: str, title: str, rec: dict[str, Any], rating: dict[str, Any]
) -> list[_Shape]:
    part = rating.get(kind) or {}
    grade = part.get("grade")
    shapes: list[_Shape] = [_Text(x0, 130, title, 15, bold=True)]
    for i, letter in enumerate(table.GRADES):
        y = _BAND_TOP + i * _BAND_PITCH
        w = 40.0 + 12.0 * i
        mine = letter == grade
        shapes.append(
            _Poly(
                _arrow_right(x0, y, w),
                fmt.GRADE_COLOURS[letter],
                stroke=INK if mine else None,
                stroke_w=2.5 if mine else 0.0,
                opacity=1.0 if mine else DIMMED if grade else UNGRADED,
            )
        )
        ink = INK if letter in DARK_LETTERS else "#ffffff"
        shapes.append(_Text(x0 + 8, y + _BAND_H - 7, letter, 17, ink, bold=True))
        if mine:
            shapes.append(_Poly(_arrow_left(x0 + _MARKER_X, y, x0 + _COLUMN_W), INK))
            shapes.append(
                _Text(
                    x0 + (_MARKER_X + _COLUMN_W) / 2 + 4,
                    y + _BAND_H - 5,
                    letter,
                    22,
                    "#ffffff",
                    bold=True,
                    anchor="middle",
                )
            )
    figure, per = _per_unit(kind, rec, rating)
    y = _BAND_TOP + 7 * _BAND_PITCH + 26
    shapes.append(_Text(x0, y, _fit(figure, 22, _COLUMN_W), 22, bold=True))
    shapes.append(_Text(x0, y + 17, _fit(per, 11, _COLUMN_W), 11, MUTED))
    index = part.get("index")
    if index is not None:
        shapes.append(_Text(x0, y + 33, f"index {units.index(index)} (1 = reference)", 10, MUTED))
    if grade is None:
        reasons = part.get("reasons") or ()
        if reasons:
            why = reasons[0] + (f" (+{len(reasons) - 1} more)" if len(reasons) > 1 else "")
        else:
            why = "no reason given" if rating else "the disclosure has no rating"
        shapes.append(_Text(x0, y + 52, "NOT GRADED", 12, "#b3261e", bold=True))
        for j, line in enumerate(_wrap(why, 10, _COLUMN_W, lines=3)):
            shapes.append(_Text(x0, y + 67 + j * 13, line, 10, INK))
    return shapes


def _arrow_right(x: float, y: float, w: float) -> tuple[tuple[float, float], ...]:
    return (
        (x, y),
        (x + w, y),
        (x + w + 10, y + _BAND_H / 2),
        (x + w, y + _BAND_H),
        (x, y + _BAND_H),
    )


def _arrow_left(tip_x: float, y: float, right: float) -> tuple[tuple[float, float], ...]:
    mid = y + _BAND_H / 2
    return (
        (tip_x, mid),
        (tip_x + 12, y - 2),
        (right, y - 2),
        (right, y + _BAND_H + 2),
        (tip_x + 12, y + _BAND_H + 2),
    )


def _per_unit(kind: str, rec: dict[str, Any], rating: dict[str, Any]) -> tuple[str, str]:
    """Return (figure, 'per ...') for energy or water: per functional unit when rated."""
    quantity = "J" if kind == "energy" else "L"
    measured = (rating.get(kind) or {}).get("measured")
    parsed = units.parse_functional_unit(rating.get("functional_unit"))
    if measured is not None and parsed is not None:
        return units.per_unit(measured / parsed[0], parsed[1], quantity), "per functional unit"
    value = rec["energy_per_unit_j"] if kind == "energy" else rec["water_per_unit_l"]
    if value is None:
        why = "no units counted" if not rec["units_done"] else "no footprint"
        return fmt.MISSING, why
    return units.per_unit(value, rec["unit"], quantity), "per functional unit"


def _standard_text(rating: dict[str, Any], long: bool = False) -> str:
    if not rating:
        return "not rated"
    text = f"{rating.get('standard_id') or '?'}"
    version = rating.get("standard_version")
    if version and version not in text:
        text += f" v{version}"
    if long and rating.get("standard_status"):
        text += f" ({rating['standard_status']})"
    return text


def _lifecycle_rows(rec: dict[str, Any], per: str | None) -> tuple[tuple[str, str], ...]:
    """Return the (key, text) rows of carbon and water per `per` units: use + embodied."""
    head = (per or "").split(" ", 1)[0]
    count = float(head) if head.replace(".", "", 1).isdigit() else 1.0
    rows = []
    for key, suffix, show, what in (
        ("carbon", "g", fmt.carbon, "embodied"),
        ("water", "l", fmt.water, "fab"),
    ):
        op = f"{key}_per_unit_{suffix}"
        emb, total = rec[f"embodied_{op}"], rec[f"total_{op}"]
        if total is None:
            continue
        used = 100 * (total - (emb or 0.0)) / total if total else 100.0
        rows.append(
            (
                f"{key.capitalize()}",
                f"{show(total * count)}: {used:.0f}% use, {100 - used:.0f}% {what}",
            )
        )
    return tuple(rows)


def _measured_text(doc: Any, rec: dict[str, Any]) -> str:
    rows = table.domain_rows(doc)
    if rec["provenance"] in ("measured", "modelled"):
        parts = [f"{r['domain']} {'/'.join(r['methods']) or '?'}" for r in rows]
        return f"{rec['provenance']}: {', '.join(parts)}"
    return ", ".join(f"{r['domain']} {r['provenance'] or '?'}" for r in rows) or "not stated"


def _aria(doc: Any) -> str:
    rating = table.rating_of(doc)
    grades = [
        f"{kind} grade {(rating.get(kind) or {}).get('grade') or 'not graded'}"
        for kind in ("energy", "water")
    ]
    return html.escape(", ".join(grades), quote=True)


# ----------------------------------------------------------------------- text fitting
def _fit(text: str, size: float, width: float) -> str:
    """Return text cut with an ellipsis to fit `width` units at font `size`."""
    text = " ".join(str(text).split())
    room = max(1, int(width / (size * _CHAR_W)))
    return text if len(text) <= room else text[: room - 1].rstrip() + "…"


def _wrap(text: str, size: float, width: float, lines: int) -> list[str]:
    """Return text wrapped to `width` at font `size`, at most `lines` lines (last cut)."""
    room = max(1, int(width / (size * _CHAR_W)))
    out: list[str] = []
    current = ""
    for word in str(text).split():
        candidate = f"{current} {word}".strip()
        if len(candidate) <= room:
            current = candidate
            continue
        if current:
            out.append(current)
        current = word
    if current:
        out.append(current)
    if len(out) > lines:
        out = out[: lines - 1] + [_fit(" ".join(out[lines - 1 :]), size, width)]
    return [_fit(line, size, width) for line in out]


# ----------------------------------------------------------------------- SVG renderer
def _svg_shape(s: _Shape) -> str:
    if isinstance(s, _Text):
        attrs = f'x="{s.x:g}" y="{s.y:g}" font-size="{s.size:g}" fill="{s.fill}"'
        if s.bold:
            attrs += ' font-weight="bold"'
        if s.anchor != "start":
            attrs += f' text-anchor="{s.anchor}"'
        return f"<text {attrs}>{html.escape(s.text, quote=False)}</text>"
    style = f'fill="{s.fill}"'
    if s.stroke:
        style += f' stroke="{s.stroke}" stroke-width="{s.stroke_w:g}"'
    if s.opacity != 1.0:
        style += f' opacity="{s.opacity:g}"'
    if isinstance(s, _Rect):
        return f'<rect x="{s.x:g}" y="{s.y:g}" width="{s.w:g}" height="{s.h:g}" {style}/>'
    points = " ".join(f"{x:g},{y:g}" for x, y in s.points)
    return f'<polygon points="{points}" {style}/>'


__all__ = ["to_label_svg", "write_label_png"]
