"""Meter: context manager, decorator, units, phases, idle baseline, failures, round trip."""

from __future__ import annotations

import asyncio
import json
import math
import threading
import time

import pytest

import greenai
from greenai.measurement import Measurement
from greenai.meter import Meter, _shared
from greenai.probes.base import Method
from greenai.sampler import Sampler
from tests.fakes.clock import FakeClock
from tests.fakes.probes import ClockProbe, constant


def _sampler(clock: FakeClock, fail_at_s: float | None = None) -> Sampler:
    probes = [
        ClockProbe("rapl:package-0", clock, constant(40.0)),
        ClockProbe("rapl:package-0/core", clock, constant(30.0), counts_in_total=False),
        ClockProbe("model:dram", clock, constant(6.0), method=Method.MODEL, domain="dram"),
        ClockProbe("nvml:0", clock, constant(250.0), domain="gpu", fail_at_s=fail_at_s),
    ]
    s = Sampler(probes, clock=clock)
    s.sample()
    return s


def _run(clock: FakeClock, s: Sampler, seconds: float) -> None:
    for _ in range(round(seconds / 0.1)):
        clock.advance(0.1)
        s.sample()


def test_energy_per_domain_device_and_unit(clock: FakeClock):
    s = _sampler(clock)
    with Meter("image-classification", "sample", sampler=s) as m:
        _run(clock, s, 2.0)
        m.count(64)
        m.count(36)
    r = m.result
    assert r.status == "ok" and r.duration_s == pytest.approx(2.0)
    assert r.by_domain == pytest.approx({"cpu": 80.0, "dram": 12.0, "gpu": 500.0})
    assert r.energy_j == pytest.approx(592.0)  # core (inside package) is not added
    assert r.by_device["rapl:package-0/core"] == pytest.approx(60.0)
    assert r.energy_per_unit_j == pytest.approx(5.92)
    assert r.domains["dram"].provenance == "modelled" and r.domains["gpu"].provenance == "measured"
    assert r.provenance == "mixed"
    assert r.timeline is not None and len(r.timeline.t_s) == 20
    assert r.timeline.power_w["nvml:0"][5] == pytest.approx(250.0)


def test_user_exception_propagates_unchanged_and_result_is_kept(clock: FakeClock):
    s = _sampler(clock)
    boom = RuntimeError("diverged")
    m = Meter("training", "sample", sampler=s)
    with pytest.raises(RuntimeError) as info, m:
        _run(clock, s, 1.5)
        m.count(10)
        raise boom
    assert info.value is boom
    r = m.result
    assert r.status == "failed" and r.error == {"type": "RuntimeError", "message": "diverged"}
    assert r.energy_j == pytest.approx(1.5 * 296.0)
    assert r.units_done == 10


def test_keyboard_interrupt_is_interrupted(clock: FakeClock):
    s = _sampler(clock)
    m = Meter(sampler=s)
    with pytest.raises(KeyboardInterrupt), m:
        _run(clock, s, 0.5)
        raise KeyboardInterrupt
    assert m.result.status == "interrupted" and m.result.energy_j > 0


def test_phases_accumulate_and_count_units(clock: FakeClock):
    s = _sampler(clock)
    with Meter(sampler=s) as m:
        for _ in range(3):
            with m.phase("train"):
                _run(clock, s, 1.0)
                m.count(100)
            with m.phase("eval"):
                _run(clock, s, 0.2)
    phases = {p.name: p for p in m.result.phases}
    assert phases["train"].duration_s == pytest.approx(3.0)
    assert phases["train"].energy_j == pytest.approx(3.0 * 296.0)
    assert phases["train"].units == 300 and phases["eval"].units == 0
    assert phases["eval"].by_domain["gpu"] == pytest.approx(0.6 * 250.0)
    assert m.result.units_done == 300


def test_idle_baseline_gives_net_energy(clock: FakeClock):
    load = {"on": False}
    probe = ClockProbe("p", clock, lambda _t: 100.0 if load["on"] else 20.0)
    s = Sampler([probe], clock=clock)
    s.sample()
    m = Meter(sampler=s, idle_baseline_s=5.0, sleep=clock.advance)
    m.start()
    load["on"] = True
    _run(clock, s, 2.0)
    r = m.stop()
    assert r.idle.power_w == pytest.approx(20.0)
    assert r.energy_j == pytest.approx(200.0)
    assert r.idle.net_energy_j == pytest.approx(160.0)


def test_failed_gpu_mid_run(clock: FakeClock):
    s = _sampler(clock, fail_at_s=clock() + 1.0)
    with pytest.warns(Warning), Meter(sampler=s) as m:
        _run(clock, s, 3.0)
    gpu = next(d for d in m.result.devices if d.id == "nvml:0")
    assert gpu.status == "failed" and gpu.failed_at_s == pytest.approx(1.0)
    assert m.result.by_domain["cpu"] == pytest.approx(120.0)


