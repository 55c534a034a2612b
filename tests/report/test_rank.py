"""Tests for greenai/report/rank.py: runs placed in a population, with comparability flags."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from greenai.calibration import calibrate
from greenai.interop.table import import_table, load_mapping
from greenai.population import Results
from greenai.report.rank import rank, to_html, write_html
from greenai.scoring import Population
from greenai.standard import load_standard
from tests.interop.test_table import a40_path
from tests.report.docs import make_doc

REPO = Path(__file__).resolve().parents[2]
EMBED = REPO / "reports" / "reference" / "smoke" / "vm" / "embed-infer.json"


@pytest.fixture(scope="module")
def a40() -> Results:
    docs = import_table(a40_path(), load_mapping("ml-energy"), gpu="NVIDIA A40").docs
    return Results(docs, tuple(f"a40-{i:02d}" for i in range(len(docs))))


@pytest.fixture(scope="module")
def draft(a40: Results):
    return calibrate(a40.population, load_standard(), min_population=21, relax=True)


@pytest.fixture(scope="module")
def chat_run() -> dict:
    return make_doc(task="chat", units=3000)  # cpu + gpu measured, 6.77 J per token


def test_a_comparable_run_gets_its_rank_percentile_and_grade_with_flags(a40, draft, chat_run):
    ranking = rank(a40, [chat_run], names=["mine"], standard=draft)
    (run,) = ranking.runs
    per_token = chat_run["energy_j"] / chat_run["units_done"]
    below = sum(v < per_token for v in ranking.energy_per_unit_j)
    assert run.placed and run.rank == below + 1
    assert run.percentile == pytest.approx(100 * below / 23)
    assert run.grade is not None and run.refused == ()
    flags = " | ".join(run.flags)
    assert "different measurement boundary: mine covers cpu+gpu, the population covers gpu" in flags
    assert "gpu energy measured in mine but third-party in the population" in flags
    assert ranking.task == "text-generation/small" and ranking.unit == "token"
    # 7 quantile bands, of which 3 were narrower than the third-party figures' 5 % and merged
    assert [b.count for b in ranking.bands] == [4, 9, 3, 7]
    assert list(ranking.energy_per_unit_j) == sorted(ranking.energy_per_unit_j)
    assert "not a greenai measurement" in ranking.notes[0]
    assert "SHA-256" in ranking.sources[0] and "measured gpu" in ranking.sources[0]


def test_a_run_of_another_size_class_is_not_placed(a40, draft):
    large = make_doc(task="chat", units=3000, work={"params": 70e9, "phase": "inference"})
    (run,) = rank(a40, [large], names=["70b"], standard=draft).runs
    assert not run.placed
    assert run.refused == (
        "different task class: 70b is rated in text-generation/large, the population in "
        "text-generation/small",
    )


def test_labels_of_the_chart_never_overlap():
    from greenai.report.rank import label_rows

    # three runs within a few percent of each other, one far away: the close ones stack
    rows = label_rows([7.5, 7.6, 7.7, 20.0], low=5.0, high=30.0, width=0.3)
    assert rows[:3] == [0, 1, 2] and rows[3] == 0
    assert label_rows([6.0, 25.0], low=5.0, high=30.0, width=0.3) == [0, 0]


def test_the_smoke_embedding_run_is_refused_and_says_why(a40, draft):
    embed = json.loads(EMBED.read_text())
    (run,) = rank(a40, [embed], names=["embed-infer"], standard=draft).runs
    assert not run.placed and run.percentile is None
    assert any(r.startswith("different task: embed-infer is 'embeddings'") for r in run.refused)
    assert any(r.startswith("different functional unit") for r in run.refused)
    assert any("covers cpu+dram, the population covers gpu" in f for f in run.flags)
    assert any("modelled, the population third-party" in f for f in run.flags)


def test_a_mixed_population_keeps_its_main_kind_and_flags_the_rest(a40, draft, chat_run):
    mixed = Results((*a40.docs, chat_run), (*a40.labels, "greenai-run"))
    ranking = rank(mixed, [chat_run], standard=draft)
    assert len(ranking.energy_per_unit_j) == 23
    (flag,) = ranking.population_flags
    assert flag.startswith("1 result(s) left out: different measurement boundary")


def test_the_page_and_png_are_written_and_escape_the_table(tmp_path: Path, a40, draft, chat_run):
    docs = [copy.deepcopy(d) for d in a40.docs]
    docs[0]["source"]["model"] = "<script>alert(1)</script>"
    ranking = rank(
        Results(tuple(docs), a40.labels), [chat_run], names=["<b>me</b>"], standard=draft
    )
    page, png = write_html(ranking, tmp_path / "out" / "rank.html")
    text = page.read_text()
    assert png == tmp_path / "out" / "rank.png" and png.read_bytes()[:4] == b"\x89PNG"
    assert "<script>" not in text and "&lt;script&gt;" in text and "&lt;b&gt;me" in text
    assert re.search(r"(best|above all|rank \d+) of \d+", text) and "log scale" in text
    assert text.count('<span class="grade') >= 23 + 4  # population rows and (merged) bands


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(0.01, 100.0), min_size=1, max_size=30), st.floats(0.01, 100.0))
def test_percentile_is_the_share_of_the_population_at_or_below(values, mine):
    docs = []
    for v in values:
        doc = make_doc_cached()
        doc = {**doc, "energy_j": v * 1000.0, "units_done": 1000.0, "energy_per_unit_j": v}
        docs.append(doc)
    run = {**make_doc_cached(), "energy_j": mine * 1000.0, "units_done": 1000.0}
    run["energy_per_unit_j"] = mine
    ranking = rank(Results(tuple(docs), tuple(map(str, range(len(docs))))), [run])
    (placed,) = ranking.runs
    share = sum(v <= placed.energy_per_unit_j for v in ranking.energy_per_unit_j) / len(values)
    assert placed.percentile == pytest.approx(100 * share)
    assert 0 <= placed.percentile <= 100 and 1 <= placed.rank <= len(values) + 1


_CACHE: list[dict] = []


def make_doc_cached() -> dict:
    if not _CACHE:
        _CACHE.append(make_doc(rate=False))
    return _CACHE[0]


def test_to_html_without_runs_placed_still_renders(a40, draft):
    ranking = rank(a40, [json.loads(EMBED.read_text())], standard=draft)
    assert "not placed" in to_html(ranking)
    assert isinstance(a40.population, Population)
