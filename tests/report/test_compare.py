"""Tests for greenai/report/compare.py: comparability flags, re-rating, integrity, output."""

from __future__ import annotations

import copy

import pytest

from greenai import disclosure
from greenai.probes.base import Method
from greenai.report.compare import compare, to_html, to_markdown
from tests.report.docs import make_doc
from tests.report.test_html import FETCHES


@pytest.fixture(scope="module")
def measured():
    return make_doc()


@pytest.fixture(scope="module")
def modelled():
    return make_doc(cpu_method=Method.MODEL)


def test_cpu_measured_vs_modelled_is_flagged(measured, modelled):
    cmp = compare([measured, modelled], names=["bare-metal", "vm"])
    assert cmp.reasons("bare-metal", "vm") == (
        "cpu energy measured in bare-metal but modelled in vm",
    )
    assert cmp.reasons("vm", "bare-metal") == cmp.reasons("bare-metal", "vm")
    assert not cmp.comparable


def test_like_runs_are_comparable(measured):
    other = make_doc(gpu_w=300.0)
    cmp = compare([measured, other])
    assert cmp.pairs[0].comparable and cmp.comparable
    assert cmp.names == ("run 1", "run 2")


def test_unit_spelling_does_not_matter_but_the_unit_does(measured):
    plural = copy.deepcopy(measured)
    plural["unit"] = "tokens"
    assert compare([measured, plural]).comparable
    query = make_doc(unit="query")
    reasons = compare([measured, query], names=["a", "b"]).reasons("a", "b")
    assert "different functional unit: a counts 'token', b 'query'" in reasons


def test_task_boundary_and_status(measured):
    other = make_doc(task="embeddings", gpu_w=None)
    other["status"] = "interrupted"
    reasons = compare([measured, other], names=["a", "b"]).reasons("a", "b")
    assert "different task: a is 'text-generation', b is 'embeddings'" in reasons
    assert "different measurement boundary: a covers cpu+gpu, b covers cpu" in reasons
    assert "b did not complete (status 'interrupted')" in reasons


def test_task_spellings_and_aliases_of_one_task_class_are_comparable(measured):
    spelling = copy.deepcopy(measured)
    spelling["task"] = "Text Generation"  # normalised to the same task id
    assert compare([measured, spelling]).comparable
    training, pretraining = make_doc(task="training"), make_doc(task="pretraining")
    # an alias in the standard, rated in the size class of the 8 B model both disclose
    assert pretraining["rating"]["task"] == training["rating"]["task"] == "training/under-20b"
    assert compare([training, pretraining]).comparable


def test_differing_standards_are_flagged_unless_re_rated(measured):
    future = copy.deepcopy(measured)
    future["rating"]["standard"]["version"] = "2027.1"
    future["rating"]["energy"]["grade"] = "A"  # what another standard might say
    cmp = compare([measured, future], names=["a", "b"])
    assert any(r.startswith("rated under different standards") for r in cmp.reasons("a", "b"))
    assert cmp.row("b")["energy_grade"] == "A"

    rerated = compare([measured, future], names=["a", "b"], standard="greenai-2026.1")
    assert rerated.comparable
    assert rerated.standard == "greenai-2026.1 2026.1"
    assert rerated.row("b")["energy_grade"] == measured["rating"]["energy"]["grade"]
    assert rerated.row("b")["standard_version"] == "2026.1"


def test_unrated_document_is_flagged(measured):
    bare = copy.deepcopy(measured)
    bare["rating"] = None
    reasons = compare([measured, bare], names=["a", "b"]).reasons("a", "b")
    assert reasons == (
        "rated under different standards: a greenai-2026.3 2026.3, b not rated "
        "(re-rate both under one with standard=...)",
    )


def test_integrity_of_each_input(tmp_path, measured):
    public = disclosure.generate_key(tmp_path / "key.pem", tmp_path / "key.pub")
    signed = disclosure.sign(measured, tmp_path / "key.pem")
    sealed = disclosure.seal(measured)
    tampered = copy.deepcopy(sealed)
    tampered["units_done"] = 1e9
    docs = [signed, sealed, tampered, measured]
    assert compare(docs).integrity == ("hash-only", "hash-only", "unverified", "unverified")
    trusted = compare(docs, public_keys=(public,))
    assert trusted.integrity[0] == "verified"


def test_names_are_checked(measured):
    with pytest.raises(ValueError, match="unique"):
        compare([measured, measured], names=["x", "x"])
    with pytest.raises(ValueError, match="1 names given for 2"):
        compare([measured, measured], names=["x"])


def test_markdown_lists_every_reason(measured, modelled):
    text = to_markdown(compare([measured, modelled], names=["a", "b"]))
    assert "- a and b: **not comparable**:" in text
    assert "  - cpu energy measured in a but modelled in b" in text
    header = text.splitlines()[4]
    assert header == "|  | a | b |"
    assert "| cpu energy | 2.8 kJ (measured) | 2.8 kJ (modelled) |" in text


def test_html_is_self_contained_and_escaped(measured, modelled):
    page = to_html(compare([measured, modelled], names=["<b>a</b>", "b"]))
    assert "http://" not in page and "https://" not in page
    assert not FETCHES.search(page)
    assert "<b>a</b>" not in page and "&lt;b&gt;a&lt;/b&gt;" in page
    assert "cpu energy measured in &lt;b&gt;a&lt;/b&gt; but modelled in b" in page
    assert page.count("<svg") == 3  # energy per unit, water per unit, energy index
