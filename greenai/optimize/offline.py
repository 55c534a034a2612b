"""Offline tuning for operators: run a command at each setting, repeatedly, and compare.

Each setting gets its own meter (and disclosure) over ``repeats`` runs of the command;
every run is one window, so each setting's energy per unit comes with a 95 % interval.
The default setting is measured first: it is the baseline the saving is counted against.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from greenai.optimize import guard
from greenai.optimize.knobs import Knob, KnobError
from greenai.optimize.result import Optimisation
from greenai.optimize.search import Scored, Window, score


@dataclass(frozen=True)
class SweepResult:
    """The summary block and the disclosure written for each setting."""

    optimisation: Optimisation
    disclosures: dict[float, Path]
    exit_codes: dict[float, list[int]]


def _run(command: Sequence[str], env: dict[str, str]) -> int:
    return subprocess.run(list(command), env={**os.environ, **env}, check=False).returncode


def sweep_command(
    command: Sequence[str],
    knob: Knob,
    output_dir: Path,
    *,
    values: Sequence[float] | None = None,
    repeats: int = 3,
    units_per_run: float = 1.0,
    task: str | None = None,
    unit: str | None = None,
    objective: str = "energy",
    max_slowdown: float | None = None,
    warmup_runs: int = 1,
    site: Any = None,
    run: Callable[[Sequence[str], dict[str, str]], int] = _run,
    progress: Callable[[str], None] = lambda _: None,
) -> SweepResult:
    """Return the sweep of ``knob`` over ``values`` (default: all allowed), baseline first."""
    from greenai.meter import Meter

    if repeats < 2:
        raise ValueError("repeats: at least 2, so each setting has a confidence interval")
    allowed = knob.allowed()
    baseline = knob.default()
    chosen_values = sorted(set(values or allowed) | {baseline}, reverse=True)
    order = [baseline] + [v for v in chosen_values if v != baseline]
    original = knob.read()
    state_file = guard.record([knob.describe()]) if knob.changes_device else None
    output_dir.mkdir(parents=True, exist_ok=True)
    scored: list[Scored] = []
    windows: dict[float, list[Window]] = {}
    disclosures: dict[float, Path] = {}
    codes: dict[float, list[int]] = {}
    provenance: set[str] = set()
    notes: list[str] = []
    restored = False
    try:
        for i, value in enumerate(order):
            knob.apply(value)
            env = knob.env() if hasattr(knob, "env") else {}
            if i == 0:
                for _ in range(warmup_runs):
                    run(command, env)  # caches and imports warm; not measured
            path = output_dir / f"{knob.name}-{value:g}.json"
            m = Meter(task, unit, output=path, site=site, timeline=False)
            m.command = tuple(command)
            m.extra["tune_setting"] = {"knob": knob.name, "unit": knob.unit, "value": value}
            m.start()
            got: list[Window] = []
            codes[value] = []
            try:
                for r in range(repeats):
                    t0, e0 = m.reading()
                    codes[value].append(run(command, env))
                    t1, e1 = m.reading()
                    got.append(Window(e1 - e0, units_per_run, t1 - t0))
                    m.count(units_per_run)
                    progress(f"{knob.name} {value:g} {knob.unit}: run {r + 1}/{repeats}")
            finally:
                result = m.stop("ok" if all(c == 0 for c in codes[value]) else "failed")
            if result is not None:
                provenance.update(d.provenance for d in result.domains.values())
            windows[value] = got
            disclosures[value] = path
            scored.append(score(value, got, windows[baseline], max_slowdown))
    finally:
        try:
            restored = knob.restore() or True
            guard.clear(state_file)
        except KnobError as exc:
            notes.append(f"could not restore the original setting: {exc}")
    if any(c != 0 for cs in codes.values() for c in cs):
        notes.append("some runs exited non-zero: see exit_code in the per-setting disclosures")
    label = provenance.pop() if len(provenance) == 1 else ("mixed" if provenance else "measured")
    if label != "measured":
        notes.append(f"energy is {label} (no hardware counter for every domain): not graded")
    block = Optimisation.build(
        knob=knob.name,
        knob_unit=knob.unit,
        mode="offline",
        objective=objective,
        max_slowdown=max_slowdown,
        original=original,
        baseline=baseline,
        scored=scored,
        provenance=label,
        restored=restored,
        notes=notes,
    )
    if block.saving_ci95 is not None and block.saving_ci95[0] <= 0 <= block.saving_ci95[1]:
        block = _with_note(block, "the saving's 95 % interval includes 0: not significant")
    return SweepResult(block, disclosures, codes)


def _with_note(block: Optimisation, note: str) -> Optimisation:
    from dataclasses import replace

    return replace(block, notes=(*block.notes, note))
