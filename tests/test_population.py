"""Tests for greenai/population.py: populations of results as documents and a DataFrame."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import greenai
from greenai import disclosure
from greenai.errors import DisclosureError
from greenai.interop.table import import_table, load_mapping
from tests.interop.test_table import a40_path


@pytest.fixture(scope="module")
def a40_docs() -> tuple[dict, ...]:
    return import_table(a40_path(), load_mapping("ml-energy"), gpu="NVIDIA A40").docs


def test_load_a_folder_to_a_dataframe(tmp_path: Path, a40_docs):
    for i, doc in enumerate(a40_docs):
        (tmp_path / "a40" / f"{i:02d}.json").parent.mkdir(exist_ok=True)
        (tmp_path / "a40" / f"{i:02d}.json").write_text(json.dumps(disclosure.seal(doc)))
    (tmp_path / "a40" / "broken.json").write_text("{not json")
    (tmp_path / "a40" / "summary.json").write_text('{"kind": "greenai.bench-summary"}')
    results = greenai.population.load(tmp_path)
    assert len(results) == 23 and len(results.skipped) == 1 and "broken.json" in results.skipped[0]
    frame = results.to_frame()
    assert frame.shape[0] == 23
    first = frame.iloc[0]
    assert first["model"] == "lmsys/vicuna-7B" and first["source_format"] == "ml-energy"
    assert first["energy_j"] == a40_docs[0]["energy_j"]
    assert first["energy_per_unit_j"] == a40_docs[0]["energy_per_unit_j"]
    assert first["provenance"] == "third-party" and first["boundary"] == "gpu"
    assert first["gpu"] == "NVIDIA A40" and first["source_row"] == 1
    assert str(frame["source_row"].dtype) == "Int64"
    assert len(results.population) == 23


def test_load_a_jsonl_file_line_by_line(tmp_path: Path, a40_docs):
    path = tmp_path / "pop.jsonl"
    lines = [json.dumps(d) for d in a40_docs[:3]]
    path.write_text("\n".join([lines[0], "[1, 2", lines[1], "", lines[2]]) + "\n")
    results = greenai.population.load(path)
    assert results.labels == (f"{path}:1", f"{path}:3", f"{path}:5")
    assert results.skipped == (results.skipped[0],) and f"{path}:2" in results.skipped[0]
    from greenai.calibration import load_population

    assert len(load_population(path)) == 3  # calibrate and rate read the same file


def test_a_missing_path_is_an_error(tmp_path: Path):
    with pytest.raises(DisclosureError, match="no such file or folder"):
        greenai.population.load(tmp_path / "nowhere")


def test_import_greenai_stays_light():
    import subprocess
    import sys

    code = "import sys, greenai; greenai.population; print('pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_result_given_twice_is_counted_once_and_said(tmp_path):
    import json as _json
    import shutil

    from greenai import disclosure
    from greenai.calibration import load_population
    from greenai.population import load
    from tests.report.docs import make_doc

    for n in range(3):
        (tmp_path / "a").mkdir(exist_ok=True)
        doc = disclosure.seal(make_doc(units=1000 * (n + 1)))
        (tmp_path / "a" / f"r{n}.json").write_text(_json.dumps(doc))
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    (tmp_path / "b" / "extra.json").write_text(_json.dumps(disclosure.seal(make_doc(units=7))))
    for results in (load([tmp_path / "a", tmp_path / "b"]), load(tmp_path)):
        assert len(results.docs) == 4
        repeats = [s for s in results.skipped if "counted once" in s]
        assert len(repeats) == 3 and all("the same sealed result" in s for s in repeats)
    population = load_population([str(tmp_path / "a"), str(tmp_path / "b")])
    assert len(population) == 4
    assert sum("counted once" in s for s in population.skipped) == 3


def test_a_copy_altered_after_sealing_cannot_hide_the_result_whose_seal_it_carries(tmp_path):
    from greenai.calibration import load_population
    from greenai.errors import GreenAIWarning
    from greenai.population import load
    from tests.report.docs import make_doc

    real = disclosure.seal(make_doc(units=1000))
    forged = json.loads(json.dumps(real))
    forged["units_done"] = 1_000_000  # 1000x "better", the real seal kept
    (tmp_path / "a-forged.json").write_text(json.dumps(forged))  # read first
    (tmp_path / "b-real.json").write_text(json.dumps(real))
    for read in (load, lambda p: load_population([str(p)])):
        with pytest.warns(GreenAIWarning, match=r"b-real.json and .*a-forged.json carry one seal"):
            results = read(tmp_path)
        assert len(results) == 2  # the real result is not dropped as a "copy" of the forgery
        assert not any("counted once" in s for s in results.skipped)
    assert disclosure.integrity_status(real) != "unverified"
    assert disclosure.integrity_status(forged) == "unverified"
