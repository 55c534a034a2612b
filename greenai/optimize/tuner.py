"""Online tuning: profile a knob's values during the first steps of a run, then lock in.

A meter given ``tune=`` hands every ``count()`` to its tuner until the search is done.
Each candidate gets a warm-up (discarded) and then ``splits`` windows, each at least
``window_s`` long (longer than an energy counter's ~100 ms update) and ``min_steps``
steps; the first candidate is the baseline at the default setting, measured in the same
run. ``strategy="descent"`` (default) is the golden-section descent of
greenai.optimize.search; ``"sweep"`` tries every value (the reference it is measured
against). When the search ends the best setting stays in force for the rest of the
run, and the original is put back when the meter stops, whatever stops it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from greenai.optimize import guard
from greenai.optimize.knobs import CpuThreads, GpuPowerLimit, Knob, KnobError
from greenai.optimize.result import Optimisation
from greenai.optimize.search import OBJECTIVES, STRATEGIES, Scored, Window, best, score

Reading = Callable[[], tuple[float, float]]  # -> (time s, energy J since the meter started)


class Tuner:
    """Tunes one knob online; subclasses say which knob (PowerLimitTuner, ThreadTuner)."""

    def __init__(
        self,
        knob: Knob | None = None,
        *,
        max_slowdown: float | None = None,
        objective: str = "energy",
        window_s: float = 1.0,
        warmup_steps: int = 2,
        min_steps: int = 3,
        splits: int = 3,
        strategy: str = "descent",
    ):
        if objective not in OBJECTIVES:
            raise ValueError(f"objective {objective!r}: use one of {', '.join(OBJECTIVES)}")
        if max_slowdown is not None and not max_slowdown >= 0:
            raise ValueError(f"max_slowdown {max_slowdown!r}: give a fraction >= 0 (0.05 = 5 %)")
        if strategy not in STRATEGIES:
            raise ValueError(f"strategy {strategy!r}: use one of {', '.join(STRATEGIES)}")
        self.knob = knob
        self._next = STRATEGIES[strategy]
        self.max_slowdown = max_slowdown
        self.objective = objective
        self.split_s = window_s
        self.warmup_steps = warmup_steps
        self.min_steps = min_steps
        self.splits = splits
        self.profiling_steps = 0  # steps spent warming up and measuring candidates
        self._notes: list[str] = []
        self._scored: dict[float, Scored] = {}
        self._windows: dict[float, list[Window]] = {}
        self._allowed: tuple[float, ...] = ()
        self._setting: float | None = None
        self._original: float | None = None
        self._baseline: float | None = None
        self._state_file: Any = None
        self._tuning = False
        self._locked = False

    def make_knob(self) -> Knob:
        """Return the knob to tune when none was given."""
        raise NotImplementedError

    @property
    def tuning(self) -> bool:
        """Return True while candidates are still being profiled."""
        return self._tuning

    # ---------------------------------------------------------------- driven by the meter
    def begin(self, reading: Reading, clock: Callable[[], float], journal: Any = None) -> None:
        """Record the original setting, apply the baseline; KnobError if the knob is refused."""
        self._reading, self._clock = reading, clock
        knob = self.knob = self.knob or self.make_knob()
        self._allowed = knob.allowed()
        self._original = knob.read()
        self._baseline = knob.default()
        if self._baseline not in self._allowed:
            raise KnobError(
                f"{knob.name}: the default {self._baseline:g} {knob.unit} is not among the "
                f"allowed values {self._allowed}"
            )
        if knob.changes_device:
            settings = [knob.describe()]
            # the original is safe on disk before anything changes
            self._state_file = guard.record(settings)
            if journal is not None:
                journal({"k": "k", "pid": os.getpid(), "settings": settings})
        self._tuning = True
        self._try(self._baseline)

    def on_count(self, units: float) -> bool:
        """Account one step of ``units``; return False once the search is over."""
        if not self._tuning:
            return False
        self.profiling_steps += 1
        self._steps += 1
        self._units += units
        if self._warming:
            if self._steps >= self.warmup_steps:
                self._open_window()
            return True
        if self._steps < self.min_steps or self._clock() - self._t_s < self.split_s:
            return True
        t_s, energy_j = self._reading()
        assert self._setting is not None
        windows = self._windows.setdefault(self._setting, [])
        windows.append(Window(energy_j - self._e_j, self._units, t_s - self._t_s))
        if len(windows) < self.splits:
            self._open_window(t_s, energy_j)
            return True
        base = self._windows.get(self._baseline) if self._baseline != self._setting else None
        self._scored[self._setting] = score(self._setting, windows, base, self.max_slowdown)
        following = self._next(self._allowed, self._scored, self.objective)
        if following is None:
            self._tuning = False
            chosen = best(list(self._scored.values()), self.objective)
            self._locked = self._apply(chosen.setting if chosen.feasible else self._baseline)
            return False
        self._try(following)
        return self._tuning

    def end(self, provenance: str) -> Optimisation:
        """Restore the original setting and return the optimisation block."""
        finished = not self._tuning and self._locked
        if self._tuning:
            self._notes.append("the run ended before the search finished: nothing chosen")
        self._tuning = False
        restored = self._restore()
        knob = self.knob
        return Optimisation.build(
            knob=getattr(knob, "name", "unknown"),
            knob_unit=getattr(knob, "unit", ""),
            mode="online",
            objective=self.objective,
            max_slowdown=self.max_slowdown,
            original=self._original,
            baseline=self._baseline,
            scored=list(self._scored.values()),
            provenance=provenance,
            restored=restored,
            notes=self._notes,
            choose=finished,
        )

    # ---------------------------------------------------------------- internals
    def _try(self, value: float) -> None:
        self._apply(value)
        self._warming, self._steps, self._units = True, 0, 0.0
        if self.warmup_steps <= 0:
            self._open_window()

    def _open_window(self, t_s: float | None = None, energy_j: float | None = None) -> None:
        if t_s is None or energy_j is None:
            t_s, energy_j = self._reading()
        self._warming, self._steps, self._units = False, 0, 0.0
        self._t_s, self._e_j = t_s, energy_j

    def _apply(self, value: float) -> bool:
        assert self.knob is not None
        try:
            self.knob.apply(value)
        except KnobError as exc:
            self._notes.append(f"stopped tuning: {exc}")
            self._tuning = False
            return False
        self._setting = value
        return True

    def _restore(self) -> bool:
        if self.knob is None:
            return True
        try:
            self.knob.restore()
        except KnobError as exc:
            self._notes.append(
                f"could not restore the original setting: {exc}; run `greenai recover` as root"
            )
            return False
        guard.clear(self._state_file)
        self._state_file = None
        return True


class PowerLimitTuner(Tuner):
    """Finds the NVIDIA GPU power limit that saves energy (all visible GPUs, one limit)."""

    def make_knob(self) -> Knob:
        """Return the power limit of the GPUs this process sees."""
        from greenai.probes.nvml import parse_cuda_visible_devices

        visible = parse_cuda_visible_devices(os.environ.get("CUDA_VISIBLE_DEVICES"))
        if visible is not None and all(v.isdigit() for v in visible):
            return GpuPowerLimit([int(v) for v in visible])
        return GpuPowerLimit()


class ThreadTuner(Tuner):
    """Finds the torch CPU thread count that saves energy in this process."""

    def make_knob(self) -> Knob:
        """Return this process's CPU thread count."""
        return CpuThreads()
