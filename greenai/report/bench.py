"""Benchmark summary report: hosts ranked per workload, with 95 % CI error bars (one HTML file)."""

from __future__ import annotations

import html
import io
import math
from typing import Any

from greenai import units

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}
th{background:#f0f0f0}td.l,th.l{text-align:left}.note{color:#666;font-size:90%}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _finite(value: Any) -> float | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok else None


def _stat(row: dict[str, Any], key: str, missing: float = 0.0) -> float:
    """Return a statistic of a row's energy per unit, or `missing` when absent or not a number."""
    e = row.get("energy_per_unit_j")
    value = e.get(key) if isinstance(e, dict) else None
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok else missing


def _mean(row: dict[str, Any]) -> float:
    """Return a row's mean energy per unit; +inf (ranks last) when it has none."""
    return _stat(row, "mean", math.inf)


def ranking(summaries: dict[str, dict[str, Any]]) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """Return, per workload, (host, row) pairs ordered from least to most energy per unit."""
    by_workload: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for host, summary in summaries.items():
        for row in summary.get("workloads", []):
            by_workload.setdefault(row["workload"], []).append((host, row))
    for rows in by_workload.values():
        rows.sort(key=lambda hr: _mean(hr[1]))
    return dict(sorted(by_workload.items()))


def _plain_text(text: str) -> str:
    """Return text that matplotlib draws as it is ('$' would start mathtext)."""
    return str(text).replace("$", r"\$")


def _chart(workload: str, rows: list[tuple[str, dict[str, Any]]]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [_plain_text(h) for h, _ in rows]
    scale = _scale(rows)
    means = [_stat(r, "mean") * scale.factor for _, r in rows]
    low = [
        max(m - _stat(r, "ci95_low", m / scale.factor) * scale.factor, 0.0)
        for (_, r), m in zip(rows, means, strict=True)
    ]
    high = [
        max(_stat(r, "ci95_high", m / scale.factor) * scale.factor - m, 0.0)
        for (_, r), m in zip(rows, means, strict=True)
    ]
    fig, ax = plt.subplots(figsize=(6, 0.6 + 0.45 * len(rows)))
    ax.barh(names, means, xerr=[low, high], color="#4c9a5f", capsize=4)
    ax.invert_yaxis()
    ax.set_xlabel(_plain_text(f"{scale.label} (mean, 95 % CI)"))
    ax.xaxis.get_major_formatter().set_useOffset(False)  # plain ticks: no '1e-7' offset text
    ax.xaxis.get_major_formatter().set_scientific(False)
    ax.set_title(_plain_text(workload))
    fig.tight_layout()
    buf = io.StringIO()
    fig.savefig(buf, format="svg")
    plt.close(fig)
    svg = buf.getvalue()
    svg = svg[svg.index("<svg") :]
    start, end = svg.find("<metadata>"), svg.find("</metadata>")
    if start != -1 and end != -1:  # RDF metadata: creator and date, not part of the figure
        svg = svg[:start] + svg[end + len("</metadata>") :]
    return svg


def _scale(rows: list[tuple[str, dict[str, Any]]]) -> units.Scale:
    """Return the one scale a workload's rows are shown in (chosen from the best mean)."""
    means = [_stat(r, "mean", math.nan) for _, r in rows]
    finite = [m for m in means if math.isfinite(m)]
    return units.energy_per_unit_scale(finite[0] if finite else None, rows[0][1].get("unit"))


def comparability(summaries: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Return, per workload, the compare reporter's Comparison of the hosts' disclosures."""
    from pathlib import Path

    from greenai.disclosure import read_document
    from greenai.errors import DisclosureError
    from greenai.report.compare import compare

    docs: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for host, summary in summaries.items():
        folder = summary.get("directory")
        for row in summary.get("workloads", []):
            if not folder:
                continue
            try:
                # only a file beside the summary: a name in it never points elsewhere
                doc = read_document(Path(folder) / Path(str(row.get("file", ""))).name)
            except DisclosureError:
                continue
            docs.setdefault(row["workload"], []).append((host, doc))
    return {
        w: compare([d for _, d in pairs], names=[h for h, _ in pairs])
        for w, pairs in sorted(docs.items())
        if len(pairs) > 1
    }


def summary_html(
    summaries: dict[str, dict[str, Any]],
    title: str = "greenai benchmark",
    comparisons: dict[str, Any] | None = None,
) -> str:
    """Return one self-contained HTML page ranking hosts per workload.

    ``comparisons`` (from ``comparability``) adds, per workload, which hosts' results may
    not be compared and why (task, unit, boundary, measured vs modelled, standard) and
    each result's integrity status.
    """
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{_e(title)}</title>"
        f"<style>{_STYLE}</style></head><body><h1>{_e(title)}</h1>"
    ]
    parts.append(
        "<p class='note'>Lower energy per unit ranks first. Figures marked modelled "
        "are estimates (no hardware counter); a grade is given only to conformant "
        "runs.</p>"
    )
    if len(summaries) > 1:
        listed = "".join(
            f"<li>{_e(label)}: {_e(summary.get('directory', ''))}</li>"
            for label, summary in summaries.items()
        )
        parts.append(f"<p>{len(summaries)} result sets:</p><ul class='note'>{listed}</ul>")
    for path, label in getattr(summaries, "duplicates", []):
        parts.append(
            f"<p class='note'>{_e(path)}: the same file (SHA-256) as {_e(label)}, counted once</p>"
        )
    for workload, rows in ranking(summaries).items():
        scale = _scale(rows)
        parts.append(
            f"<h2>{_e(workload)}</h2><table><tr><th>rank</th><th class='l'>host</th>"
            f"<th>{_e(scale.label)} (mean)</th><th>95 % CI</th><th>throughput</th>"
            "<th>energy (total)</th><th>duration</th><th>water</th><th>carbon</th>"
            "<th>provenance</th><th>energy grade</th><th>water grade</th>"
            "<th class='l'>verdict</th></tr>"
        )
        for k, (host, r) in enumerate(rows, start=1):
            t = r.get("throughput_units_per_s")
            throughput = _finite(t.get("mean")) if isinstance(t, dict) else None
            mean = _finite(_stat(r, "mean", math.nan))
            low = _finite(_stat(r, "ci95_low", math.nan))
            high = _finite(_stat(r, "ci95_high", math.nan))
            ci = units.MISSING
            if mean and low is not None and high is not None:
                rel = max(high - mean, mean - low) / abs(mean)
                sep = "-" if low >= 0 else " to "
                ci = f"{scale.number(low)}{sep}{scale.number(high)} (±{units.percent(rel)})"
                if r.get("ci_wider_than_target"):
                    ci += " <b title='wider than the target'>wide</b>"
            parts.append(
                f"<tr><td>{k}</td><td class='l'>{_e(host)}</td>"
                f"<td>{_e(scale.number(mean))}</td><td>{ci}</td>"
                f"<td>{_e(units.rate_scale(throughput, r.get('unit'))(throughput))}</td>"
                f"<td>{_e(units.si(_finite(r.get('energy_j')), 'J'))}</td>"
                f"<td>{_e(units.duration(_finite(r.get('duration_s'))))}</td>"
                f"<td>{_e(units.si(_finite(r.get('water_l')), 'L'))}</td>"
                f"<td>{_e(units.si(_finite(r.get('carbon_g')), 'g CO2e'))}</td>"
                f"<td>{_e(r.get('provenance'))}</td>"
                f"<td>{_e(r.get('energy_grade') or '-')}</td>"
                f"<td>{_e(r.get('water_grade') or '-')}</td>"
                f"<td class='l'>{_e(r.get('verdict') or '')}</td></tr>"
            )
        parts.append("</table>")
        cmp = (comparisons or {}).get(workload)
        if cmp is not None:
            status = ", ".join(
                f"{_e(n)}: {_e(i)}" for n, i in zip(cmp.names, cmp.integrity, strict=True)
            )
            parts.append(f"<p class='note'>integrity: {status}</p>")
            for pair in cmp.pairs:
                if pair.reasons:
                    parts.append(
                        f"<p class='note'>{_e(pair.a)} vs {_e(pair.b)} not comparable: "
                        f"{_e('; '.join(pair.reasons))}</p>"
                    )
            if cmp.comparable:
                parts.append("<p class='note'>all hosts' results are comparable</p>")
        parts.append(_chart(workload, rows))
    for host, summary in summaries.items():
        hint = summary.get("gradability")
        if isinstance(hint, str) and hint:
            parts.append(f"<p class='note'>{_e(host)}: {_e(hint)}</p>")
        skipped = summary.get("skipped")
        for s in skipped if isinstance(skipped, list) else []:
            if isinstance(s, dict):
                parts.append(
                    f"<p class='note'>{_e(host)}: {_e(s.get('workload'))} skipped: "
                    f"{_e(s.get('reason'))}</p>"
                )
    parts.append("</body></html>\n")
    return "".join(parts)
