"""A loaded result has one face: the same typed blocks as the Meter's, new and old files alike."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import greenai
from greenai.footprint import Footprint
from greenai.meter import Meter
from greenai.sampler import Sampler
from greenai.scoring import Rating
from greenai.site import Site
from tests.fakes.clock import FakeClock
from tests.fakes.probes import ClockProbe, constant

REFERENCE = Path(__file__).resolve().parents[1] / "reports" / "reference" / "smoke" / "vm"


def _run() -> Meter:
    clock = FakeClock()
    s = Sampler([ClockProbe("rapl:package-0", clock, constant(40.0))], clock=clock)
    s.sample()
    with Meter("embeddings", "query", sampler=s, handle_signals=False, site="hyperscale") as m:
        for _ in range(20):
            clock.advance(0.5)
            s.sample()
        m.count(1000)
    return m


def test_loaded_blocks_are_the_typed_values_the_meter_gave(tmp_path: Path):
    m = _run()
    path = m.result.save(tmp_path / "r.json")
    loaded = greenai.load(path)
    assert isinstance(loaded.footprint, Footprint) and loaded.footprint == m.footprint
    assert isinstance(loaded.rating, Rating) and loaded.rating == m.rating
    assert isinstance(loaded.site, Site) and loaded.site.name == "hyperscale"
    assert not {"site", "footprint", "rating"} & set(loaded.extra)
    assert loaded.footprint.water_l.total == pytest.approx(m.footprint.water_l.total)
    assert loaded.rating.energy.index == pytest.approx(m.rating.energy.index)
    # the typed form writes back the same document (so the content hash still matches)
    saved = json.loads(path.read_text())
    saved.pop("integrity")
    assert loaded.to_dict() == saved


def test_an_unknown_future_block_stays_in_extra(tmp_path: Path):
    doc = _run().result.to_dict()
    doc["carbon_offsets"] = {"kind": "from a later greenai"}
    path = tmp_path / "future.json"
    path.write_text(json.dumps(doc))
    loaded = greenai.load(path)
    assert loaded.extra == {"carbon_offsets": {"kind": "from a later greenai"}}
    assert loaded.to_dict()["carbon_offsets"] == doc["carbon_offsets"]


def test_reference_result_and_an_old_0_1_file_both_give_water_and_grade(tmp_path: Path):
    new = greenai.load(REFERENCE / "embed-infer.json")
    assert new.footprint.water_l.total > 0
    assert new.rating.energy.grade is None  # modelled CPU energy is never graded
    assert "cpu energy modelled" in new.rating.energy.reasons
    doc = json.loads((REFERENCE / "embed-infer.json").read_text())
    old = {k: v for k, v in doc.items() if k not in ("site", "footprint", "rating", "integrity")}
    old["schema_version"] = "0.1"  # the first format: no site, footprint or rating blocks
    path = tmp_path / "old.json"
    path.write_text(json.dumps(old))
    loaded = greenai.load(path)
    # completed as the Meter would have: the default site, the default standard
    assert loaded.footprint.water_l.total > 0
    assert loaded.site.name == Site.default().name
    assert loaded.rating.standard_id == "greenai-2026.3"
    assert loaded.rating.energy.grade is None and loaded.rating.energy.index > 0
    assert json.loads(path.read_text()) == old  # the file itself is not changed
    with_site = greenai.load(path, site="hyperscale")
    assert with_site.footprint.water_l.total < loaded.footprint.water_l.total


@pytest.mark.parametrize(
    ("block", "value", "message"),
    [
        ("rating", {"standard": {"id": "x"}}, "rating.standard: missing version, status"),
        ("rating", "A", "rating: expected an object"),
        ("footprint", {"water_l": 3}, "footprint"),
    ],
)
def test_a_malformed_block_names_the_file_and_field(tmp_path: Path, block, value, message):
    doc = _run().result.to_dict()
    doc[block] = value
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(greenai.DisclosureError, match=message) as err:
        greenai.load(path)
    assert str(path) in str(err.value)


def test_a_file_written_by_the_first_greenai_loads_with_water_and_a_rating():
    # written by `greenai demo` at commit 0a922fa (schema 0.1), kept as it was written
    path = Path(__file__).parent / "data" / "results" / "demo-schema-0.1.json"
    assert json.loads(path.read_text())["schema_version"] == "0.1"
    m = greenai.load(path)
    assert m.footprint.water_l.total > 0
    assert m.rating.energy.grade is None
    assert m.rating.energy.verdict.startswith("not conformant: task 'demo-gemm'")


@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_write_atomic_honours_the_umask(tmp_path: Path, mask: int, mode: int) -> None:
    from greenai.measurement import write_atomic

    old = os.umask(mask)
    try:
        path = write_atomic(tmp_path / "out.html", "<p>x</p>\n")
    finally:
        os.umask(old)
    assert path.read_text() == "<p>x</p>\n"
    assert oct(path.stat().st_mode & 0o777) == oct(mode)
    assert [p.name for p in tmp_path.iterdir()] == ["out.html"]  # no temp file left


def test_imported_files_written_beside_honour_the_umask_too(tmp_path: Path) -> None:
    from greenai.safepath import create_unique

    old = os.umask(0o022)
    try:
        first = create_unique(tmp_path, "codecarbon-0000", ".json", "{}\n")
        second = create_unique(tmp_path, "codecarbon-0000", ".json", "{}\n")
    finally:
        os.umask(old)
    assert first != second
    assert {oct(p.stat().st_mode & 0o777) for p in (first, second)} == {"0o644"}


@pytest.mark.parametrize(
    ("where", "bad"),
    [
        ("timeline", float("inf")),
        ("timeline", float("nan")),
        ("timeline", True),
        ("timeline", "1.0"),
        ("idle", float("-inf")),
        ("idle", False),
    ],
)
def test_per_block_type_checks_still_refuse_each_bad_number(where: str, bad: object):
    doc = _run().result.to_dict()
    assert doc["timeline"] is not None
    if where == "timeline":
        series = next(iter(doc["timeline"]["power_w"].values()))
        series[len(series) // 2] = bad
    else:
        doc["idle"] = {
            "duration_s": 1.0,
            "power_w": 2.0,
            "power_by_domain_w": {"cpu": bad},
            "net_energy_j": 0.0,
            "net_by_domain_j": {},
        }
    with pytest.raises(greenai.DisclosureError, match=where):
        greenai.Measurement.from_dict(doc, "r.json")
    series_ok = greenai.Measurement.from_dict(_run().result.to_dict(), "r.json")
    assert series_ok.timeline is not None


def test_deferred_fields_are_filled_once_on_first_read_and_stay_frozen():
    import dataclasses

    from greenai.measurement import Measurement

    m = Measurement("ok", None, None, 0.0, "", 1.0, {}, ())
    calls = []

    def fill(x: Measurement) -> dict:
        calls.append(x)
        return {"site": "s", "rating": "r"}

    m._defer(("site", "rating"), fill)
    assert m.rating == "r" and m.site == "s" and m.rating == "r"
    assert calls == [m]  # one fill for the group, whichever field is read first
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.site = "other"  # type: ignore[misc]
    assert m == dataclasses.replace(m)  # the copy holds the filled values


def test_a_deferred_fill_that_raises_is_retried_on_the_next_read():
    from greenai.measurement import Measurement

    m = Measurement("ok", None, None, 0.0, "", 1.0, {}, ())
    outcomes = [RuntimeError("first"), {"site": "s", "rating": "r"}]

    def fill(_: Measurement) -> dict:
        out = outcomes.pop(0)
        if isinstance(out, Exception):
            raise out
        return out

    m._defer(("site", "rating"), fill)
    with pytest.raises(RuntimeError, match="first"):
        _ = m.rating
    assert m.site == "s" and m.rating == "r" and not outcomes


@pytest.mark.parametrize("key", ["it_energy_j", "facility_energy_j", "water_l", "carbon_g"])
def test_a_computed_footprint_without_a_figure_is_refused_naming_it(tmp_path, key):
    ref = Path(__file__).resolve().parents[1] / "reports" / "reference" / "smoke" / "vm"
    doc = json.loads((ref / "gemm-512.json").read_text())
    del doc["footprint"][key]  # was: a TypeError or AttributeError from the embodied step
    (tmp_path / "r.json").write_text(json.dumps(doc))
    with pytest.raises(greenai.GreenAIError, match=rf"footprint\.{key}: missing, but the"):
        greenai.load(tmp_path / "r.json")
