"""The strict JSON reader: what it refuses, how fast, and that it reads all else as json does."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from greenai import disclosure, journal, jsonio
from greenai.jsonio import JSONInputError
from tests.report.docs import make_doc

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"energy_j": 0.001, "energy_j": 0.136}', "appears twice"),
        ('{"a": {"b": 1, "b": 2}}', "appears twice"),
        ('{"energy_j": NaN}', "NaN"),
        ('{"energy_j": Infinity}', "Infinity"),
        ('{"energy_j": -Infinity}', "-Infinity"),
        ('{"energy_j": 1e400}', "out of range"),
        ('{"t": "\\ud800"}', "surrogate"),
        ('{"t": "\\udc00"}', "surrogate"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ('{"n": 1' + "0" * 5000 + "}", "digits"),
        ('{"a": 1', "not valid JSON at line 1"),
    ],
)
def test_refused_with_one_line_naming_the_source(text, reason):
    with pytest.raises(JSONInputError) as err:
        jsonio.loads(text, "f.json")
    message = str(err.value)
    assert message.startswith("f.json: ") and reason in message
    assert "\n" not in message


def test_a_surrogate_pair_is_text_not_refused():
    assert jsonio.loads('{"t": "\\ud83d\\ude00"}') == {"t": "\U0001f600"}


def test_size_bound_is_checked_before_reading(tmp_path, monkeypatch):
    path = tmp_path / "big.json"
    with open(path, "wb") as fh:  # sparse: 200 MB on paper, nothing on disk
        fh.write(b"{")
        fh.truncate(200 * 1024 * 1024)
    began = time.perf_counter()
    with pytest.raises(JSONInputError, match="209,715,200 bytes is over the 67,108,864"):
        jsonio.read(path)
    assert time.perf_counter() - began < 0.5
    monkeypatch.setenv(jsonio.MAX_ENV, "10")
    small = tmp_path / "s.json"
    small.write_text('{"a": 12345}')
    with pytest.raises(JSONInputError, match="over the 10 byte bound"):
        jsonio.read(small)
    monkeypatch.setenv(jsonio.MAX_ENV, "lots")
    with pytest.raises(JSONInputError, match="GREENAI_MAX_JSON_BYTES"):
        jsonio.read(small)


def _signed(tmp_path: Path) -> tuple[dict, str, str]:
    key = tmp_path / "k"
    disclosure.generate_key(f"{key}.pem", f"{key}.pub")
    return disclosure.sign(make_doc(), f"{key}.pem"), f"{key}.pem", f"{key}.pub"


def _greenai(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "greenai", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )


def test_verify_refuses_a_duplicate_energy_in_a_signed_file(tmp_path):
    signed, _, pub = _signed(tmp_path)
    body = json.dumps(signed, indent=2)
    real = f'"energy_j": {json.dumps(signed["energy_j"])}'
    forged = body.replace(real, f'"energy_j": 0.001, {real}', 1)
    assert forged != body
    (tmp_path / "r.json").write_text(forged)
    (tmp_path / "ok.json").write_text(body)
    res = _greenai("verify", "r.json", "ok.json", "--public-key", pub, cwd=tmp_path)
    assert res.returncode == 1
    lines = res.stdout.splitlines()
    assert lines[0] == "r.json: unverified (r.json: key 'energy_j' appears twice in one object)"
    assert lines[1] == "ok.json: verified"
    assert "Traceback" not in res.stderr


def test_verify_refuses_extra_keys_in_the_integrity_block(tmp_path):
    signed, _, pub = _signed(tmp_path)
    signed["integrity"]["note"] = "trust me"
    (tmp_path / "r.json").write_text(json.dumps(signed))
    res = _greenai("verify", "r.json", "--public-key", pub, cwd=tmp_path)
    assert res.returncode == 1
    assert "note" in res.stdout and "verified" not in res.stdout.replace("unverified", "")


def test_a_200_mb_disclosure_is_refused_in_under_2_s(tmp_path):
    path = tmp_path / "big.json"
    with open(path, "wb") as fh:
        fh.write(b'{"a": "' + b"x" * (200 * 1024 * 1024 - 9) + b'"}')  # a real 200 MB file
    for command in (["verify"], ["validate"], ["report"], ["sign", "--key", "none.pem"]):
        began = time.perf_counter()
        res = _greenai(*command, str(path), cwd=tmp_path)
        took = time.perf_counter() - began
        assert res.returncode in (1, 2), (command, res.stderr)
        assert "over the 67,108,864 byte bound" in res.stdout + res.stderr
        assert took < 2.0 + 3.0, (command, took)  # + interpreter start-up on a loaded box


# ----------------------------------------------------------------------- properties
finite = st.floats(allow_nan=False, allow_infinity=False)
values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**30), 10**30) | finite | st.text(max_size=10),
    lambda kids: (
        st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4)
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(values)
def test_property_reads_back_what_json_writes(value):
    assert jsonio.loads(json.dumps(value)) == value
    assert jsonio.loads(json.dumps(value, ensure_ascii=False)) == value


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=200))
def test_property_any_text_is_a_value_or_one_clear_error(text):
    try:
        value = jsonio.loads(text, "t.json")
    except JSONInputError as exc:
        assert str(exc).startswith("t.json: ") and "\n" not in str(exc)
        return
    # what it accepts, json reads the same way, and it holds nothing non-finite
    assert value == json.loads(text)
    _assert_finite(value)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=6), values, min_size=1, max_size=4), st.data())
def test_property_any_repeated_key_is_refused(obj, data):
    key = data.draw(st.sampled_from(sorted(obj)))
    body = json.dumps(obj)
    text = body[:-1] + (", " if len(body) > 2 else "") + f"{json.dumps(key)}: 1}}"
    with pytest.raises(JSONInputError, match="appears twice"):
        jsonio.loads(text)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_property_a_journal_line_decodes_to_a_record_or_none(raw):
    for line in (raw, raw + b"\n"):
        record = journal.decode(line)
        assert record is None or isinstance(record, dict)


@settings(max_examples=200, deadline=None)
@given(values)
def test_property_a_journal_line_round_trips_or_is_refused(value):
    record = {"k": "c", "x": value}
    assert journal.decode(journal.encode(record)) == record


def _assert_finite(value):
    if isinstance(value, float):
        assert math.isfinite(value)
    elif isinstance(value, dict):
        for v in value.values():
            _assert_finite(v)
    elif isinstance(value, list):
        for v in value:
            _assert_finite(v)


# ----------------------------------------------------------------------- the fast paths
def _hooked(text: str, source: str = "f.json"):
    """Return ('value', v) or ('error', message) of the reference reader: json with hooks."""
    if "\\u" in text and jsonio._LONE_SURROGATE.search(text):  # checked before any reader
        return "error", f"{source}: a lone UTF-16 surrogate escape (not text)"
    try:
        return "value", jsonio._loads_with_hooks(text, source)
    except JSONInputError as exc:
        return "error", str(exc)


def _read(text: str, source: str = "f.json"):
    try:
        return "value", jsonio.loads(text, source)
    except JSONInputError as exc:
        return "error", str(exc)


def _same(a, b) -> bool:
    """Return True if two read results are equal, types included (1 is not 1.0, -0.0 not 0)."""
    if a[0] != b[0]:
        return False
    return json.dumps(a[1], sort_keys=False) == json.dumps(b[1]) and _types(a[1]) == _types(b[1])


def _types(value):
    if isinstance(value, dict):
        return [(k, _types(v)) for k, v in value.items()]
    if isinstance(value, list):
        return [_types(v) for v in value]
    return (type(value).__name__, math.copysign(1, value) if isinstance(value, float) else None)


needs_orjson = pytest.mark.skipif(
    jsonio.orjson_module() is None,
    reason=f"orjson >= {'.'.join(map(str, jsonio.ORJSON_MIN))} not installed (pip install "
    "'greenai[fast]'): the fast reader is not used, nothing to compare",
)

# JSON texts that stress where the readers differ: repeated keys (orjson keeps the last),
# integers past 64 bits (orjson reads a float), escaped colons (they defeat the key count),
# numbers at the float range's edges, nesting, strings holding ':'.
json_numbers = st.sampled_from(
    ["0", "-0", "1", "-1", "0.5", "1e308", "1.7976931348623157e308", "1e309", "-1e400",
     "1e-400", "5e-324", "9223372036854775807", "9223372036854775808", "-9223372036854775808",
     "-9223372036854775809", "18446744073709551615", "18446744073709551616",
     "123456789012345678901234567890", "1" + "0" * 400, "9.3e18", "1E5", "2.5E-3", "NaN",
     "Infinity", "-Infinity", "01", "1.", ".5", "+1"]
)  # fmt: skip
json_strings = st.sampled_from(
    ['"a"', '"a:b"', '"::"', '"\\u003a"', '"\\u003A:"', '"\\ud83d\\ude00"', '"\\ud800"',
     '"x\\":y"', '""', '"\\u0000"', '"é:"']
)  # fmt: skip
json_keys = st.sampled_from(['"a"', '"b"', '"a:b"', '"\\u0061"', '"\\u003a"', '":"'])


json_values = st.recursive(
    json_numbers | json_strings | st.sampled_from(["true", "false", "null"]),
    lambda kids: (
        st.lists(kids, max_size=20).map(lambda xs: "[" + ",".join(xs) + "]")
        | st.lists(
            st.tuples(json_keys, kids, st.sampled_from([":", " :", ": ", "\n:"])), max_size=5
        ).map(lambda kvs: "{" + ",".join(f"{k}{sep}{v}" for k, v, sep in kvs) + "}")
    ),
    max_leaves=30,
)


@settings(max_examples=1500, deadline=None)
@given(json_values)
def test_every_reader_gives_the_same_value_or_the_same_error(text):
    reference = _hooked(text)
    assert _same(_read(text), reference), text  # orjson (if installed), else the C floats
    jsonio._orjson = None  # the C-float path alone
    try:
        assert _same(_read(text), reference), text
    finally:
        jsonio._orjson = False


@needs_orjson
@pytest.mark.parametrize(
    "text",
    [
        '{"a": 1, "a": 2}',
        '{"a:b": 1, "a:b": 2}',
        '{"a" : 1, "a": 2}',  # a space before the colon: the count still holds
        '{"a": "x:y", "a": 2}',
        '{"\\u003a": 1, ":": 2}',  # the same key, once escaped
        "[18446744073709551616, 1.5]",
        "[" + ",".join(["1.5"] * 40 + ["-9223372036854775809"]) + "]",
        '{"n": 123456789012345678901234567890}',
    ],
)
def test_what_orjson_would_read_otherwise_goes_to_json(text):
    assert _same(_read(text), _hooked(text))


@needs_orjson
def test_a_disclosure_takes_the_orjson_path_and_reads_as_json_does(monkeypatch):
    text = json.dumps(disclosure.seal(make_doc(seconds=30.0, step_s=0.1)), indent=2)
    calls = []
    real = jsonio._loads_with_hooks
    monkeypatch.setattr(jsonio, "_loads_with_hooks", lambda *a: calls.append(a) or real(*a))
    fast = jsonio.loads(text, "run.json")
    assert calls == []  # neither fallback ran
    assert _same(("value", fast), _hooked(text))
    assert disclosure.verify(fast)[0] == "hash-only"


def test_greenai_json_stdlib_turns_the_fast_reader_off(monkeypatch):
    monkeypatch.setattr(jsonio, "_orjson", False)
    monkeypatch.setenv(jsonio.FAST_ENV, "stdlib")
    assert jsonio.orjson_module() is None
    monkeypatch.setattr(jsonio, "_orjson", False)
    monkeypatch.delenv(jsonio.FAST_ENV)
    found = jsonio.orjson_module()
    assert found is None or tuple(map(int, found.__version__.split(".")[:3])) >= jsonio.ORJSON_MIN


def test_colons_counts_every_colon_byte():
    for data in (b"", b":", b'{"a:b": ":", "c": 1}', bytes(range(256)) * 3):
        assert jsonio.colons(data) == data.count(b":")


@needs_orjson
def test_read_fast_leaves_to_read_what_needs_the_json_module(tmp_path, monkeypatch):
    cases = {
        "plain": (b'{"a": [1.5, "x:y"]}', True),
        "escape": (b'{"a": "\\u00e9"}', False),  # any \u escape: maybe a surrogate, a ':'
        "other-escape": (b'{"a": "x\\ny"}', True),
        "not-json": (b"{", False),
        "nan": (b'{"a": NaN}', False),
    }
    for name, (raw, fast) in cases.items():
        path = tmp_path / f"{name}.json"
        path.write_bytes(raw)
        read = jsonio.read_fast(path)
        assert (read is not None) == fast, name
        if fast:
            assert read == (jsonio.read(path), raw), name
    monkeypatch.setenv(jsonio.MAX_ENV, "5")  # over the bound: read() says so
    assert jsonio.read_fast(tmp_path / "plain.json") is None
    assert jsonio.read_fast(tmp_path / "missing.json") is None


@needs_orjson
@settings(max_examples=500, deadline=None)
@given(st.floats(min_value=2.0**63, allow_infinity=False), st.booleans())
def test_orjson_writes_every_float_past_64_bits_with_an_exponent(value, negative):
    # the fast reader walks a value only when orjson writes an "e+" back: that must cover
    # every float an integer beyond 64 bits could have become
    value = -value if negative else value
    assert jsonio._has_exponent(jsonio.orjson_module().dumps([value]))


@pytest.mark.parametrize(
    ("data", "found"),
    [
        (b"", False),
        (b"+", False),
        (b"+e+", True),
        (b"e+", True),
        (b'["P = a + b", 1.5]', False),
        (b'["a + b", "c+d", 1e+19]', True),
        (b"[1e-07, 2.5]", False),
    ],
)
def test_has_exponent_finds_each_e_plus(data, found):
    assert jsonio._has_exponent(data) is found


def test_a_fifo_or_a_folder_named_json_is_refused_without_blocking(tmp_path):
    import os
    import threading

    os.mkfifo(tmp_path / "fifo.json")
    (tmp_path / "dir.json").mkdir()
    outcomes = []

    def attempt() -> None:
        for name in ("fifo.json", "dir.json"):
            try:
                jsonio.read(tmp_path / name)
            except jsonio.JSONInputError as exc:
                outcomes.append(str(exc))
            outcomes.append(jsonio.read_fast(tmp_path / name))

    worker = threading.Thread(target=attempt, daemon=True)  # a plain open of a FIFO blocks
    worker.start()
    worker.join(timeout=10)
    assert outcomes[0].endswith("fifo.json: not a regular file") and outcomes[1] is None
    assert outcomes[2].endswith("dir.json: not a regular file") and outcomes[3] is None
