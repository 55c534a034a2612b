"""A disclosure as one self-contained HTML page.

    page = to_html(doc)     # doc: the disclosure document (a dict)

Summary, grades (with the label), power over time per device, energy by domain, device
and phase, water on and off site, carbon, every site factor with its source, and how each
figure was obtained. The page loads nothing: styles are inline, charts are inline SVG drawn
with matplotlib, there is no script, and a Content-Security-Policy forbids any fetch. A
disclosure is untrusted input, so every string taken from it is HTML-escaped.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from greenai.errors import GreenAIError
from greenai.report import _plots as fmt
from greenai.report import label, table
from greenai.sampler import EDGE_READS

# No network, no script: only inline styles and images given as data: URIs.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

STYLE = """
:root{--ink:#1a1a1a;--muted:#5f6368;--line:#d9d9d9;--bg:#f6f7f8}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;
color:var(--ink);margin:0;background:#fff;line-height:1.45}
main{max-width:1080px;margin:0 auto;padding:1.5em 1.5em 3em}
h1{font-size:1.6em;margin:.2em 0}h2{font-size:1.2em;margin:1.8em 0 .6em;
border-bottom:2px solid var(--ink);padding-bottom:.2em}h3{font-size:1em;margin:1.2em 0 .4em}
.sub{color:var(--muted);margin:0}
table{border-collapse:collapse;margin:.4em 0 1em;font-size:.92em}
th,td{border-bottom:1px solid var(--line);padding:.3em .7em;text-align:left;vertical-align:top}
th{background:var(--bg);font-weight:600}td.n{text-align:right;white-space:nowrap}
.how{color:var(--muted);font-size:.9em}
.grade{display:inline-block;min-width:1.6em;text-align:center;font-weight:700;
border-radius:3px;padding:0 .3em;color:#fff}
.grade.C,.grade.D{color:var(--ink)}.grade.none{background:#9e9e9e}
.measured{color:#1b5e20}.modelled{color:#b45309}.mixed{color:#6a1b9a}
.flex{display:flex;flex-wrap:wrap;gap:1.5em;align-items:flex-start}
.chart svg{max-width:100%;height:auto}.label svg{width:340px;height:auto}
.warn{background:#fff4e5;border-left:4px solid #f37021;padding:.4em .8em}
.ok{background:#e8f5e9;border-left:4px solid #00a651;padding:.4em .8em}
footer{color:var(--muted);font-size:.85em;margin-top:3em}
"""
STYLE += "".join(f".grade.{g}{{background:{c}}}" for g, c in fmt.GRADE_COLOURS.items())
PROVENANCE_COLOURS = {"measured": "#4c72b0", "modelled": "#dd8452", "mixed": "#8172b2"}


class Safe(str):
    """Markup built here from escaped parts: written as is, never escaped again."""


def e(value: Any) -> Safe:
    """Return document text (anything) HTML-escaped; None shows as a dash."""
    return Safe(html.escape(fmt.MISSING if value is None else str(value), quote=True))


def html_table(
    header: Sequence[str] | None, rows: Iterable[Sequence[Any]], numeric: Sequence[int] = ()
) -> str:
    """Return an HTML table (no header row when header is None); cells that are not Safe are
    escaped; `numeric` columns align right."""
    head = "".join(f"<th>{e(h)}</th>" for h in header or ())
    body = []
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            content = cell if isinstance(cell, Safe) else e(cell)
            cls = ' class="n"' if i in numeric else ""
            cells.append(f"<td{cls}>{content}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    thead = f"<thead><tr>{head}</tr></thead>" if head else ""
    return f"<table>{thead}<tbody>{''.join(body)}</tbody></table>"


def provenance(value: str | None) -> Safe:
    """Return a provenance word, coloured by kind (measured, modelled, mixed)."""
    cls = value if value in PROVENANCE_COLOURS else "unknown"
    return Safe(f'<span class="{cls}">{e(value)}</span>')


def grade_badge(grade: str | None) -> Safe:
    """Return a coloured grade letter, or a grey 'not graded'."""
    if grade in fmt.GRADE_COLOURS:
        return Safe(f'<span class="grade {grade}">{grade}</span>')
    return Safe('<span class="grade none">not graded</span>')


def chart(svg: str | None, missing: str) -> str:
    """Return an inline chart, or a note saying why there is none."""
    return f'<div class="chart">{svg}</div>' if svg else f'<p class="how">{e(missing)}</p>'


def page(title: str, body: str, footer: str) -> str:
    """Return a complete HTML document around `body` (already built of escaped parts)."""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{e(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n"
        f"{body}\n<footer>{footer}</footer>\n</main>\n</body>\n</html>\n"
    )


def integrity_status(doc: Mapping[str, Any], public_keys: tuple[str, ...] = ()) -> str:
    """Return 'verified', 'hash-only' or 'unverified' (greenai.disclosure decides)."""
    try:
        from greenai.disclosure import integrity_status as status_of
    except ImportError:  # an install without the disclosure module: nothing is verified
        return "unverified"
    try:
        return status_of(dict(doc), public_keys)
    except GreenAIError:  # e.g. a signature present but no cryptography package to check it
        return "unverified"


# ----------------------------------------------------------------------- the page
def to_html(doc: Mapping[str, Any]) -> str:
    """Return one self-contained HTML page reporting a disclosure document."""
    doc = table.require_document(doc)
    rec = table.record(doc)
    title = f"Energy and water disclosure: {rec['task'] or 'unnamed task'}"
    sections = [
        f"<h1>{e(title)}</h1>",
        f'<p class="sub">{e(rec["status"])} · started {e(rec["started_at"])} (UTC) · '
        f"{e(fmt.seconds(rec['duration_s']))} · {e(fmt.amount(rec['units_done'], rec['unit']))} "
        f"· host {e(rec['host'])}</p>",
        _third_party(doc),
        _summary(doc, rec),
        _grades(doc),
        _power(doc),
        _energy(doc),
        _water_and_carbon(doc, rec),
        _embodied(doc, rec),
        _factors(doc),
        _method(doc),
        _integrity(doc),
    ]
    footer = (
        f"Made by greenai from the disclosure document (greenai {e(rec['greenai_version'])}, "
        f"schema {e(rec['schema_version'])}). Nothing on this page was measured again."
    )
    return page(title, "\n".join(sections), footer)


def _summary(doc: Mapping[str, Any], rec: Mapping[str, Any]) -> str:
    facts = html_table(
        None,
        [
            ["task", rec["task"]],
            ["functional unit counted", fmt.amount(rec["units_done"], rec["unit"])],
            ["status", rec["status"]],
            ["hardware", table.hardware(doc)],
            ["CPU", rec["cpu"]],
            ["measurement boundary", rec["boundary"]],
            ["energy provenance", provenance(rec["provenance"])],
        ],
    )
    figures = html_table(
        ["figure", "value", "how it was obtained"],
        [
            [
                r["figure"],
                fmt.figure(r["value"], r["unit"]),
                Safe(f'<span class="how">{e(r["how"])}</span>'),
            ]
            for r in table.figure_rows(doc)
        ],
        numeric=(1,),
    )
    return f'<h2 id="summary">Summary</h2><div class="flex">{facts}{figures}</div>'


def _third_party(doc: Mapping[str, Any]) -> str:
    """Return the warning an imported third-party figure carries on top of its page."""
    src = table.block(doc, "source")
    if table.text(src.get("kind")) != "third-party":
        return ""
    measured = "+".join(map(str, src.get("domains_measured") or [])) or "?"
    missing = ", ".join(map(str, src.get("missing") or [])) or "not said"
    return (
        f'<p class="warn">Third-party figure, as published by {e(src.get("publisher"))} '
        f"({e(src.get('file'))}, row {e(src.get('row'))}, SHA-256 {e(src.get('sha256'))}): "
        f"not a greenai measurement. Measured: {e(measured)}; not counted: {e(missing)}.</p>"
    )


def _grades(doc: Mapping[str, Any]) -> str:
    rating = table.rating_of(doc)
    svg = fmt.inline_svg(label.to_label_svg(doc), prefix="label-")
    head = '<h2 id="grades">Grades</h2>'
    if not rating:
        note = '<p class="warn">Not rated: the disclosure has no rating block.</p>'
        return f'{head}<div class="flex"><div class="label">{svg}</div><div>{note}</div></div>'
    rows = []
    for kind, unit in (("energy", "J"), ("water", "L")):
        r = rating[kind]
        rows.append(
            [
                kind,
                grade_badge(r["grade"]),
                fmt.index(r["index"]),
                *fmt.rated(r["measured"], r["reference"], rating["functional_unit"], unit),
                "conformant" if r["conformant"] else "not conformant",
            ]
        )
    parts = [
        f"<p>Rated under <strong>{e(rating['standard_id'])}</strong> version "
        f"{e(rating['standard_version'])} ({e(rating['standard_status'])}), task class "
        f"{e(rating['task'])}.</p>",
        html_table(
            ["index", "grade", "efficiency index", "measured", "reference", "verdict"],
            rows,
            numeric=(2, 3, 4),
        ),
    ]
    for kind in ("energy", "water"):
        reasons = rating[kind]["reasons"]
        if reasons:
            items = "".join(f"<li>{e(r)}</li>" for r in reasons)
            parts.append(
                f'<div class="warn"><p>{kind.capitalize()} not graded because:</p>'
                f"<ul>{items}</ul></div>"
            )
    parts.append(
        "<p class=\"how\">Index = the run's figure per functional unit / the standard's "
        "reference; lower is better. Grades run from A (best) to G.</p>"
    )
    return (
        f'{head}<div class="flex"><div class="label">{svg}</div><div>{"".join(parts)}</div></div>'
    )


def _power(doc: Mapping[str, Any]) -> str:
    timeline = table.block(doc, "timeline")
    t_s = [v for v in (table.num(t) for t in timeline.get("t_s") or []) if v is not None]
    series = {}
    for device, values in table.block(timeline, "power_w").items():
        if isinstance(values, list):
            clean = [table.num(v) for v in values]
            if len(clean) == len(t_s) and all(v is not None for v in clean):
                series[str(device)] = clean
    svg = fmt.timeline_chart(t_s, series)
    resolution = table.num(timeline.get("resolution_s"))
    note = (
        f"Mean power per device in slots of {fmt.seconds(resolution)}, "
        "from the disclosure's timeline."
        if svg
        else ""
    )
    return (
        '<h2 id="power">Power over time</h2>'
        + chart(svg, "The disclosure has no timeline (power over time was not kept).")
        + (f'<p class="how">{e(note)}</p>' if note else "")
    )


def _energy(doc: Mapping[str, Any]) -> str:
    domains = table.domain_rows(doc)
    names = [d["domain"] for d in domains]
    stacks: dict[str, list[float]] = {}
    for i, d in enumerate(domains):
        kind = d["provenance"] or "not stated"
        stacks.setdefault(kind, [0.0] * len(domains))[i] = d["energy_j"] or 0.0
    svg = fmt.bar_chart(names, stacks, "energy (J)", colours=PROVENANCE_COLOURS)
    out = [
        '<h2 id="energy">Energy</h2><h3>By domain</h3>',
        '<div class="flex">',
        html_table(
            ["domain", "energy", "share", "provenance", "method", "complete"],
            [
                [
                    d["domain"],
                    fmt.energy(d["energy_j"]),
                    fmt.MISSING if d["share"] is None else f"{d['share']:.1%}",
                    provenance(d["provenance"]),
                    "/".join(d["methods"]) or None,
                    fmt.plain(d["complete"]),
                ]
                for d in domains
            ],
            numeric=(1, 2),
        ),
        chart(svg, "No domain energy to chart."),
        "</div>",
    ]
    devices = table.device_rows(doc)
    if devices:
        out.append("<h3>By device</h3>")
        out.append(
            html_table(
                [
                    "device",
                    "domain",
                    "method",
                    "provenance",
                    "energy",
                    "measures",
                    "added to total",
                    "status",
                ],
                [
                    [
                        d["id"],
                        d["domain"],
                        d["method"],
                        provenance(d["provenance"]),
                        fmt.energy(d["energy_j"]),
                        table.device_boundary(d),
                        table.added_to_total(d),
                        d["state"],
                    ]
                    for d in devices
                ],
                numeric=(4,),
            )
        )
    from greenai.probes.wall import wall_comparison

    walls = wall_comparison(doc)
    if walls:
        out.append("<h3>Node wall power against the components</h3>")
        out.append(
            html_table(
                ["wall probe", "wall energy", "component sum", "difference", "share", "what it is"],
                [
                    [
                        w["probe"],
                        fmt.energy(w["wall_j"]),
                        f"{fmt.energy(w['components_j'])} ({w['components_provenance']})",
                        fmt.energy(w["unmetered_j"]),
                        fmt.MISSING
                        if w["unmetered_share"] is None
                        else f"{w['unmetered_share']:.1%}",
                        w["note"],
                    ]
                    for w in walls
                ],
                numeric=(1, 2, 3, 4),
            )
        )
        out.append(
            '<p class="how">The wall is the node\'s AC input as its BMC meters it; it contains '
            "every component, so it is shown beside the total and never added to it.</p>"
        )
    phases = table.phase_rows(doc)
    out.append("<h3>By phase</h3>")
    if not phases:
        out.append('<p class="how">The run declared no phases.</p>')
        return "".join(out)
    phase_domains = sorted({k for p in phases for k in p["by_domain"]})
    svg = fmt.bar_chart(
        [p["name"] for p in phases],
        {d: [p["by_domain"].get(d) or 0.0 for p in phases] for d in phase_domains},
        "energy (J)",
        colours=fmt.DOMAIN_COLOURS,
    )
    out += [
        '<div class="flex">',
        html_table(
            ["phase", "duration", "energy", "units", *phase_domains],
            [
                [
                    p["name"],
                    fmt.seconds(p["duration_s"]),
                    fmt.energy(p["energy_j"]),
                    fmt.plain(p["units"]),
                    *(fmt.energy(p["by_domain"].get(d)) for d in phase_domains),
                ]
                for p in phases
            ],
            numeric=tuple(range(1, 4 + len(phase_domains))),
        ),
        chart(svg, "No phase energy to chart."),
        "</div>",
    ]
    return "".join(out)


def _water_and_carbon(doc: Mapping[str, Any], rec: Mapping[str, Any]) -> str:
    fp = table.block(doc, "footprint")
    if not fp.get("computed"):
        reason = table.text(fp.get("reason")) or "the disclosure has no footprint block"
        return f'<h2 id="water">Water and carbon</h2><p class="warn">Not computed: {e(reason)}</p>'
    how = {r["figure"]: r["how"] for r in table.figure_rows(doc)}
    rows = [
        [figure, fmt.water(rec[key]), Safe(f'<span class="how">{e(how.get(figure))}</span>')]
        for figure, key in (
            ("water, total (consumption)", "water_total_l"),
            ("water, on site (cooling)", "water_onsite_l"),
            ("water, off site (power generation)", "water_offsite_l"),
        )
    ]
    withdrawal = "water withdrawn off site (not consumed; not in the total)"
    if rec["water_offsite_withdrawal_l"] is not None:
        rows.append(
            [
                withdrawal,
                fmt.water(rec["water_offsite_withdrawal_l"]),
                Safe(f'<span class="how">{e(how.get(withdrawal))}</span>'),
            ]
        )
    svg = fmt.bar_chart(
        ["on site (cooling)", "off site (power generation)"],
        {"water consumption": [rec["water_onsite_l"], rec["water_offsite_l"]]},
        "water (L)",
        colours={"water consumption": "#4c9ed9"},
    )
    header = ["figure", "value", "how it was obtained"]
    water = html_table(header, rows, numeric=(1,))
    carbon = html_table(
        header,
        [
            [
                "carbon",
                fmt.carbon(rec["carbon_g"]),
                Safe(f'<span class="how">{e(how.get("carbon"))}</span>'),
            ],
            [
                "facility energy",
                fmt.energy(rec["facility_energy_j"]),
                Safe(f'<span class="how">{e(how.get("facility energy"))}</span>'),
            ],
        ],
        numeric=(1,),
    )
    return (
        '<h2 id="water">Water</h2>'
        f"<p>Site <strong>{e(rec['site'])}</strong> on grid <strong>{e(rec['grid'])}</strong>. "
        "Water is consumption: water evaporated, not returned. On site is the facility's "
        "cooling; off site is the water of the power plants that made its electricity.</p>"
        f'<div class="flex">{water}{chart(svg, "No water to chart.")}</div>'
        f'<h2 id="carbon">Carbon</h2>{carbon}'
    )


def _embodied(doc: Mapping[str, Any], rec: Mapping[str, Any]) -> str:
    emb = table.block(doc, "embodied")
    if not emb:
        return f'<h2 id="embodied">Embodied</h2><p class="sub">{e(table.NO_EMBODIED)}</p>'
    if not emb.get("computed"):
        reason = table.text(emb.get("reason")) or "no reason given"
        return f'<h2 id="embodied">Embodied</h2><p class="warn">Not computed: {e(reason)}</p>'
    a = table.block(emb, "allocation")
    life, util = table.block(a, "service_life_years"), table.block(a, "utilisation")
    rows = []
    for c in table.items(emb, "components"):
        f = table.block(c, "factor")
        how = f"{f.get('kind')}, {f.get('year')}: {f.get('source')}"
        if f.get("water_source"):
            how += f"; water: {f.get('water_source')}"
        rows.append(
            [
                f"{c.get('component')}: {fmt.plain(c.get('quantity'))} {f.get('per')} "
                f"{f.get('model')}",
                fmt.carbon(table.num(c.get("carbon_g"))),
                fmt.water(table.num(c.get("water_l"))),
                Safe(f'<span class="how">{e(how)}</span>'),
            ]
        )
    components = html_table(["component", "carbon", "fab water", "factor"], rows, numeric=(1, 2))
    t = table.block(emb, "totals")
    unit = rec["unit"] or "unit"
    split = html_table(
        ["", "operational", "embodied", "total"],
        [
            [
                f"{what} per {unit}",
                show(rec[op]),
                show(rec[f"embodied_{key}_per_unit_{u}"]),
                show(rec[f"total_{key}_per_unit_{u}"]),
            ]
            for what, key, u, op, show in (
                ("carbon", "carbon", "g", "carbon_per_unit_g", fmt.carbon),
                ("water", "water", "l", "water_per_unit_l", fmt.water),
            )
        ],
        numeric=(1, 2, 3),
    )
    sci = table.block(emb, "sci")
    sci_text = (
        f"<p>SCI ({e(sci.get('standard'))}): <strong>{e(fmt.carbon(rec['sci_per_unit_g']))}"
        f" per {e(unit)}</strong> = (E x I + M) / R with E {e(fmt.plain(sci.get('E_kwh')))} kWh "
        f"(facility energy), I {e(fmt.plain(sci.get('I_g_per_kwh')))} g/kWh, M "
        f"{e(fmt.carbon(table.num(sci.get('M_g'))))}, R {e(fmt.plain(sci.get('R')))} {e(unit)}."
        "</p>"
        if rec["sci_per_unit_g"] is not None
        else ""
    )
    return (
        '<h2 id="embodied">Embodied (hardware manufacture)</h2>'
        f"<p>{e(emb.get('boundary'))}. Allocated: share {e(fmt.plain(a.get('server_share')))} "
        f"of the server x {e(fmt.seconds(table.num(a.get('charged_s'))))} / "
        f"({e(life.get('value'))} years x {e(util.get('value'))} utilisation); reserved idle "
        f"time {'charged' if a.get('reserved_idle_charged') else 'not charged'}. Life: "
        f"{e(life.get('source'))}. Utilisation: {e(util.get('source'))}. Fab water: "
        f"{e(emb.get('water_scope'))}.</p>"
        f"{components}<h3>Operational and embodied</h3>{split}"
        f"<p>{e(t.get('water_note'))}</p>{sci_text}"
    )


def _factors(doc: Mapping[str, Any]) -> str:
    factors = table.factor_rows(doc)
    head = '<h2 id="factors">Site factors and their sources</h2>'
    if not factors:
        return f'{head}<p class="how">The disclosure names no site factors (no site block).</p>'
    site = table.block(doc, "site")
    intro = (
        f"<p>Every factor is assumed for site <strong>{e(site.get('name'))}</strong>"
        f"{': ' + str(e(site.get('description'))) if site.get('description') else ''}; "
        f"grid {e(site.get('grid'))} ({e(site.get('grid_name'))}), hydro reservoir evaporation "
        f"{e(site.get('hydro_evaporation'))}. Kind says where a figure comes from: measured "
        "(the operator's own), dataset (a shipped table) or default (a published figure "
        "standing in for an unmeasured site).</p>"
    )
    return (
        head
        + intro
        + html_table(
            ["factor", "value", "unit", "kind", "year", "source"],
            [
                [f["label"], fmt.plain(f["value"]), f["unit"], f["kind"], f["year"], f["source"]]
                for f in factors
            ],
            numeric=(1,),
        )
    )


def _method(doc: Mapping[str, Any]) -> str:
    sampling = table.block(doc, "sampling")
    out = [
        '<h2 id="method">How each figure was obtained</h2>',
        "<ul>",
        "<li><strong>measured</strong>: a hardware energy counter (method <em>counter</em>) "
        "or sampled power integrated over time (method <em>power</em>).</li>",
        "<li><strong>modelled</strong>: an estimate from a model (method <em>model</em>), "
        "never a measurement.</li>",
        "<li><strong>assumed</strong>: a site factor (PUE, WUE, grid carbon and water "
        "intensity) with its source; facility energy, water and carbon rest on them.</li>",
        "</ul>",
        f"<p>This run: {e(table.energy_method(doc))}. {e(_reads(sampling))} every "
        f"{e(fmt.seconds(table.num(sampling.get('interval_s'))))} "
        f"({e(fmt.plain(table.num(sampling.get('samples'))))} samples, clock "
        f"{e(sampling.get('clock'))}).</p>",
    ]
    notes = table.notes(doc)
    if notes:
        out.append(
            '<div class="warn"><ul>' + "".join(f"<li>{e(n)}</li>" for n in notes) + "</ul></div>"
        )
    return "".join(out)


def _reads(sampling: Mapping[str, Any]) -> str:
    """Return how the sampler read, as the method section words it."""
    if sampling.get("energy_reads") == EDGE_READS:
        return (
            "Every energy figure is a hardware counter read at the window's edges (the counter "
            "integrates on the device); between them the probes were read"
        )
    return "Sampling"


def _integrity(doc: Mapping[str, Any]) -> str:
    head = '<h2 id="integrity">Integrity</h2>'
    integrity = table.block(doc, "integrity")
    if not integrity:
        return f'{head}<p class="how">The document is not sealed: it carries no content hash.</p>'
    status = integrity_status(doc)
    signature = table.block(integrity, "signature")
    sha = f"SHA-256 {e(integrity.get('sha256'))}"
    if status == "unverified":
        return (
            f'{head}<p class="warn">The content hash or signature does <strong>not</strong> '
            f"match: the document was changed after it was sealed ({sha}).</p>"
        )
    signed = (
        f" It is signed ({e(signature.get('algorithm'))}, public key "
        f"{e(signature.get('public_key'))}); check that key against one you trust before "
        "relying on it."
        if signature
        else " It is not signed."
    )
    return f'{head}<p class="ok">The content hash matches the document ({sha}).{signed}</p>'


__all__ = ["to_html"]
