"""Disclosures as a table: one flat row per run, with units in the column names.

    df = to_dataframe(docs)             # pandas.DataFrame, one row per disclosure document
    to_csv(docs, "runs.csv")            # the same table as CSV
    df = read_csv("runs.csv")           # back, with the same column types

The readers here (``record``, ``domain_rows``, ``factor_rows``, ...) are what every other
reporter uses to read a document. A disclosure is untrusted input: a value of the wrong
type reads as missing, never as an exception, so a report always renders and shows the
gap. pandas is imported only by the functions that build or read DataFrames.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from greenai.errors import DisclosureError
from greenai.report import _plots as fmt

if TYPE_CHECKING:
    import pandas as pd

DOMAINS = ("cpu", "dram", "gpu", "system")
GRADES = ("A", "B", "C", "D", "E", "F", "G")

# Labels of the site factors a disclosure's site block carries (greenai/site.py).
FACTOR_LABELS = {
    "pue": "PUE",
    "wue_l_per_kwh": "WUE (on-site water)",
    "carbon_intensity_g_per_kwh": "grid carbon intensity",
    "ewif_l_per_kwh": "EWIF (off-site water, consumption)",
    "ewif_withdrawal_l_per_kwh": "EWIF (off-site water, withdrawal)",
}

# Every column of the table, in order, with its pandas dtype (nullable: missing is <NA>).
COLUMNS: tuple[tuple[str, str], ...] = (
    ("task", "string"),
    ("unit", "string"),
    ("units_done", "Float64"),
    ("status", "string"),
    ("started_at", "string"),
    ("duration_s", "Float64"),
    ("host", "string"),
    ("cpu", "string"),
    ("gpu", "string"),
    ("energy_j", "Float64"),
    ("energy_per_unit_j", "Float64"),
    ("power_w", "Float64"),
    ("provenance", "string"),
    ("boundary", "string"),
    *(
        (f"{d}_{k}", t)
        for d in DOMAINS
        for k, t in (("energy_j", "Float64"), ("provenance", "string"))
    ),
    ("complete", "boolean"),
    ("idle_power_w", "Float64"),
    ("net_energy_j", "Float64"),
    ("site", "string"),
    ("grid", "string"),
    ("pue", "Float64"),
    ("wue_l_per_kwh", "Float64"),
    ("carbon_intensity_g_per_kwh", "Float64"),
    ("ewif_l_per_kwh", "Float64"),
    ("facility_energy_j", "Float64"),
    ("water_total_l", "Float64"),
    ("water_onsite_l", "Float64"),
    ("water_offsite_l", "Float64"),
    ("water_offsite_withdrawal_l", "Float64"),
    ("water_per_unit_l", "Float64"),
    ("carbon_g", "Float64"),
    ("carbon_per_unit_g", "Float64"),
    ("embodied_carbon_g", "Float64"),
    ("embodied_carbon_per_unit_g", "Float64"),
    ("embodied_water_per_unit_l", "Float64"),
    ("total_carbon_per_unit_g", "Float64"),
    ("total_water_per_unit_l", "Float64"),
    ("sci_per_unit_g", "Float64"),
    ("standard_id", "string"),
    ("standard_version", "string"),
    ("functional_unit", "string"),
    ("energy_index", "Float64"),
    ("energy_grade", "string"),
    ("energy_conformant", "boolean"),
    ("water_index", "Float64"),
    ("water_grade", "string"),
    ("water_conformant", "boolean"),
    ("sha256", "string"),
    ("signed", "boolean"),
    ("schema_version", "string"),
    ("greenai_version", "string"),
)
COLUMN_NAMES = tuple(name for name, _ in COLUMNS)
NO_EMBODIED = (
    "This disclosure has no embodied block (it was written before greenai computed embodied "
    "impacts). Reports show the file as it is; greenai.load() and `greenai show` compute the "
    "block from its host inventory."
)


# ----------------------------------------------------------------------- tolerant readers
def num(value: Any) -> float | None:
    """Return a finite number as float; None for anything else (bools included)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        value = float(value)
    except OverflowError:  # an integer beyond any float
        return None
    return value if math.isfinite(value) else None


