"""A disclosure as Markdown, for model cards and READMEs.

    text = to_markdown(doc)     # doc: the disclosure document (a dict)

Summary, grades, energy by domain and device with provenance (measured or modelled), phases,
and the footprint with every site factor and its source. Text taken from the document is
escaped, so a disclosure cannot inject markup into the page it is pasted into.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from greenai.report import _plots as fmt
from greenai.report import table

# Enough to stop emphasis, code, links, tables and headings; '(' alone cannot make a link
# once '[' and ']' are escaped, so it is left alone for readable source.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|~#])")


def escape(value: Any) -> str:
    """Return text safe inside Markdown (and a table cell): no markup, links, HTML or newlines."""
    text = fmt.MISSING if value is None else str(value)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MARKDOWN_SPECIAL.sub(r"\\\1", text)
    return " ".join(text.split())


def md_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    """Return the lines of a Markdown table; the caller escapes document text in the cells."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


def to_markdown(doc: Mapping[str, Any]) -> str:
    """Return a Markdown report of one disclosure document."""
    doc = table.require_document(doc)
    rec = table.record(doc)
    e = escape
    out = [f"# Energy and water disclosure: {e(rec['task'] or 'unnamed task')}", ""]
    out += md_table(
        ["", ""],
        [
            ["status", e(rec["status"])],
            ["started (UTC)", e(rec["started_at"])],
            ["duration", fmt.seconds(rec["duration_s"])],
            ["units counted", e(fmt.amount(rec["units_done"], rec["unit"]))],
            ["hardware", e(table.hardware(doc))],
            ["CPU", e(rec["cpu"])],
            ["host", e(rec["host"])],
            ["measurement boundary", e(rec["boundary"])],
            ["greenai", f"{e(rec['greenai_version'])} (schema {e(rec['schema_version'])})"],
        ],
    )
    out += ["", "## Summary", ""]
    out += md_table(
        ["figure", "value", "how it was obtained"],
        [
            [e(r["figure"]), e(fmt.figure(r["value"], r["unit"])), e(r["how"])]
            for r in table.figure_rows(doc)
        ],
    )
    out += ["", *_grades(doc), "", *_energy(doc), "", *_footprint(doc), *_embodied(doc, rec)]
    notes = _notes(doc)
    if notes:
        out += ["", "## Notes", "", *notes]
    return "\n".join(out).rstrip() + "\n"


def _grades(doc: Mapping[str, Any]) -> list[str]:
    rating = table.rating_of(doc)
    if not rating:
        return ["## Grades", "", "Not rated: the disclosure has no rating block."]
    std = f"{rating['standard_id'] or '?'} version {rating['standard_version'] or '?'}"
    status = rating["standard_status"]
    out = [f"## Grades ({escape(std)}{', ' + escape(status) if status else ''})", ""]
    per = rating["functional_unit"]
    out += md_table(
        [
            "index",
            "grade",
            "efficiency index",
            "measured",
            "reference",
            "verdict",
        ],
        [
            [
                kind,
                f"**{r['grade']}**" if r["grade"] else "not graded",
                fmt.index(r["index"]),
                *map(escape, fmt.rated(r["measured"], r["reference"], per, unit)),
                "conformant" if r["conformant"] else "not conformant",
            ]
            for kind, unit in (("energy", "J"), ("water", "L"))
            for r in (rating[kind],)
        ],
    )
    for kind in ("energy", "water"):
        reasons = rating[kind]["reasons"]
        if reasons:
            out += ["", f"{kind.capitalize()} not graded because:", ""]
            out += [f"- {escape(reason)}" for reason in reasons]
    out += ["", "An index is the run's figure per functional unit over the standard's reference."]
    out += ["Lower is better; grades run from A (best) to G."]
    return out


def _energy(doc: Mapping[str, Any]) -> list[str]:
    e = escape
    out = ["## Energy by domain", ""]
    out += md_table(
        ["domain", "energy", "share", "provenance", "method", "complete"],
        [
            [
                e(r["domain"]),
                fmt.energy(r["energy_j"]),
                fmt.MISSING if r["share"] is None else f"{r['share']:.1%}",
                e(r["provenance"]),
                e("/".join(r["methods"]) or None),
                fmt.plain(r["complete"]),
            ]
            for r in table.domain_rows(doc)
        ],
    )
    devices = table.device_rows(doc)
    if devices:
        out += ["", "### Devices", ""]
        out += md_table(
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
                    e(d["id"]),
                    e(d["domain"]),
                    e(d["method"]),
                    e(d["provenance"]),
                    fmt.energy(d["energy_j"]),
                    e(table.device_boundary(d)),
                    e(table.added_to_total(d)),
                    e(d["state"]),
                ]
                for d in devices
            ],
        )
    from greenai.probes.wall import wall_comparison

    walls = wall_comparison(doc)
    if walls:
        out += ["", "### Node wall power against the components", ""]
        out += md_table(
            ["wall probe", "wall energy", "component sum", "difference", "share", "what it is"],
            [
                [
                    e(w["probe"]),
                    fmt.energy(w["wall_j"]),
                    f"{fmt.energy(w['components_j'])} ({e(w['components_provenance'])})",
                    fmt.energy(w["unmetered_j"]),
                    fmt.MISSING if w["unmetered_share"] is None else f"{w['unmetered_share']:.1%}",
                    e(w["note"]),
                ]
                for w in walls
            ],
        )
        out += [
            "",
            "The wall is the node's AC input as its BMC meters it; it contains every "
            "component, so it is shown beside the total and never added to it.",
        ]
    phases = table.phase_rows(doc)
    if phases:
        domains = sorted({k for p in phases for k in p["by_domain"]})
        out += ["", "### Energy by phase", ""]
        out += md_table(
            ["phase", "duration", "energy", *(e(d) for d in domains)],
            [
                [
                    e(p["name"]),
                    fmt.seconds(p["duration_s"]),
                    fmt.energy(p["energy_j"]),
                    *(fmt.energy(p["by_domain"].get(d)) for d in domains),
                ]
                for p in phases
            ],
        )
    return out


