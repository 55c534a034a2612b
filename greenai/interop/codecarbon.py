"""Import CodeCarbon's ``emissions.csv`` as greenai disclosure documents.

    docs = from_codecarbon_csv("emissions.csv")                      # one document per row
    docs = from_codecarbon_csv("emissions.csv", cpu_method="RAPL")   # you know how CPU was read

Each document has the shape of ``Measurement.to_dict()`` (``Measurement.from_dict`` reads it
back) with energy per domain (cpu, gpu, dram) and honest provenance:

- GPU energy is measured: CodeCarbon reads NVML's total-energy counter (or, where a GPU has
  none, its sampled power); AMD GPUs through AMD SMI likewise.
- RAM energy is modelled: CodeCarbon estimates it from the installed memory.
- CPU energy is measured when CodeCarbon read RAPL, powermetrics, Power Gadget or the Windows
  energy meter, and modelled when it used its TDP x load model or a constant. emissions.csv
  does not record which, so unless the file has a ``cpu_tracking_mode`` column or you pass
  ``cpu_method``, CPU energy is marked modelled and the device info says why.

CodeCarbon multiplies every energy by its PUE setting; greenai records IT energy, so the
energies are divided by the row's ``pue``. CodeCarbon's own carbon and water figures are
kept in an ``imported`` block; ``from_codecarbon_csv`` leaves the footprint not computed and
``apply_site`` (what ``greenai import codecarbon`` does) computes it at a greenai site, with
factors and sources: the row's cloud region or ``country_iso_code`` unless --site/--grid say
otherwise. A malformed file raises DisclosureError naming line and column.
"""

from __future__ import annotations

import csv
import math
import os
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from greenai import units
from greenai._version import __version__
from greenai.errors import DisclosureError

# Columns a row cannot be imported without (CodeCarbon's EmissionsData, 2.x and 3.x).
REQUIRED_COLUMNS = (
    "timestamp",
    "duration",
    "cpu_energy",
    "gpu_energy",
    "ram_energy",
    "energy_consumed",
)
# Columns that name how CPU power was tracked, when a file has one (CodeCarbon 3.3 does not).
CPU_METHOD_COLUMNS = ("cpu_tracking_mode", "cpu_tracker", "cpu_tracking_method")

# CodeCarbon's CPU tracking methods (ResourceTracker.cpu_tracker), normalised.
CPU_MEASURED = (
    "rapl",
    "intel rapl",
    "powermetrics",
    "power gadget",
    "intel power gadget",
    "windows emi",
)
CPU_MODELLED = (
    "cpu load",
    "tdp constant",
    "user input tdp constant",
    "global constant",
    "constant",
    "raspberry",
)
UNKNOWN_CPU_METHOD = (
    "CodeCarbon's emissions.csv does not record how CPU energy was obtained (RAPL or "
    "powermetrics counters, or its TDP x load model), so it is marked modelled. If "
    "CodeCarbon's log said 'CPU Tracking Method: RAPL', import with cpu_method='RAPL'."
)
GPU_REASON = (
    "CodeCarbon reads GPU energy from NVML's total-energy counter (sampled power on GPUs "
    "without one) or from AMD SMI"
)
RAM_REASON = "CodeCarbon estimates RAM power from the installed memory"
# Energy columns must add up to energy_consumed within this relative tolerance; a larger
# difference means shifted columns (CodeCarbon's headerless appends are positional).
SUM_REL_TOL = 1e-3
SUM_ABS_TOL_KWH = 1e-9


def normalise_method(name: str) -> str:
    """Return a CPU tracking method name lower-cased with '_' and '-' as spaces."""
    return " ".join(re.sub(r"[_-]", " ", name).lower().split())


def cpu_provenance(method: str | None) -> tuple[str, str, str]:
    """Return (provenance, greenai method, why) for a CodeCarbon CPU tracking method name."""
    if method is None or not method.strip():
        return "modelled", "model", UNKNOWN_CPU_METHOD
    key = normalise_method(method)
    if key in CPU_MEASURED:
        return "measured", "counter", f"CodeCarbon read CPU energy with {method} (a counter)"
    if key in CPU_MODELLED:
        return "modelled", "model", f"CodeCarbon estimated CPU power with its {method} model"
    return (
        "modelled",
        "model",
        f"CodeCarbon CPU tracking method {method!r} is not one greenai knows to be a "
        "measurement, so CPU energy is marked modelled",
    )


