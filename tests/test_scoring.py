"""Scoring: indices, grades, conformance verdicts, the rating block, rate_many, comparisons."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from greenai.errors import DisclosureError
from greenai.meter import Meter
from greenai.probes import rapl
from greenai.probes.base import Method
from greenai.sampler import Sampler
from greenai.scoring import (
    DomainState,
    Population,
    Rating,
    RatingInput,
    compare_ratings,
    rate,
    rate_many,
)
from greenai.standard import GRADES, Bands, Standard, load_standard, parse_standard
from tests.fakes.clock import FakeClock
from tests.fakes.powercap import FakePowercap
from tests.fakes.probes import ClockProbe, constant

MINIMAL = Path(__file__).parent / "data" / "standards" / "minimal.toml"


@pytest.fixture(scope="module")
def std() -> Standard:
    return load_standard(MINIMAL)


@pytest.fixture(scope="module")
def any_index(std) -> Standard:
    """The minimal standard with no plausible range: every index can be graded."""
    tasks = {k: replace(t, plausible=(0.0, math.inf)) for k, t in std.tasks.items()}
    return replace(std, tasks=tasks)


def _input(**changes) -> RatingInput:
    """A conformant run of the minimal standard's 'classify' task: index 0.9 (grade B)."""
    base = RatingInput(
        task="classify",
        unit="query",
        units_done=1000.0,
        energy_j=0.9 * 2.0 * 3600,  # 0.9 x the 2 Wh/1000 query reference
        duration_s=60.0,
        domains={"cpu": DomainState("measured"), "gpu": DomainState("measured")},
        sampling_interval_s=0.1,
        water_l=0.01,
    )
    return replace(base, **changes)


def _meter_run(clock: FakeClock, sampler: Sampler, seconds: float, units: float, **kw) -> dict:
    task, unit = kw.pop("task", "text-classification"), kw.pop("unit", "query")
    # what text-classification holds fixed: its phase and the AI Energy Score dataset
    kw.setdefault("work", {"phase": "inference", "dataset": "EnergyStarAI/text_classification"})
    with Meter(task, unit, sampler=sampler, **kw) as m:
        for _ in range(round(seconds / 0.5)):
            clock.advance(0.5)
            sampler.sample()
        m.count(units)
    assert m.result is not None
    return json.loads(m.result.to_json())


# ----------------------------------------------------------------------- acceptance
def test_run_without_rapl_is_not_conformant_because_cpu_is_modelled(clock: FakeClock):
    probes = [
        ClockProbe("model:cpu", clock, constant(40.0), method=Method.MODEL, domain="cpu"),
        ClockProbe("nvml:0", clock, constant(250.0), domain="gpu"),
    ]
    sampler = Sampler(probes, clock=clock)
    sampler.sample()
    doc = _meter_run(clock, sampler, 120.0, 100_000)
    assert doc["domains"]["cpu"]["provenance"] == "modelled"
    rating = rate(RatingInput.from_disclosure(doc), load_standard())
    assert rating.energy.verdict == "not conformant: cpu energy modelled"
    assert rating.energy.grade is None
    # the index is still computed: (290 W x 120 s) / 100 000 queries vs 0.285 Wh/1000 queries
    assert rating.energy.index == pytest.approx(290 * 120 / 100_000 / (0.285 * 3.6), rel=1e-6)
    block = rating.to_dict()
    assert block["energy"]["verdict"] == "not conformant: cpu energy modelled"
    assert block["energy"]["index"] == rating.energy.index


def test_fake_rapl_run_long_enough_is_graded_and_doubling_energy_doubles_its_index(
    powercap: FakePowercap, clock: FakeClock
):
    powercap.add_zone("0", "package-0", power_w=30.0, max_power_uw=280_000_000)
    clock.on_advance(powercap.update)
    sampler = Sampler(rapl.discover().probes, interval_s=0.1, clock=clock)
    sampler.sample()
    doc = _meter_run(clock, sampler, 90.0, 10_000)
    assert doc["domains"]["cpu"]["provenance"] == "measured"
    assert doc["energy_j"] == pytest.approx(2700.0, rel=1e-3)
    std = load_standard()
    rating = rate(RatingInput.from_disclosure(doc), std)
    assert rating.energy.conformant and rating.energy.reasons == ()
    assert rating.energy.grade == std.tasks["text-classification"].bands.grade(rating.energy.index)
    assert rating.water.conformant and rating.water.grade is not None  # footprint computed

    doubled = dict(doc, energy_j=2 * doc["energy_j"])
    again = rate(RatingInput.from_disclosure(doubled), std)
    assert again.energy.index == 2 * rating.energy.index
    assert GRADES.index(again.energy.grade) >= GRADES.index(rating.energy.grade)