def text(value: Any) -> str | None:
    """Return a string as is, a number as its text; None for anything else."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def flag(value: Any) -> bool | None:
    """Return a JSON boolean; None for anything else."""
    return value if isinstance(value, bool) else None


def block(doc: Any, *keys: str) -> dict[str, Any]:
    """Return the object at doc[k1][k2]...; {} when a step is missing or not an object."""
    for key in keys:
        doc = doc.get(key) if isinstance(doc, Mapping) else None
    return dict(doc) if isinstance(doc, Mapping) else {}


def items(doc: Any, key: str) -> list[dict[str, Any]]:
    """Return the objects in the list doc[key] (entries that are not objects are dropped)."""
    value = doc.get(key) if isinstance(doc, Mapping) else None
    return [dict(v) for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def require_document(doc: Any, source: str = "document") -> Mapping[str, Any]:
    """Return doc when it is a JSON object; DisclosureError otherwise."""
    if not isinstance(doc, Mapping):
        raise DisclosureError(
            f"{source}: expected a disclosure document (a JSON object), got {type(doc).__name__}"
        )
    return doc


# ----------------------------------------------------------------------- document views
def total_energy_j(doc: Mapping[str, Any]) -> float | None:
    """Return the run's IT energy (J): the document's figure, else the sum over domains."""
    energy_j = num(doc.get("energy_j"))
    if energy_j is not None:
        return energy_j
    values = [num(d.get("energy_j")) for d in block(doc, "domains").values() if isinstance(d, dict)]
    values = [v for v in values if v is not None]
    return math.fsum(values) if values else None


def domain_rows(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Return one row per domain: name, energy_j, share of the total, provenance, complete,
    and the methods (counter/power/model) of the probes added into it."""
    total = total_energy_j(doc)
    methods: dict[str, list[str]] = {}
    for dev in device_rows(doc):
        if dev["counts_in_total"] is not False and dev["method"] and dev["domain"]:
            found = methods.setdefault(dev["domain"], [])
            if dev["method"] not in found:
                found.append(dev["method"])
    rows = []
    for name, body in block(doc, "domains").items():
        body = body if isinstance(body, Mapping) else {}
        energy_j = num(body.get("energy_j"))
        rows.append(
            {
                "domain": str(name),
                "energy_j": energy_j,
                "share": energy_j / total if energy_j is not None and total else None,
                "provenance": text(body.get("provenance")),
                "complete": flag(body.get("complete")),
                "methods": tuple(methods.get(str(name), ())),
            }
        )
    return rows


