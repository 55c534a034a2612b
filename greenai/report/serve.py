"""Served-inference results: the per-level table and the energy-latency trade-off (HTML + PNG).

    print(table_text(summary))                      # what `greenai bench serve` prints
    write_tradeoff(summary, "out/tradeoff.html")    # and out/tradeoff.png: the same chart

The chart puts each level's energy per output token (overlap share, mean and 95 % CI) against
its p90 latency; the Pareto front (no other level is both cheaper and faster) is joined, and
a latency target, when given, is drawn as a vertical line.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from greenai.report import _plots as fmt
from greenai.report import html as page_html

HEADER = (
    "level",
    "done",
    "failed",
    "out tok",
    "J/request (95% CI)",
    "J/token (95% CI)",
    "J/req simple",
    "J/tok simple",
    "tok/s",
    "TTFT p50/p90/p99 s",
    "latency p50/p90/p99 s",
    "power W",
    "window s",
)


def _ci(s: Mapping[str, Any] | None) -> str:
    if not s:
        return fmt.MISSING
    if s.get("n", 0) < 2:
        return f"{s['mean']:.4g} (n=1)"
    return f"{s['mean']:.4g} ({s['ci95_low']:.4g}-{s['ci95_high']:.4g})"


def _g(value: float | None, digits: int = 4) -> str:
    return fmt.MISSING if value is None else f"{value:.{digits}g}"


def _pcts(p: Mapping[str, float | None] | None) -> str:
    if not p or p.get("p50") is None:
        return fmt.MISSING
    return "/".join(f"{p[k]:.3g}" for k in ("p50", "p90", "p99"))


def rows(summary: Mapping[str, Any]) -> list[tuple[str, ...]]:
    """Return the table's rows as text, one per level."""
    front = set(summary.get("pareto_front", ()))
    out = []
    for r in summary["levels"]:
        name = r["level"] + (" *" if r["level"] in front else "")
        out.append(
            (
                name,
                str(r["done"]),
                str(r["failed"]),
                str(r["output_tokens"]),
                _ci(r["energy_per_request_j"]),
                _ci(r["energy_per_token_j"]),
                _g(r["simple_per_request_j"]),
                _g(r["simple_per_token_j"]),
                _g(r["tokens_per_s"], 3),
                _pcts(r["ttft_s"]),
                _pcts(r["latency_s"]),
                _g(r["mean_power_w"], 3),
                _g(r["window_s"], 3),
            )
        )
    return out


def notes(summary: Mapping[str, Any]) -> list[str]:
    """Return the lines under the table: method, window, choice, what happened."""
    server = summary["server"]
    soft = server["software"]
    software = soft.get("declared") or soft.get("server_header") or "not reported"
    lines = [
        f"energy: {_how(summary)}",
        f"model {server['model_id']} ({server['parameters'] or 'parameters not reported'}), "
        f"server {software} (Server header: {soft.get('server_header') or '-'}, "
        f"version: {soft.get('version') or 'not reported'})",
        f"prompt set {summary['prompt_set']['id']} sha256 {summary['prompt_set']['sha256']}",
        "J/request and J/token: overlap share (primary; power split equally among the "
        "requests in flight) of the requests wholly in the steady window: mean share per "
        "request, shares' sum / tokens' sum per token; 95 % CI on the log scale (t; delta "
        "method for the ratio); 'simple' = window energy / requests (tokens) in it",
        f"steady window: {summary['steady_window']}; before each level "
        f"{summary.get('warmup_requests_per_level', 0)} warm-up request(s), not metered",
        "* on the Pareto front of energy per token and p90 latency",
    ]
    if any(r.get("net_of_idle") for r in summary["levels"]):
        lines.append("energy is net of the idle baseline measured before each level")
    choice = summary["choice"]
    if choice["level"]:
        lines.append(f"choice: {choice['level']}: {choice['reason']}")
    else:
        lines.append(f"choice: none: {choice['reason']}")
    for r in summary["levels"]:
        idle, total = r.get("unattributed_j"), r.get("window_energy_j")
        if idle and total and idle > 0.05 * total:
            lines.append(
                f"{r['level']}: {idle / total:.0%} of the window's energy was spent with no "
                "request in flight: outside the overlap shares, inside the simple figures"
            )
    for r in summary["levels"]:
        if r["failed"] or r["not_sent"] or r["status"] != "ok":
            lines.append(
                f"{r['level']}: status {r['status']}, {r['failed']} failed, "
                f"{r['not_sent']} not sent (see its disclosure's serving.what_happened)"
            )
    for name in summary.get("levels_not_run", ()):
        lines.append(f"{name}: not run (the server stopped answering)")
    return lines