# ----------------------------------------------------------------------- properties
edges = st.lists(
    st.floats(min_value=1e-6, max_value=1e6, allow_nan=False), min_size=1, max_size=6, unique=True
).map(sorted)
indices = st.floats(min_value=0.0, max_value=1e9, allow_nan=False)


@given(edges=edges, a=indices, b=indices)
def test_grades_are_monotone_in_the_index(edges, a, b):
    bands = Bands.from_edges(edges)
    low, high = min(a, b), max(a, b)
    assert GRADES.index(bands.grade(low)) <= GRADES.index(bands.grade(high))


@settings(max_examples=200)
@given(edges=edges, energy_a=st.floats(1e-3, 1e9), energy_b=st.floats(1e-3, 1e9))
def test_rated_grades_are_monotone_in_energy(any_index, edges, energy_a, energy_b):
    std = any_index
    bands = Bands.from_edges(edges)
    task = replace(std.tasks["classify"], bands=bands, water_bands=bands)
    custom = replace(std, tasks={**std.tasks, "classify": task})
    low, high = (rate(_input(energy_j=e), custom) for e in sorted((energy_a, energy_b)))
    assert low.energy.index <= high.energy.index
    assert GRADES.index(low.energy.grade) <= GRADES.index(high.energy.grade)


@settings(max_examples=300)
@given(
    energy_j=st.floats(1e-6, 1e15),
    units_done=st.floats(1e-3, 1e12),
    water_l=st.floats(1e-9, 1e9),
)
def test_doubling_energy_doubles_the_index_exactly(any_index, energy_j, units_done, water_l):
    std = any_index
    inp = _input(energy_j=energy_j, units_done=units_done, water_l=water_l)
    once, twice = rate(inp, std), rate(inp.with_energy(2 * energy_j), std)
    assert twice.energy.index == 2 * once.energy.index
    assert twice.water.index == pytest.approx(2 * once.water.index, rel=1e-15)
    assert GRADES.index(twice.energy.grade) >= GRADES.index(once.energy.grade)


domain_states = st.one_of(
    st.none(),
    st.builds(DomainState, st.sampled_from(["measured", "modelled", "mixed"]), st.booleans()),
)
runs = st.builds(
    lambda task, unit, units_done, energy_j, duration_s, interval, reps, status, water, doms: (
        RatingInput(
            task=task,
            unit=unit,
            units_done=units_done,
            energy_j=energy_j,
            duration_s=duration_s,
            domains={d: s for d, s in zip(("cpu", "dram", "gpu"), doms, strict=True) if s},
            sampling_interval_s=interval,
            repetitions=reps,
            status=status,
            water_l=water,
            water_reason=None if water is not None else "no footprint block",
        )
    ),
    st.sampled_from(["classify", "sorting", "generate", "Classify", "unknown", None]),
    st.sampled_from(["query", "queries", "sample", "token", "image", None]),
    st.sampled_from([0.0, 1.0, 1000.0, 12345.5]),
    st.floats(0.0, 1e7),
    st.sampled_from([0.0, 5.0, 10.0, 3600.0]),
    st.sampled_from([None, 0.05, 1.0, 2.0]),
    st.integers(1, 3),
    st.sampled_from(["ok", "ok", "failed"]),
    st.one_of(st.none(), st.floats(0.0, 10.0)),
    st.tuples(domain_states, domain_states, domain_states),
)


@settings(max_examples=60)
@given(inputs=st.lists(runs, min_size=1, max_size=40))
def test_rate_many_agrees_with_rate(std, inputs):
    table = rate_many(Population.from_inputs(inputs), std)
    for i, inp in enumerate(inputs):
        one = rate(inp, std)
        for kind in ("energy", "water"):
            single = getattr(one, kind)
            index = float(getattr(table, f"{kind}_index")[i])
            assert (single.index is None) == math.isnan(index)
            if single.index is not None:
                assert index == single.index  # the same float operations, the same result
            assert table.grades(kind)[i] == single.grade
            assert bool(getattr(table, f"{kind}_conformant")[i]) == single.conformant
            assert table.reasons(i, kind) == single.reasons
        assert table.task[i] == one.task


