"""Plain-text summaries for the terminal."""

from __future__ import annotations

from typing import Any

from greenai import units
from greenai.measurement import Measurement
from greenai.probes.base import Discovery


def _fmt_j(energy_j: float | None) -> str:
    if energy_j is None:
        return "not measured"
    text = units.si(energy_j, "J")  # 3 significant digits, as in every other report
    if abs(energy_j) >= units.J_PER_KWH / 10:  # 0.1 kWh and above: kWh as well, as bills say
        text += f" ({units.significant(units.j_to_kwh(energy_j))} kWh)"
    return text


def _work_line(m: Measurement) -> list[str]:
    """Return the 'work' line: what the run says it did (none when it says nothing)."""
    work = m.extra.get("work") or {}
    if not isinstance(work, dict) or not work:
        return []
    from greenai.work import format_params

    parts = [
        f"params {format_params(v)}" if k == "params" and isinstance(v, int | float) else f"{k} {v}"
        for k, v in work.items()
    ]
    return [f"work        {', '.join(parts)}"]


def summary(m: Measurement) -> str:
    """Return a short human summary of a measurement, with how each figure was obtained."""
    lines = [
        f"status      {m.status}"
        + (f" (exit code {m.exit_code})" if m.exit_code is not None else ""),
        f"task        {m.task or '-'}",
        *_work_line(m),
        f"duration    {units.duration(m.duration_s)}",
        f"energy      {_fmt_j(m.energy_j)}  [{m.provenance}]  mean power "
        f"{units.si(m.power_w, 'W')}",
    ]
    if m.units_done:
        per = m.energy_per_unit_j
        lines.append(
            f"units       {units.amount(m.units_done, m.unit)}  ->  "
            f"{units.energy_per_unit_scale(per, m.unit)(per)}"
        )
    serving = m.extra.get("serving")
    if isinstance(serving, dict):
        lines.append(_serving(serving))
    for name, d in m.domains.items():
        note = "" if d.complete else "  (incomplete: a probe failed)"
        lines.append(f"  {name:<9} {_fmt_j(d.energy_j):>16}  [{d.provenance}]{note}")
    for d in m.devices:
        flag = (
            ""
            if d.counts_in_total
            else "  (contains the others; not added)"
            if d.info.get("contains")
            else "  (inside another zone; not added)"
        )
        status = "" if d.status == "ok" else f"  FAILED at {d.failed_at_s:.3f} s: {d.error}"
        lines.append(f"    {d.id:<22} {_fmt_j(d.energy_j):>14}  {d.method}{flag}{status}")
    from greenai.probes.wall import wall_comparison

    for w in wall_comparison(m.to_dict()):
        share = w["unmetered_share"]
        lines.append(
            f"wall        {w['probe']}: {_fmt_j(w['wall_j'])} at the node's input vs "
            f"{_fmt_j(w['components_j'])} components [{w['components_provenance']}]; "
            + (
                f"difference {_fmt_j(w['unmetered_j'])} ({share:.1%}) "
                if share is not None
                else "difference not known (the wall reading failed) "
            )
            + f"({w['note']})"
        )
    for p in m.phases:
        lines.append(
            f"  phase {p.name:<12} {_fmt_j(p.energy_j):>14}  {units.duration(p.duration_s)}"
        )
    fp = m.footprint
    if fp is not None and fp.computed and fp.water_l is not None:
        lines.append(
            f"site        {fp.site} (grid {fp.grid}): facility energy "
            f"{_fmt_j(fp.facility_energy_j)}  [assumed PUE {fp.factors['pue']:g}]"
        )
        w = fp.water_l
        lines.append(
            f"water       {units.si(w.total, 'L')}  (on site {units.si(w.onsite, 'L')}, "
            f"off site {units.si(w.offsite, 'L')})  [assumed factors]"
        )
        lines.append(
            f"carbon      {units.si(fp.carbon_g, 'g CO2e')}  "
            f"[assumed {fp.factors['carbon_intensity_g_per_kwh']:g} g/kWh]"
        )
    elif fp is not None:
        lines.append(f"footprint   not computed: {fp.reason}")
    if m.embodied is not None:
        lines.extend(embodied_lines(m.embodied, m.unit, m.site))
    if m.rating is not None:
        r, e = m.rating, m.rating.energy
        index = "-" if e.index is None else units.index(e.index)
        grade = f"grade {e.grade}" if e.grade else e.verdict
        lines.append(
            f"rating      {r.standard_id} {r.task or '(no task class)'}: energy index "
            f"{index}, {grade}"
        )
    if m.idle is not None:
        lines.append(
            f"idle        {units.si(m.idle.power_w, 'W')} over {m.idle.duration_s:.2f} s; "
            f"net energy {_fmt_j(m.idle.net_energy_j)}"
        )
    for g in m.gaps:
        lines.append(f"gap         {g.probe} from {g.from_s:.3f} s: {g.error}")
    if m.error:
        lines.append(f"error       {m.error['type']}: {m.error['message']}")
    return "\n".join(lines)


