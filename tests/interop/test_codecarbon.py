"""Tests for greenai/interop/codecarbon.py, on emissions.csv files written by CodeCarbon itself."""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from greenai import disclosure, units
from greenai.errors import DisclosureError
from greenai.interop.codecarbon import UNKNOWN_CPU_METHOD, from_codecarbon_csv
from greenai.measurement import Measurement
from greenai.report.html import to_html
from greenai.report.markdown import to_markdown
from greenai.scoring import RatingInput, rate
from greenai.standard import load_standard

emissions_data = pytest.importorskip("codecarbon.output_methods.emissions_data")
file_output = pytest.importorskip("codecarbon.output_methods.file")

A100 = "NVIDIA A100-SXM4-40GB"


def _row(**changes) -> object:
    """Return a CodeCarbon EmissionsData as CodeCarbon 3.x fills it at the end of a run."""
    base = emissions_data.EmissionsData(
        timestamp="2025-03-01T10:02:00",
        project_name="llm-bench",
        run_id="5b0fa12a-3dd7-45bb-9766-cc326314d9f1",
        experiment_id="5b0fa12a-3dd7-45bb-9766-cc326314d9f2",
        duration=120.0,
        emissions=0.00051,
        emissions_rate=0.00051 / 120.0,
        cpu_power=42.5,
        gpu_power=250.0,
        ram_power=10.0,
        cpu_energy=0.0014166,
        gpu_energy=0.0083333,
        ram_energy=0.0003333,
        energy_consumed=0.0014166 + 0.0083333 + 0.0003333,
        water_consumed=0.0,
        country_name="France",
        country_iso_code="FRA",
        region="ile-de-france",
        cloud_provider="",
        cloud_region="",
        os="Linux-6.1.0-x86_64-with-glibc2.36",
        python_version="3.11.7",
        codecarbon_version="3.3.2",
        cpu_count=32,
        cpu_model="AMD EPYC 7R13 Processor",
        gpu_count=2,
        gpu_model=f"2 x {A100}",
        longitude=2.35,
        latitude=48.85,
        ram_total_size=251.5,
        tracking_mode="machine",
        cpu_utilization_percent=35.0,
        gpu_utilization_percent=92.0,
    )
    return replace(base, **changes)


def _write(tmp_path: Path, *rows) -> Path:
    """Write rows with CodeCarbon's own FileOutput (header once, then appends)."""
    out = file_output.FileOutput("emissions.csv", str(tmp_path))
    for row in rows:
        out.out(row, None)
    return tmp_path / "emissions.csv"


@pytest.fixture
def emissions_csv(tmp_path):
    return _write(
        tmp_path,
        _row(),
        _row(
            timestamp="2025-03-01T11:00:00",
            run_id="second",
            gpu_count=0,
            gpu_model="",
            gpu_power=0.0,
            gpu_energy=0.0,
            energy_consumed=(0.0014166 + 0.0003333) * 1.5,
            cpu_energy=0.0014166 * 1.5,
            ram_energy=0.0003333 * 1.5,
            pue=1.5,
            wue=1.8,
            water_consumed=1.8 * (0.0014166 + 0.0003333) * 1.5,
        ),
    )