def test_round_trip_through_json(tmp_path, clock: FakeClock):
    s = _sampler(clock)
    out = tmp_path / "run.json"
    with Meter("text-generation", "token", sampler=s, output=str(out)) as m:
        with m.phase("prefill"):
            _run(clock, s, 0.3)
        m.count(17)
    loaded = greenai.load(out)
    assert loaded == m.result
    assert loaded.energy_per_unit_j == m.result.energy_per_unit_j
    doc = json.loads(out.read_text())
    assert doc["schema_version"] == "1.0" and doc["greenai_version"] == greenai.__version__
    assert len(doc.pop("integrity")["sha256"]) == 64
    assert Measurement.from_dict(doc).to_dict() == doc


def test_bad_result_file_names_the_field(tmp_path):
    p = tmp_path / "bad.json"
    p.write_text(json.dumps({"schema_version": "1.0", "status": "ok", "units_done": "many"}))
    with pytest.raises(greenai.DisclosureError, match="units_done: expected a finite number"):
        greenai.load(p)
    p.write_text("{not json")
    with pytest.raises(greenai.DisclosureError, match="line 1 column 2"):
        greenai.load(p)


def test_decorator_sync_and_async():
    @greenai.measure(task="text-generation", unit="token", units=len, interval_s=0.01)
    def generate(prompt: str) -> list[str]:
        return prompt.split()

    assert generate("a b c") == ["a", "b", "c"]
    r = generate.last_result
    assert r.units_done == 3 and r.status == "ok" and r.energy_j > 0

    @greenai.measure(task="embeddings", unit="query", units=1)
    async def embed(x: int) -> int:
        await asyncio.sleep(0.01)
        return x * 2

    assert asyncio.run(embed(4)) == 8
    assert embed.last_result.units_done == 1 and embed.last_result.duration_s >= 0.01

    @greenai.measure()
    def explode() -> None:
        raise ValueError("bad input")

    with pytest.raises(ValueError, match="bad input"):
        explode()
    assert explode.last_result.status == "failed"


def test_nested_meters_share_one_sampler():
    with greenai.meter(interval_s=0.01) as outer:
        sampler = _shared._sampler
        with greenai.meter() as inner:
            assert _shared._sampler is sampler
            sum(range(200_000))
        sum(range(200_000))
    assert _shared._sampler is sampler and sampler.parked  # kept, parked: no reads
    taken = sampler.samples
    time.sleep(0.05)
    assert sampler.samples == taken
    assert outer.result.energy_j > inner.result.energy_j > 0
    assert math.isclose(outer.result.sampling["interval_s"], 0.01)
    threads = {t.ident for t in threading.enumerate() if t.name == "greenai-sampler"}
    with greenai.meter() as again:  # the next window wakes the same sampler and thread
        assert _shared._sampler is sampler and not sampler.parked
        assert {t.ident for t in threading.enumerate() if t.name == "greenai-sampler"} == threads
        sum(range(200_000))
    assert again.result.energy_j > 0 and not again.result.gaps


def test_greenai_problems_never_raise_into_user_code(tmp_path):
    target = tmp_path / "file"
    target.write_text("")
    m = greenai.meter(output=str(target / "sub" / "run.json"))
    with pytest.warns(greenai.GreenAIWarning, match="could not write"), m:
        pass
    assert m.result is not None and m.result.status == "ok"


def test_the_readme_api_with_a_site(clock: FakeClock):
    import sys

    assert greenai.Site is sys.modules["greenai.site"].Site  # lazily exported
    s = _sampler(clock)
    site = greenai.Site.from_preset("hyperscale").with_overrides(grid="FR")
    with greenai.meter(task="training", unit="sample", site=site, sampler=s) as m:
        _run(clock, s, 1.0)
        m.count(10)
    fp = m.footprint
    assert fp.water_l.total == pytest.approx(fp.water_l.onsite + fp.water_l.offsite)
    assert fp.facility_energy_j == pytest.approx(m.result.energy_j * 1.1)
    assert m.result.site is not None and m.result.site.grid == "FR"
    assert m.rating.energy.index is not None or m.rating.energy.reasons
    with pytest.raises(AttributeError):
        greenai.no_such_thing  # noqa: B018


def test_result_is_assembled_on_first_use_unless_it_must_be_written(tmp_path, clock: FakeClock):
    s = _sampler(clock)
    with Meter("t", "sample", sampler=s) as m:
        _run(clock, s, 1.0)
    assert m._result is None  # __exit__ only took the closing snapshot
    clock.advance(5.0)  # time passing before the result is read changes nothing
    s.sample()
    assert m.result.duration_s == pytest.approx(1.0)
    assert m.result.energy_j == pytest.approx(296.0)
    out = tmp_path / "r.json"
    with Meter(sampler=s, output=out) as m2:
        _run(clock, s, 0.5)
    assert out.exists() and m2._result is not None