# ----------------------------------------------------------------------- reasons
@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"duration_s": 5.0}, "run too short: 5 s < 10 s"),
        ({"sampling_interval_s": 2.0}, "sampling interval 2 s > 1 s"),
        ({"sampling_interval_s": None}, "sampling interval not disclosed"),
        ({"status": "failed"}, "run status 'failed', not 'ok'"),
        ({"domains": {"gpu": DomainState("measured")}}, "cpu energy not in the run"),
        (
            {"domains": {"cpu": DomainState("measured"), "gpu": DomainState("mixed")}},
            "gpu energy partly modelled",
        ),
        (
            {"domains": {"cpu": DomainState("measured"), "gpu": DomainState("measured", False)}},
            "gpu energy incomplete (a probe failed during the run)",
        ),
        (
            {"unit": "token"},
            "unit mismatch: the run counted 'token'; classify is rated per 1000 query",
        ),
        ({"unit": None}, "unit mismatch: the run names no unit; classify is rated per 1000 query"),
        ({"units_done": 0.0}, "no functional units counted"),
        ({"task": "protein-folding"}, "task 'protein-folding' is not a task class of test-2026.1"),
        ({"task": None}, "the run names no task"),
    ],
)
def test_each_failed_requirement_is_a_reason_and_withholds_the_grade(std, changes, reason):
    rating = rate(_input(**changes), std)
    assert reason in rating.energy.reasons
    assert not rating.energy.conformant and rating.energy.grade is None
    assert rating.energy.verdict.startswith("not conformant: ")


def test_every_failed_requirement_is_listed(std):
    inp = _input(
        duration_s=1.0,
        sampling_interval_s=5.0,
        domains={"cpu": DomainState("modelled"), "dram": DomainState("modelled")},
    )
    reasons = rate(inp, std).energy.reasons
    assert reasons == (
        "cpu energy modelled",
        "run too short: 1 s < 10 s",
        "sampling interval 5 s > 1 s",
    )


def test_idle_baseline_and_repetitions_when_the_standard_asks(std):
    strict = replace(std.tasks["classify"].requirements, idle_baseline=True, min_repetitions=3)
    task = replace(std.tasks["classify"], requirements=strict)
    custom = replace(std, tasks={**std.tasks, "classify": task})
    rating = rate(_input(repetitions=2), custom)
    assert rating.energy.reasons == ("no idle baseline measured", "2 repetition(s) < 3 required")
    assert rate(_input(repetitions=3, idle_baseline=True), custom).energy.conformant


def test_modelled_dram_is_allowed_when_only_cpu_and_gpu_must_be_measured(std):
    domains = {"cpu": DomainState("measured"), "dram": DomainState("modelled")}
    assert rate(_input(domains=domains), std).energy.conformant


def test_unit_aliases_plurals_and_task_aliases_are_accepted(std):
    for changes in ({"unit": "queries"}, {"unit": "sample"}, {"task": "Sorting"}):
        rating = rate(_input(**changes), std)
        assert rating.energy.conformant and rating.task == "classify"


def test_index_is_measured_over_reference_per_unit(std):
    rating = rate(_input(), std)
    assert rating.energy.index == pytest.approx(0.9)
    assert rating.energy.grade == "B" and rating.functional_unit == "1000 query"
    assert rating.energy.measured == pytest.approx(0.9 * 7200) and rating.energy.reference == 7200
    # water: 0.01 L over 1000 queries vs the derived 2 Wh x (0.5 + 1.25 x 2) L/kWh
    assert rating.water.reference == pytest.approx(0.002 * 3.0)
    assert rating.water.index == pytest.approx(0.01 / 0.006)


def test_no_footprint_leaves_water_ungraded_with_its_reason(std):
    rating = rate(_input(water_l=None, water_reason="footprint not computed (unknown grid)"), std)
    assert rating.energy.conformant
    assert rating.water.index is None and rating.water.grade is None
    assert rating.water.reasons == ("water not computed: footprint not computed (unknown grid)",)


# ----------------------------------------------------------------------- disclosure in and out
def _doc(**changes) -> dict:
    doc = {
        "status": "ok",
        "task": "classify",
        "unit": "query",
        "units_done": 1000,
        "duration_s": 60.0,
        "energy_j": 6480.0,
        "domains": {
            "cpu": {"energy_j": 1000.0, "provenance": "measured", "complete": True},
            "gpu": {"energy_j": 5480.0, "provenance": "measured", "complete": True},
        },
        "idle": None,
        "sampling": {"interval_s": 0.1},
        "footprint": {
            "computed": True,
            "water_l": {"onsite": 0.001, "offsite": 0.009, "total": 0.01},
        },
    }
    doc.update(changes)
    return doc


