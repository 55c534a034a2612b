"""Tests for greenai/interop/table.py: published tables through importer mappings."""

from __future__ import annotations

import csv
import hashlib
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from greenai import disclosure
from greenai.errors import DisclosureError
from greenai.interop.table import (
    MappingError,
    RowError,
    TableStream,
    import_table,
    list_formats,
    load_mapping,
    parse_mapping,
)
from greenai.scoring import RatingInput, rate
from greenai.standard import load_standard

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "data" / "third-party" / "ml-energy-leaderboard"
COPY = REPO / "tests" / "data" / "ml-energy"
A40 = "A40_chat_benchmark.csv"
HEADER = "model,throughput,response_length,latency,energy"


def a40_path() -> Path:
    """Return the A40 table: the shared original where present, else the shipped copy."""
    return SHARED / A40 if (SHARED / A40).is_file() else COPY / A40


def _csv(tmp_path: Path, *lines: str, header: str = HEADER) -> Path:
    path = tmp_path / "table.csv"
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return path


def test_the_shipped_copy_is_the_published_file():
    if not (SHARED / A40).is_file():
        pytest.skip(f"{SHARED} is absent (shared/ sits beside the clone in CI)")
    assert (COPY / A40).read_bytes() == (SHARED / A40).read_bytes()


def test_a40_imports_every_row_with_the_published_figures_exactly():
    path = a40_path()
    result = import_table(path, load_mapping("ml-energy"), gpu="NVIDIA A40", task="chat")
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert (len(result.docs), result.errors, result.rows_read) == (23, (), 23)
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    for doc, row in zip(result.docs, rows, strict=True):
        energy, tokens = float(row["energy"]), float(row["response_length"])
        assert doc["energy_j"] == energy  # per response, as published
        assert doc["source"]["energy_per_response_j"] == energy
        assert doc["units_done"] == tokens and doc["unit"] == "token"
        assert doc["energy_per_unit_j"] == energy / tokens  # per token
        assert doc["duration_s"] == float(row["latency"])
        assert doc["provenance"] == "third-party"
        assert doc["domains"] == {
            "gpu": {"energy_j": energy, "provenance": "third-party", "complete": True}
        }
        src = doc["source"]
        assert (src["kind"], src["format"], src["sha256"]) == ("third-party", "ml-energy", sha)
        assert src["domains_measured"] == ["gpu"] and src["missing"] == ["cpu", "dram", "pue"]
        assert src["model"] == row["model"] and src["published"]["energy"] == row["energy"]
        assert doc["host"]["gpus"][0]["name"] == "NVIDIA A40"
        assert disclosure.validation_errors(disclosure.seal(doc)) == []
    assert [d["source"]["row"] for d in result.docs] == list(range(1, 24))


def test_ratings_of_imported_figures_say_they_are_not_greenai_measurements():
    doc = import_table(a40_path(), load_mapping("ml-energy"), max_rows=1).docs[0]
    rating = rate(RatingInput.from_disclosure(doc), load_standard())
    assert rating.energy.grade is None
    assert any("third-party figure, not a greenai measurement" in r for r in rating.energy.reasons)
    assert rating.notes and "not a greenai measurement" in rating.notes[0]
    assert "cpu, dram, system energy and the site's PUE not counted" in rating.notes[0]


def test_newer_files_carry_batch_size(tmp_path: Path):
    path = _csv(
        tmp_path,
        "m/a,8,100,50,2,300",
        header="model,batch_size,response_length,throughput,latency,energy",
    )
    doc = import_table(path, load_mapping("ml-energy")).docs[0]
    assert doc["source"]["batch_size"] == 8
    assert doc["source"]["throughput"] == 50.0


def test_a_missing_column_stops_before_any_row_and_names_it(tmp_path: Path):
    path = _csv(tmp_path, "m/a,30,280,9", header="model,throughput,response_length,latency")
    with pytest.raises(DisclosureError, match=r"line 1: missing column\(s\) 'energy' \(energy\)"):
        import_table(path, load_mapping("ml-energy"))


def test_optional_columns_may_be_absent(tmp_path: Path):
    path = _csv(tmp_path, "m/a,280,2000", header="model,response_length,energy")
    doc = import_table(path, load_mapping("ml-energy")).docs[0]
    assert doc["duration_s"] == 0.0 and doc["source"]["throughput"] is None


@pytest.mark.parametrize(
    ("line", "column", "problem"),
    [
        ("m/b,30,280,9,lots", "energy", "'lots' is not a number"),
        ("m/b,30,280,9,-5", "energy", "'-5' is negative"),
        ("m/b,30,280,9,0", "energy", "must be > 0"),
        ("m/b,30,280,9,nan", "energy", "is not finite"),
        ("m/b,30,0,9,100", "response_length", "must be > 0"),
        ("m/b,30,,9,100", "response_length", "empty"),
        (",30,280,9,100", "model", "empty"),
        ("m/b,30,280,9,100,7", None, "6 fields, the header has 5"),
        ("m/b,30,280", None, "3 fields, the header has 5"),
    ],
)
def test_a_bad_row_is_named_and_the_rest_imports(tmp_path: Path, line, column, problem):
    path = _csv(tmp_path, "m/a,30,280,9,2000", line, "m/c,30,280,9,2100")
    result = import_table(path, load_mapping("ml-energy"))
    assert [d["source"]["model"] for d in result.docs] == ["m/a", "m/c"]
    (error,) = result.errors
    assert (error.row, error.line, error.column) == (2, 3, column)
    assert problem in str(error) and "row 2 (line 3)" in str(error)
    assert str(error).endswith("row left out")