def _serving(block: dict) -> str:
    """Return the one-line summary of a `greenai bench serve` level's serving block."""
    try:
        load, req, att = block["load"], block["requests"], block.get("attribution") or {}
        level = (
            f"concurrency {load['concurrency']}"
            if load.get("concurrency")
            else (f"{load.get('rate_per_s')} requests/s (Poisson)")
        )
        text = f"serving     {level}: {req['done']} done, {req['failed']} failed"
        overlap = att.get("overlap") or {}
        per_req, per_tok = overlap.get("per_request_j"), overlap.get("per_output_token_j")
        if per_req and per_tok:
            window = att["window"]["duration_s"]
            text += (
                f"; {_fmt_j(per_req['mean'])}/request, {_fmt_j(per_tok['mean'])}/token "
                f"(overlap share, steady {window:.3g} s)"
            )
        p90 = (block.get("latency_s") or {}).get("p90")
        return text + (f"; latency p90 {p90:.3g} s" if p90 is not None else "")
    except (KeyError, TypeError, ValueError) as exc:
        return f"serving     (block not readable: {type(exc).__name__} {exc})"


def _mass_g(carbon_g: float | None) -> str:
    if carbon_g is None:
        return "not known"
    if abs(carbon_g) >= 1e6:  # tonnes, as footprints are published
        return f"{units.significant(carbon_g / 1e6, 3)} t CO2e"
    return f"{units.si(carbon_g, 'g')} CO2e"


def _litres(water_l: float | None) -> str:
    return "not known" if water_l is None else units.si(water_l, "L")


