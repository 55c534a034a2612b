"""greenai/units.py, the one formatter for people: one spelling per figure, no exponents."""

from __future__ import annotations

import re

import pytest

from greenai import units

EXPONENT = re.compile(r"\d[eE][+-]?\d")


@pytest.mark.parametrize(
    ("value", "unit", "shown"),
    [
        (3.1378e-6, "pflop", "3.14 GFLOP"),
        (11014, "GFLOP", "11.0 TFLOP"),
        (11014, "gflop", "11.0 TFLOP"),
        (8852800, "query", "8,852,800 query"),
        (2.5e9, "token", "2.50 G token"),
        (1000, None, "1,000 unit"),
        (2.5, "sample", "2.50 sample"),
    ],
)
def test_amount_has_one_spelling(value, unit, shown):
    assert units.amount(value, unit) == shown


@pytest.mark.parametrize(
    ("value", "shown"), [(9.161e-06, "0.00000916"), (260.597, "261"), (1.0, "1.00"), (0.5, "0.500")]
)
def test_index_is_a_plain_number_with_three_significant_digits(value, shown):
    assert units.index(value) == shown


def test_percent_plain_and_placement_never_use_exponents():
    assert units.percent(443.36) == "44,336 %" and units.percent(0.025) == "2.5 %"
    assert units.plain(2.092e-06) == "0.000002092" and units.plain(3.0) == "3"
    assert units.placement(1, 23) == "best of 23"
    assert units.placement(5, 23) == "rank 5 of 23, top 22 %"
    assert units.placement(24, 23) == "above all 23"
    for value in (1.1e7, 2.3e-8, 4.56e-5, 7e12):
        for text in (units.plain(value), units.index(value), units.percent(value)):
            assert not EXPONENT.search(text), text


@pytest.mark.parametrize("value", [2.2681883640464665e-05, 1e-300, 1.7e308, 0.1, 123456789.125])
def test_machine_form_is_exact_and_has_no_exponent(value):
    text = units.machine(value)
    assert "e" not in text.lower() and float(text) == value


def test_duration_reads_at_every_scale():
    assert [units.duration(s) for s in (0.121, 12.34, 125, 3725)] == [
        "121 ms",
        "12.3 s",
        "2 min 05 s",
        "1 h 02 min",
    ]


def test_si_axis_ticks_have_no_offset_text():
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure()
    ax = fig.add_subplot()
    ax.plot([0, 1, 2], [1.0e-7, 1.5e-7, 3.0e-7])
    units.si_axis(ax.yaxis, "L")
    fig.canvas.draw()
    labels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    assert labels and all(label.endswith("nL") for label in labels), labels
    assert ax.yaxis.get_offset_text().get_text() == ""