def _rewrite(path: Path, edit) -> Path:
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh))
    edit(rows)
    with path.open("w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    return path


def test_the_csv_is_codecarbons(emissions_csv):
    header = emissions_csv.read_text().splitlines()[0].split(",")
    assert header[:6] == [
        "timestamp",
        "project_name",
        "run_id",
        "experiment_id",
        "duration",
        "emissions",
    ]
    assert "energy_consumed" in header and "pue" in header


def test_one_document_per_row_that_measurement_accepts(emissions_csv):
    docs = from_codecarbon_csv(emissions_csv, task="text-generation")
    assert len(docs) == 2
    for doc in docs:
        m = Measurement.from_dict(doc)
        assert m.task == "text-generation"
        assert m.energy_j == pytest.approx(doc["energy_j"])
        disclosure.validate(doc)  # and the disclosure schema


def test_energy_per_domain_in_joules_of_it_energy(emissions_csv):
    first, second = from_codecarbon_csv(emissions_csv)
    assert first["domains"]["cpu"]["energy_j"] == pytest.approx(units.kwh_to_j(0.0014166))
    assert first["domains"]["gpu"]["energy_j"] == pytest.approx(units.kwh_to_j(0.0083333))
    assert first["domains"]["dram"]["energy_j"] == pytest.approx(units.kwh_to_j(0.0003333))
    assert first["energy_j"] == pytest.approx(units.kwh_to_j(0.0014166 + 0.0083333 + 0.0003333))
    # CodeCarbon multiplied by its PUE: greenai keeps IT energy.
    assert second["domains"]["cpu"]["energy_j"] == pytest.approx(units.kwh_to_j(0.0014166))
    assert "gpu" not in second["domains"]
    assert second["imported"]["pue"] == 1.5
    assert second["imported"]["water_l"] == pytest.approx(1.8 * 0.0017499 * 1.5)


def test_provenance_is_honest(emissions_csv):
    doc = from_codecarbon_csv(emissions_csv)[0]
    assert doc["domains"]["cpu"]["provenance"] == "modelled"
    assert doc["domains"]["gpu"]["provenance"] == "measured"
    assert doc["domains"]["dram"]["provenance"] == "modelled"
    assert doc["provenance"] == "mixed"
    cpu = next(d for d in doc["devices"] if d["domain"] == "cpu")
    assert cpu["method"] == "model"
    assert cpu["info"]["provenance_reason"] == UNKNOWN_CPU_METHOD


def test_cpu_method_given_or_in_a_column(emissions_csv):
    rapl = from_codecarbon_csv(emissions_csv, cpu_method="RAPL")[0]
    cpu = next(d for d in rapl["devices"] if d["domain"] == "cpu")
    assert (cpu["method"], cpu["provenance"]) == ("counter", "measured")
    assert rapl["domains"]["cpu"]["provenance"] == "measured"

    def add_column(rows):
        rows[0].append("cpu_tracking_mode")
        rows[1].append("cpu_load")
        rows[2].append("powermetrics")

    load, metrics = from_codecarbon_csv(_rewrite(emissions_csv, add_column))
    assert load["domains"]["cpu"]["provenance"] == "modelled"
    assert "cpu_load model" in load["devices"][0]["info"]["provenance_reason"]
    assert metrics["domains"]["cpu"]["provenance"] == "measured"
    with pytest.raises(ValueError, match="not a CodeCarbon CPU tracking method"):
        from_codecarbon_csv(emissions_csv, cpu_method="guesswork")


def test_time_host_and_source(emissions_csv):
    doc = from_codecarbon_csv(emissions_csv)[0]
    assert doc["started_at"] == "2025-03-01T10:00:00"  # CodeCarbon stamps the end
    assert doc["duration_s"] == 120.0
    assert [g["name"] for g in doc["host"]["gpus"]] == [A100, A100]
    assert doc["host"]["cpu"] == "AMD EPYC 7R13 Processor"
    assert doc["host"]["memory_bytes"] == round(251.5 * 2**30)
    assert doc["imported"]["run_id"] == "5b0fa12a-3dd7-45bb-9766-cc326314d9f1"
    assert doc["imported"]["carbon_g"] == pytest.approx(0.51)
    assert doc["imported"]["line"] == 2
    assert doc["footprint"]["computed"] is False


def test_imported_documents_rate_and_render(emissions_csv):
    doc = from_codecarbon_csv(emissions_csv, task="text-generation")[0]
    rating = rate(RatingInput.from_disclosure(doc), load_standard())
    assert rating.energy.grade is None  # no units counted, cpu modelled
    assert "imported from CodeCarbon" in to_markdown(doc)
    assert "codecarbon:gpu" in to_html(doc)


# ----------------------------------------------------------------------- malformed files
def test_missing_column_is_named(emissions_csv):
    def drop(rows):
        i = rows[0].index("gpu_energy")
        for row in rows:
            del row[i]

    with pytest.raises(DisclosureError, match=r"line 1: missing column\(s\) gpu_energy"):
        from_codecarbon_csv(_rewrite(emissions_csv, drop))


def test_non_numeric_value_names_line_and_column(emissions_csv):
    def spoil(rows):
        rows[2][rows[0].index("cpu_energy")] = "lots"

    with pytest.raises(
        DisclosureError, match=r"line 3, column 'cpu_energy': 'lots' is not a number"
    ):
        from_codecarbon_csv(_rewrite(emissions_csv, spoil))


@pytest.mark.parametrize(
    ("column", "value", "problem"),
    [
        ("duration", "", "empty"),
        ("gpu_energy", "-0.1", "below 0"),
        ("ram_energy", "inf", "not finite"),
        ("pue", "0.8", "below 1"),
        ("timestamp", "yesterday", "not an ISO 8601"),
    ],
)
def test_bad_values(emissions_csv, column, value, problem):
    def spoil(rows):
        rows[1][rows[0].index(column)] = value

    with pytest.raises(DisclosureError, match=rf"line 2, column '{column}'.*{problem}"):
        from_codecarbon_csv(_rewrite(emissions_csv, spoil))


def test_shifted_columns_are_caught(emissions_csv):
    def shift(rows):
        i = rows[0].index("cpu_energy")
        rows[1][i], rows[1][i + 1] = rows[1][i + 1], rows[1][i + 2]

    with pytest.raises(DisclosureError, match="line 2, column 'energy_consumed'.*do not line up"):
        from_codecarbon_csv(_rewrite(emissions_csv, shift))


@pytest.mark.parametrize(
    ("edit", "line", "fields"),
    [(lambda rows: rows[1].pop(), 2, -1), (lambda rows: rows[2].append("extra"), 3, +1)],
)
def test_short_and_long_rows(emissions_csv, edit, line, fields):
    width = len(emissions_data.EmissionsData.__dataclass_fields__)
    message = f"line {line}: {width + fields} fields, the header has {width}"
    with pytest.raises(DisclosureError, match=message):
        from_codecarbon_csv(_rewrite(emissions_csv, edit))


def test_empty_and_missing_files(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DisclosureError, match="no header row"):
        from_codecarbon_csv(empty)
    with pytest.raises(DisclosureError, match="cannot read"):
        from_codecarbon_csv(tmp_path / "absent.csv")
    header_only = tmp_path / "header.csv"
    header_only.write_text(",".join(emissions_data.EmissionsData.__dataclass_fields__) + "\n")
    assert from_codecarbon_csv(header_only) == []


@settings(max_examples=40, deadline=None)
@given(
    kwh=st.tuples(*[st.floats(0, 1e3, allow_subnormal=False)] * 3),
    pue=st.floats(1.0, 3.0),
)
def test_domains_add_up_to_codecarbons_total(tmp_path_factory, kwh, pue):
    cpu, gpu, ram = kwh
    path = _write(
        tmp_path_factory.mktemp("cc"),
        _row(
            cpu_energy=cpu, gpu_energy=gpu, ram_energy=ram, energy_consumed=cpu + gpu + ram, pue=pue
        ),
    )
    doc = from_codecarbon_csv(path)[0]
    assert all(d["energy_j"] >= 0 for d in doc["domains"].values())
    assert math.isclose(
        doc["energy_j"], units.kwh_to_j(cpu + gpu + ram) / pue, rel_tol=1e-9, abs_tol=1e-9
    )


def test_a_real_codecarbon_run_imports_and_rates(tmp_path):
    """CodeCarbon itself meters a little work and writes emissions.csv; greenai imports it."""
    import sys

    from greenai.disclosure import validate
    from greenai.scoring import RatingInput, rate
    from greenai.standard import load_standard

    code = (
        "import sys, time, logging\n"
        "from codecarbon import OfflineEmissionsTracker\n"
        "t = OfflineEmissionsTracker(country_iso_code='FRA', output_dir=sys.argv[1],\n"
        "    measure_power_secs=1, log_level='error', project_name='greenai-test')\n"
        "t.start()\n"
        "end = time.time() + 2\n"
        "while time.time() < end: sum(range(10000))\n"
        "t.stop()\n"
    )
    res = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "CODECARBON_LOG_LEVEL": "error"},
    )
    assert res.returncode == 0, res.stderr[-3000:]
    docs = from_codecarbon_csv(tmp_path / "emissions.csv", task="embeddings")
    assert len(docs) == 1
    doc = validate(docs[0])
    assert doc["energy_j"] > 0 and doc["duration_s"] >= 2
    assert doc["domains"]["cpu"]["provenance"] == "modelled"  # this VM has no RAPL
    rating = rate(RatingInput.from_disclosure(doc), load_standard())
    assert rating.energy.conformant is False and rating.task == "embeddings"