def _footprint(doc: Mapping[str, Any]) -> list[str]:
    e = escape
    fp = table.block(doc, "footprint")
    site = table.block(doc, "site")
    out = ["## Footprint", ""]
    if not fp.get("computed"):
        reason = table.text(fp.get("reason")) or "the disclosure has no footprint block"
        return [*out, f"Not computed: {e(reason)}"]
    name = table.text(site.get("name")) or table.text(fp.get("site"))
    grid = table.text(site.get("grid_name")) or table.text(fp.get("grid"))
    out += [
        f"Site **{e(name)}**, grid **{e(grid)}**"
        + (f" (hydro reservoir evaporation {e(site.get('hydro_evaporation'))})" if site else "")
        + ". Water is consumption (evaporated, not returned). Every factor below is assumed"
        " for the site, not measured by greenai:",
        "",
    ]
    factors = table.factor_rows(doc)
    if not factors:
        return [*out, "The disclosure lists no site factors (no site block)."]
    out += md_table(
        ["factor", "value", "unit", "kind", "year", "source"],
        [
            [
                e(f["label"]),
                fmt.plain(f["value"]),
                e(f["unit"]),
                e(f["kind"]),
                e(f["year"]),
                e(f["source"]),
            ]
            for f in factors
        ],
    )
    return out


def _embodied(doc: Mapping[str, Any], rec: Mapping[str, Any]) -> list[str]:
    e = escape
    emb = table.block(doc, "embodied")
    out = ["", "## Embodied (hardware manufacture)", ""]
    if not emb:
        return [*out, e(table.NO_EMBODIED)]
    if not emb.get("computed"):
        return [*out, f"Not computed: {e(table.text(emb.get('reason')) or 'no reason given')}"]
    a = table.block(emb, "allocation")
    life, util = table.block(a, "service_life_years"), table.block(a, "utilisation")
    idle = "charged" if a.get("reserved_idle_charged") else "not charged"
    out += [
        f"{e(emb.get('boundary'))}. Share {fmt.plain(a.get('server_share'))} of the server x "
        f"{fmt.seconds(table.num(a.get('charged_s')))} / ({e(life.get('value'))} years x "
        f"{e(util.get('value'))} utilisation); reserved idle time {idle}. Life: "
        f"{e(life.get('source'))}. Utilisation: {e(util.get('source'))}.",
        "",
    ]
    rows = []
    for c in table.items(emb, "components"):
        f = table.block(c, "factor")
        rows.append(
            [
                e(f"{c.get('component')}: {fmt.plain(c.get('quantity'))} {f.get('per')}"),
                e(f.get("model")),
                fmt.carbon(table.num(c.get("carbon_g"))),
                fmt.water(table.num(c.get("water_l"))),
                e(f"{f.get('kind')}, {f.get('year')}: {f.get('source')}"),
            ]
        )
    out += md_table(["component", "model", "carbon", "fab water", "factor source"], rows)
    unit = e(rec["unit"] or "unit")
    out += ["", f"Per {unit}:", ""]
    out += md_table(
        ["", "operational", "embodied", "total"],
        [
            [
                "carbon",
                fmt.carbon(rec["carbon_per_unit_g"]),
                fmt.carbon(rec["embodied_carbon_per_unit_g"]),
                fmt.carbon(rec["total_carbon_per_unit_g"]),
            ],
            [
                "water",
                fmt.water(rec["water_per_unit_l"]),
                fmt.water(rec["embodied_water_per_unit_l"]),
                fmt.water(rec["total_water_per_unit_l"]),
            ],
        ],
    )
    if rec["sci_per_unit_g"] is not None:
        sci = table.block(emb, "sci")
        out += [
            "",
            f"SCI ({e(sci.get('standard'))}): **{fmt.carbon(rec['sci_per_unit_g'])} per {unit}**"
            f" = (E {fmt.plain(sci.get('E_kwh'))} kWh x I {fmt.plain(sci.get('I_g_per_kwh'))} "
            f"g/kWh + M {fmt.carbon(table.num(sci.get('M_g')))}) / R {fmt.plain(sci.get('R'))}.",
        ]
    return out


def _notes(doc: Mapping[str, Any]) -> list[str]:
    lines = [f"- {escape(note)}" for note in table.notes(doc)]
    integrity = table.block(doc, "integrity")
    if integrity:
        signed = "signed" if isinstance(integrity.get("signature"), Mapping) else "not signed"
        lines.append(f"- Content hash (SHA-256) {escape(integrity.get('sha256'))}, {signed}.")
    return lines


__all__ = ["to_markdown"]
