"""Tests for greenai/report/table.py: flat rows, DataFrame, CSV round trip, tolerant reading."""

from __future__ import annotations

import copy
import csv
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from greenai.errors import DisclosureError
from greenai.probes.base import Method
from greenai.report import table
from tests.report.docs import make_doc

pd = pytest.importorskip("pandas")


@pytest.fixture(scope="module")
def gpu_doc():
    return make_doc()


@pytest.fixture(scope="module")
def cpu_doc():
    return make_doc(
        gpu_w=None, cpu_method=Method.MODEL, dram_w=6.0, task="embeddings", unit="query"
    )


def test_record_has_every_column_in_order(gpu_doc):
    assert tuple(table.record(gpu_doc)) == table.COLUMN_NAMES


def test_record_figures_come_from_the_document(gpu_doc):
    row = table.record(gpu_doc)
    assert row["cpu_energy_j"] == pytest.approx(40.0 * 70)
    assert row["gpu_energy_j"] == pytest.approx(250.0 * 70)
    assert row["dram_energy_j"] is None and row["dram_provenance"] is None
    assert row["energy_j"] == pytest.approx(290.0 * 70)
    assert row["energy_per_unit_j"] == pytest.approx(290.0 * 70 / 100_000)
    assert row["power_w"] == pytest.approx(290.0)
    assert row["boundary"] == "cpu+gpu"
    water = gpu_doc["footprint"]["water_l"]
    assert row["water_total_l"] == water["total"]
    assert row["water_onsite_l"] + row["water_offsite_l"] == pytest.approx(row["water_total_l"])
    assert row["carbon_g"] == gpu_doc["footprint"]["carbon_g"]
    assert row["energy_grade"] == gpu_doc["rating"]["energy"]["grade"]
    assert row["energy_index"] == gpu_doc["rating"]["energy"]["index"]
    assert row["standard_version"] == gpu_doc["rating"]["standard"]["version"]
    assert row["gpu"] == gpu_doc["host"]["gpus"][0]["name"]
    assert row["pue"] == gpu_doc["site"]["factors"]["pue"]["value"]


def test_modelled_domains_keep_their_provenance(cpu_doc):
    row = table.record(cpu_doc)
    assert row["cpu_provenance"] == "modelled"
    assert row["dram_provenance"] == "modelled"
    assert row["gpu_energy_j"] is None and row["gpu"] is None
    assert row["provenance"] == "modelled"
    assert row["energy_grade"] is None  # the standard requires measured cpu energy


def test_dataframe_one_row_per_document_with_nullable_types(gpu_doc, cpu_doc):
    df = table.to_dataframe([gpu_doc, cpu_doc])
    assert list(df.columns) == list(table.COLUMN_NAMES)
    assert len(df) == 2
    assert str(df["energy_j"].dtype) == "Float64"
    assert df["gpu_energy_j"].isna().tolist() == [False, True]
    assert df["unit"].tolist() == ["token", "query"]
    assert df["complete"].tolist() == [True, True]


def test_a_single_document_makes_one_row(gpu_doc):
    assert len(table.to_dataframe(gpu_doc)) == 1


def test_csv_round_trip_is_exact(tmp_path, gpu_doc, cpu_doc):
    docs = [gpu_doc, cpu_doc]
    path = table.to_csv(docs, tmp_path / "runs.csv")
    back = table.read_csv(path)
    pd.testing.assert_frame_equal(back, table.to_dataframe(docs))
    # Any CSV reader gets the same numbers, to the last bit.
    with path.open(newline="") as fh:
        first = next(csv.DictReader(fh))
    assert list(first) == list(table.COLUMN_NAMES)
    assert float(first["water_total_l"]) == table.record(gpu_doc)["water_total_l"]


def test_read_csv_refuses_another_table(tmp_path):
    path = tmp_path / "other.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(DisclosureError, match="energy_j"):
        table.read_csv(path)


def test_numeric_columns_carry_units_in_their_names():
    unitless = {"units_done", "pue", "energy_index", "water_index"}
    suffixes = ("_j", "_w", "_l", "_g", "_s", "_per_kwh")
    for name, dtype in table.COLUMNS:
        if dtype == "Float64" and name not in unitless:
            assert name.endswith(suffixes), name


def test_malformed_values_read_as_missing_not_as_errors(gpu_doc):
    doc = copy.deepcopy(gpu_doc)
    doc["energy_j"] = "a lot"
    doc["duration_s"] = True
    doc["domains"]["gpu"] = "not an object"
    doc["rating"]["energy"]["grade"] = "Z"
    doc["footprint"]["water_l"] = None
    row = table.record(doc)
    assert row["energy_j"] == pytest.approx(40.0 * 70)  # only the readable domain adds up
    assert row["duration_s"] is None and row["power_w"] is None
    assert row["gpu_energy_j"] is None
    assert row["energy_grade"] is None  # not a grade letter
    assert row["water_total_l"] is None


def test_a_document_must_be_an_object():
    with pytest.raises(DisclosureError, match="JSON object"):
        table.record(["not", "a", "document"])


@given(st.lists(st.floats(0, 1e9), min_size=1, max_size=4))
def test_domain_shares_add_up_to_one(energies):
    names = ["cpu", "dram", "gpu", "system"][: len(energies)]
    doc = {
        "domains": {
            n: {"energy_j": e, "provenance": "measured", "complete": True}
            for n, e in zip(names, energies, strict=True)
        }
    }
    rows = table.domain_rows(doc)
    if math.fsum(energies) > 0:
        assert math.fsum(r["share"] for r in rows) == pytest.approx(1.0)
    assert table.total_energy_j(doc) == pytest.approx(math.fsum(energies))


HOSTILE_CELLS = [
    '=HYPERLINK("http://x","y")',
    "+1+1",
    "-2+3",
    "@SUM(A1)",
    "\tcmd",
    "\rcmd",
    "'=already quoted",
    "one\rtwo\rthree",
    'a "quoted", comma\nand newline',
    "NA",
]


@pytest.mark.parametrize("text", HOSTILE_CELLS)
def test_csv_neutralises_formulas_and_reads_back_what_it_wrote(tmp_path, text):
    doc = copy.deepcopy(make_doc())
    doc["task"] = text
    doc["host"]["hostname"] = text
    path = table.to_csv([doc], tmp_path / "runs.csv")
    # a spreadsheet sees no cell that starts a formula: each begins with ' or a safe char
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert len(rows) == 2, rows  # one header, one row: no CR or LF split the row
    cells = dict(zip(rows[0], rows[1], strict=True))
    for name in ("task", "host"):
        assert not cells[name].startswith(("=", "+", "-", "@", "\t", "\r")), cells[name]
    back = table.read_csv(path)
    assert back["task"][0] == text
    assert back["host"][0] == text
