"""The compiled validator (jsonschema-rs) and the Python one agree on what is valid."""

from __future__ import annotations

import copy

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from greenai import disclosure
from tests.report.docs import make_doc
from tests.test_fuzz import json_values

fast = disclosure._fast_check()
pytestmark = pytest.mark.skipif(fast is None, reason="jsonschema-rs is not installed")
DOC = make_doc(seconds=10.0)
KEYS = sorted(DOC) + ["domains.cpu", "sampling.interval_s", "rating.energy", "timeline.t_s"]


def _set(doc: dict, path: str, value) -> None:
    *parents, last = path.split(".")
    for p in parents:
        doc = doc[p] if isinstance(doc.get(p), dict) else doc.setdefault(p, {})
    doc[last] = value


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(KEYS), json_values)
def test_both_validators_agree_on_a_changed_document(path, value):
    doc = copy.deepcopy(DOC)
    _set(doc, path, value)
    python_says_valid = not list(disclosure._validator().iter_errors(doc))
    assert fast(doc) == python_says_valid
    assert (disclosure.validation_errors(doc) == []) == python_says_valid


def test_a_valid_document_is_valid_and_a_broken_one_lists_its_paths():
    assert disclosure.validation_errors(DOC) == []
    bad = copy.deepcopy(DOC)
    bad["energy_j"] = "lots"
    bad["timeline"]["t_s"][0] = "x"
    errors = disclosure.validation_errors(bad)
    assert any(e.startswith("$.energy_j:") for e in errors), errors
    assert any(e.startswith("$.timeline.t_s[0]:") for e in errors), errors


LONG = make_doc(seconds=20.0, step_s=0.1)  # timelines of 200 samples: the skeleton path


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["t_s", "rapl:package-0", "nvml:0"]), st.integers(0, 199), json_values)
def test_a_long_timeline_with_one_sample_changed_is_judged_the_same(series, i, value):
    doc = copy.deepcopy(LONG)
    column = doc["timeline"]["t_s"] if series == "t_s" else doc["timeline"]["power_w"][series]
    assert len(column) >= disclosure._SKELETON_MIN_LENGTH
    column[i] = value
    python_says_valid = not list(disclosure._validator().iter_errors(doc))
    assert fast(doc) == python_says_valid