def table_text(summary: Mapping[str, Any]) -> str:
    """Return the per-level table as Markdown, with its notes under it."""
    body = rows(summary)
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(r) + " |" for r in body]
    return "\n".join([*lines, "", *notes(summary)])


def _how(summary: Mapping[str, Any]) -> str:
    """Return how the levels' energy was obtained: 'measured (cpu, gpu)', 'modelled (cpu)'."""
    kinds = sorted({r.get("provenance") or "unknown" for r in summary["levels"]})
    domains = sorted({d for r in summary["levels"] for d in r.get("domains", ())})
    net = ", net of idle" if any(r.get("net_of_idle") for r in summary["levels"]) else ""
    return f"{'/'.join(kinds)} ({', '.join(domains) or 'no domain'}{net}, greenai meter)"


def _chart(summary: Mapping[str, Any]) -> Any:
    fig = fmt._figure(6.5, 4.0)
    ax = fig.add_subplot()
    front = summary.get("pareto_front", [])
    pts = []
    for r in summary["levels"]:
        per, lat = r["energy_per_token_j"], r["latency_s"]["p90"]
        if per and lat is not None:
            pts.append((r["level"], lat, per))
    for name, lat, per in pts:
        on = name in front
        err = [[per["mean"] - per["ci95_low"]], [per["ci95_high"] - per["mean"]]]
        ax.errorbar(
            [lat],
            [per["mean"]],
            yerr=err,
            fmt="o",
            color="#c44e52" if on else "#4c72b0",
            ms=7,
            capsize=3,
            zorder=3,
        )
        ax.annotate(fmt.chart_text(f" {name}"), (lat, per["mean"]), fontsize=9, zorder=4)
    line = sorted((lat, per["mean"]) for name, lat, per in pts if name in front)
    if line:
        ax.plot(*zip(*line, strict=True), color="#c44e52", lw=1.5, marker="o", label="Pareto front")
    slo = summary["choice"].get("slo_p90_s")
    if slo is not None:
        ax.axvline(slo, color="#8c8c8c", ls="--", lw=1, label=f"p90 target {slo:g} s")
    chosen = summary["choice"].get("level")
    for name, lat, per in pts:
        if name == chosen:
            ax.scatter(
                [lat],
                [per["mean"]],
                s=220,
                facecolors="none",
                edgecolors="#00a651",
                lw=2,
                zorder=5,
                label=f"chosen: {name}",
            )
    ax.set_xlabel("p90 latency per request (s)")
    ax.set_ylabel("energy per output token (J, overlap share)")
    title = f"{summary['server']['model_id']}: energy vs latency\nenergy {_how(summary)}"
    ax.set_title(fmt.chart_text(title), fontsize=9)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="best")
    return fig


def write_tradeoff(
    summary: Mapping[str, Any], path: str | os.PathLike[str]
) -> tuple[Path, Path | None]:
    """Write the trade-off page and its PNG beside it (none when no level has figures)."""
    from greenai.measurement import write_atomic

    out = Path(path)
    png: Path | None = None
    svg = None
    if any(
        r["energy_per_token_j"] and r["latency_s"]["p90"] is not None for r in summary["levels"]
    ):
        fig = _chart(summary)
        png = out.with_suffix(".png")
        fig.savefig(png, format="png", dpi=120, metadata={"Software": None})
        svg = fmt.to_svg(fig)
    write_atomic(out, to_html(summary, svg))
    return out, png


def to_html(summary: Mapping[str, Any], chart_svg: str | None) -> str:
    """Return the trade-off as one self-contained HTML page: chart, table, notes."""
    e = page_html.e
    model = summary["server"]["model_id"]
    parts = [
        f"<h1>Served inference: {e(model)}</h1>",
        f'<p class="sub">{e(summary["endpoint"]["url"])} · {e(summary["endpoint"]["api"])} · '
        f"{len(summary['levels'])} level(s) · energy {e(_how(summary))}</p>",
        page_html.chart(chart_svg, "no level has both energy per token and latency"),
        page_html.html_table(HEADER, rows(summary), numeric=range(1, len(HEADER))),
    ]
    parts += [f'<p class="how">{e(line)}</p>' for line in notes(summary)]
    return page_html.page(f"Served inference: {model}", "\n".join(parts), "greenai bench serve")


__all__ = ["notes", "rows", "table_text", "to_html", "write_tradeoff"]
