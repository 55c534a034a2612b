"""Hostile input: every loader raises only greenai's own errors, never a traceback or a hang."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import greenai
from greenai import journal
from greenai.errors import GreenAIError
from greenai.measurement import Measurement
from greenai.recovery import recover_journal
from greenai.sampler import Sampler
from tests.fakes.clock import FakeClock
from tests.fakes.probes import ClockProbe, constant

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**20), 10**20)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda kids: (
        st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=12), kids, max_size=5)
    ),
    max_leaves=25,
)


def _valid_doc() -> dict:
    clock = FakeClock()
    s = Sampler(
        [
            ClockProbe("rapl:package-0", clock, constant(5.0)),
            ClockProbe("nvml:0", clock, constant(50.0), domain="gpu"),
        ],
        clock=clock,
    )
    s.sample()
    with greenai.Meter("t", "sample", sampler=s, handle_signals=False) as m:
        with m.phase("train"):
            clock.advance(0.5)
            s.sample()
        m.count(3)
    return m.result.to_dict()


VALID = _valid_doc()


def _mutations(doc: dict):
    """Return a strategy of documents with one field replaced, removed or nested badly."""
    paths = []

    def walk(node, path):
        if isinstance(node, dict):
            for k, v in node.items():
                paths.append((*path, k))
                walk(v, (*path, k))
        elif isinstance(node, list):
            for i, v in enumerate(node[:3]):
                paths.append((*path, i))
                walk(v, (*path, i))

    walk(doc, ())

    @st.composite
    def mutate(draw):
        d = json.loads(json.dumps(doc))
        path = draw(st.sampled_from(paths))
        parent = d
        for p in path[:-1]:
            parent = parent[p]
        if draw(st.booleans()) and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(json_values)
        return d

    return mutate()


@FUZZ
@given(_mutations(VALID))
def test_disclosure_loader_mutated_fields(doc):
    try:
        m = Measurement.from_dict(doc)
    except GreenAIError:
        return
    m.to_dict()  # whatever loads must also serialise


@FUZZ
@given(json_values)
def test_disclosure_loader_arbitrary_json(doc):
    with pytest.raises(GreenAIError):
        Measurement.from_dict(doc) if not isinstance(doc, dict) or doc else (_ for _ in ()).throw(
            greenai.DisclosureError("empty")
        )


@FUZZ
@given(st.binary(max_size=400))
def test_disclosure_file_bytes(tmp_path: Path, data: bytes):
    p = tmp_path / "d.json"
    p.write_bytes(data)
    with pytest.raises(GreenAIError):
        greenai.load(p)


@pytest.fixture(scope="module")
def good_journal(tmp_path_factory) -> bytes:
    clock = FakeClock()
    s = Sampler([ClockProbe("p", clock, constant(5.0))], clock=clock)
    s.sample()
    path = tmp_path_factory.mktemp("j") / "run.journal"
    m = greenai.Meter(sampler=s, journal=path, journal_period_s=3600, handle_signals=False)
    m.start()
    for _ in range(3):
        clock.advance(1.0)
        s.sample()
        m.checkpoint()
    m._journal.close()
    return path.read_bytes()


@FUZZ
@given(data=st.data())
def test_journal_loader_corrupted_bytes(tmp_path: Path, good_journal: bytes, data):
    raw = bytearray(good_journal)
    for _ in range(data.draw(st.integers(1, 5))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    p = tmp_path / "j.journal"
    p.write_bytes(bytes(raw[:cut]))
    try:
        m = recover_journal(p)
    except GreenAIError:
        return
    assert m.status in ("interrupted", "ok", "failed") and m.energy_j >= 0


@FUZZ
@given(records=st.lists(json_values, min_size=1, max_size=4))
def test_journal_loader_well_formed_but_hostile_records(tmp_path: Path, good_journal, records):
    header = good_journal.splitlines(keepends=True)[0]
    body = b"".join(
        journal.encode(r if isinstance(r, dict) else {"k": "c", "t": r}) for r in records
    )
    p = tmp_path / "j.journal"
    p.write_bytes(header + body)
    with contextlib.suppress(GreenAIError):
        recover_journal(p)


@FUZZ
@given(
    header=st.dictionaries(
        st.sampled_from(["t0", "e0", "f0", "probes", "idle", "command", "task", "unavailable"]),
        json_values,
    )
)
def test_journal_hostile_header(tmp_path: Path, header):
    p = tmp_path / "j.journal"
    p.write_bytes(journal.encode({"k": "h", "v": 1, **header}))
    with contextlib.suppress(GreenAIError):
        recover_journal(p)


@FUZZ
@given(st.text(max_size=300))
def test_site_toml_loader(tmp_path: Path, text: str):
    from greenai.site import Site

    p = tmp_path / "site.toml"
    p.write_text(text)
    with contextlib.suppress(GreenAIError):
        Site.from_toml(p)


SITE_KEYS = [
    "name",
    "pue",
    "wue_l_per_kwh",
    "grid",
    "carbon_intensity_g_per_kwh",
    "ewif_l_per_kwh",
    "hydro_evaporation",
    "description",
]


@FUZZ
@given(st.dictionaries(st.sampled_from(SITE_KEYS), json_values, max_size=6))
def test_site_toml_structured(tmp_path: Path, fields):
    from greenai.site import Site

    lines = []
    for k, v in fields.items():
        lines.append(
            f"{k} = {json.dumps(v)}"
            if not isinstance(v, dict | list)
            else f"{k} = {json.dumps(json.dumps(v))}"
        )
    p = tmp_path / "site.toml"
    p.write_text("\n".join(lines))
    with contextlib.suppress(GreenAIError):
        Site.from_toml(p)


@FUZZ
@given(json_values)
def test_site_from_dict(doc):
    from greenai.site import Site

    with contextlib.suppress(GreenAIError):
        Site.from_dict(doc)


GOOD_PROBE = {"id": "p", "domain": "cpu", "method": "counter", "counts_in_total": True, "info": {}}


@pytest.mark.parametrize(
    "header",
    [
        {"probes": [{**GOOD_PROBE, "method": "bogus"}], "t0": 0, "e0": [0], "f0": [None]},
        {"probes": [GOOD_PROBE], "t0": 0, "e0": ["x"], "f0": [None]},
        {"probes": [GOOD_PROBE], "t0": 0, "e0": [0], "f0": ["x"]},
        {"probes": [GOOD_PROBE], "t0": 0, "e0": [0, 1], "f0": [None]},
        {"probes": [GOOD_PROBE], "t0": "Infinity", "e0": [0], "f0": [None]},
        {"probes": "p", "t0": 0, "e0": [0], "f0": [None]},
        {"probes": [GOOD_PROBE], "t0": 0, "e0": [0], "f0": [None], "idle": {"x": 1}},
        {"probes": [GOOD_PROBE], "t0": 0, "e0": [0], "f0": [None], "command": 5},
    ],
)
def test_journal_targeted_bad_headers(tmp_path: Path, header):
    p = tmp_path / "j.journal"
    p.write_bytes(journal.encode({"k": "h", "v": 1, **header}))
    with pytest.raises(GreenAIError):
        recover_journal(p)


@pytest.mark.parametrize(
    "checkpoint",
    [
        {"k": "c", "t": 5, "e": [1], "f": ["late"], "u": 0, "ph": {}},
        {"k": "c", "t": 5, "e": [1], "f": [None], "u": "many", "ph": {}},
        {"k": "c", "t": 5, "e": [1], "f": [None], "u": 0, "ph": {"train": [1]}},
        {"k": "c", "t": -5, "e": [1], "f": [None], "u": 0, "ph": {}},
        {"k": "c", "t": 5, "e": [1, 2], "f": [None, None], "u": 0, "ph": {}},
    ],
)
def test_journal_targeted_bad_checkpoints(tmp_path: Path, checkpoint):
    p = tmp_path / "j.journal"
    header = {"k": "h", "v": 1, "probes": [GOOD_PROBE], "t0": 0.0, "e0": [0.0], "f0": [None]}
    p.write_bytes(journal.encode(header) + journal.encode(checkpoint))
    with pytest.raises(GreenAIError):
        recover_journal(p)


# ----------------------------------------------------------------------- standards
def _shipped_standard_text() -> str:
    from greenai.standard import resolve_standard

    return resolve_standard(None).read_text()


STANDARD_LINES = _shipped_standard_text().splitlines()


@FUZZ
@given(st.text(max_size=400))
def test_standard_loader_arbitrary_text(text):
    from greenai.standard import parse_standard

    with contextlib.suppress(GreenAIError):
        parse_standard(text, "fuzz.toml")


@FUZZ
@given(data=st.data())
def test_standard_loader_mutated_lines(data):
    from greenai.standard import parse_standard

    lines = list(STANDARD_LINES)
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(lines) - 1))
        key, sep, _ = lines[i].partition("=")
        if sep and data.draw(st.booleans()):
            value = data.draw(json_values)
            lines[i] = f"{key}= {json.dumps(value) if not isinstance(value, dict) else '{}'}"
        else:
            del lines[i]
    with contextlib.suppress(GreenAIError):
        parse_standard("\n".join(lines), "fuzz.toml")


# ----------------------------------------------------------------------- CodeCarbon CSV
@pytest.fixture(scope="module")
def emissions_text(tmp_path_factory) -> str:
    from tests.interop.test_codecarbon import _row, _write

    return _write(tmp_path_factory.mktemp("cc"), _row(), _row(run_id="b")).read_text()


@FUZZ
@given(data=st.data())
def test_codecarbon_csv_mutated(tmp_path: Path, emissions_text: str, data):
    from greenai.interop.codecarbon import from_codecarbon_csv

    header, *rows = emissions_text.splitlines()
    cells = [r.split(",") for r in rows]
    r = data.draw(st.integers(0, len(cells) - 1))
    c = data.draw(st.integers(0, len(cells[r]) - 1))
    cells[r][c] = data.draw(st.sampled_from(["", "nan", "-1", "inf", "x", "1e999", '"', "0"]))
    if data.draw(st.booleans()):
        header = ",".join(h for k, h in enumerate(header.split(",")) if k != c)
    p = tmp_path / "emissions.csv"
    p.write_text("\n".join([header, *(",".join(x) for x in cells)]) + "\n")
    try:
        docs = from_codecarbon_csv(p)
    except GreenAIError:
        return
    for doc in docs:
        Measurement.from_dict(doc)


@FUZZ
@given(st.binary(max_size=300))
def test_codecarbon_csv_bytes(tmp_path: Path, raw: bytes):
    from greenai.interop.codecarbon import from_codecarbon_csv

    p = tmp_path / "emissions.csv"
    p.write_bytes(raw)
    with contextlib.suppress(GreenAIError):
        from_codecarbon_csv(p)


def test_no_loader_executes_what_it_reads():
    """greenai never unpickles, evaluates or YAML-loads input."""
    import re

    package = Path(greenai.__file__).parent
    banned = re.compile(
        r"\bimport pickle\b|\bpickle\.loads?\(|(?<![.\w])eval\(|(?<![.\w])exec\("
        r"|yaml\.load\(|marshal\.loads\("
    )
    hits = [
        f"{p.relative_to(package)}:{n}"
        for p in package.rglob("*.py")
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if banned.search(line)
    ]
    assert hits == []


# ----------------------------------------------------------------------- bench summaries
SUMMARY_ROW = st.fixed_dictionaries(
    {"workload": st.text(min_size=1, max_size=10)},
    optional={
        "energy_per_unit_j": json_values,
        "throughput_units_per_s": json_values,
        "unit": json_values,
        "provenance": json_values,
        "file": json_values,
        "energy_grade": json_values,
        "verdict": json_values,
    },
)


@pytest.mark.filterwarnings("ignore:Glyph:UserWarning")  # odd characters are drawn as boxes
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(rows=st.lists(SUMMARY_ROW, max_size=3), skipped=json_values)
def test_bench_report_hostile_summaries(tmp_path: Path, rows, skipped):
    from greenai.bench.harness import load_results
    from greenai.report.bench import comparability, summary_html

    folder = tmp_path / "h"
    folder.mkdir(exist_ok=True)
    (folder / "summary.json").write_text(
        json.dumps(
            {
                "kind": "greenai.bench-summary",
                "host": "h",
                "suite": "s",
                "workloads": rows,
                "skipped": skipped,
            }
        )
    )
    try:
        summaries = load_results([tmp_path])
    except GreenAIError:
        return
    page = summary_html(summaries, comparisons=comparability(summaries))
    assert page.endswith("</html>\n")