def test_import_applies_the_site_of_the_files_country_or_cloud_region(tmp_path):
    from tests.cli import greenai_cli

    path = _write(
        tmp_path,
        _row(),  # France, on premises
        _row(cloud_provider="gcp", cloud_region="asia-northeast1", country_iso_code="FRA"),
        _row(country_iso_code="", country_name="", region=""),
    )
    out = tmp_path / "imported"
    res = greenai_cli("import", "codecarbon", str(path), "-o", str(out))
    assert res.returncode == 0, res.stderr
    docs = [json.loads(p.read_text()) for p in sorted(out.glob("*.json"))]
    france, tokyo, nowhere = docs
    assert france["site"]["grid"] == "FR" and france["site"]["name"] == "industry-average"
    assert france["footprint"]["computed"] is True and france["footprint"]["carbon_g"] > 0
    expected_g = (
        france["footprint"]["facility_energy_j"]
        / units.J_PER_KWH
        * france["site"]["factors"]["carbon_intensity_g_per_kwh"]["value"]
    )
    assert france["footprint"]["carbon_g"] == pytest.approx(expected_g)
    assert tokyo["site"]["grid"] == "JP" and tokyo["site"]["name"] == "hyperscale"
    assert nowhere["site"] is None and not nowhere["footprint"]["computed"]
    assert "names no country" in nowhere["footprint"]["reason"]
    assert "grid FR (country_iso_code FRA)" in res.stdout
    assert "cloud region gcp asia-northeast1 (JPN)" in res.stdout

    forced = tmp_path / "forced"
    res = greenai_cli("import", "codecarbon", str(path), "-o", str(forced), "--grid", "DE")
    assert res.returncode == 0, res.stderr
    assert {json.loads(p.read_text())["site"]["grid"] for p in forced.glob("*.json")} == {"DE"}
    assert greenai_cli("validate", *map(str, forced.glob("*.json"))).returncode == 0
