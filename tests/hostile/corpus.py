"""A corpus of hostile input files and the greenai commands to throw them at.

``build(folder)`` writes every file (none is committed: the big ones are sparse or made on
the spot) and returns the cases: (case id, argv, expectation). An expectation is
``"refused"`` (exit 2; the last stderr line, from greenai, names the problem; commands
over many inputs may list ``skipped:`` lines before it), ``"invalid"`` (validate or verify:
exit 1, the file's line says INVALID, unverified or tampered), ``"rowerrors"`` (import:
exit 1, each bad row on an ``error:`` line), ``"ok"`` (exit 0) or ``"tolerated"`` (odd
but not false: any exit code 0-3). Every case: no traceback, not the last-resort handler.

Kinds of file: disclosures (JSON), journals, site/standard/mapping/suite TOML, CSV tables.
"""

from __future__ import annotations

import copy
import json
import os
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

Case = tuple[str, list[str], str]

DEPTH = 100_000  # far beyond Python's recursion limit


def _base_doc() -> dict[str, Any]:
    from greenai import disclosure
    from tests.report.docs import make_doc

    return disclosure.seal(copy.deepcopy(make_doc()))


def _journal_line(record: Any) -> bytes:
    body = json.dumps(record, separators=(",", ":"))
    return f"{body}\t{zlib.crc32(body.encode()):08x}\n".encode()


def _raw_journal_line(body: str) -> bytes:
    return f"{body}\t{zlib.crc32(body.encode()):08x}\n".encode()


def _header(**over: Any) -> dict[str, Any]:
    h = {
        "k": "h",
        "v": 1,
        "task": "t",
        "unit": "sample",
        "started_at": "2026-01-01T00:00:00Z",
        "t0": 0.0,
        "e0": [0.0],
        "f0": [None],
        "probes": [
            {"id": "fake:cpu", "domain": "cpu", "method": "counter", "counts_in_total": True}
        ],
        "unavailable": [],
        "host": {},
        "interval_s": 0.1,
        "period_s": 1.0,
        "command": ["true"],
        "idle": None,
    }
    h.update(over)
    return h


def _checkpoint(**over: Any) -> dict[str, Any]:
    c = {"k": "c", "t": 10.0, "e": [100.0], "f": [None], "u": 1.0, "ph": {}, "faults": []}
    c.update(over)
    return c


