"""The "optimisation" block of a disclosure: what was tried, what was chosen, what it saved."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from greenai.errors import DisclosureError
from greenai.optimize.search import Scored, best, saving

MODES = ("online", "offline")
PROVENANCES = ("measured", "modelled", "mixed")


@dataclass(frozen=True)
class Candidate:
    """One setting tried: energy per unit (J) with its 95 % CI, throughput, EDP, slowdown."""

    setting: float
    energy_per_unit_j: float
    energy_per_unit_ci95_j: tuple[float, float]
    windows: int
    units: float
    throughput_units_per_s: float
    edp_j_s: float
    slowdown: float
    feasible: bool
    role: str  # "baseline", "candidate" or "chosen"

    @classmethod
    def of(cls, s: Scored, role: str) -> Candidate:
        """Return the candidate of a scored setting."""
        e = s.energy_per_unit_j
        return cls(
            s.setting,
            e.mean,
            (e.ci95_low, e.ci95_high),
            s.windows,
            s.units,
            s.throughput_units_per_s,
            s.edp_j_s,
            s.slowdown,
            s.feasible,
            role,
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {
            "setting": self.setting,
            "energy_per_unit_j": self.energy_per_unit_j,
            "energy_per_unit_ci95_j": list(self.energy_per_unit_ci95_j),
            "windows": self.windows,
            "units": self.units,
            "throughput_units_per_s": self.throughput_units_per_s,
            "edp_j_s": self.edp_j_s,
            "slowdown": self.slowdown,
            "feasible": self.feasible,
            "role": self.role,
        }

    @classmethod
    def from_dict(cls, doc: Any, where: str) -> Candidate:
        """Return a candidate from its JSON form; DisclosureError names the bad field."""
        d = _mapping(doc, where)
        ci = d.get("energy_per_unit_ci95_j")
        if not isinstance(ci, list) or len(ci) != 2:
            raise DisclosureError(f"{where}.energy_per_unit_ci95_j: expected [low, high]")
        role = _text(d, "role", where)
        if role not in ("baseline", "candidate", "chosen"):
            raise DisclosureError(f"{where}.role: {role!r} is not baseline, candidate or chosen")
        return cls(
            setting=_num(d, "setting", where),
            energy_per_unit_j=_num(d, "energy_per_unit_j", where),
            energy_per_unit_ci95_j=(
                _finite(ci[0], f"{where}.energy_per_unit_ci95_j[0]"),
                _finite(ci[1], f"{where}.energy_per_unit_ci95_j[1]"),
            ),
            windows=int(_num(d, "windows", where)),
            units=_num(d, "units", where),
            throughput_units_per_s=_num(d, "throughput_units_per_s", where),
            edp_j_s=_num(d, "edp_j_s", where),
            slowdown=_num(d, "slowdown", where),
            feasible=_flag(d, "feasible", where),
            role=role,
        )


@dataclass(frozen=True)
class Optimisation:
    """A tuning run: the knob, the objective, every candidate, the choice and its saving.

    ``saving`` is 1 - chosen/baseline energy per unit, both measured in the same run, with
    a 95 % interval; ``graded`` is False whenever energy was modelled, not measured.
    """

    knob: str
    knob_unit: str
    mode: str
    objective: str
    max_slowdown: float | None
    original: float | None
    baseline: float | None
    chosen: float | None
    candidates: tuple[Candidate, ...]
    saving: float | None
    saving_ci95: tuple[float, float] | None
    slowdown: float | None
    provenance: str
    graded: bool
    profiling_units: float
    restored: bool
    notes: tuple[str, ...] = ()

    @classmethod
    def build(
        cls,
        *,
        knob: str,
        knob_unit: str,
        mode: str,
        objective: str,
        max_slowdown: float | None,
        original: float | None,
        baseline: float | None,
        scored: Sequence[Scored],
        provenance: str,
        restored: bool,
        notes: Sequence[str] = (),
        choose: bool = True,
    ) -> Optimisation:
        """Return the block for scored settings; the chosen one is the best feasible
        (none when ``choose`` is False: the search did not finish)."""
        chosen = best(scored, objective) if scored and choose else None
        if chosen is not None and not chosen.feasible:
            chosen = None  # nothing keeps the slowdown bound (the baseline always does)
        base = next((s for s in scored if s.setting == baseline), None)
        cut = None
        if chosen is not None and base is not None:
            cut = saving(chosen.energy_per_unit_j, base.energy_per_unit_j)
        candidates = tuple(
            Candidate.of(
                s,
                "chosen"
                if chosen is not None and s.setting == chosen.setting
                else ("baseline" if s.setting == baseline else "candidate"),
            )
            for s in scored
        )
        return cls(
            knob=knob,
            knob_unit=knob_unit,
            mode=mode,
            objective=objective,
            max_slowdown=max_slowdown,
            original=original,
            baseline=baseline,
            chosen=None if chosen is None else chosen.setting,
            candidates=candidates,
            saving=None if cut is None else cut.fraction,
            saving_ci95=None if cut is None else (cut.ci95_low, cut.ci95_high),
            slowdown=None if chosen is None else chosen.slowdown,
            provenance=provenance,
            graded=provenance == "measured",
            profiling_units=math.fsum(s.units for s in scored),
            restored=restored,
            notes=tuple(notes),
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form (the disclosure's "optimisation" block)."""
        return {
            "knob": self.knob,
            "knob_unit": self.knob_unit,
            "mode": self.mode,
            "objective": self.objective,
            "max_slowdown": self.max_slowdown,
            "original": self.original,
            "baseline": self.baseline,
            "chosen": self.chosen,
            "candidates": [c.to_dict() for c in self.candidates],
            "saving": self.saving,
            "saving_ci95": None if self.saving_ci95 is None else list(self.saving_ci95),
            "slowdown": self.slowdown,
            "provenance": self.provenance,
            "graded": self.graded,
            "profiling_units": self.profiling_units,
            "restored": self.restored,
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, doc: Any, where: str = "optimisation") -> Optimisation:
        """Return the block from its JSON form; DisclosureError names the field that is wrong."""
        d = _mapping(doc, where)
        mode = _text(d, "mode", where)
        if mode not in MODES:
            raise DisclosureError(f"{where}.mode: {mode!r} is not one of {', '.join(MODES)}")
        provenance = _text(d, "provenance", where)
        if provenance not in PROVENANCES:
            raise DisclosureError(
                f"{where}.provenance: {provenance!r} is not one of {', '.join(PROVENANCES)}"
            )
        candidates = d.get("candidates")
        if not isinstance(candidates, list):
            raise DisclosureError(f"{where}.candidates: expected a list")
        ci = d.get("saving_ci95")
        if ci is not None and (not isinstance(ci, list) or len(ci) != 2):
            raise DisclosureError(f"{where}.saving_ci95: expected [low, high] or null")
        notes = d.get("notes", [])
        if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
            raise DisclosureError(f"{where}.notes: expected a list of text")
        graded = _flag(d, "graded", where)
        if graded and provenance != "measured":
            raise DisclosureError(f"{where}.graded: a {provenance} saving is never graded")
        return cls(
            knob=_text(d, "knob", where),
            knob_unit=_text(d, "knob_unit", where),
            mode=mode,
            objective=_text(d, "objective", where),
            max_slowdown=_opt_num(d, "max_slowdown", where),
            original=_opt_num(d, "original", where),
            baseline=_opt_num(d, "baseline", where),
            chosen=_opt_num(d, "chosen", where),
            candidates=tuple(
                Candidate.from_dict(c, f"{where}.candidates[{i}]") for i, c in enumerate(candidates)
            ),
            saving=_opt_num(d, "saving", where),
            saving_ci95=None
            if ci is None
            else (
                _finite(ci[0], f"{where}.saving_ci95[0]"),
                _finite(ci[1], f"{where}.saving_ci95[1]"),
            ),
            slowdown=_opt_num(d, "slowdown", where),
            provenance=provenance,
            graded=graded,
            profiling_units=_num(d, "profiling_units", where),
            restored=_flag(d, "restored", where),
            notes=tuple(notes),
        )


def _mapping(doc: Any, where: str) -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise DisclosureError(f"{where}: expected an object, got {type(doc).__name__}")
    return doc


def _finite(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise DisclosureError(f"{where}: expected a finite number, got {value!r}")
    return float(value)


def _num(d: dict[str, Any], key: str, where: str) -> float:
    if key not in d:
        raise DisclosureError(f"{where}.{key}: missing")
    return _finite(d[key], f"{where}.{key}")


def _opt_num(d: dict[str, Any], key: str, where: str) -> float | None:
    if key not in d:
        raise DisclosureError(f"{where}.{key}: missing (null when not known)")
    return None if d[key] is None else _finite(d[key], f"{where}.{key}")


def _text(d: dict[str, Any], key: str, where: str) -> str:
    value = d.get(key)
    if not isinstance(value, str):
        raise DisclosureError(f"{where}.{key}: expected text, got {value!r}")
    return value


def _flag(d: dict[str, Any], key: str, where: str) -> bool:
    value = d.get(key)
    if not isinstance(value, bool):
        raise DisclosureError(f"{where}.{key}: expected true or false, got {value!r}")
    return value