def test_not_text_is_a_clear_error(tmp_path: Path):
    path = tmp_path / "binary.csv"
    path.write_bytes(HEADER.encode() + b"\n\xff\xfe\x00garbage\n")
    with pytest.raises(DisclosureError, match="not UTF-8"):
        import_table(path, load_mapping("ml-energy"))
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DisclosureError, match="no header row"):
        import_table(empty, load_mapping("ml-energy"))


def test_a_million_rows_stream_in_bounded_time(tmp_path: Path):
    path = tmp_path / "big.csv"
    with path.open("w") as fh:
        fh.write(HEADER + "\n")
        fh.write("m/a,30,280,9,2000\n" * 1_000_000)
    started = time.perf_counter()
    stream = TableStream(path, load_mapping("ml-energy"), max_rows=2_000)
    docs = sum(1 for item in stream if not isinstance(item, RowError))
    assert (docs, stream.rows_read, stream.truncated) == (2_000, 2_000, True)
    assert time.perf_counter() - started < 30  # hashing the file + 2,000 rows, never 10^6


def test_a_user_mapping_reads_another_table(tmp_path: Path):
    mapping = tmp_path / "board.toml"
    mapping.write_text(
        """
[importer]
id = "board"
title = "Some board"
publisher = "Someone"
domains_measured = ["system"]
missing = ["pue"]
task = "image-classification"
unit = "response"
energy_per = "row"
gpu_count = 2

[columns]
model = "Model name"
energy = "Energy (kWh)"
responses = "Queries"
gpu = "Accelerator"

[units]
energy = "kWh"
""",
        encoding="utf-8",
    )
    path = _csv(
        tmp_path,
        "resnet-50,0.5,1000,NVIDIA H100",
        header="Model name,Energy (kWh),Queries,Accelerator",
    )
    doc = import_table(path, load_mapping(mapping)).docs[0]
    assert doc["energy_j"] == 0.5 * 3.6e6 and doc["units_done"] == 1000.0
    assert doc["unit"] == "response" and doc["task"] == "image-classification"
    assert list(doc["domains"]) == ["system"] and len(doc["host"]["gpus"]) == 2
    assert doc["source"]["energy_per_response_j"] == 0.5 * 3.6e6 / 1000


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"columns": {"model": "m"}}, r"columns.energy: missing"),
        (
            {"columns": {"model": "m", "energy": "e", "response_length": "r", "x": "y"}},
            "unknown role",
        ),
        ({"units": {"energy": "calories"}}, r"units.energy: 'calories'"),
        ({"importer": {"id": "x", "title": "t", "unit": "sample"}}, r"importer.unit"),
        ({"importer": {"id": "x", "title": "t", "domains_measured": ["gpus"]}}, "domains_measured"),
        ({"importer": {"id": "x", "title": "t", "colour": 1}}, r"importer.colour: unknown key"),
    ],
)
def test_a_bad_mapping_names_its_key(change, match):
    base = {
        "importer": {"id": "x", "title": "t"},
        "columns": {"model": "m", "energy": "e", "response_length": "r"},
    }
    with pytest.raises(MappingError, match=match):
        parse_mapping({**base, **change}, "bad.toml")


def test_shipped_formats_and_the_codecarbon_delegate(tmp_path: Path):
    assert {"ml-energy", "codecarbon"} <= set(list_formats())
    mapping = load_mapping("codecarbon")
    assert mapping.delegate == "codecarbon"
    path = tmp_path / "emissions.csv"
    path.write_text(
        "timestamp,duration,cpu_energy,gpu_energy,ram_energy,energy_consumed,pue\n"
        "2025-03-01T10:02:00,120,0.001,0.002,0.0005,0.0035,1.0\n"
    )
    (doc,) = import_table(path, mapping, task="training").docs
    assert doc["imported"]["tool"] == "codecarbon"
    assert doc["domains"]["gpu"]["provenance"] == "measured"  # the user's own run, not third-party
    with pytest.raises(MappingError, match="no such mapping"):
        load_mapping("no-such-board")


@settings(max_examples=60, deadline=None)
@given(
    energy=st.floats(1e-6, 1e9, allow_nan=False, allow_infinity=False),
    tokens=st.floats(1e-3, 1e6, allow_nan=False, allow_infinity=False),
)
def test_figures_survive_the_csv_exactly(tmp_path_factory, energy: float, tokens: float):
    path = _csv(tmp_path_factory.mktemp("t"), f"m/a,1,{tokens!r},1,{energy!r}")
    doc = import_table(path, load_mapping("ml-energy")).docs[0]
    assert doc["energy_j"] == energy and doc["units_done"] == tokens
    assert doc["energy_per_unit_j"] == energy / tokens
    assert doc["energy_j"] >= 0