def device_rows(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Return one row per probe/device: id, domain, method, provenance, energy_j, status,
    and state (a sentence: 'ok', or when and why it failed)."""
    rows = []
    for d in items(doc, "devices"):
        row = {
            "id": text(d.get("id")) or "?",
            "domain": text(d.get("domain")),
            "method": text(d.get("method")),
            "provenance": text(d.get("provenance")),
            "energy_j": num(d.get("energy_j")),
            "counts_in_total": flag(d.get("counts_in_total")),
            "status": text(d.get("status")) or "ok",
            "failed_at_s": num(d.get("failed_at_s")),
            "error": text(d.get("error")),
            "info": block(d, "info"),
        }
        row["state"] = row["status"]
        if row["status"] != "ok":
            at = "" if row["failed_at_s"] is None else f" at {row['failed_at_s']:.3g} s"
            row["state"] += f"{at}: {row['error'] or 'no error given'}"
        rows.append(row)
    return rows


def added_to_total(row: Mapping[str, Any]) -> str:
    """Return whether a device row adds to the total, and why not (container or contained)."""
    if row.get("counts_in_total") is not False:
        return "yes"
    info = row.get("info") or {}
    if info.get("contains") == "*":
        return "no (node wall: contains every component; compared, not added)"
    if info.get("contains"):
        return f"no (contains {info['contains']})"
    return "no (inside another zone)"


def device_boundary(row: Mapping[str, Any]) -> str | None:
    """Return what a device row's probe measures, where the probe says."""
    info = row.get("info") or {}
    return text(info.get("boundary"))


def phase_rows(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Return one row per phase: name, duration_s, energy_j, units and energy per domain (J)."""
    rows = []
    for p in items(doc, "phases"):
        by_domain = {str(k): num(v) for k, v in block(p, "by_domain").items()}
        rows.append(
            {
                "name": text(p.get("name")) or "?",
                "duration_s": num(p.get("duration_s")),
                "energy_j": num(p.get("energy_j")),
                "units": num(p.get("units")),
                "by_domain": by_domain,
            }
        )
    return rows


def factor_rows(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Return the site factors: key, label, value, unit, source, year, kind (assumed figures)."""
    rows = []
    for key, body in block(doc, "site", "factors").items():
        if not isinstance(body, Mapping):
            continue
        rows.append(
            {
                "key": str(key),
                "label": FACTOR_LABELS.get(str(key), str(key)),
                "value": num(body.get("value")),
                "unit": text(body.get("unit")),
                "source": text(body.get("source")),
                "year": text(body.get("year")),
                "kind": text(body.get("kind")),
            }
        )
    return rows


def factor_values(doc: Mapping[str, Any]) -> dict[str, float | None]:
    """Return the value of each site factor used, from the footprint block or the site block."""
    values = {str(k): num(v) for k, v in block(doc, "footprint", "factors").items()}
    for row in factor_rows(doc):
        if values.get(row["key"]) is None:
            values[row["key"]] = row["value"]
    return values


def rating_of(doc: Mapping[str, Any]) -> dict[str, Any]:
    """Return the rating block normalised: standard id/version/status, task, functional unit,
    and for 'energy' and 'water': index, grade, conformant, reasons, measured, reference.
    {} when the document has no rating."""
    rating = block(doc, "rating")
    if not rating:
        return {}
    std = block(rating, "standard")
    out: dict[str, Any] = {
        "standard_id": text(std.get("id")),
        "standard_version": text(std.get("version")),
        "standard_status": text(std.get("status")),
        "task": text(rating.get("task")),
        "functional_unit": text(rating.get("functional_unit")),
    }
    for kind, unit in (("energy", "j"), ("water", "l")):
        part = block(rating, kind)
        grade = text(part.get("grade"))
        reasons = part.get("reasons")
        out[kind] = {
            "index": num(part.get("index")),
            "grade": grade if grade in GRADES else None,
            "conformant": flag(part.get("conformant")),
            "reasons": tuple(r for r in reasons if isinstance(r, str))
            if isinstance(reasons, list)
            else (),
            "measured": num(part.get(f"measured_{unit}")),
            "reference": num(part.get(f"reference_{unit}")),
        }
    return out


def hardware(doc: Mapping[str, Any]) -> str:
    """Return the hardware in a few words: GPU names with counts, else the CPU."""
    host = block(doc, "host")
    gpus = items(host, "gpus")
    if gpus:
        names: dict[str, int] = {}
        for gpu in gpus:
            name = text(gpu.get("name")) or "GPU (name not reported)"
            names[name] = names.get(name, 0) + 1
        return ", ".join(f"{n} × {name}" if n > 1 else name for name, n in names.items())
    return text(host.get("cpu")) or "not reported"


def boundary(doc: Mapping[str, Any]) -> tuple[str, ...]:
    """Return the measurement boundary: the sorted domains the run's energy covers."""
    return tuple(sorted(str(k) for k in block(doc, "domains")))


def energy_method(doc: Mapping[str, Any]) -> str:
    """Return how the IT energy was obtained, per domain: 'cpu measured (counter), ...'."""
    parts = []
    for row in domain_rows(doc):
        how = "/".join(row["methods"])
        parts.append(f"{row['domain']} {row['provenance'] or 'provenance not stated'}")
        parts[-1] += f" ({how})" if how else ""
    return ", ".join(parts) or "no domains"


def figure_rows(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Return the headline figures: figure, value, unit (J, W, L, g) and how it was obtained
    (measured/modelled with the probe methods, or the assumed site factor it rests on)."""
    rec = record(doc)
    unit = rec["unit"] or "unit"
    factors = {row["key"]: row for row in factor_rows(doc)}
    grid = rec["grid"] or "?"

    def assumed(key: str, value_unit: str) -> str:
        row = factors.get(key, {})
        kind = row.get("kind") or "kind not stated"
        value = rec.get(key) if rec.get(key) is not None else row.get("value")
        value_text = "?" if value is None else f"{value:g}"
        return f"{FACTOR_LABELS.get(key, key)} {value_text}{value_unit} (site factor: {kind})"

    energy_how = f"{rec['provenance'] or 'provenance not stated'}: {energy_method(doc)}"
    rows = [
        {"figure": "IT energy", "value": rec["energy_j"], "unit": "J", "how": energy_how},
        {
            "figure": "energy per unit",
            "value": rec["energy_per_unit_j"],
            "unit": f"J/{unit}",
            "how": f"IT energy / {fmt.amount(rec['units_done'], rec['unit'])} counted"
            if rec["units_done"]
            else "no units counted",
        },
        {
            "figure": "mean power",
            "value": rec["power_w"],
            "unit": "W",
            "how": "IT energy / duration",
        },
    ]
    fp = block(doc, "footprint")
    if not fp.get("computed"):
        reason = text(fp.get("reason")) or "the disclosure has no footprint block"
        rows.append(
            {
                "figure": "water and carbon",
                "value": None,
                "unit": "",
                "how": f"not computed: {reason}",
            }
        )
        return rows
    rows += [
        {
            "figure": "facility energy",
            "value": rec["facility_energy_j"],
            "unit": "J",
            "how": "IT energy × " + assumed("pue", ""),
        },
        {
            "figure": "water, total (consumption)",
            "value": rec["water_total_l"],
            "unit": "L",
            "how": "on site + off site",
        },
        {
            "figure": "water, on site (cooling)",
            "value": rec["water_onsite_l"],
            "unit": "L",
            "how": "IT energy × " + assumed("wue_l_per_kwh", " L/kWh"),
        },
        {
            "figure": "water, off site (power generation)",
            "value": rec["water_offsite_l"],
            "unit": "L",
            "how": f"facility energy × {assumed('ewif_l_per_kwh', ' L/kWh')}, grid {grid}",
        },
    ]
    if rec["water_offsite_withdrawal_l"] is not None:
        rows.append(
            {
                "figure": "water withdrawn off site (not consumed; not in the total)",
                "value": rec["water_offsite_withdrawal_l"],
                "unit": "L",
                "how": "facility energy × "
                + assumed("ewif_withdrawal_l_per_kwh", " L/kWh")
                + f", grid {grid}",
            }
        )
    rows.append(
        {
            "figure": "carbon",
            "value": rec["carbon_g"],
            "unit": "g",
            "how": "facility energy × "
            + assumed("carbon_intensity_g_per_kwh", " gCO2e/kWh")
            + f", grid {grid}",
        }
    )
    if rec["water_per_unit_l"] is not None:
        rows.append(
            {
                "figure": "water per unit",
                "value": rec["water_per_unit_l"],
                "unit": f"L/{unit}",
                "how": "water total / units counted",
            }
        )
    if rec["carbon_per_unit_g"] is not None:
        rows.append(
            {
                "figure": "carbon per unit",
                "value": rec["carbon_per_unit_g"],
                "unit": f"g/{unit}",
                "how": "carbon / units counted",
            }
        )
    return rows


def notes(doc: Mapping[str, Any]) -> list[str]:
    """Return what a reader must know besides the figures, one sentence each: the idle
    baseline, gaps, probes unavailable, sampling problems, a failed run."""
    out = []
    idle = block(doc, "idle")
    if idle:
        out.append(
            f"Idle baseline: {fmt.power(num(idle.get('power_w')))} over "
            f"{fmt.seconds(num(idle.get('duration_s')))}; energy net of idle "
            f"{fmt.energy(num(idle.get('net_energy_j')))} (grades use the gross energy)."
        )
    for gap in items(doc, "gaps"):
        at = num(gap.get("from_s"))
        out.append(
            f"Gap: {text(gap.get('probe'))} not measured from "
            f"{fmt.MISSING if at is None else f'{at:.3g} s'} on: {text(gap.get('error'))}"
        )
    for probe in items(doc, "probes_unavailable"):
        out.append(
            f"Not available on this host: {text(probe.get('probe'))}: {text(probe.get('reason'))}"
        )
    problems = block(doc, "sampling").get("problems")
    for problem in problems if isinstance(problems, list) else []:
        out.append(f"Sampling problem: {text(problem)}")
    error = block(doc, "error")
    if error:
        out.append(f"The run failed: {text(error.get('type'))}: {text(error.get('message'))}")
    return out


def record(doc: Any) -> dict[str, Any]:
    """Return one flat row of a disclosure document, keyed by COLUMN_NAMES (units in names)."""
    doc = require_document(doc)
    host = block(doc, "host")
    fp = block(doc, "footprint")
    computed = bool(fp.get("computed"))
    water_l = block(fp, "water_l") if computed else {}
    per_unit = block(fp, "per_unit") if computed else {}
    factors = factor_values(doc) if computed or block(doc, "site") else {}
    energy_j = total_energy_j(doc)
    units_done = num(doc.get("units_done"))
    duration_s = num(doc.get("duration_s"))
    per_unit_j = num(doc.get("energy_per_unit_j"))
    if per_unit_j is None and energy_j is not None and units_done:
        per_unit_j = energy_j / units_done
    domains = {r["domain"]: r for r in domain_rows(doc)}
    idle = block(doc, "idle")
    rating = rating_of(doc)
    integrity = block(doc, "integrity")
    gpus = items(host, "gpus")
    emb = block(doc, "embodied")
    emb_unit, totals_unit = block(emb, "per_unit"), block(emb, "totals", "per_unit")
    row: dict[str, Any] = {
        "task": text(doc.get("task")),
        "unit": text(doc.get("unit")),
        "units_done": units_done,
        "status": text(doc.get("status")),
        "started_at": text(doc.get("started_at")),
        "duration_s": duration_s,
        "host": text(host.get("hostname")),
        "cpu": text(host.get("cpu")),
        "gpu": hardware(doc) if gpus else None,
        "energy_j": energy_j,
        "energy_per_unit_j": per_unit_j,
        "power_w": energy_j / duration_s if energy_j is not None and duration_s else None,
        "provenance": text(doc.get("provenance")),
        "boundary": "+".join(boundary(doc)) or None,
        "complete": all(r["complete"] is not False for r in domains.values()) if domains else None,
        "idle_power_w": num(idle.get("power_w")),
        "net_energy_j": num(idle.get("net_energy_j")),
        "site": text(fp.get("site")) or text(block(doc, "site").get("name")),
        "grid": text(fp.get("grid")) or text(block(doc, "site").get("grid")),
        "pue": factors.get("pue"),
        "wue_l_per_kwh": factors.get("wue_l_per_kwh"),
        "carbon_intensity_g_per_kwh": factors.get("carbon_intensity_g_per_kwh"),
        "ewif_l_per_kwh": factors.get("ewif_l_per_kwh"),
        "facility_energy_j": num(fp.get("facility_energy_j")) if computed else None,
        "water_total_l": num(water_l.get("total")),
        "water_onsite_l": num(water_l.get("onsite")),
        "water_offsite_l": num(water_l.get("offsite")),
        "water_offsite_withdrawal_l": num(fp.get("offsite_water_withdrawal_l"))
        if computed
        else None,
        "water_per_unit_l": num(block(per_unit, "water_l").get("total")),
        "carbon_g": num(fp.get("carbon_g")) if computed else None,
        "carbon_per_unit_g": num(per_unit.get("carbon_g")),
        "embodied_carbon_g": num(emb.get("carbon_g")),
        "embodied_carbon_per_unit_g": num(emb_unit.get("carbon_g")),
        "embodied_water_per_unit_l": num(emb_unit.get("water_l")),
        "total_carbon_per_unit_g": num(totals_unit.get("carbon_g")),
        "total_water_per_unit_l": num(totals_unit.get("water_l")),
        "sci_per_unit_g": num(block(emb, "sci").get("sci_g_per_unit")),
        "standard_id": rating.get("standard_id"),
        "standard_version": rating.get("standard_version"),
        "functional_unit": rating.get("functional_unit"),
        "energy_index": block(rating, "energy").get("index"),
        "energy_grade": block(rating, "energy").get("grade"),
        "energy_conformant": block(rating, "energy").get("conformant"),
        "water_index": block(rating, "water").get("index"),
        "water_grade": block(rating, "water").get("grade"),
        "water_conformant": block(rating, "water").get("conformant"),
        "sha256": text(integrity.get("sha256")),
        "signed": isinstance(integrity.get("signature"), Mapping) if integrity else None,
        "schema_version": text(doc.get("schema_version")),
        "greenai_version": text(doc.get("greenai_version")),
    }
    for d in DOMAINS:
        row[f"{d}_energy_j"] = domains[d]["energy_j"] if d in domains else None
        row[f"{d}_provenance"] = domains[d]["provenance"] if d in domains else None
    return {name: row[name] for name in COLUMN_NAMES}


# ----------------------------------------------------------------------- pandas and CSV
def to_dataframe(docs: Iterable[Any]) -> pd.DataFrame:
    """Return a DataFrame with one row per disclosure document and the columns of COLUMNS."""
    import pandas as pd

    rows = [record(doc) for doc in _documents(docs)]
    frame = pd.DataFrame.from_records(rows, columns=list(COLUMN_NAMES))
    return frame.astype(dict(COLUMNS))


# A cell a spreadsheet would run as a formula (OWASP CSV injection): =, +, -, @, tab, CR.
# Such a text cell is written with a leading ' (and a cell that starts with ' gets one
# more), so a spreadsheet shows it as text and read_csv gives back exactly what was written.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "'")


def neutralise(text: Any) -> Any:
    """Return a text cell a spreadsheet will not execute (other values unchanged)."""
    if isinstance(text, str) and text.startswith(FORMULA_START):
        return "'" + text
    return text


def restore(text: Any) -> Any:
    """Return the text cell that neutralise() was given."""
    if isinstance(text, str) and text.startswith("'"):
        return text[1:]
    return text


def to_csv(docs: Iterable[Any], path: str | os.PathLike[str]) -> Path:
    """Write the table of `docs` as CSV (header row, no index); return the path.

    Text cells that a spreadsheet would execute are neutralised (see FORMULA_START); lines
    end in CRLF (RFC 4180), so every cell holding a CR, LF, quote or comma is quoted.
    Numbers are written exactly, without exponent notation ('0.0000227', not 2.27e-05).
    """
    import pandas as pd

    from greenai import units

    path = Path(path)
    frame = to_dataframe(docs)
    for name, kind in COLUMNS:
        if kind == "string":
            frame[name] = frame[name].map(neutralise, na_action="ignore").astype("string")
    frame = frame.astype(object)
    for name, kind in COLUMNS:
        if kind == "Float64":
            frame[name] = [None if pd.isna(v) else units.machine(float(v)) for v in frame[name]]
    frame.to_csv(path, index=False, lineterminator="\r\n")
    return path


def read_csv(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Return the table that to_csv wrote, with its column types (floats read back exactly)."""
    import pandas as pd

    # pandas 3 reads floats back exactly by default (and deprecates the option); 2.x does not.
    exact = {} if int(pd.__version__.split(".")[0]) >= 3 else {"float_precision": "round_trip"}
    frame = pd.read_csv(path, dtype=dict(COLUMNS), keep_default_na=False, na_values=[""], **exact)
    missing = [c for c in COLUMN_NAMES if c not in frame.columns]
    if missing:
        raise DisclosureError(
            f"{path}: not a greenai run table: column(s) {', '.join(missing)} missing"
        )
    for name, kind in COLUMNS:
        if kind == "string":
            frame[name] = frame[name].map(restore, na_action="ignore").astype("string")
    return frame[list(COLUMN_NAMES)]


def _documents(docs: Iterable[Any]) -> Sequence[Any]:
    if isinstance(docs, Mapping):  # one document given where a list was expected
        return [docs]
    return list(docs)


__all__ = ["COLUMNS", "COLUMN_NAMES", "read_csv", "record", "to_csv", "to_dataframe"]