def test_a_meter_whose_unit_does_not_fit_its_class_is_warned_naming_both():
    import warnings as _w

    from greenai.errors import GreenAIWarning

    with pytest.warns(GreenAIWarning, match=r"class 'training' of greenai-2026\.\d: .*count token"):
        Meter("training", "sample", handle_signals=False)
    with _w.catch_warnings():
        _w.simplefilter("error")
        Meter("training", "token", handle_signals=False)  # fits: nothing said
        Meter("image-classification", "sample", handle_signals=False)  # an alias of image
        Meter("no-such-task", "sample", handle_signals=False)  # left to the rating
        Meter(None, None, handle_signals=False)


def test_training_metered_under_an_inference_class_is_warned():
    from greenai.meter import warn_unfit
    from greenai.standard import fit_warning, load_standard

    std = load_standard()
    text = fit_warning(std, "image-classification", "image", "training")
    assert text and "rates inference, not training" in text and "'training' (per token)" in text
    assert fit_warning(std, "training", "token", "training") is None
    assert "rates training, not inference" in fit_warning(std, "training", "token", "inference")
    with pytest.warns(Warning, match="image-classification"):
        assert warn_unfit("image-classification", "image", phase="training")


def test_a_live_result_defers_its_assessment_and_equals_the_eager_one(tmp_path, clock: FakeClock):
    import copy
    import dataclasses
    import pickle

    from greenai.assessment import ASSESSED, assess

    s = _sampler(clock)
    site = greenai.Site.from_preset("hyperscale").with_overrides(grid="FR")
    out = tmp_path / "r.json"
    with Meter("training", "token", sampler=s, site=site) as m:
        _run(clock, s, 2.0)
        m.count(10)
    r = m.result
    # m.result is the window's accounting; devices, timeline and the assessment wait
    assert not {*ASSESSED, "devices", "timeline"} & set(vars(r))
    plain = {f: None for f in ASSESSED}
    eager = assess(dataclasses.replace(r, **plain), site)  # what m.result was before
    assert not set(ASSESSED) & set(vars(r))  # replace read devices and timeline only
    assert r.footprint is not None and r.footprint is m.footprint  # computed once, kept
    assert r == eager and r.to_dict() == eager.to_dict()
    assert m.rating == eager.rating and r.embodied == eager.embodied
    assert r.devices == eager.devices and r.timeline == eager.timeline
    # a deferred result pickles and copies as the values it stands for
    lazy = Meter("training", "token", sampler=s, site=site, output=out)
    with lazy:
        _run(clock, s, 0.5)
    again = Meter("training", "token", sampler=s, site=site)
    with again:
        _run(clock, s, 0.5)
    assert pickle.loads(pickle.dumps(again.result)) == again.result
    assert copy.deepcopy(again.result).footprint == again.result.footprint
    # the output written on exit carries the same blocks the result gives when read
    assert greenai.load(out).to_dict()["footprint"] == lazy.result.to_dict()["footprint"]


def test_a_deferred_site_problem_warns_when_the_footprint_is_first_read(clock: FakeClock):
    s = _sampler(clock)
    with Meter("t", "sample", sampler=s, site="no-such-site-preset") as m:
        _run(clock, s, 0.5)
    r = m.result
    with pytest.warns(greenai.GreenAIWarning, match="footprint not computed"):
        fp = r.footprint
    assert fp is not None and not fp.computed and r.site is None


def test_counters_read_at_edges_meet_the_sampling_limit_and_sampled_power_must_meet_it(
    clock: FakeClock,
):
    # the standard's max_sampling_interval_s (1 s) bounds sampled power; a hardware energy
    # counter integrates on the device, so edges minutes apart lose nothing
    def rated(method: Method, interval_s: float) -> tuple[dict, tuple[str, ...]]:
        probe = ClockProbe("rapl:package-0", clock, constant(40.0), method=method)
        probe.wrap_j, probe.max_power_w = 262_143.0, 280.0  # a wrap guard every ~468 s
        s = Sampler([probe], interval_s, clock=clock, timeline_hz=0)
        s.sample()
        with Meter("image-classification", "image", sampler=s) as m:
            for _ in range(round(70 / interval_s)):
                clock.advance(interval_s)
                s.sample()
            m.count(1000)
        return m.result.sampling, m.rating.energy.reasons

    sampling, reasons = rated(Method.COUNTER, 10.0)
    assert sampling["energy_reads"] == "window edges" and sampling["interval_s"] > 400
    assert not [r for r in reasons if "sampling interval" in r], reasons
    sampling, reasons = rated(Method.POWER, 2.0)
    assert "energy_reads" not in sampling and sampling["interval_s"] == 2.0
    assert "sampling interval 2 s > 1 s" in reasons
