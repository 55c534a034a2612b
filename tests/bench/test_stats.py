"""Intervals of positive quantities stay positive, contain the mean, and cover ~95 %."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from greenai.bench.stats import LOG_T, PLAIN_T, SINGLE, Summary, summarise, t975

positive = st.floats(min_value=1e-12, max_value=1e12, allow_nan=False, allow_infinity=False)


@given(st.lists(positive, min_size=2, max_size=40))
def test_interval_of_positive_values_is_positive_and_contains_the_mean(values):
    s = summarise(values)
    assert s.method == LOG_T
    assert 0 < s.ci95_low <= s.mean <= s.ci95_high
    assert s.ci95_relative is not None and s.ci95_relative >= 0


@given(st.lists(positive, min_size=2, max_size=40))
def test_interval_is_wider_above_than_below(values):
    s = summarise(values)
    assert s.ci95_high - s.mean >= (s.mean - s.ci95_low) * (1 - 1e-9)


def test_values_that_can_be_negative_get_the_plain_t_interval():
    s = summarise([-1.0, 1.0, 3.0])
    assert s.method == PLAIN_T
    half = t975(2) * 2.0 / math.sqrt(3)
    assert (s.ci95_low, s.ci95_high) == pytest.approx((1 - half, 1 + half))


def test_one_value_has_no_interval_and_is_always_wider_than_a_target():
    s = summarise([2.0])
    assert s.method == SINGLE and s.ci95_relative is None and s.wider_than(0.5)


def test_json_round_trip_and_old_files_read_as_plain_t():
    s = summarise([1.0, 1.1, 0.9])
    assert Summary.from_dict(s.to_dict()) == s
    old = {"n": 3, "mean": 1.0, "std": 0.1, "ci95_low": 0.75, "ci95_high": 1.25}
    assert Summary.from_dict(old).method == PLAIN_T


@pytest.mark.parametrize(("sigma", "n"), [(0.05, 3), (0.1, 5), (0.3, 5), (0.3, 10)])
def test_coverage_is_about_95_percent_on_log_normal_noise(sigma, n):
    rng = np.random.default_rng(7)
    trials = 4000
    samples = rng.lognormal(mean=0.0, sigma=sigma, size=(trials, n))
    true_mean = math.exp(sigma**2 / 2)  # the mean of the log-normal distribution
    covered = 0
    for row in samples:
        s = summarise(row.tolist())
        covered += s.ci95_low <= true_mean <= s.ci95_high
    # measured: 0.94-0.955 for these cases; 4000 trials give a binomial sd of 0.0034
    assert 0.93 <= covered / trials <= 0.97
