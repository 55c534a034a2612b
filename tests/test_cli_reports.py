"""`greenai report`, `greenai compare` and `greenai import codecarbon` as users run them."""

from __future__ import annotations

import json
import sys

from greenai import disclosure
from tests.cli import greenai_cli
from tests.interop.test_codecarbon import _row, _write
from tests.report.docs import make_doc

_cli = greenai_cli


def test_report_every_format(tmp_path):
    run = tmp_path / "run.json"
    run.write_text(json.dumps(disclosure.seal(make_doc())))
    for fmt, name in (
        ("html", "r.html"),
        ("md", "r.md"),
        ("label", "r.png"),
        ("label", "r.svg"),
        ("csv", "r.csv"),
        ("boamps", "r.json"),
    ):
        res = _cli("report", str(run), "--format", fmt, "-o", str(tmp_path / name))
        assert res.returncode == 0, (fmt, res.stderr)
    assert (tmp_path / "r.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<svg" in (tmp_path / "r.svg").read_text()
    assert "text-generation" in (tmp_path / "r.md").read_text()
    assert "energy_per_unit_j" in (tmp_path / "r.csv").read_text().splitlines()[0]
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    res = _cli("report", str(bad))
    assert res.returncode == 2 and "Traceback" not in res.stderr


def test_compare_flags_modelled_against_measured(tmp_path):
    from greenai.probes.base import Method

    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(disclosure.seal(make_doc())))
    b.write_text(json.dumps(make_doc(cpu_method=Method.MODEL)))
    res = _cli("compare", str(a), str(b), "-o", str(tmp_path / "c.md"))
    assert res.returncode == 0, res.stderr
    assert "1 pair(s) not comparable" in res.stdout
    text = (tmp_path / "c.md").read_text()
    assert "modelled" in text and "hash-only" in text and "unverified" in text


def test_import_codecarbon(tmp_path):
    csv = _write(tmp_path, _row(), _row(run_id="second"))
    res = _cli("import", "codecarbon", str(csv), "-o", str(tmp_path / "out"))
    assert res.returncode == 0, res.stderr
    files = sorted((tmp_path / "out").glob("*.json"))
    assert len(files) == 2
    assert _cli("validate", *map(str, files)).returncode == 0
    assert _cli("verify", str(files[0])).stdout.strip().endswith("(hash matches; not signed)")


def test_run_rate_then_every_disclosure_command(tmp_path):
    run = tmp_path / "run.json"
    res = _cli(
        "run",
        "--task",
        "embeddings",
        "--unit",
        "query",
        "--units",
        "500",
        "-o",
        str(run),
        "--",
        sys.executable,
        "-c",
        "sum(range(500_000))",
    )
    assert res.returncode == 0, res.stderr
    rerated = tmp_path / "rerated"
    assert _cli("rate", str(run), "-o", str(rerated)).returncode == 0
    files = [run, rerated / "run.json"]
    assert _cli("validate", *map(str, files)).returncode == 0
    assert _cli("keygen", "-o", str(tmp_path / "k")).returncode == 0
    for f in files:
        signed = f.with_suffix(".signed.json")
        assert (
            _cli("sign", str(f), "--key", str(tmp_path / "k.pem"), "-o", str(signed)).returncode
            == 0
        )
        ok = _cli("verify", str(signed), "--public-key", str(tmp_path / "k.pub"))
        assert ok.returncode == 0 and ": verified" in ok.stdout
        # one byte: a digit of the energy figure
        raw = bytearray(signed.read_bytes())
        at = raw.index(b'"energy_j": ') + len(b'"energy_j": ')
        raw[at] = ord("9") if raw[at] != ord("9") else ord("8")
        tampered = f.with_suffix(".tampered.json")
        tampered.write_bytes(bytes(raw))
        bad = _cli("verify", str(tampered), "--public-key", str(tmp_path / "k.pub"))
        assert bad.returncode == 1 and "unverified" in bad.stdout
        assert _cli("report", str(signed), "-o", str(f.with_suffix(".html"))).returncode == 0
    res = _cli("compare", *map(str, files), "-o", str(tmp_path / "c.html"))
    assert res.returncode == 0 and "0 pair(s) not comparable" in res.stdout