def test_from_disclosure_reads_the_result_json(std):
    inp = RatingInput.from_disclosure(_doc(repetitions=3, idle={"power_w": 5.0}))
    assert inp.repetitions == 3 and inp.idle_baseline and inp.water_l == 0.01
    assert inp.domains["gpu"] == DomainState("measured", True)
    assert rate(inp, std).energy.index == pytest.approx(0.9)
    no_site = {"computed": False, "reason": "no site"}
    not_computed = RatingInput.from_disclosure(_doc(footprint=no_site))
    assert not_computed.water_l is None and "no site" in not_computed.water_reason
    assert RatingInput.from_disclosure(_doc(footprint=None)).water_reason is not None


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"units_done": None}, "units_done"),
        ({"energy_j": -1.0}, "energy_j"),
        ({"energy_j": "a lot"}, "energy_j"),
        ({"repetitions": 0}, "repetitions"),
        ({"domains": {"cpu": {"energy_j": 1, "provenance": "guessed"}}}, "domains.cpu.provenance"),
        ({"task": 7}, "task"),
    ],
)
def test_from_disclosure_names_the_bad_field(changes, field):
    doc = _doc(**changes)
    if changes.get("units_done", 0) is None:
        del doc["units_done"]
    with pytest.raises(DisclosureError, match=field):
        RatingInput.from_disclosure(doc, source="run.json")


def test_rating_block_is_strict_json_and_reads_back(std):
    for inp in (_input(), _input(task="unknown"), _input(water_l=None)):
        rating = rate(inp, std)
        block = rating.to_dict()
        text = json.dumps(block, allow_nan=False)
        assert Rating.from_dict(json.loads(text)) == rating
        assert block["standard"] == {"id": "test-2026.1", "version": "2026.1", "status": "draft"}
        assert set(block["energy"]) == {
            "index",
            "grade",
            "conformant",
            "verdict",
            "reasons",
            "measured_j",
            "reference_j",
        }


# ----------------------------------------------------------------------- comparison
def test_compare_ratings_shows_where_grades_move(std):
    shifted = parse_standard(
        MINIMAL.read_text()
        .replace('id = "test-2026.1"', 'id = "test-2026.2"')
        .replace('version = "2026.1"', 'version = "2026.2"')
        .replace("A = [0.0, 0.5]\nB = [0.5, 1.0]", "A = [0.0, 0.95]\nB = [0.95, 1.0]")
        .replace("C = [1.0, 2.0]\nD = [2.0, inf]", "C = [1.0, 1.5]\nD = [1.5, inf]")
    )
    inputs = [
        _input(),  # 0.9: B -> A
        _input(energy_j=1.7 * 7200),  # 1.7: C -> D
        _input(energy_j=0.2 * 7200),  # 0.2: A -> A
        _input(duration_s=1.0),  # not graded under either
    ]
    labels = ["a.json", "b.json", "c.json", "d.json"]
    cmp = compare_ratings(inputs, shifted, against=std, labels=labels)
    assert [(r.label, r.grade_against, r.grade, r.change) for r in cmp.rows] == [
        ("a.json", "B", "A", "better"),
        ("b.json", "C", "D", "worse"),
        ("c.json", "A", "A", "same"),
        ("d.json", None, None, "not graded"),
    ]
    assert [r.label for r in cmp.moved] == ["a.json", "b.json"]
    assert cmp.summary()["better"] == 1 and cmp.summary()["worse"] == 1
    assert cmp.transitions()[("B", "A")] == 1
    assert (cmp.standard, cmp.against) == ("test-2026.2", "test-2026.1")


def test_compare_ratings_reports_runs_that_gain_or_lose_a_grade(std):
    stricter = replace(
        std,
        tasks={
            **std.tasks,
            "classify": replace(
                std.tasks["classify"],
                requirements=replace(std.tasks["classify"].requirements, min_duration_s=120.0),
            ),
        },
    )
    cmp = compare_ratings([_input()], stricter, against=std)
    assert cmp.rows[0].change == "no longer graded"
    assert compare_ratings([_input()], std, against=stricter).rows[0].change == "newly graded"


def test_population_rows_follow_rating_input_fields():
    from dataclasses import fields

    from greenai.scoring import _ROW_FIELDS

    assert tuple(f.name for f in fields(RatingInput)) == _ROW_FIELDS


def test_population_from_disclosures_reads_as_from_disclosure_does(std):
    docs = [
        _doc(),
        _doc(task="generate", unit="token"),
        _doc(units_done="many"),
        _doc(status="failed"),
    ]
    with pytest.raises(DisclosureError, match="#2: units_done"):
        Population.from_disclosures(docs)
    population = Population.from_disclosures(docs, labels=["a", "b", "c", "d"], skip_invalid=True)
    assert population.labels == ("a", "b", "d")
    assert len(population.skipped) == 1 and "c: units_done" in population.skipped[0]
    for i, doc in enumerate([docs[0], docs[1], docs[3]]):
        assert population.input(i) == RatingInput.from_disclosure(doc)


