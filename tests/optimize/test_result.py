"""The optimisation block: JSON round trip, strict loading, and the disclosure schema."""

from __future__ import annotations

import copy

import pytest

from greenai.disclosure import validation_errors
from greenai.errors import DisclosureError
from greenai.optimize.result import Optimisation
from greenai.optimize.search import Window, score


def _block(provenance="measured") -> Optimisation:
    base = [Window(700.0, 1.0, 1.0)] * 3
    return Optimisation.build(
        knob="gpu_power_limit",
        knob_unit="W",
        mode="online",
        objective="energy",
        max_slowdown=0.05,
        original=700.0,
        baseline=700.0,
        scored=[score(700.0, base), score(400.0, [Window(400.0, 0.97, 1.0)] * 3, base, 0.05)],
        provenance=provenance,
        restored=True,
    )


def test_round_trip_and_roles():
    block = _block()
    assert Optimisation.from_dict(block.to_dict()) == block
    assert [c.role for c in block.candidates] == ["baseline", "chosen"]
    assert block.saving == pytest.approx(1 - (400 / 0.97) / 700)
    assert block.graded


def test_a_modelled_saving_is_never_graded():
    block = _block("modelled")
    assert not block.graded
    doc = block.to_dict()
    doc["graded"] = True
    with pytest.raises(DisclosureError, match=r"optimisation\.graded"):
        Optimisation.from_dict(doc)


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("mode",), "sometimes", "optimisation.mode"),
        (("saving",), "lots", "optimisation.saving"),
        (("candidates", 1, "slowdown"), float("nan"), "optimisation.candidates[1].slowdown"),
        (("candidates", 0, "role"), "winner", "optimisation.candidates[0].role"),
        (("candidates",), {}, "optimisation.candidates"),
        (("restored",), "yes", "optimisation.restored"),
    ],
)
def test_from_dict_names_the_bad_field(path, value, field):
    doc = copy.deepcopy(_block().to_dict())
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(DisclosureError, match=field.replace("[", r"\[").replace("]", r"\]")):
        Optimisation.from_dict(doc)


def test_missing_field_is_named():
    doc = _block().to_dict()
    del doc["chosen"]
    with pytest.raises(DisclosureError, match=r"optimisation\.chosen: missing"):
        Optimisation.from_dict(doc)


def test_the_schema_accepts_the_block_and_refuses_a_graded_model(clock):
    from greenai.meter import Meter
    from greenai.sampler import Sampler
    from tests.fakes.probes import ClockProbe, constant

    s = Sampler([ClockProbe("rapl:package-0", clock, constant(40.0))], clock=clock)
    s.sample()
    with Meter("image-classification", "sample", sampler=s) as m:
        clock.advance(1.0)
        m.count(10)
    doc = m.result.to_dict()
    doc["optimisation"] = _block().to_dict()
    assert validation_errors(doc) == []
    doc["optimisation"] = {**_block("modelled").to_dict(), "graded": True}
    assert validation_errors(doc)
