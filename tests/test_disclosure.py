"""Disclosure: RFC 8785 canonical form, content hash, Ed25519 signatures, schema validation."""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import greenai
from greenai import disclosure
from greenai.meter import Meter
from greenai.sampler import Sampler
from tests.cli import greenai_cli
from tests.fakes.clock import FakeClock
from tests.fakes.probes import ClockProbe, constant


@pytest.mark.parametrize(
    ("value", "text"),
    [  # RFC 8785 section 3.2.2.3 and appendix B
        (0.0, "0"),
        (-0.0, "0"),
        (1.0, "1"),
        (-1.0, "-1"),
        (4.50, "4.5"),
        (2e-3, "0.002"),
        (333333333.33333329, "333333333.3333333"),
        (1e30, "1e+30"),
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (1e-27, "1e-27"),
        (1e-6, "0.000001"),
        (1e-7, "1e-7"),
        (5e-324, "5e-324"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (9007199254740992, "9007199254740992"),
        (123456789012345680000.0, "123456789012345680000"),
        (-5e-7, "-5e-7"),
        (295147905179352830000.0, "295147905179352830000"),
    ],
)
def test_numbers_are_written_as_ecmascript_does(value, text):
    assert disclosure._number(value) == text


def test_rfc8785_example():
    doc = json.loads(
        '{"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001],'
        '"string":"\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",'
        '"literals":[null,true,false]}'
    )
    expected = (
        '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    )
    assert disclosure.canonical_bytes(doc).decode() == expected


def test_keys_sort_by_utf16_code_units():
    # U+FFFD sorts after U+1F600 in UTF-16 (surrogates D83D < FFFD), before it in code points
    doc = {"\ufffd": 1, "\U0001f600": 2, "a": 3}
    assert disclosure.canonical_bytes(doc).decode() == '{"a":3,"\U0001f600":2,"\ufffd":1}'


@settings(max_examples=200, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_canonical_numbers_round_trip(x):
    assert float(disclosure._number(x)) == x


def _doc() -> dict:
    clock = FakeClock()
    s = Sampler(
        [
            ClockProbe("rapl:package-0", clock, constant(40.0)),
            ClockProbe("nvml:0", clock, constant(250.0), domain="gpu"),
        ],
        clock=clock,
    )
    s.sample()
    with Meter("text-generation", "token", sampler=s, handle_signals=False, site="hyperscale") as m:
        for _ in range(10):
            clock.advance(0.1)
            s.sample()
        m.count(500)
    return m.result.to_dict()


def test_a_metered_run_validates_against_the_schema():
    doc = _doc()
    assert disclosure.validation_errors(doc) == []
    assert disclosure.validation_errors(disclosure.seal(doc)) == []


def test_schema_errors_name_the_json_path():
    doc = _doc()
    doc["devices"][1]["method"] = "guess"
    doc["domains"]["cpu"]["energy_j"] = "lots"
    del doc["status"]
    errors = disclosure.validation_errors(doc)
    assert any(e.startswith("$.devices[1].method") for e in errors)
    assert any(e.startswith("$.domains.cpu.energy_j") for e in errors)
    assert any("'status' is a required property" in e for e in errors)


def test_reader_of_1_0_reads_0_1():
    doc = _doc()
    old = {k: v for k, v in doc.items() if k not in ("site", "footprint", "rating")}
    old["schema_version"] = "0.1"
    upgraded = disclosure.validate(old)
    assert upgraded["schema_version"] == "1.0" and upgraded["footprint"] is None
    assert greenai.Measurement.from_dict(old).energy_j == pytest.approx(doc["energy_j"])
    with pytest.raises(greenai.DisclosureError, match="not readable"):
        disclosure.validate({**doc, "schema_version": "7.0"})


def test_any_change_breaks_the_hash():
    sealed = disclosure.seal(_doc())
    assert disclosure.verify(sealed) == ("hash-only", ["hash matches; not signed"])
    tampered = json.loads(json.dumps(sealed))
    tampered["energy_j"] *= 0.5
    assert disclosure.verify(tampered)[0] == "unverified"
    # key order and whitespace are not content
    reordered = json.loads(json.dumps(sealed, indent=4, sort_keys=True))
    assert disclosure.verify(reordered)[0] == "hash-only"


def test_sign_and_verify(tmp_path):
    pub_b64 = disclosure.generate_key(tmp_path / "key.pem", tmp_path / "key.pub")
    assert oct(os.stat(tmp_path / "key.pem").st_mode & 0o777) == "0o600"
    assert disclosure.load_public_key(tmp_path / "key.pub") == pub_b64
    signed = disclosure.sign(_doc(), tmp_path / "key.pem")
    assert disclosure.verify(signed, (pub_b64,)) == ("verified", [])
    assert disclosure.verify(signed)[0] == "hash-only"  # valid, but the key was not trusted
    for path, value in (
        (("task",), "image-generation"),
        (("devices", 0, "energy_j"), 0.0),
        (("integrity", "signature", "value"), "AAAA"),
    ):
        bad = json.loads(json.dumps(signed))
        target = bad
        for p in path[:-1]:
            target = target[p]
        target[path[-1]] = value
        if path[0] != "integrity":  # a content change: re-seal so only the signature can tell
            bad = {
                **disclosure.seal(bad),
                "integrity": {
                    **disclosure.seal(bad)["integrity"],
                    "signature": signed["integrity"]["signature"],
                },
            }
        assert disclosure.verify(bad, (pub_b64,))[0] == "unverified", path


_cli = greenai_cli


def test_cli_validate_sign_verify(tmp_path):
    run = tmp_path / "run.json"
    run.write_text(json.dumps(disclosure.seal(_doc())))
    assert _cli("validate", str(run)).returncode == 0
    bad = tmp_path / "bad.json"
    doc = _doc()
    doc["devices"][0]["provenance"] = "guessed"
    doc["units_done"] = -1
    bad.write_text(json.dumps(doc))
    res = _cli("validate", str(bad))
    assert res.returncode == 1
    assert "$.devices[0].provenance" in res.stdout and "$.units_done" in res.stdout
    assert _cli("keygen", "-o", str(tmp_path / "k")).returncode == 0
    assert (
        _cli(
            "sign", str(run), "--key", str(tmp_path / "k.pem"), "-o", str(tmp_path / "signed.json")
        ).returncode
        == 0
    )
    ok = _cli("verify", str(tmp_path / "signed.json"), "--public-key", str(tmp_path / "k.pub"))
    assert ok.returncode == 0 and "verified" in ok.stdout
    signed = json.loads((tmp_path / "signed.json").read_text())
    signed["footprint"]["carbon_g"] = 0.0
    (tmp_path / "tampered.json").write_text(json.dumps(signed))
    res = _cli("verify", str(tmp_path / "tampered.json"), "--public-key", str(tmp_path / "k.pub"))
    assert res.returncode == 1 and "unverified" in res.stdout


def test_cli_validate_says_the_integrity_state_and_fails_a_tampered_seal(tmp_path):
    run = tmp_path / "run.json"
    run.write_text(json.dumps(disclosure.seal(_doc())))
    res = _cli("validate", str(run))
    assert res.returncode == 0 and "integrity hash-only: hash matches; not signed" in res.stdout
    tampered = json.loads(run.read_text())
    tampered["energy_j"] *= 0.5  # still a valid document, no longer what was sealed
    (tmp_path / "tampered.json").write_text(json.dumps(tampered))
    res = _cli("validate", str(tmp_path / "tampered.json"))
    assert res.returncode == 1, res.stdout
    assert (
        "valid schema" in res.stdout and "integrity unverified: content hash differs" in res.stdout
    )
    unsealed = tmp_path / "unsealed.json"
    unsealed.write_text(json.dumps(_doc()))
    res = _cli("validate", str(unsealed))
    assert res.returncode == 0 and "integrity unverified: no integrity block" in res.stdout