def test_rating_block_fits_the_disclosure_schema(clock: FakeClock):
    pytest.importorskip("jsonschema")
    from greenai.disclosure import validation_errors

    probes = [ClockProbe("rapl:package-0", clock, constant(40.0), domain="cpu")]
    sampler = Sampler(probes, clock=clock)
    sampler.sample()
    doc = _meter_run(clock, sampler, 70.0, 5000)
    for task in ("text-classification", "not-a-task"):
        doc["rating"] = rate(
            RatingInput.from_disclosure(dict(doc, task=task)), load_standard()
        ).to_dict()
        assert validation_errors(doc) == []


# ----------------------------------------------------------------------- third-party figures
def _imported(**changes) -> RatingInput:
    base = RatingInput(
        task="chat",
        unit="token",
        units_done=284.0,
        energy_j=2239.0,
        duration_s=9.5,
        domains={"gpu": DomainState("third-party")},
    )
    return replace(base, **changes)


def test_a_third_party_figure_is_indexed_but_not_graded_by_greenai():
    std = load_standard()
    rating = rate(_imported(), std)
    assert rating.energy.index is not None and rating.energy.grade is None
    text = "; ".join(rating.energy.reasons)
    assert "gpu energy is a third-party figure, not a greenai measurement" in text
    assert "gpu energy modelled" not in text  # third-party is not an estimate either
    assert rating.notes == (
        "third-party figure: gpu energy as published by its source, not a greenai "
        "measurement; cpu, dram, system energy and the site's PUE not counted",
    )
    assert Rating.from_dict(rating.to_dict()).notes == rating.notes
    assert rate(_imported(domains={"gpu": DomainState("measured")}), std).notes == ()


def test_a_class_that_accepts_third_party_figures_grades_them_with_the_note():
    from greenai.calibration import third_party_requirements

    std = load_standard("greenai-2026.1")  # text generation without size classes
    task = std.tasks["text-generation"]
    accepting = replace(
        std,
        tasks={**std.tasks, task.id: replace(task, requirements=third_party_requirements(["gpu"]))},
    )
    rating = rate(_imported(), accepting)
    assert rating.energy.grade is not None and rating.energy.conformant
    assert rating.notes  # graded, and still says what it is
    table = rate_many(Population.from_inputs([_imported(), _imported(energy_j=1.0)]), accepting)
    assert table.grades() == [
        rating.energy.grade,
        rate(_imported(energy_j=1.0), accepting).energy.grade,
    ]


@settings(max_examples=50, deadline=None)
@given(
    provenance=st.sampled_from(["measured", "modelled", "mixed", "third-party"]),
    interval=st.one_of(st.none(), st.floats(0.01, 5.0)),
    accepts=st.booleans(),
)
def test_rate_many_agrees_with_rate_for_third_party_figures(provenance, interval, accepts):
    from greenai.calibration import third_party_requirements

    std = load_standard("greenai-2026.1")  # text generation without size classes
    task = std.tasks["text-generation"]
    if accepts:
        std = replace(
            std,
            tasks={
                **std.tasks,
                task.id: replace(task, requirements=third_party_requirements(["gpu"])),
            },
        )
    inp = _imported(domains={"gpu": DomainState(provenance)}, sampling_interval_s=interval)
    one = rate(inp, std)
    many = rate_many(Population.from_inputs([inp]), std)
    assert many.grades() == [one.energy.grade]
    assert many.reasons(0) == one.energy.reasons


def test_counters_read_at_edges_have_no_sampled_interval_unless_a_device_was_sampled(std):
    edges = {"interval_s": 468.1, "energy_reads": "window edges"}
    counter = {"id": "rapl:package-0", "domain": "cpu", "method": "counter"}
    sampled = {"id": "nvml:0", "domain": "gpu", "method": "power"}

    def interval(**changes):
        inp = RatingInput.from_disclosure(_doc(sampling=edges, **changes))
        return inp.sampling_interval_s, rate(inp, std).energy.reasons

    assert interval() == (0.0, ())
    assert interval(devices=[counter]) == (0.0, ())
    # a device sampled for power contradicts "every figure a counter": its interval counts
    assert interval(devices=[counter, sampled]) == (468.1, ("sampling interval 468.1 s > 1 s",))
    plain = RatingInput.from_disclosure(_doc(sampling={"interval_s": 468.1}))
    assert plain.sampling_interval_s == 468.1