def from_codecarbon_csv(
    path: str | os.PathLike[str],
    *,
    task: str | None = None,
    cpu_method: str | None = None,
) -> list[dict[str, Any]]:
    """Return one disclosure document per row of a CodeCarbon emissions.csv.

    task: the task name to give every run (CodeCarbon records only a project name).
    cpu_method: how CodeCarbon tracked CPU power ('RAPL', 'powermetrics', 'cpu_load',
    'TDP constant', ...); overrides a cpu_tracking_mode column. None: read the column, or
    mark CPU energy modelled.
    """
    from greenai.measurement import Measurement

    if cpu_method is not None:
        key = normalise_method(cpu_method)
        if key not in CPU_MEASURED + CPU_MODELLED:
            raise ValueError(
                f"cpu_method {cpu_method!r} is not a CodeCarbon CPU tracking method; use one "
                f"of {', '.join(CPU_MEASURED + CPU_MODELLED)}"
            )
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            header = reader.fieldnames
            if not header:
                raise DisclosureError(f"{path}: empty file: no header row (not an emissions.csv)")
            missing = [c for c in REQUIRED_COLUMNS if c not in header]
            if missing:
                raise DisclosureError(
                    f"{path}: line 1: missing column(s) {', '.join(missing)}: not a CodeCarbon "
                    f"emissions.csv (it needs {', '.join(REQUIRED_COLUMNS)})"
                )
            docs = []
            for row in reader:
                parsed = _Row(path, reader.line_num, row, len(header))
                docs.append(Measurement(**_measurement(parsed, task, cpu_method)).to_dict())
            return docs
    except OSError as exc:
        raise DisclosureError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise DisclosureError(f"{path}: not UTF-8 text (byte {exc.start})") from exc
    except csv.Error as exc:
        raise DisclosureError(f"{path}: not valid CSV: {exc}") from exc


class _Row:
    """One CSV row, read with errors that name the file, line and column."""

    def __init__(self, path: Path, line: int, row: dict[str | None, Any], width: int):
        self.path = path
        self.line = line
        self.where = f"{path}: line {line}"
        if None in row:
            raise DisclosureError(
                f"{self.where}: {width + len(row[None])} fields, the header has {width}"
            )
        if any(v is None for v in row.values()):
            short = sum(v is not None for v in row.values())
            raise DisclosureError(f"{self.where}: {short} fields, the header has {width}")
        self.row = row

    def text(self, column: str) -> str | None:
        value = (self.row.get(column) or "").strip()
        return value or None

    def number(
        self, column: str, required: bool = False, minimum: float | None = 0.0
    ) -> float | None:
        value = self.text(column)
        if value is None:
            if required:
                raise self.fail(column, "empty (a number is required)")
            return None
        if value.lower() == "nan" and not required:  # pandas' spelling of "no value"
            return None
        try:
            number = float(value)
        except ValueError:
            raise DisclosureError(
                f"{self.where}, column {column!r}: {value!r} is not a number"
            ) from None
        if not math.isfinite(number):
            raise DisclosureError(f"{self.where}, column {column!r}: {value!r} is not finite")
        if minimum is not None and number < minimum:
            raise DisclosureError(
                f"{self.where}, column {column!r}: {value!r} is below {minimum:g}"
            )
        return number

    def fail(self, column: str, problem: str) -> DisclosureError:
        return DisclosureError(f"{self.where}, column {column!r}: {problem}")


