"""Pure search functions: scoring, ranking, the golden-section descent, Pareto front, saving."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from greenai.bench.stats import summarise
from greenai.optimize.search import (
    Window,
    best,
    next_setting,
    pareto_front,
    saving,
    score,
)

ALLOWED = tuple(float(v) for v in range(200, 701, 25))


def _scored(setting, energy_per_unit, speed, base=None, bound=None):
    return score(setting, [Window(energy_per_unit * speed, speed, 1.0)] * 3, base, bound)


def test_score_units_and_slowdown():
    base = [Window(600.0, 100.0, 1.0), Window(600.0, 100.0, 1.0)]
    s = score(400.0, [Window(450.0, 90.0, 1.0), Window(450.0, 90.0, 1.0)], base, 0.05)
    assert s.energy_per_unit_j.mean == pytest.approx(5.0)
    assert s.throughput_units_per_s == pytest.approx(90.0)
    assert s.slowdown == pytest.approx(100 / 90 - 1)
    assert not s.feasible  # 11 % slower than the baseline breaks a 5 % bound
    assert s.edp_j_s == pytest.approx(5.0 / 90.0)


def test_infeasible_ranks_below_every_feasible():
    base = [Window(100.0, 10.0, 1.0)]
    fast = _scored(700.0, 10.0, 10.0, base, 0.05)
    frugal_but_slow = _scored(300.0, 1.0, 5.0, base, 0.05)
    assert best([fast, frugal_but_slow], "energy") is fast
    assert best([fast, frugal_but_slow], "energy") is fast


def test_near_ties_go_to_the_lower_setting():
    a, b = _scored(700.0, 1.0, 10.0), _scored(500.0, 1.0 + 1e-4, 10.0)
    assert best([a, b], "energy").setting == 500.0
    c = _scored(400.0, 1.1, 10.0)
    assert best([a, b, c], "energy").setting == 500.0


@given(st.integers(0, len(ALLOWED) - 1), st.floats(0.0, 3.0))
def test_descent_finds_the_minimum_of_any_unimodal_curve_in_a_third(opt_index, slope):
    def energy(v: float) -> float:
        return 1.0 + abs(ALLOWED.index(v) - opt_index) * (0.01 + slope)

    scored = {}
    while (v := next_setting(ALLOWED, scored, "energy")) is not None:
        assert v not in scored  # never measures a value twice
        scored[v] = _scored(v, energy(v), 10.0)
    assert best(list(scored.values()), "energy").setting == ALLOWED[opt_index]
    assert len(scored) <= len(ALLOWED) / 3


def test_descent_starts_at_the_default_and_stops_at_a_bound_breaker():
    assert next_setting(ALLOWED, {}, "energy") == 700.0
    base = [Window(700.0, 1.0, 1.0)]
    scored = {700.0: score(700.0, base)}
    first = next_setting(ALLOWED, scored, "energy")
    scored[first] = _scored(first, 0.5, 0.5, base, 0.05)  # cheaper but 2x slower: infeasible
    following = next_setting(ALLOWED, scored, "energy")
    assert following > first  # nothing below a bound breaker is tried


@given(st.lists(st.tuples(st.floats(0.1, 10), st.floats(0.1, 10)), min_size=1, max_size=12))
def test_pareto_front_is_undominated_and_dominates_the_rest(points):
    front = pareto_front(points)
    assert front
    for i in front:
        e, x = points[i]
        assert not any(oe < e and ox > x for oe, ox in points)
    for j, (e, x) in enumerate(points):
        if j not in front:
            assert any(points[i][0] <= e and points[i][1] >= x for i in front)


@given(
    st.lists(st.floats(1, 2), min_size=2, max_size=8),
    st.lists(st.floats(1, 2), min_size=2, max_size=8),
)
def test_saving_interval_contains_the_estimate(chosen, baseline):
    cut = saving(summarise(chosen), summarise(baseline))
    assert cut.ci95_low <= cut.fraction <= cut.ci95_high
    assert cut.fraction == pytest.approx(
        1 - (math.fsum(chosen) / len(chosen)) / (math.fsum(baseline) / len(baseline))
    )


def test_unknown_objective_is_refused():
    with pytest.raises(ValueError, match="objective"):
        best([_scored(700.0, 1.0, 1.0)], "speed")
