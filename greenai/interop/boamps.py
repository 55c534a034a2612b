"""Export a disclosure as a BoAmps report (Boavizta's open JSON format for AI energy).

    report = to_boamps(doc)                                   # a dict, ready for json.dump
    report = to_boamps(doc, algorithms=[{"foundationModelName": "llama3.1-8b"}],
                       publisher={"name": "ACME", "confidentialityLevel": "public"})

Mapped from the disclosure: the measure (IT energy in kWh, duration, start, CPU and GPU
tracking method, idle calibration), the hardware components, the OS and Python version,
the functional units as the dataset quantity, the grid as environment. BoAmps has no field
for provenance, so a one-line account of how each domain was measured goes into the task
description. What greenai does not know (the model, the dataset, the infrastructure type)
is left out or taken from the arguments. Schema: github.com/Boavizta/BoAmps, model/.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from greenai import units
from greenai.report import table

FORMAT_SPECIFICATION = "https://github.com/Boavizta/BoAmps/tree/main/model"
INFRA_TYPES = ("publicCloud", "privateCloud", "onPremise", "other")
# greenai functional units -> BoAmps dataset dataType.
DATA_TYPES = {
    "token": "token",
    "image": "image",
    "clip": "video",
    "word": "word",
    "sample": "other",
}


def to_boamps(
    doc: Mapping[str, Any],
    *,
    algorithms: Sequence[Mapping[str, Any]] | None = None,
    dataset: Sequence[Mapping[str, Any]] | None = None,
    task_stage: str | None = None,
    task_family: str | None = None,
    infra_type: str = "other",
    publisher: Mapping[str, Any] | None = None,
    report_datetime: str | None = None,
) -> dict[str, Any]:
    """Return the BoAmps report of one disclosure document.

    BoAmps requires at least one algorithm and one dataset entry: without `algorithms` an
    empty (unknown) algorithm is written; without `dataset` the run's counted units become
    one input dataset. task_stage defaults to 'training' for training task classes, else
    'inference'; task_family to the run's task. report_datetime (YYYY-MM-DD HH:MM:SS)
    defaults to the start of the run: a reporter does not read the clock.
    """
    doc = table.require_document(doc)
    if infra_type not in INFRA_TYPES:
        raise ValueError(f"infra_type must be one of {', '.join(INFRA_TYPES)}, not {infra_type!r}")
    rec = table.record(doc)
    started = _datetime(rec["started_at"])
    stage = task_stage or _stage(rec)
    report: dict[str, Any] = {
        "header": _header(rec, publisher, report_datetime or started),
        "task": _task(doc, rec, stage, task_family, algorithms, dataset),
        "measures": [_measure(doc, rec, started)],
        "infrastructure": {"infraType": infra_type, "components": _components(doc)},
    }
    host = table.block(doc, "host")
    if table.text(host.get("os")):
        report["system"] = {"os": host["os"]}
    if table.text(host.get("python")):
        report["software"] = {"language": "python", "version": host["python"]}
    environment = _environment(doc, rec)
    if environment:
        report["environment"] = environment
    return report


def _datetime(iso: str | None) -> str | None:
    """Return 'YYYY-MM-DD HH:MM:SS' from an ISO 8601 time (BoAmps' format), None if absent."""
    if not iso or len(iso) < 19:
        return None
    return iso[:10] + " " + iso[11:19]


def _stage(rec: Mapping[str, Any]) -> str:
    task = (rec["task"] or "").lower()
    return "training" if "train" in task or rec["unit"] in ("pflop",) else "inference"


def _header(
    rec: Mapping[str, Any], publisher: Mapping[str, Any] | None, when: str | None
) -> dict[str, Any]:
    header: dict[str, Any] = {"formatVersionSpecificationUri": FORMAT_SPECIFICATION}
    if when:
        header["reportDatetime"] = when
    if rec["sha256"]:
        header["reportId"] = rec["sha256"]  # the disclosure's content hash names it uniquely
    if publisher:
        header["publisher"] = dict(publisher)
    return header


def _task(
    doc: Mapping[str, Any],
    rec: Mapping[str, Any],
    stage: str,
    family: str | None,
    algorithms: Sequence[Mapping[str, Any]] | None,
    dataset: Sequence[Mapping[str, Any]] | None,
) -> dict[str, Any]:
    if dataset is None:
        entry: dict[str, Any] = {
            "dataUsage": "input",
            "dataType": DATA_TYPES.get(rec["unit"] or "", "other"),
        }
        if rec["units_done"]:
            entry["dataQuantity"] = rec["units_done"]
        dataset = [entry]
    task: dict[str, Any] = {
        "taskStage": stage,
        "taskFamily": family or rec["task"] or "unknown",
        "algorithms": [dict(a) for a in algorithms] if algorithms else [{}],
        "dataset": [dict(d) for d in dataset],
        "taskDescription": _provenance_note(doc, rec),
    }
    if stage == "inference" and rec["unit"] in ("query", "request") and rec["units_done"]:
        task["nbRequest"] = rec["units_done"]
    return task


def _provenance_note(doc: Mapping[str, Any], rec: Mapping[str, Any]) -> str:
    note = f"Metered by greenai {rec['greenai_version'] or ''}".rstrip()
    note += f"; energy {table.energy_method(doc)}"
    if rec["standard_id"]:
        note += (
            f"; rated under {rec['standard_id']}: energy grade "
            f"{rec['energy_grade'] or 'not graded'}, "
            f"water grade {rec['water_grade'] or 'not graded'}"
        )
    sci = table.block(doc, "embodied", "sci")
    if rec["sci_per_unit_g"] is not None:  # BoAmps has no SCI or embodied field: said here
        note += (
            f"; SCI (ISO/IEC 21031:2024) {rec['sci_per_unit_g']:.6g} gCO2eq per "
            f"{rec['unit'] or 'unit'} = (E {sci.get('E_kwh'):.6g} kWh x I "
            f"{sci.get('I_g_per_kwh'):.6g} gCO2eq/kWh + M {sci.get('M_g'):.6g} gCO2eq "
            f"embodied) / R {sci.get('R'):.6g}"
        )
    return note + "."


def _tracking_mode(doc: Mapping[str, Any], domain: str) -> str | None:
    modes = []
    for dev in table.device_rows(doc):
        if dev["domain"] == domain and dev["counts_in_total"] is not False:
            # The probe family ("rapl", "nvml", "model", "codecarbon"), and how, unless a counter.
            prefix = dev["id"].split(":", 1)[0]
            plain = dev["method"] in ("counter", None) or prefix == dev["method"]
            mode = prefix if plain else f"{prefix} {dev['method']}"
            if mode not in modes:
                modes.append(mode)
    return "+".join(modes) or None


def _measure(doc: Mapping[str, Any], rec: Mapping[str, Any], started: str | None) -> dict[str, Any]:
    measure: dict[str, Any] = {
        "measurementMethod": "greenai",
        "version": rec["greenai_version"] or "unknown",
        "unit": "kWh",
    }
    if rec["energy_j"] is not None:
        measure["powerConsumption"] = units.j_to_kwh(rec["energy_j"])
    for domain, key in (("cpu", "cpuTrackingMode"), ("gpu", "gpuTrackingMode")):
        mode = _tracking_mode(doc, domain)
        if mode:
            measure[key] = mode
    idle = table.block(doc, "idle")
    idle_w, idle_s = table.num(idle.get("power_w")), table.num(idle.get("duration_s"))
    if idle_w is not None and idle_s is not None:
        measure["powerCalibrationMeasurement"] = units.j_to_kwh(idle_w * idle_s)
        measure["durationCalibrationMeasurement"] = idle_s
    if rec["duration_s"] is not None:
        measure["measurementDuration"] = rec["duration_s"]
    if started:
        measure["measurementDateTime"] = started
    return measure


def _components(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    host = table.block(doc, "host")
    packages = sum(
        1 for d in table.device_rows(doc) if d["domain"] == "cpu" and "package" in d["id"]
    )
    cpu: dict[str, Any] = {"componentType": "cpu", "nbComponent": max(packages, 1)}
    if table.text(host.get("cpu")):
        cpu["componentName"] = host["cpu"]
    components = [cpu]
    names: dict[str | None, int] = {}
    for gpu in table.items(host, "gpus"):
        name = table.text(gpu.get("name"))
        names[name] = names.get(name, 0) + 1
    for name, count in names.items():
        gpu_part: dict[str, Any] = {"componentType": "gpu", "nbComponent": count}
        if name:
            gpu_part["componentName"] = name
        components.append(gpu_part)
    memory = table.num(host.get("memory_bytes"))
    if memory:
        components.append(
            {
                "componentType": "ram",
                "nbComponent": 1,
                "memorySize": round(units.bytes_to_gb(memory)),
            }
        )
    return components


def _environment(doc: Mapping[str, Any], rec: Mapping[str, Any]) -> dict[str, Any] | None:
    site = table.block(doc, "site")
    grid = rec["grid"]
    if not site or not grid or grid == "WORLD":  # BoAmps wants a country; the world is not one
        return None
    environment: dict[str, Any] = {"country": table.text(site.get("grid_name")) or grid}
    if rec["carbon_intensity_g_per_kwh"] is not None:
        environment["powerSourceCarbonIntensity"] = rec["carbon_intensity_g_per_kwh"]
    if rec["site"]:
        environment["location"] = rec["site"]
    return environment


__all__ = ["to_boamps"]
