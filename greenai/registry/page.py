"""The leaderboard page: per task class a sortable table and the distribution with grade bands."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any
from urllib.parse import quote, urlencode

from greenai.registry.ratings import Board
from greenai.registry.store import PROVENANCES

BAND_COLOURS = ("#1a9850", "#66bd63", "#a6d96a", "#fee08b", "#fdae61", "#f46d43", "#d73027")
_W, _H, _PAD = 900, 150, 40

_CSS = """
body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:18px;margin:28px 0 4px}
.meta{color:#555;font-size:13px;margin:0 0 12px}
form{display:flex;flex-wrap:wrap;gap:8px;align-items:end;background:#f4f6f8;padding:10px;
border-radius:6px} label{font-size:12px;display:flex;flex-direction:column}
input,select{font-size:13px;padding:3px}
table{border-collapse:collapse;width:100%;font-size:13px;margin-top:6px}
th{background:#eef1f4;text-align:left;cursor:pointer;user-select:none;white-space:nowrap}
th,td{border-bottom:1px solid #ddd;padding:4px 6px} td.num{text-align:right}
.grade{display:inline-block;min-width:20px;text-align:center;color:#fff;border-radius:3px;
font-weight:bold} .ok{color:#1a7f37} .bad{color:#b42318} .none{color:#888}
"""

_JS = """
function sortTable(table, key, desc) {
  const body = table.tBodies[0];
  const rows = Array.from(body.rows);
  rows.sort((a, b) => {
    const x = a.dataset[key], y = b.dataset[key];
    const nx = parseFloat(x), ny = parseFloat(y);
    let c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : String(x).localeCompare(String(y));
    if (x === '' && y !== '') c = 1; else if (y === '' && x !== '') c = -1;
    return desc ? -c : c;
  });
  rows.forEach(r => body.appendChild(r));
  table.dataset.sorted = (desc ? '-' : '') + key;
}
document.querySelectorAll('table.board').forEach(table => {
  table.querySelectorAll('th[data-key]').forEach(th => th.addEventListener('click', () => {
    const key = th.dataset.key;
    sortTable(table, key, table.dataset.sorted === key);
  }));
});
const m = location.hash.match(/sort=(-?)(\\w+)/);
if (m) document.querySelectorAll('table.board').forEach(t => sortTable(t, m[2], m[1] === '-'));
"""

COLUMNS = (
    ("rank", "#"),
    ("model", "model"),
    ("hardware", "hardware"),
    ("site", "site"),
    ("provenance", "provenance"),
    ("submitter", "submitter"),
    ("energy", "energy per unit"),
    ("index", "index"),
    ("grade", "grade"),
    ("verification", "verification"),
    ("date", "date"),
)


def _fmt_j(value: float | None, unit: str) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    for scale, name in ((1e6, "MJ"), (1e3, "kJ"), (1.0, "J"), (1e-3, "mJ"), (1e-6, "µJ")):
        if abs(value) >= scale or scale == 1e-6:
            return f"{value / scale:.4g} {name}/{unit}"
    return f"{value:.4g} J/{unit}"


def _plot(board: Board) -> str:
    """Return an SVG: each disclosure a dot on a log axis of the index, over the grade bands."""
    values = [e.index for e in board.entries if e.index is not None and e.index > 0]
    edges = [e for e in board.band_edges if e > 0]
    span = values + edges or [1.0]
    lo, hi = math.log10(min(span)) - 0.3, math.log10(max(span)) + 0.3

    def x(v: float) -> float:
        return _PAD + (math.log10(v) - lo) / (hi - lo) * (_W - 2 * _PAD)

    parts = [
        f'<svg class="dist" width="{_W}" height="{_H}" viewBox="0 0 {_W} {_H}" role="img" '
        f'aria-label="distribution of {escape(board.task)}">'
    ]
    bounds = [10**lo, *board.band_edges, 10**hi]
    for i, grade in enumerate(board.grades):
        left, right = max(bounds[i], 10**lo), min(bounds[i + 1], 10**hi)
        if right <= left:
            continue
        colour = BAND_COLOURS[min(i, len(BAND_COLOURS) - 1)]
        parts.append(
            f'<rect x="{x(left):.1f}" y="10" width="{x(right) - x(left):.1f}" height="{_H - 50}"'
            f' fill="{colour}" fill-opacity="0.35"/>'
            f'<text x="{(x(left) + x(right)) / 2:.1f}" y="24" font-size="12" '
            f'text-anchor="middle">{escape(grade)}</text>'
        )
    for n, v in enumerate(values):
        cy = 36 + (n * 37 % (_H - 80))
        parts.append(f'<circle class="dot" cx="{x(v):.1f}" cy="{cy}" r="4" fill="#1f3b73"/>')
    for tick in range(math.ceil(lo), math.floor(hi) + 1):
        tx = x(10.0**tick)
        ref = board.reference_j_per_unit * 10.0**tick
        parts.append(
            f'<line x1="{tx:.1f}" x2="{tx:.1f}" y1="{_H - 40}" y2="{_H - 34}" stroke="#333"/>'
            f'<text x="{tx:.1f}" y="{_H - 22}" font-size="11" text-anchor="middle">'
            f"{10.0**tick:g} ({escape(_fmt_j(ref, board.unit))})</text>"
        )
    parts.append(
        f'<text x="{_W / 2}" y="{_H - 6}" font-size="11" text-anchor="middle">energy index '
        "(energy per unit / the standard's reference), log scale; lower is better</text></svg>"
    )
    return "".join(parts)


def _row(rank: int, entry: Any, unit: str) -> str:
    r = entry.row
    grade = entry.grade
    sha = str(r["sha256"])
    date = (r.get("started_at") or "")[:10]
    verification = r["verification"]
    if verification == "verified":
        status = f'<span class="ok">verified (ed25519, {escape(str(r["submitter"]))})</span>'
    else:
        status = f'<span class="none">{escape(verification)} ({escape(r["origin"])})</span>'
    g = "" if grade is None else grade
    colour = BAND_COLOURS[min("ABCDEFG".find(g), 6)] if g else "#888"
    grade_cell = (
        f'<span class="grade" style="background:{colour}">{escape(g)}</span>'
        if g
        else f'<span class="none" title="{escape("; ".join(entry.reasons))}">not graded</span>'
    )
    data = {
        "rank": rank,
        "model": r.get("model") or "",
        "hardware": r.get("hardware") or "",
        "site": r.get("site") or "",
        "provenance": r.get("provenance") or "",
        "submitter": r["submitter"],
        "energy": "" if entry.energy_per_unit_j is None else repr(entry.energy_per_unit_j),
        "index": "" if entry.index is None else repr(entry.index),
        "grade": g,
        "verification": verification,
        "date": date,
    }
    attrs = " ".join(f'data-{k}="{escape(str(v))}"' for k, v in data.items())
    link = f"/disclosures/{quote(sha)}"
    cells = [
        f'<td class="num">{rank}</td>',
        f'<td><a href="{link}">{escape(data["model"] or sha[:12])}</a></td>',
        f"<td>{escape(data['hardware'])}</td>",
        f"<td>{escape(data['site'])}</td>",
        f"<td>{escape(data['provenance'])}</td>",
        f"<td>{escape(str(data['submitter']))}</td>",
        f'<td class="num">{escape(_fmt_j(entry.energy_per_unit_j, unit))}</td>',
        f'<td class="num">{"-" if entry.index is None else f"{entry.index:.3g}"}</td>',
        f"<td>{grade_cell}</td>",
        f"<td>{status}</td>",
        f"<td>{escape(date)}</td>",
    ]
    return f'<tr class="entry" {attrs}>{"".join(cells)}</tr>'


def _filters(filters: Mapping[str, Any], tasks: Sequence[str], standard: str | None) -> str:
    def text(name: str, label: str) -> str:
        value = escape(str(filters.get(name) or ""))
        return f'<label>{label}<input name="{name}" value="{value}"></label>'

    task_opts = "".join(
        f'<option value="{escape(t)}"{" selected" if filters.get("task") == t else ""}>'
        f"{escape(t)}</option>"
        for t in ("", *tasks)
    )
    prov_opts = "".join(
        f'<option value="{p}"{" selected" if filters.get("provenance") == p else ""}>'
        f"{p or 'any'}</option>"
        for p in ("", *PROVENANCES)
    )
    std = escape(standard or "")
    return (
        '<form method="get" action="/" id="filters">'
        f'<label>task<select name="task">{task_opts}</select></label>'
        f"{text('model', 'model')}{text('hardware', 'hardware')}{text('site', 'site')}"
        f'<label>provenance<select name="provenance">{prov_opts}</select></label>'
        f"{text('since', 'from (date)')}{text('until', 'to (date)')}"
        f'<input type="hidden" name="standard" value="{std}">'
        '<button type="submit">filter</button></form>'
    )


def render(
    boards: Sequence[Board],
    std: Any,
    filters: Mapping[str, Any],
    total: int,
    tasks: Sequence[str],
    standard_arg: str | None = None,
) -> str:
    """Return the leaderboard page (HTML, self-contained: no script or style from elsewhere)."""
    shown = [b for b in boards if b.entries or not filters.get("task")]
    sections = []
    for b in shown:
        head = "".join(f'<th data-key="{k}">{escape(t)}</th>' for k, t in COLUMNS)
        rows = "".join(_row(i + 1, e, b.unit) for i, e in enumerate(b.entries))
        graded = sum(e.grade is not None for e in b.entries)
        sections.append(
            f'<section class="task" id="task-{escape(b.task)}" data-task="{escape(b.task)}">'
            f"<h2>{escape(b.name)} <small>({escape(b.task)})</small></h2>"
            f'<p class="meta">{len(b.entries)} disclosure(s), {graded} graded; reference '
            f"{escape(_fmt_j(b.reference_j_per_unit, b.unit))} (index 1); energy per unit is "
            "the disclosure's IT energy over its counted units, as measured, modelled or "
            "taken from a third party (provenance column)</p>"
            f"{_plot(b)}"
            f'<table class="board" data-task="{escape(b.task)}"><thead><tr>{head}</tr></thead>'
            f"<tbody>{rows}</tbody></table></section>"
        )
    active = {k: v for k, v in filters.items() if v}
    query = urlencode(active)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>greenai registry: leaderboard under {escape(std.id)}</title>"
        f"<style>{_CSS}</style></head><body>"
        "<h1>greenai registry: leaderboard</h1>"
        f'<p class="meta">rated under {escape(std.id)} ({escape(std.status)}, version '
        f"{escape(std.version)}); {total} disclosure(s) match"
        f"{escape(' (' + query + ')') if query else ''}. Click a column to sort. Each row links "
        "to the disclosure as submitted; verified means its hash and Ed25519 signature were "
        "checked against its submitter's registered key at upload.</p>"
        f"{_filters(filters, tasks, standard_arg)}{''.join(sections)}"
        f"<script>{_JS}</script></body></html>"
    )


__all__ = ["render"]