def embodied_lines(e: Any, unit: str | None = None, site: Any = None) -> list[str]:
    """Return the lines on embodied impacts, operational + embodied totals, per unit and SCI.

    e is a greenai.embodied.Embodied; site (a Site) adds the operational factors' sources.
    """
    if not e.computed:
        return [f"embodied    not computed: {e.reason}"]
    a = e.allocation
    life, util = a["service_life_years"]["value"], a["utilisation"]["value"]
    idle = "reserved idle charged" if a["reserved_idle_charged"] else "reserved idle not charged"
    adp = "" if e.adp_kg_sb is None else f", ADP {e.adp_kg_sb:.3g} kg Sb-eq"
    lines = [
        f"embodied    carbon {_mass_g(e.carbon_g)}, water {_litres(e.water_l)}{adp}  "
        f"[modelled: share {units.significant(a['server_share'], 3)} of the server x "
        f"{units.significant(a['charged_s'], 4)} s / ({life:g} y life x {util:g} utilisation); "
        f"{idle}]",
        f"              life: {a['service_life_years']['source']}",
        f"              utilisation: {a['utilisation']['source']}",
    ]
    for c in e.components:
        f = c.factor
        lines.append(
            f"  {c.component:<9} {units.significant(c.quantity, 4)} {f.per} {f.model}: "
            f"{_mass_g(c.carbon_g)}, water {_litres(c.water_l)}  "
            f"[{f.kind}, {units.significant(f.carbon_kg, 4)} kg CO2e/{f.per}, {f.year}]"
        )
        lines.append(f"      source: {f.source}" + (f" ({f.note})" if f.note else ""))
        if f.water_source:
            lines.append(f"      water: {f.water_source}")
    if site is not None:
        lines.append(
            f"operational sources: carbon intensity {site.carbon_intensity_g_per_kwh.source} "
            f"({site.carbon_intensity_g_per_kwh.year}); water: WUE {site.wue_l_per_kwh.source}; "
            f"EWIF {site.ewif_l_per_kwh.source}"
        )
    t = e.totals
    if t is not None:
        c, w = t["carbon_g"], t["water_l"]
        lines.append(
            f"total       carbon {_mass_g(c['total'])} (operational {_mass_g(c['operational'])} "
            f"+ embodied {_mass_g(c['embodied'])}); water {_litres(w['total'])} "
            f"(operational {_litres(w['operational'])} + embodied {_litres(w['embodied'])})"
        )
        unit = unit or "unit"
        for key, label in (("per_unit", f"per {unit}"), ("per_1000_units", f"per 1000 {unit}")):
            per, emb = t.get(key), e.per(1.0 if key == "per_unit" else 1000.0)
            if per is None or emb is None:
                continue
            op_c, op_w = per["carbon_g"] - emb["carbon_g"], per["water_l"] - (emb["water_l"] or 0)
            lines.append(
                f"  {label:<14} carbon {_mass_g(per['carbon_g'])} (operational {_mass_g(op_c)} "
                f"+ embodied {_mass_g(emb['carbon_g'])}); water {_litres(per['water_l'])} "
                f"(operational {_litres(op_w)} + embodied {_litres(emb['water_l'])})"
            )
    sci = e.sci
    if sci is not None and sci.get("sci_g_per_unit") is not None:
        lines.append(
            f"SCI         {units.si(sci['sci_g_per_unit'], 'g', 4)} CO2e per "
            f"{sci['R_unit'] or 'unit'} = (E {units.significant(sci['E_kwh'], 4)} kWh x "
            f"I {sci['I_g_per_kwh']:g} g/kWh + M {units.significant(sci['M_g'], 4)} g) / "
            f"R {units.significant(sci['R'], 6)}  [{sci['standard']}]"
        )
    return lines


def probe_report(found: Discovery) -> str:
    """Return the `greenai probe` listing: working probes, then unusable ones with reasons."""
    lines = ["Working probes:"]
    for p in found.probes:
        info = p.info()
        detail = info.get("name") or info.get("zone") or info.get("model") or ""
        extra = ""
        if "scaling" in info:
            extra = f"\n      {info['scaling']}"
            cpu = info.get("cpu", {})
            extra += (
                f"\n      CPU '{cpu.get('brand')}' -> {cpu.get('match')} match: "
                f"{cpu.get('table_row')}"
            )
        elif "source" in info and p.method.value == "model":
            extra = f"\n      {info['source']}"
        contains = info.get("contains")
        total = (
            ""
            if p.counts_in_total
            else "  (node wall: contains every component; compared, not added)"
            if contains == "*"
            else f"  (contains {contains}; not added to totals)"
            if contains
            else "  (contained in another zone; not added to totals)"
        )
        lines.append(
            f"  {p.id:<24} {p.domain:<7} {p.method.value:<8} {p.method.provenance:<9} "
            f"{detail}{total}{extra}"
        )
    if found.unavailable:
        lines.append("Not available here:")
        for u in found.unavailable:
            lines.append(f"  {u.probe:<24} {u.reason}")
            if u.remedy:
                lines.append(f"  {'':<24} what to do: {u.remedy}")
    return "\n".join(lines)
