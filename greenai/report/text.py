"""Plain-text summaries for the terminal."""

from __future__ import annotations

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


def summary(m: Measurement) -> str:
    """Return a short human summary of a measurement, with how each figure was obtained."""
    lines = [
        f"status      {m.status}"
        + (f" (exit code {m.exit_code})" if m.exit_code is not None else ""),
        f"task        {m.task or '-'}",
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
