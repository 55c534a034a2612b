"""The fast canonical encoder writes the same RFC 8785 bytes as the reference one."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from greenai import disclosure, jsonio
from greenai.errors import DisclosureError
from tests.report.docs import make_doc

# Keys and strings that stress the fast path: characters above U+FFFF (UTF-16 order differs
# from code-point order), private-use characters just below, NUL, controls, quotes.
tricky_text = st.text(
    alphabet=st.sampled_from(
        ["a", "B", "\0", "\n", '"', "\\", "\x1f", "\ue000", "\uffff", "😀", "é"]
    )
    | st.characters(exclude_categories=("Cs",)),  # lone surrogates: jsonio refuses them
    max_size=8,
)
numbers = (
    st.integers(-(2**64), 2**64)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.floats(min_value=-1e-3, max_value=1e-3)
    | st.sampled_from([0.0, -0.0, 1e21, 1e-7, 1e16, 9007199254740992.0, 2.0**60, 5e-324, 1e-4])
)
values = st.recursive(
    st.none() | st.booleans() | numbers | tricky_text,
    lambda kids: st.lists(kids, max_size=5) | st.dictionaries(tricky_text, kids, max_size=5),
    max_leaves=40,
)


@settings(max_examples=300, deadline=None)
@given(values)
def test_fast_and_reference_encoders_write_the_same_bytes(value):
    assert disclosure._canonical_fast(value) == disclosure._canonical_slow(value)


@pytest.mark.parametrize(
    ("value", "text"),
    [  # RFC 8785 section 3.2.2.3 and appendix B
        (0.0, "0"),
        (-0.0, "0"),
        (1e21, "1e+21"),
        (1e-7, "1e-7"),
        (333333333.33333329, "333333333.3333333"),
        (1e23, "1e+23"),
        (5e-324, "5e-324"),
        (4.5, "4.5"),
        (0.002, "0.002"),
        (0.000001, "0.000001"),
        (9007199254740992.0, "9007199254740992"),
        (2.0**60, "1152921504606847000"),
        (100.0, "100"),
        (2**60, "1152921504606847000"),
    ],
)
def test_numbers_are_written_as_ecmascript_does(value, text):
    assert disclosure._canonical_fast([value]) == f"[{text}]"


def test_keys_are_sorted_by_utf16_code_units():
    # U+1F600 is a surrogate pair (D83D DE00) in UTF-16: it sorts before U+E000.
    doc = {"\ue000": 1, "😀": 2, "a": 3}
    assert disclosure._canonical_fast(doc) == '{"a":3,"😀":2,"\ue000":1}'


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_numbers_are_refused_on_the_fast_path(bad):
    with pytest.raises(DisclosureError, match="not finite"):
        disclosure.canonical_bytes({"energy_j": bad})


def test_a_real_disclosure_hashes_the_same_both_ways():
    doc = make_doc(seconds=120.0, step_s=0.1)
    body = {k: v for k, v in doc.items() if k != "integrity"}
    fast = disclosure.canonical_bytes(doc)
    assert fast == disclosure._canonical_slow(body).encode()
    assert disclosure.verify(disclosure.seal(doc))[0] == "hash-only"


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.floats(allow_nan=False, allow_infinity=False)
        | st.sampled_from([0.0, -0.0, 250.0, 1e-5, 1e16, 2.0**53, 0.1, 1e21]),
        min_size=64,
        max_size=300,
    )
)
def test_long_float_lists_take_the_numpy_path_and_write_the_same_bytes(values):
    assert disclosure._canonical_fast({"t_s": values}) == disclosure._canonical_slow(
        {"t_s": values}
    )


def test_sealed_text_is_the_sealed_document_hashed_once():
    import json

    doc = make_doc(seconds=20.0, step_s=0.1)
    doc["note"] = "ü 😀 \ue000"  # non-ASCII text and a key order UTF-16 cares about
    doc["😀"] = 1
    doc["\ue000"] = 2
    text = disclosure.sealed_text(doc)
    back = json.loads(text)
    assert back["integrity"] == disclosure.seal(doc)["integrity"]
    assert disclosure.verify(back)[0] == "hash-only"
    assert list(back) == [*doc, "integrity"] and text.count("\n") == len(doc) + 3


def _both_writers(walked) -> tuple[str, str]:
    """Return what orjson and json write for walked values (the fast path's two writers)."""
    orjson = jsonio.orjson_module()
    json_text = disclosure.json.dumps(
        walked,
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
        default=disclosure._array_items,
    )
    options = orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY
    return orjson.dumps(walked, option=options).decode(), json_text


needs_orjson = pytest.mark.skipif(
    jsonio.orjson_module() is None,
    reason="orjson >= 3.11.6 not installed (pip install 'greenai[fast]'): nothing to compare",
)


@needs_orjson
@settings(max_examples=500, deadline=None)
@given(values)
def test_orjson_writes_the_walked_values_as_json_does(value):
    specials: list = []
    try:
        walked = disclosure._walk(value, specials)
    except disclosure._NotFast:
        return  # the slow encoder writes those
    fast, reference = _both_writers(walked)
    assert fast == reference


@needs_orjson
@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.floats(min_value=1e-4, max_value=1e16, exclude_max=True)
        | st.floats(min_value=-1e16, max_value=-1e-4, exclude_min=True),
        min_size=1,
        max_size=80,
    )
)
def test_orjson_writes_positional_floats_as_python_repr_does(numbers):
    fast, reference = _both_writers([x for x in numbers if not x.is_integer()])
    assert fast == reference


@needs_orjson
def test_a_real_disclosure_hashes_the_same_with_orjson_and_without(monkeypatch):
    doc = disclosure.seal(make_doc(seconds=30.0, step_s=0.1))
    with_orjson = disclosure.canonical_bytes(doc)
    monkeypatch.setattr(jsonio, "_orjson", None)
    assert disclosure.canonical_bytes(doc) == with_orjson
    assert (
        disclosure._canonical_slow({k: v for k, v in doc.items() if k != "integrity"}).encode(
            "utf-8"
        )
        == with_orjson
    )


@settings(max_examples=3000, deadline=None)
@given(
    st.floats(allow_nan=False, allow_infinity=False)
    | st.floats(min_value=-1e-3, max_value=1e-3)
    | st.floats(min_value=1e15, max_value=1e23)
    | st.sampled_from([5e-324, 1e-7, 1e-6, 9.9e-7, 1e21, 9.999999999999999e20, 2.0**53, -0.0])
)
def test_number_text_from_repr_is_the_reference_number_text(value):
    assert disclosure._number_fast(value) == disclosure._number(value)