def _measurement(r: _Row, task: str | None, cpu_method: str | None) -> dict[str, Any]:
    from greenai.footprint import Footprint
    from greenai.measurement import DeviceEnergy, DomainEnergy

    duration_s = r.number("duration", required=True)
    pue = r.number("pue", minimum=1.0) or 1.0
    kwh = {c: r.number(c, required=True) for c in ("cpu_energy", "gpu_energy", "ram_energy")}
    total_kwh = r.number("energy_consumed", required=True)
    parts_kwh = math.fsum(kwh.values())
    if not math.isclose(parts_kwh, total_kwh, rel_tol=SUM_REL_TOL, abs_tol=SUM_ABS_TOL_KWH):
        raise r.fail(
            "energy_consumed",
            f"{total_kwh!r} kWh, but cpu_energy + gpu_energy + ram_energy = {parts_kwh!r} kWh: "
            "the columns do not line up (was the file appended with another header?)",
        )
    method_name = cpu_method or next((r.text(c) for c in CPU_METHOD_COLUMNS if r.text(c)), None)
    cpu_prov, cpu_how, cpu_why = cpu_provenance(method_name)
    gpu_count = r.number("gpu_count")
    has_gpu = bool(gpu_count) or kwh["gpu_energy"] > 0
    has_ram = kwh["ram_energy"] > 0 or bool(r.number("ram_power"))

    # (domain, CodeCarbon prefix, greenai method, provenance, device info)
    specs = [
        (
            "cpu",
            "cpu",
            cpu_how,
            cpu_prov,
            {
                "provenance_reason": cpu_why,
                "model": r.text("cpu_model"),
                "tracking_method": method_name,
            },
        )
    ]
    if has_gpu:
        specs.append(
            (
                "gpu",
                "gpu",
                "counter",
                "measured",
                {"provenance_reason": GPU_REASON, "model": r.text("gpu_model")},
            )
        )
    if has_ram:
        specs.append(
            (
                "dram",
                "ram",
                "model",
                "modelled",
                {"provenance_reason": RAM_REASON, "memory_gib": r.number("ram_total_size")},
            )
        )
    devices = []
    domains = {}
    for domain, prefix, how, prov, details in specs:
        energy_j = units.kwh_to_j(kwh[f"{prefix}_energy"]) / pue
        mean_power = r.number(f"{prefix}_power")
        info = {
            "source": "codecarbon",
            "mean_power_w": None if mean_power is None else mean_power / pue,
            **details,
        }
        devices.append(
            DeviceEnergy(
                id=f"codecarbon:{domain}",
                domain=domain,
                method=how,
                provenance=prov,
                energy_j=energy_j,
                counts_in_total=True,
                info={k: v for k, v in info.items() if v is not None},
            )
        )
        domains[domain] = DomainEnergy(energy_j=energy_j, provenance=prov, complete=True)
    it_energy_j = math.fsum(d.energy_j for d in domains.values())
    started_at, zone = _started_at(r, duration_s)
    emissions_kg = r.number("emissions")
    imported = {
        "tool": "codecarbon",
        "tool_version": r.text("codecarbon_version"),
        "file": str(r.path),
        "line": r.line,
        "project_name": r.text("project_name"),
        "run_id": r.text("run_id"),
        "experiment_id": r.text("experiment_id"),
        "timestamp": r.text("timestamp"),
        "timestamp_zone": zone,
        "tracking_mode": r.text("tracking_mode"),
        "pue": pue,
        "wue_l_per_kwh": r.number("wue"),
        "energy_consumed_kwh": total_kwh,
        "carbon_g": None if emissions_kg is None else emissions_kg * 1000.0,
        "water_l": r.number("water_consumed"),
        "country_iso_code": r.text("country_iso_code"),
        "country_name": r.text("country_name"),
        "region": r.text("region"),
        "cloud_provider": r.text("cloud_provider"),
        "cloud_region": r.text("cloud_region"),
        "on_cloud": r.text("on_cloud"),
        "cpu_utilization_percent": r.number("cpu_utilization_percent"),
        "gpu_utilization_percent": r.number("gpu_utilization_percent"),
        "note": "carbon_g and water_l are CodeCarbon's own figures (its grid data; water = WUE "
        "x energy including PUE); energies in this document are IT energy (divided by pue)",
    }
    footprint = Footprint.not_computed(
        "imported from CodeCarbon: no greenai site was applied (CodeCarbon's carbon and "
        "water figures are in the imported block)",
        it_energy_j=it_energy_j,
    )
    return {
        "status": "ok",
        "task": task,
        "unit": None,
        "units_done": 0.0,
        "started_at": started_at,
        "duration_s": duration_s,
        "domains": domains,
        "devices": tuple(devices),
        "host": _host(r),
        "sampling": {
            "interval_s": None,
            "note": "CodeCarbon does not record its measurement interval in emissions.csv "
            "(its default is 15 s)",
        },
        "extra": {
            "site": None,
            "footprint": footprint.to_dict(),
            "rating": None,
            "imported": imported,
        },
        "greenai_version": __version__,
    }


def _started_at(r: _Row, duration_s: float) -> tuple[str, str]:
    """Return (start time ISO 8601, time zone note): CodeCarbon stamps the END of a run."""
    stamp = r.text("timestamp")
    if stamp is None:
        raise r.fail("timestamp", "empty (CodeCarbon writes the time the run ended)")
    try:
        end = datetime.fromisoformat(stamp)
    except ValueError:
        raise r.fail("timestamp", f"{stamp!r} is not an ISO 8601 date and time") from None
    start = end - timedelta(seconds=duration_s)
    if start.tzinfo is None:
        return start.isoformat(
            timespec="seconds"
        ), "unknown: CodeCarbon writes local time without a zone"
    utc = start.astimezone(timezone.utc).isoformat(timespec="milliseconds")
    return utc.replace("+00:00", "Z"), "UTC"


