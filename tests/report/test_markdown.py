"""Tests for greenai/report/markdown.py."""

from __future__ import annotations

import copy

import pytest

from greenai.errors import DisclosureError
from greenai.probes.base import Method
from greenai.report.markdown import escape, to_markdown
from tests.report.docs import hostile, make_doc


@pytest.fixture(scope="module")
def doc():
    return make_doc()


@pytest.fixture(scope="module")
def modelled_doc():
    return make_doc(cpu_method=Method.MODEL, dram_w=5.0)


def _table_rows(text: str, first_cell: str) -> list[list[str]]:
    rows = []
    for line in text.splitlines():
        if line.startswith(f"| {first_cell} |"):
            rows.append([c.strip() for c in line.strip("|").split(" | ")])
    return rows


def test_summary_and_grades(doc):
    text = to_markdown(doc)
    assert text.startswith("# Energy and water disclosure: text-generation\n")
    grade = doc["rating"]["energy"]["grade"]
    assert f"| energy | **{grade}** |" in text
    assert "greenai-2026.3 version 2026.3, draft" in text
    assert (
        "| IT energy | 20.3 kJ | measured: cpu measured (counter), gpu measured (counter) |" in text
    )


def test_energy_by_domain_with_provenance_and_method(modelled_doc):
    text = to_markdown(modelled_doc)
    cpu = _table_rows(text, "cpu")[0]
    assert cpu[3:5] == ["modelled", "model"]
    gpu = _table_rows(text, "gpu")[0]
    assert gpu[3:5] == ["measured", "counter"]
    dram = _table_rows(text, "dram")[0]
    assert dram[3] == "modelled"


def test_every_factor_and_source_is_listed(doc):
    text = to_markdown(doc)
    for key, factor in doc["site"]["factors"].items():
        assert escape(factor["source"]) in text, key
        assert factor["kind"] in text
    # A source without Markdown punctuation appears exactly as written.
    assert doc["site"]["factors"]["pue"]["source"] in text


def test_phases_are_listed(doc):
    text = to_markdown(doc)
    assert "### Energy by phase" in text
    assert _table_rows(text, "prefill") and _table_rows(text, "decode")


def test_not_graded_lists_every_reason(modelled_doc):
    text = to_markdown(modelled_doc)
    assert "| energy | not graded |" in text
    for reason in modelled_doc["rating"]["energy"]["reasons"]:
        assert f"- {escape(reason)}" in text


def test_unrated_and_no_footprint_say_so(doc):
    bare = copy.deepcopy(doc)
    bare["rating"] = None
    bare["footprint"] = {"computed": False, "reason": "unknown grid 'XX'"}
    text = to_markdown(bare)
    assert "Not rated: the disclosure has no rating block." in text
    assert "Not computed: unknown grid 'XX'" in text
    assert "| water and carbon |" in text


def test_document_text_cannot_inject_markup(doc):
    text = to_markdown(hostile(doc, "<script>alert(1)</script> | [x](javascript:y) **b**"))
    assert "<script>" not in text
    assert "&lt;script&gt;" in text
    assert "[x](javascript" not in text  # no link survives
    assert "**b**" not in text
    # A pipe in the task does not add a cell to its table row.
    task_row = [line for line in text.splitlines() if line.startswith("| task ")]
    assert not task_row or task_row[0].count(" | ") == 1
    host_row = [line for line in text.splitlines() if line.startswith("| host |")][0]
    assert host_row.count(" | ") == 1


def test_escape_removes_newlines_and_markup():
    assert escape("a\n# b") == r"a \# b"
    assert escape(None) == "–"


def test_rejects_non_documents():
    with pytest.raises(DisclosureError):
        to_markdown("not a document")  # type: ignore[arg-type]


def test_a_failed_gpu_is_reported_where_and_why():
    with pytest.warns(UserWarning):
        doc = make_doc(gpu_fails_after_s=30.2)
    text = to_markdown(doc)
    gpu_device = _table_rows(text, "nvml:0")[0]
    assert gpu_device[-1] == "failed at 30.5 s: nvml:0: device went away"
    assert _table_rows(text, "gpu")[0][-1] == "no"  # the domain is incomplete
    assert "- Gap: nvml:0 not measured from 30.5 s on: nvml:0: device went away" in text
    assert "- gpu energy incomplete (a probe failed during the run)" in text
