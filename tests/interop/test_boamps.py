"""Tests for greenai/interop/boamps.py, validated against Boavizta's BoAmps JSON Schemas.

The schemas are vendored under tests/data/boamps/ (see SOURCE.md there) and resolved
offline: every $ref URL maps to the local copy.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from greenai import units
from greenai.disclosure import seal
from greenai.interop.boamps import to_boamps
from greenai.probes.base import Method
from greenai.site import Site
from tests.report.docs import H100, make_doc

jsonschema = pytest.importorskip("jsonschema")
referencing = pytest.importorskip("referencing")

SCHEMAS = Path(__file__).parent.parent / "data" / "boamps"
BASE = "https://raw.githubusercontent.com/Boavizta/BoAmps/main/model/"


def _load(name: str) -> dict:
    return json.loads((SCHEMAS / f"{name}_schema.json").read_text())


@pytest.fixture(scope="module")
def validator():
    from referencing.jsonschema import DRAFT4

    registry = referencing.Registry().with_resources(
        (BASE + f"{name}_schema.json", DRAFT4.create_resource(_load(name)))
        for name in ("algorithm", "dataset", "hardware", "measure")
    )
    return jsonschema.Draft4Validator(_load("report"), registry=registry)


def _errors(validator, report) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(report)]


@pytest.fixture(scope="module")
def doc():
    return make_doc()


def test_valid_against_the_boamps_schema(validator, doc):
    report = to_boamps(doc)
    assert _errors(validator, report) == []
    for field in _load("report")["required"]:
        assert field in report


def test_the_validator_does_catch_broken_reports(validator, doc):
    report = to_boamps(doc)
    del report["task"]["taskStage"]
    report["measures"][0]["unit"] = "joules"
    report["infrastructure"]["components"][0]["nbComponent"] = 1.5
    errors = " ".join(_errors(validator, report))
    assert "'taskStage' is a required property" in errors
    assert "'joules' is not one of" in errors
    assert "1.5 is not of type 'integer'" in errors


def test_measure_is_it_energy_in_kwh(doc):
    measure = to_boamps(doc)["measures"][0]
    assert measure["unit"] == "kWh"
    assert measure["powerConsumption"] == pytest.approx(units.j_to_kwh(doc["energy_j"]))
    assert measure["measurementDuration"] == doc["duration_s"]
    assert measure["measurementDateTime"] == doc["started_at"][:10] + " " + doc["started_at"][11:19]
    assert (measure["cpuTrackingMode"], measure["gpuTrackingMode"]) == ("rapl", "nvml")
    assert measure["measurementMethod"] == "greenai"


def test_modelled_cpu_is_told(validator):
    doc = make_doc(cpu_method=Method.MODEL, gpu_w=None)
    report = to_boamps(doc)
    assert report["measures"][0]["cpuTrackingMode"] == "model"
    assert "gpuTrackingMode" not in report["measures"][0]
    assert "cpu modelled (model)" in report["task"]["taskDescription"]
    assert _errors(validator, report) == []


def test_hardware_components(doc):
    components = to_boamps(doc)["infrastructure"]["components"]
    by_type = {c["componentType"]: c for c in components}
    assert by_type["gpu"] == {"componentType": "gpu", "nbComponent": 1, "componentName": H100}
    assert by_type["cpu"]["componentName"] == doc["host"]["cpu"]
    assert by_type["ram"]["memorySize"] == round(doc["host"]["memory_bytes"] / 1e9)


def test_task_dataset_and_caller_context(validator, doc):
    report = to_boamps(
        seal(doc),
        algorithms=[{"algorithmType": "llm", "foundationModelName": "llama3.1-8b"}],
        publisher={"name": "ACME", "confidentialityLevel": "public"},
        infra_type="onPremise",
        report_datetime="2026-01-02 03:04:05",
    )
    assert _errors(validator, report) == []
    task = report["task"]
    assert (task["taskStage"], task["taskFamily"]) == ("inference", "text-generation")
    assert task["dataset"] == [{"dataUsage": "input", "dataType": "token", "dataQuantity": 100000}]
    assert task["algorithms"][0]["foundationModelName"] == "llama3.1-8b"
    assert "energy grade E" in task["taskDescription"]
    header = report["header"]
    assert header["reportDatetime"] == "2026-01-02 03:04:05"
    assert header["reportId"] == seal(doc)["integrity"]["sha256"]
    assert report["infrastructure"]["infraType"] == "onPremise"
    with pytest.raises(ValueError, match="infra_type"):
        to_boamps(doc, infra_type="basement")


def test_queries_are_requests_and_training_is_training(validator):
    queries = to_boamps(make_doc(task="embeddings", unit="query", units=5000))
    assert queries["task"]["nbRequest"] == 5000
    training = to_boamps(make_doc(task="training"))
    assert training["task"]["taskStage"] == "training"
    assert "nbRequest" not in training["task"]
    assert _errors(validator, training) == []


def test_environment_is_the_grid_country(validator, doc):
    assert "environment" not in to_boamps(doc)  # the WORLD grid is not a country
    french = make_doc(site=Site.from_preset("hyperscale").with_overrides(grid="FR"))
    report = to_boamps(french)
    env = report["environment"]
    assert env["country"] == french["site"]["grid_name"]
    assert (
        env["powerSourceCarbonIntensity"]
        == (french["site"]["factors"]["carbon_intensity_g_per_kwh"]["value"])
    )
    assert _errors(validator, report) == []


def test_sparse_document_still_maps(validator, doc):
    bare = copy.deepcopy(doc)
    for key in ("host", "rating", "site", "footprint"):
        bare[key] = None
    report = to_boamps(bare)
    assert "system" not in report and "software" not in report
    assert report["infrastructure"]["components"] == [{"componentType": "cpu", "nbComponent": 1}]
    assert _errors(validator, report) == []


def test_codecarbon_import_exports_to_boamps(validator, tmp_path):
    pytest.importorskip("codecarbon.output_methods.file")
    from greenai.interop.codecarbon import from_codecarbon_csv
    from tests.interop.test_codecarbon import _row, _write

    doc = from_codecarbon_csv(_write(tmp_path, _row()), task="text-generation")[0]
    report = to_boamps(doc)
    assert _errors(validator, report) == []
    assert report["measures"][0]["cpuTrackingMode"] == "codecarbon model"
    assert report["measures"][0]["gpuTrackingMode"] == "codecarbon"


def test_sci_rides_in_the_task_description(validator):
    import greenai

    smoke = Path(__file__).resolve().parents[2] / "reports/reference/smoke/vm/embed-infer.json"
    m = greenai.load(smoke)
    report = to_boamps(m.to_dict())
    validator.validate(report)
    text = report["task"]["taskDescription"]
    assert "SCI (ISO/IEC 21031:2024)" in text
    assert f"{m.embodied.sci['sci_g_per_unit']:.6g} gCO2eq per query" in text
