"""Pure search over a knob's values: score measured windows, pick the next value, choose.

No clock, no devices: a candidate is what its windows measured, and every function here
is a function of those numbers. The online search is a golden-section descent over the
allowed values (ascending), started from the baseline at the top (the default): the best
value measured so far and its nearest measured neighbours bracket the optimum, and the
next probe splits the larger side at the golden ratio. A value that breaks the slowdown
bound ranks below every value that keeps it, so the bracket moves away from it and no
lower value is ever tried: the descent stops there (slowdown grows as the limit falls).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from greenai.bench.stats import Summary, summarise

OBJECTIVES = ("energy", "edp")
_GOLDEN = (3 - math.sqrt(5)) / 2  # 0.382: the golden-section step


@dataclass(frozen=True)
class Window:
    """One measured slice at one setting: energy (J), functional units, duration (s)."""

    energy_j: float
    units: float
    duration_s: float


@dataclass(frozen=True)
class Scored:
    """A setting's measured figures relative to the baseline."""

    setting: float
    energy_per_unit_j: Summary
    throughput_units_per_s: float
    edp_j_s: float  # energy per unit x time per unit (J s per unit^2)
    slowdown: float  # time per unit / baseline's - 1
    feasible: bool
    windows: int
    units: float


def score(
    setting: float,
    windows: Sequence[Window],
    baseline: Sequence[Window] | None = None,
    max_slowdown: float | None = None,
) -> Scored:
    """Return a setting's figures; slowdown against the baseline's windows (0 without)."""
    if not windows:
        raise ValueError(f"setting {setting}: no windows measured")
    per_unit = summarise([w.energy_j / w.units for w in windows])
    throughput = _throughput(windows)
    slowdown = 0.0 if baseline is None else _throughput(baseline) / throughput - 1.0
    return Scored(
        setting=setting,
        energy_per_unit_j=per_unit,
        throughput_units_per_s=throughput,
        edp_j_s=per_unit.mean / throughput,
        slowdown=slowdown,
        feasible=max_slowdown is None or slowdown <= max_slowdown,
        windows=len(windows),
        units=math.fsum(w.units for w in windows),
    )


def _throughput(windows: Sequence[Window]) -> float:
    return math.fsum(w.units for w in windows) / math.fsum(w.duration_s for w in windows)


def rank_key(s: Scored, objective: str) -> tuple[int, float]:
    """Return a sort key: feasible settings by objective first, then the rest by slowdown."""
    if objective not in OBJECTIVES:
        raise ValueError(f"objective {objective!r}: use one of {', '.join(OBJECTIVES)}")
    if not s.feasible:
        return (1, s.slowdown)
    return (0, s.energy_per_unit_j.mean if objective == "energy" else s.edp_j_s)


TIE_REL = 0.005  # objectives closer than this are a tie: below it, noise decides


def best(scored: Sequence[Scored], objective: str, tie_rel: float = TIE_REL) -> Scored:
    """Return the best setting; near-ties go to the lowest one, so a plateau is walked down."""
    top = min(scored, key=lambda s: (rank_key(s, objective), s.setting))
    if not top.feasible:
        return top
    bound = rank_key(top, objective)[1] * (1 + tie_rel)
    return min(
        (s for s in scored if s.feasible and rank_key(s, objective)[1] <= bound),
        key=lambda s: s.setting,
    )


def next_setting(
    allowed: Sequence[float], scored: Mapping[float, Scored], objective: str
) -> float | None:
    """Return the next value to measure in the online descent, or None when it is done.

    ``allowed`` is ascending; ``scored`` holds what is measured (the baseline at least).
    """
    if not scored:
        return allowed[-1]
    index = {v: i for i, v in enumerate(allowed)}
    done = sorted(index[v] for v in scored)
    b = index[best(list(scored.values()), objective).setting]
    lower = max((i for i in done if i < b), default=-1)
    upper = min((i for i in done if i > b), default=len(allowed))
    left, right = b - lower - 1, upper - b - 1  # unmeasured values on each side
    if left <= 0 and right <= 0:
        return None
    if left >= right:
        step = max(1, round(_GOLDEN * (b - lower)))
        return allowed[b - min(step, left)]
    step = max(1, round(_GOLDEN * (upper - b)))
    return allowed[b + min(step, right)]


def next_in_sweep(
    allowed: Sequence[float], scored: Mapping[float, Scored], objective: str = "energy"
) -> float | None:
    """Return the next value of an exhaustive sweep from the top down, or None when done."""
    return next((v for v in reversed(allowed) if v not in scored), None)


STRATEGIES = {"descent": next_setting, "sweep": next_in_sweep}


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Return the indices of (energy per unit, throughput) points no other point beats on
    both (less energy and more throughput, one of them strictly), by throughput."""
    front = [
        i
        for i, (e, x) in enumerate(points)
        if not any(oe <= e and ox >= x and (oe, ox) != (e, x) for oe, ox in points)
    ]
    return sorted(front, key=lambda i: points[i][1])


@dataclass(frozen=True)
class Saving:
    """Energy per unit saved against the baseline: a fraction with its 95 % interval."""

    fraction: float
    ci95_low: float
    ci95_high: float


def saving(chosen: Summary, baseline: Summary) -> Saving:
    """Return 1 - chosen/baseline energy per unit, its interval by first-order propagation."""
    ratio = chosen.mean / baseline.mean
    rel = math.hypot(
        chosen.ci95_half_width / chosen.mean if chosen.mean else 0.0,
        baseline.ci95_half_width / baseline.mean if baseline.mean else 0.0,
    )
    return Saving(1.0 - ratio, 1.0 - ratio * (1 + rel), 1.0 - ratio * (1 - rel))
