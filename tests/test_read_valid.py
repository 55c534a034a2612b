"""The one-pass reader (disclosure.try_read_valid) changes nothing that validate and rate -o
print or write: each runs on the same files with it and with the reference path alone
(read_document, validate, sealed_text), and the outputs are compared byte for byte."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from greenai import cli, disclosure, jsonio
from tests.hostile.corpus import disclosure_files
from tests.report.docs import make_doc
from tests.test_embodied import LIFECYCLE
from tests.test_jsonio import _same, json_values

REPO = Path(__file__).resolve().parents[1]
REFERENCE = sorted((REPO / "reports").rglob("*.json"))

pytestmark = pytest.mark.skipif(
    jsonio.orjson_module() is None or disclosure._compiled() is None,
    reason="the one-pass reader needs orjson and jsonschema-rs",
)


def _population(folder: Path) -> dict[str, Path]:
    """Write disclosures of several shapes, and files that must leave the one-pass reader."""
    folder.mkdir(parents=True, exist_ok=True)
    long = make_doc(seconds=20.0, step_s=0.1)  # timelines of 200 samples: the stand-ins
    docs = {
        "long": long,
        "short": make_doc(seconds=3.0),
        "no-gpu-no-site": make_doc(gpu_w=None, site=None, rate=False, work=None),
        "dram-model": make_doc(dram_w=3.0, seconds=15.0, step_s=0.1),
        "unrated": make_doc(rate=False),
    }
    files: dict[str, bytes] = {}
    for name, doc in docs.items():
        sealed = disclosure.seal(doc)
        files[f"{name}-indented"] = json.dumps(sealed, indent=2).encode()
        files[f"{name}-sealed-text"] = disclosure.sealed_text(doc).encode()
        files[f"{name}-unsealed"] = json.dumps(doc).encode()

    def edited(change) -> bytes:
        doc = copy.deepcopy(long)
        change(doc)
        return json.dumps(disclosure.seal(doc), ensure_ascii=False).encode()

    power = next(iter(long["timeline"]["power_w"]))
    files.update(
        {
            # numbers canonical JSON writes its own way, in blocks and in long lists
            "big-int": edited(lambda d: d["work"].__setitem__("params", 2**60)),
            "huge-float": edited(lambda d: d["work"].__setitem__("params", 1e17)),
            "tiny-in-timeline": edited(lambda d: d["timeline"]["t_s"].__setitem__(3, 1e-7)),
            "negative-zero": edited(lambda d: d["timeline"]["power_w"][power].__setitem__(0, -0.0)),
            "int-in-timeline": edited(lambda d: d["timeline"]["t_s"].__setitem__(4, 1)),
            # what the schema must still see in a long list
            "bool-in-timeline": edited(lambda d: d["timeline"]["t_s"].__setitem__(5, True)),
            "null-in-timeline": edited(lambda d: d["timeline"]["t_s"].__setitem__(6, None)),
            # strings that look like numbers or separators, keys the sort cares about
            "colon-strings": edited(lambda d: d.__setitem__("task", 'a: "1.0," 2e+5 \\u003a')),
            "non-ascii": edited(lambda d: d["host"].__setitem__("cpu", "ü 😀 \ue000")),
            "non-bmp-key": edited(lambda d: d["host"].__setitem__("😀", 1)),
            "nul-in-string": edited(lambda d: d["host"].__setitem__("cpu", "a\x00b")),
            "old-version": edited(lambda d: d.__setitem__("schema_version", "0.1")),
            "bad-field": edited(lambda d: d.__setitem__("energy_j", "lots")),
        }
    )
    body = json.dumps(disclosure.seal(long), indent=2)
    files["nested-duplicate"] = body.replace('"hostname": ', '"hostname": "x:1", "hostname": ', 1)
    files["nested-duplicate"] = files["nested-duplicate"].encode()
    beyond = '"hostname": 1' + "0" * 25 + ', "x": '  # json reads an int, orjson a float
    files["beyond-64-bits"] = body.replace('"hostname": ', beyond, 1).encode()
    files["escaped-colon"] = body.replace('"task": "', '"task": "\\u003a', 1).encode()
    out = {}
    for name, content in files.items():
        out[name] = folder / f"{name}.json"
        out[name].write_bytes(content)
    return out


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    """Return a folder of every kind of file: reference disclosures, a population, hostile."""
    folder = tmp_path_factory.mktemp("inputs")
    for i, path in enumerate(REFERENCE):
        (folder / f"reference-{i}-{path.name}").write_bytes(path.read_bytes())
    _population(folder / "population")
    disclosure_files(folder / "hostile")
    (folder / "hostile" / "oversize-sparse.json").unlink()  # 200 MB: test_hostile has it
    return folder


def _run(argv: list[str], capsys, monkeypatch, fast: bool) -> tuple[int, str, str, int]:
    """Return (exit code, stdout, stderr, files the one-pass reader vouched for)."""
    real = disclosure.try_read_valid
    vouched = []

    def counted(path):
        valid = real(path) if fast else None
        vouched.extend([path] if valid is not None else [])
        return valid

    monkeypatch.setattr(disclosure, "try_read_valid", counted)
    code = cli.main(argv)
    out, err = capsys.readouterr()
    monkeypatch.undo()
    return code, out, err, len(vouched)


def _files(folder: Path) -> list[str]:
    return sorted(str(p) for p in folder.rglob("*.json"))


def test_validate_prints_the_same_with_and_without_the_one_pass_reader(inputs, capsys, monkeypatch):
    files = _files(inputs)
    code, out, err, vouched = _run(["validate", *files], capsys, monkeypatch, fast=True)
    reference = _run(["validate", *files], capsys, monkeypatch, fast=False)
    assert (code, out, err) == reference[:3]
    assert vouched >= 20 and reference[3] == 0  # the one-pass reader did read most files
    lines = out.splitlines()
    bad = next(line for line in lines if "bad-field.json" in line)
    assert "INVALID" in bad and "$.energy_j:" in out  # still names the file and the field
    tampered = next(line for line in lines if "signed-tampered.json" in line)
    assert "unverified" in tampered


def test_rate_o_writes_the_same_with_and_without_the_one_pass_reader(
    inputs, tmp_path, capsys, monkeypatch
):
    fast_out, slow_out = tmp_path / "fast", tmp_path / "slow"
    fast = _run(["rate", str(inputs), "-o", str(fast_out)], capsys, monkeypatch, fast=True)
    slow = _run(["rate", str(inputs), "-o", str(slow_out)], capsys, monkeypatch, fast=False)
    assert fast[0] == slow[0] and fast[1] == slow[1]
    assert fast[2].replace(str(fast_out), "OUT") == slow[2].replace(str(slow_out), "OUT")
    assert fast[3] >= 20 and slow[3] == 0
    assert "bad-field.json: 1 problem(s)" in fast[2] and "$.energy_j:" in fast[2]
    written = sorted(p.name for p in fast_out.iterdir())
    assert written == sorted(p.name for p in slow_out.iterdir()) and len(written) >= 20
    for name in written:
        assert (fast_out / name).read_bytes() == (slow_out / name).read_bytes(), name


@pytest.mark.parametrize(
    "name",
    ["nested-duplicate", "beyond-64-bits", "escaped-colon", "bad-field", "bool-in-timeline"],
)
def test_the_one_pass_reader_leaves_to_the_reference_what_it_cannot_vouch_for(name, tmp_path):
    path = _population(tmp_path)[name]
    assert disclosure.try_read_valid(path) is None


def test_what_the_one_pass_reader_returns_is_what_the_reference_reads(tmp_path):
    for name, path in _population(tmp_path).items():
        valid = disclosure.try_read_valid(path)
        if valid is None:
            continue
        reference = disclosure.validate(disclosure.read_document(path), str(path), True)
        assert valid.doc == reference, name
        assert valid.canonical == disclosure.canonical_bytes(reference), name
        body = {k: v for k, v in reference.items() if k != "integrity"}
        assert valid.pieces == {k: disclosure._canonical_fast(v) for k, v in body.items()}, name


def test_rate_o_writes_the_embodied_block_anew_only_when_its_lifecycle_rating_changes(
    tmp_path, capsys, monkeypatch
):
    from greenai.standard import resolve_standard

    text = resolve_standard(None).read_text()
    lifecycle = tmp_path / "test-2026.1.toml"
    lifecycle.write_text(text.replace('id = "greenai-', 'id = "test-', 1) + LIFECYCLE)
    population = _population(tmp_path / "in")
    first = tmp_path / "in-few"
    first.mkdir()
    for name in ("long-indented", "dram-model-sealed-text", "no-gpu-no-site-unsealed"):
        (first / f"{name}.json").write_bytes(population[name].read_bytes())
    # absent -> a lifecycle rating; the same again (kept as read); removed under the default
    steps = [(first, str(lifecycle)), ("0", str(lifecycle)), ("0", None)]
    for i, (source, standard) in enumerate(steps):
        source = tmp_path / f"fast-{source}" if isinstance(source, str) else source
        outs = {}
        for fast in (True, False):
            out = tmp_path / f"{'fast' if fast else 'slow'}-{i}"
            argv = ["rate", str(source), "-o", str(out)]
            argv += ["--standard", standard] if standard else []
            code, _, _, vouched = _run(argv, capsys, monkeypatch, fast=fast)
            assert code == 0 and vouched == (3 if fast else 0)
            outs[fast] = {p.name: p.read_bytes() for p in out.iterdir()}
        assert outs[True] == outs[False] and len(outs[True]) == 3
        has = [b'"lifecycle_rating"' in body for body in outs[True].values()]
        assert has == [bool(standard)] * 3, (i, has)


BASE = json.dumps(disclosure.seal(make_doc(seconds=10.0, step_s=0.1)), indent=2)
SLOT = '"hostname": '  # host takes any extra key: a place for any JSON value


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_any_json_value_in_a_disclosure_reads_as_the_reference_reads_it(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("any") / "run.json"
    path.write_text(BASE.replace(SLOT, f'"extra": {text}, {SLOT}', 1))
    valid = disclosure.try_read_valid(path)
    if valid is None:
        return  # the reference reads it (or refuses it): nothing the one pass could get wrong
    reference = disclosure.validate(disclosure.read_document(path), str(path), True)
    assert _same(("value", valid.doc), ("value", reference)), text
    assert valid.canonical == disclosure.canonical_bytes(reference), text
    assert disclosure.verify(valid.doc, canonical=valid.canonical) == disclosure.verify(reference)