_GPU_MODEL = re.compile(r"\s*(\d+)\s+x\s+(.+?)\s*")


def _host(r: _Row) -> dict[str, Any]:
    """Return the host block: OS, Python, CPU, memory and GPUs as CodeCarbon saw them."""
    gpu_count = int(r.number("gpu_count") or 0)
    model = r.text("gpu_model")
    match = _GPU_MODEL.fullmatch(model or "")
    # CodeCarbon joins "N x name" per model without a separator: only one model parses.
    name = match[2] if match and int(match[1]) == gpu_count else model
    ram_gib = r.number("ram_total_size")
    cpu_count = r.number("cpu_count")
    host: dict[str, Any] = {
        "hostname": None,
        "os": r.text("os"),
        "python": r.text("python_version"),
        "cpu": r.text("cpu_model"),
        "logical_cpus": None if cpu_count is None else int(cpu_count),
        # CodeCarbon's ram_total_size is GiB (bytes / 1024**3).
        "memory_bytes": None if ram_gib is None else int(round(ram_gib * units.BYTES_PER_GIB)),
        "gpus": [
            {"name": name, "uuid": None, "power_limit_w": None, "driver_version": None}
            for _ in range(gpu_count)
        ],
    }
    return host


__all__ = ["from_codecarbon_csv"]


def _cloud_country(provider: str, region: str) -> str | None:
    """Return the ISO 3166 alpha-3 country of a cloud region, from CodeCarbon's own table
    (codecarbon/data/cloud/impact.csv); None when CodeCarbon is absent or has no such region."""
    try:
        from importlib import resources

        table = resources.files("codecarbon") / "data" / "cloud" / "impact.csv"
        text = table.read_text(encoding="utf-8-sig")
    except (ImportError, OSError, ModuleNotFoundError):
        return None
    for row in csv.DictReader(text.splitlines()):
        if (row.get("provider") or "").lower() == provider.lower() and (
            row.get("region") or ""
        ).lower() == region.lower():
            return (row.get("countryIsoCode") or "").strip() or None
    return None


def apply_site(
    doc: dict[str, Any],
    site: Any = None,
    *,
    grid: str | None = None,
    pue: float | None = None,
    wue_l_per_kwh: float | None = None,
) -> tuple[dict[str, Any], str]:
    """Return (doc with a greenai site and footprint, where the site came from).

    `site`/`grid` (the command line) win; otherwise the row's own place: a cloud region
    (provider and region, located with CodeCarbon's cloud table) gives the hyperscale
    preset on that region's country grid, else `country_iso_code` gives the default site on
    that country's grid. A row that names no place, or a grid greenai has no factors for,
    keeps its footprint not computed and says why.
    """
    from greenai.errors import SiteError
    from greenai.footprint import Footprint, compute
    from greenai.site import Site

    out = dict(doc)
    imported = doc.get("imported") or {}
    it_energy_j = float((doc.get("footprint") or {})["it_energy_j"])
    preset, place, origin = None, None, "command line"
    if site is None and grid is None:
        provider, region = imported.get("cloud_provider"), imported.get("cloud_region")
        if provider and region:
            place = _cloud_country(provider, region)
            preset = "hyperscale"
            origin = f"cloud region {provider} {region}" + (f" ({place})" if place else "")
        if place is None:
            place = imported.get("country_iso_code")
            origin = f"country_iso_code {place}" if place else ""
            preset = None
        if not place:
            reason = "emissions.csv names no country or cloud region: give --site or --grid"
            out["footprint"] = Footprint.not_computed(reason, it_energy_j=it_energy_j).to_dict()
            return out, reason
    try:
        resolved = Site.resolve(
            site if site is not None else preset,
            grid=grid if grid is not None else place,
            pue=pue,
            wue_l_per_kwh=wue_l_per_kwh,
        )
    except SiteError as exc:
        reason = f"no greenai site for this run ({origin}): {exc}"
        out["footprint"] = Footprint.not_computed(reason, it_energy_j=it_energy_j).to_dict()
        return out, reason
    out["site"] = resolved.to_dict()
    out["footprint"] = compute(it_energy_j, resolved, None, None).to_dict()
    return out, f"site {resolved.name}, grid {resolved.grid} ({origin})"