def disclosure_files(folder: Path) -> dict[str, Path]:
    """Write the hostile JSON documents; return {name: path}."""
    from greenai import disclosure

    folder.mkdir(parents=True, exist_ok=True)
    doc = _base_doc()
    text = json.dumps(doc, indent=2)
    files: dict[str, bytes | Callable[[Path], None]] = {
        "empty": b"",
        "whitespace": b"   \n\t ",
        "not-json": b"this is not json",
        "truncated": text[: len(text) // 2].encode(),
        "top-array": b"[1, 2, 3]",
        "top-string": b'"a string"',
        "top-null": b"null",
        "empty-object": b"{}",
        "deep-array": b"[" * DEPTH + b"]" * DEPTH,
        "deep-object": b'{"a":' * DEPTH + b"1" + b"}" * DEPTH,
        "deep-unclosed": b"[" * DEPTH,
        "nan-literal": text.replace('"energy_j": ', '"energy_j": NaN, "x": ', 1).encode(),
        "infinity-literal": b'{"energy_j": Infinity}',
        "neg-infinity": b'{"energy_j": -Infinity}',
        "float-overflow": b'{"energy_j": 1e400}',
        "int-400-digits": b'{"energy_j": 1' + b"0" * 400 + b"}",
        "int-5000-digits": b'{"energy_j": 1' + b"0" * 5000 + b"}",
        "lone-surrogate": text.replace('"task": "', '"task": "\\ud800', 1).encode(),
        "lone-low-surrogate": text.replace('"task": "', '"task": "\\udc00x', 1).encode(),
        "invalid-utf8": text.replace('"task": "', '"task": "\xff\xfe', 1).encode("latin-1"),
        "utf16": text.encode("utf-16"),
        "nul-bytes": b'{"a": "\x00"}',
        "control-char": b'{"task": "a\x01b"}',
        "duplicate-top-key": text.replace('"task": ', '"task": "x", "task": ', 1).encode(),
        "binary": bytes(range(256)) * 64,
        "negative-energy": _edit(doc, lambda d: d.__setitem__("energy_j", -24.0)),
        "negative-domain": _edit(doc, lambda d: _neg_domain(d)),
        "negative-duration": _edit(doc, lambda d: d.__setitem__("duration_s", -1.0)),
        "negative-power": _edit(
            doc,
            lambda d: d.__setitem__(
                "idle", {"duration_s": 1.0, "power_w": -334000.0, "net_energy_j": 0.0}
            ),
        ),
        "negative-timeline-power": _edit(doc, lambda d: _neg_timeline(d)),
        "huge-counters": _edit(doc, lambda d: _huge(d)),
        "wrong-types": _edit(doc, lambda d: d.update(energy_j="lots", units_done=[1])),
        "missing-fields": json.dumps({"schema_version": "1.0"}).encode(),
        "unknown-schema": _edit(doc, lambda d: d.__setitem__("schema_version", "99.0")),
        "long-string": _edit(doc, lambda d: d.__setitem__("task", "x" * 5_000_000)),
        "extra-integrity-key": _edit(doc, lambda d: d["integrity"].__setitem__("extra", 1)),
        "oversize-sparse": lambda p: _sparse(p, 200 * 1024 * 1024),
    }
    # a signed file with a duplicate energy_j: a reader sees one figure, json keeps the other
    signed = _signed(folder, doc)
    body = json.dumps(signed, indent=2)
    real = f'"energy_j": {json.dumps(signed["energy_j"])}'
    assert real in body
    files["signed-duplicate-energy"] = body.replace(real, f'"energy_j": 0.001, {real}', 1).encode()
    files["signed-extra-integrity"] = _edit(
        signed, lambda d: d["integrity"].__setitem__("note", "trust me")
    )
    files["signed-tampered"] = _edit(signed, lambda d: d.__setitem__("energy_j", 0.001))
    files["signed-intact"] = json.dumps(signed).encode()
    out: dict[str, Path] = {}
    for name, content in files.items():
        path = folder / f"{name}.json"
        if callable(content):
            content(path)
        else:
            path.write_bytes(content)
        out[name] = path
    assert disclosure.content_hash(doc) == doc["integrity"]["sha256"]
    return out


def _edit(doc: dict[str, Any], change: Callable[[dict[str, Any]], Any]) -> bytes:
    d = copy.deepcopy(doc)
    change(d)
    return json.dumps(d).encode()


def _neg_domain(d: dict[str, Any]) -> None:
    first = next(iter(d["domains"]))
    d["domains"][first]["energy_j"] = -24.0


def _neg_timeline(d: dict[str, Any]) -> None:
    series = next(iter(d["timeline"]["power_w"].values()))
    series[0] = -334000.0


def _huge(d: dict[str, Any]) -> None:
    d["energy_j"] = 1e308
    for block in d["domains"].values():
        block["energy_j"] = 1e308


def _sparse(path: Path, size: int) -> None:
    with open(path, "wb") as fh:
        fh.write(b'{"a": "')
        fh.truncate(size)


def _signed(folder: Path, doc: dict[str, Any]) -> dict[str, Any]:
    from greenai import disclosure

    key = folder / "key"
    if not (folder / "key.pem").exists():
        disclosure.generate_key(f"{key}.pem", f"{key}.pub")
    return disclosure.sign(doc, f"{key}.pem")


def journal_files(folder: Path) -> dict[str, Path]:
    """Write hostile journals; return {name: path}."""
    folder.mkdir(parents=True, exist_ok=True)
    h, c = _header(), _checkpoint()
    journals: dict[str, bytes] = {
        "empty": b"",
        "garbage": b"not a journal\n",
        "torn-header": _journal_line(h)[:-10],
        "bad-crc": _journal_line(h)[:-3] + b"000\n",
        "wrong-version": _journal_line(_header(v=99)),
        "not-dict": _journal_line([1, 2, 3]),
        "header-only-no-probes": _journal_line(_header(probes=None)),
        "negative-counters": _journal_line(h) + _journal_line(_checkpoint(e=[-2e6])),
        "backwards-counters": _journal_line(_header(e0=[500.0])) + _journal_line(c),
        "float-overflow": _journal_line(h)
        + _raw_journal_line('{"k":"c","t":10.0,"e":[1e400],"f":[null],"u":1,"ph":{},"faults":[]}'),
        "int-400-digits": _journal_line(h)
        + _journal_line(_checkpoint(e=[10**400 if False else 0]))[:0]
        + _raw_journal_line(
            '{"k":"c","t":10.0,"e":[1' + "0" * 400 + '],"f":[null],"u":1,"ph":{},"faults":[]}'
        ),
        "huge-counters": _journal_line(_header(probes=[_probe("a"), _probe("b")], e0=[0, 0]))
        + _journal_line(_checkpoint(e=[1e308, 1e308], f=[None, None])),
        "nan-counter": _journal_line(h)
        + _raw_journal_line('{"k":"c","t":10.0,"e":[NaN],"f":[null],"u":1,"ph":{},"faults":[]}'),
        "length-mismatch": _journal_line(h) + _journal_line(_checkpoint(e=[1.0, 2.0])),
        "time-backwards": _journal_line(_header(t0=100.0)) + _journal_line(c),
        "wrong-types": _journal_line(h) + _journal_line(_checkpoint(e="lots", t="now")),
        "negative-units": _journal_line(h) + _journal_line(_checkpoint(u=-5.0)),
        "deep-line": _journal_line(h) + _raw_journal_line("[" * DEPTH + "]" * DEPTH),
        "duplicate-keys": _journal_line(h)
        + _raw_journal_line(
            '{"k":"c","t":10.0,"e":[100.0],"e":[-1.0],"f":[null],"u":1,"ph":{},"faults":[]}'
        ),
        "bad-method": _journal_line(_header(probes=[{**_probe("a"), "method": "magic"}])),
        "bad-phases": _journal_line(h) + _journal_line(_checkpoint(ph={"x": [1]})),
        "lone-surrogate": _journal_line(h)[:0]
        + _raw_journal_line(json.dumps(_header(task="\ud800x"), ensure_ascii=True)),
        "binary": bytes(range(256)) * 16,
    }
    out = {}
    for name, content in journals.items():
        path = folder / f"{name}.journal"
        path.write_bytes(content)
        out[name] = path
    return out


def _probe(pid: str) -> dict[str, Any]:
    return {"id": pid, "domain": "cpu", "method": "counter", "counts_in_total": True}


def toml_files(folder: Path) -> dict[str, Path]:
    """Write hostile TOML (site, standard, mapping, suite); return {name: path}."""
    folder.mkdir(parents=True, exist_ok=True)
    mapping = (
        '[importer]\nid = "{id}"\ntitle = "t"\ndomains_measured = ["gpu"]\n'
        '[columns]\nmodel = "model"\nenergy = "energy"\nresponse_length = "response_length"\n'
    )
    files: dict[str, bytes] = {
        "empty": b"",
        "not-toml": b"this = is = not toml",
        "deep-array": b"a = " + b"[" * DEPTH + b"]" * DEPTH + b"\n",
        "deep-inline": b"a = " + b"{b = " * DEPTH + b"1" + b"}" * DEPTH + b"\n",
        "invalid-utf8": b'name = "\xff\xfe"\npue = 1.2\n',
        "utf16": 'name = "x"\npue = 1.2\n'.encode("utf-16"),
        "nul": b'name = "a\x00"\n',
        "binary": bytes(range(256)) * 16,
        "pue-1e80": b"pue = 1e80\n",
        "pue-below-1": b"pue = 0.5\n",
        "pue-nan": b"pue = nan\n",
        "pue-inf": b"pue = inf\n",
        "pue-string": b'pue = "high"\n',
        "wue-huge": b"wue_l_per_kwh = 1e9\n",
        "wue-negative": b"wue_l_per_kwh = -1\n",
        "carbon-5000": b"carbon_intensity_g_per_kwh = 5000\n",
        "ewif-1000": b"ewif_l_per_kwh = 1000\n",
        "unknown-key": b"wibble = 1\n",
        "mapping-id-parent": mapping.format(id="../x").encode(),
        "mapping-id-absolute": mapping.format(id="/tmp/greenai-hostile-x").encode(),
        "mapping-id-nested": mapping.format(id="a/b").encode(),
        "mapping-id-dotdot": mapping.format(id="..").encode(),
        "mapping-id-hidden": mapping.format(id=".hidden").encode(),
        "mapping-id-long": mapping.format(id="x" * 300).encode(),
        "suite-id-parent": (
            b'[suite]\nid = "../x"\n[[workload]]\nid = "w"\nkind = "k"\ntask = "t"\n'
        ),
        "suite-workload-parent": (
            b'[suite]\nid = "s"\n[[workload]]\nid = "../../w"\nkind = "k"\ntask = "t"\n'
        ),
        "standard-id-parent": b'[standard]\nid = "../x"\nversion = "1"\n',
        # a site's name is shown, never a file name: the run goes ahead, writes only -o
        "site-name-parent": b'name = "../../x"\npue = 1.2\n',
    }
    out = {}
    for name, content in files.items():
        path = folder / f"{name}.toml"
        path.write_bytes(content)
        out[name] = path
    return out


def csv_files(folder: Path) -> dict[str, Path]:
    """Write hostile CSV tables; return {name: path}."""
    folder.mkdir(parents=True, exist_ok=True)
    head = "model,throughput,response_length,latency,energy\n"
    files: dict[str, bytes] = {
        "empty": b"",
        "header-only": head.encode(),
        "invalid-utf8": (head + "m\xff,1,2,3,4\n").encode("latin-1"),
        "nul": (head + "m\x00,1,2,3,4\n").encode(),
        "bare-cr": (head + "a\rb,1,2,3,4\n").encode(),
        "negative-energy": (head + "m,1,2,3,-24\n").encode(),
        "nan-energy": (head + "m,1,2,3,nan\n").encode(),
        "inf-energy": (head + "m,1,2,3,inf\n").encode(),
        "float-overflow": (head + "m,1,2,3,1e400\n").encode(),
        "int-5000-digits": (head + "m,1,2,3,1" + "0" * 5000 + "\n").encode(),
        "huge-field": (head + "m" * 2_000_000 + ",1,2,3,4\n").encode(),
        "unclosed-quote": (head + '"m,1,2,3,4\n').encode(),
        "binary": bytes(range(256)) * 16,
        "model-traversal": (head + "../../etc/x,1,2,3,4\n/abs/path,1,2,3,4\n").encode(),
    }
    out = {}
    for name, content in files.items():
        path = folder / f"{name}.csv"
        path.write_bytes(content)
        out[name] = path
    return out


def build(root: Path) -> list[Case]:
    """Write the corpus under root; return every (case id, argv, expectation)."""
    docs = disclosure_files(root / "json")
    journals = journal_files(root / "journal")
    tomls = toml_files(root / "toml")
    csvs = csv_files(root / "csv")
    out = root / "out"
    good = docs["signed-intact"]
    pub = str(root / "json" / "key.pub")
    pem = str(root / "json" / "key.pem")
    cases: list[Case] = []
    doc_commands: dict[str, Callable[[str, str], list[str]]] = {
        "validate": lambda f, n: ["validate", f],
        "verify": lambda f, n: ["verify", f, "--public-key", pub],
        "show": lambda f, n: ["show", f],
        "report-html": lambda f, n: ["report", f, "-o", str(out / f"{n}.html")],
        "report-csv": lambda f, n: ["report", f, "--format", "csv", "-o", str(out / f"{n}.csv")],
        "sign": lambda f, n: ["sign", f, "--key", pem, "-o", str(out / f"{n}.signed.json")],
        "rate": lambda f, n: ["rate", f],
        "rank": lambda f, n: ["rank", f, str(good), "-o", str(out / f"{n}.rank.html")],
        "compare": lambda f, n: ["compare", f, str(good), "-o", str(out / f"{n}.cmp.html")],
        "merge": lambda f, n: ["merge", f, "-o", str(out / f"{n}.merged.json")],
    }
    fine = {"signed-intact"}  # the control: every command must accept it
    # schema-valid but not what was sealed: verify says so, the rest may read them
    unsealed = {"signed-tampered", "long-string", "extra-integrity-key", "signed-extra-integrity"}
    for name, path in docs.items():
        for cmd, argv in doc_commands.items():
            if name in fine:
                expect = "ok"
            elif cmd == "verify":
                expect = "invalid"
            elif name in unsealed:
                expect = "invalid" if cmd == "validate" and "integrity" in name else "tolerated"
            elif cmd == "validate":
                expect = "invalid"
            elif cmd == "compare":  # shows what it cannot compare, flagged
                expect = "tolerated"
            elif cmd in ("rate", "rank") and name in ("negative-power", "negative-timeline-power"):
                expect = "tolerated"  # a rating reads energy and units, not idle or timeline
            else:
                expect = "refused"
            cases.append((f"{cmd}:{name}", argv(str(path), name), expect))
    # a checkpoint line greenai refuses is skipped as corrupt: the header's start remains
    skipped_line = {"float-overflow", "nan-counter", "deep-line", "duplicate-keys"}
    for name, path in journals.items():
        expect = "ok" if name in skipped_line else "refused"
        argv = ["recover", str(path), "-o", str(out / f"{name}.rec.json")]
        cases.append((f"recover:{name}", argv, expect))
    toml_commands: dict[str, Callable[[str, str], list[str]]] = {
        "run-site": lambda f, n: [
            "run", "-q", "--site", f, "-o", str(out / f"{n}.run.json"), "--", "true",
        ],
        "standard-show": lambda f, n: ["standard", "show", f],
        "rate-standard": lambda f, n: ["rate", str(good), "--standard", f],
        "import-mapping": lambda f, n: [
            "import", "table", str(csvs["model-traversal"]), "--mapping", f,
            "-o", str(out / f"{n}-import"),
        ],
        "bench-suite": lambda f, n: ["bench", "run", f, "-o", str(out / f"{n}-bench")],
    }  # fmt: skip
    for name, path in tomls.items():
        for cmd, argv in toml_commands.items():
            ok = {("run-site", "empty"), ("run-site", "site-name-parent")}
            expect = "ok" if (cmd, name) in ok else "refused"
            cases.append((f"{cmd}:{name}", argv(str(path), name), expect))
    csv_commands: dict[str, Callable[[str, str], list[str]]] = {
        "import-table": lambda f, n: [
            "import", "table", f, "--format", "ml-energy", "-o", str(out / f"{n}-table"),
        ],
        "import-codecarbon": lambda f, n: [
            "import", "codecarbon", f, "-o", str(out / f"{n}-cc"),
        ],
        "rate-csv": lambda f, n: ["rate", f],
        "calibrate": lambda f, n: [
            "standard", "calibrate", f, "-o", str(out / f"{n}.toml"),
        ],
    }  # fmt: skip
    # rows that are merely odd (a CR in a model name, a model id that looks like a path)
    # import: the name is slugged inside the output folder
    importable = {"bare-cr", "model-traversal", "nul", "header-only"}
    bad_rows = {
        "negative-energy", "nan-energy", "inf-energy", "float-overflow", "int-5000-digits",
        "unclosed-quote",
    }  # fmt: skip
    for name, path in csvs.items():
        for cmd, argv in csv_commands.items():
            expect = "refused"
            if cmd == "import-table" and name in importable:
                expect = "ok"
            elif cmd == "import-table" and name in bad_rows:
                expect = "rowerrors"
            cases.append((f"{cmd}:{name}", argv(str(path), name), expect))
    os.makedirs(out, exist_ok=True)
    return cases
