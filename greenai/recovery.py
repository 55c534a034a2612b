"""Rebuild a Measurement from the journal of a run that was killed."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from greenai.assessment import assess
from greenai.errors import DisclosureError
from greenai.measurement import IdleBaseline, Measurement
from greenai.probes.base import Method, ProbeSpec
from greenai.sampler import ProbeFault, Snapshot
from greenai.window import RunInfo, assemble


def recover_journal(path: str | os.PathLike[str], site: Any = None) -> Measurement:
    """Return the Measurement (status ``interrupted``) rebuilt from a run's journal."""
    from greenai import journal as journal_mod

    contents = journal_mod.read(path)
    h = contents.header
    try:
        specs = tuple(_spec_from(p) for p in h["probes"])
        n = len(specs)
        start = _snapshot_from(h["t0"], h["e0"], h["f0"])
        last = contents.last
        if last is None:
            end, units, phases, exit_code = start, 0.0, {}, None
        else:
            end = _snapshot_from(last["t"], last["e"], last["f"])
            units, phases, exit_code = _finite(last["u"]), _phases_from(last["ph"]), None
            if isinstance(last.get("exit_code"), int):
                exit_code = last["exit_code"]
        if not (len(start.energy_j) == len(end.energy_j) == n) or end.t_s < start.t_s:
            raise ValueError("checkpoint does not match the header's probes or start time")
        if any(e < 0 for e in (*start.energy_j, *end.energy_j)) or any(
            b < a for a, b in zip(start.energy_j, end.energy_j, strict=True)
        ):
            raise ValueError("an energy counter is negative or ran backwards (not a real run)")
        if units < 0:
            raise ValueError(f"units done {units!r} is negative")
        idle = None
        if h.get("idle"):
            power = {str(k): float(v) for k, v in h["idle"]["power_by_domain_w"].items()}
            idle = IdleBaseline(
                float(h["idle"]["duration_s"]), math.fsum(power.values()), power, 0.0, {}
            )
        command = tuple(str(c) for c in h["command"]) if h.get("command") else None
        unavailable = tuple(
            {str(k): str(v) for k, v in u.items()} for u in h.get("unavailable") or []
        )
        host = h.get("host") if isinstance(h.get("host"), dict) else {}
        task = h.get("task") if isinstance(h.get("task"), str) else None
        unit = h.get("unit") if isinstance(h.get("unit"), str) else None
    except (LookupError, TypeError, ValueError, AttributeError, OverflowError) as exc:
        raise DisclosureError(f"{path}: journal record is malformed: {exc}") from exc
    faults = []
    for item in contents.faults:
        try:
            probe, t, text, fatal = item
            faults.append(ProbeFault(str(probe), float(t), str(text), bool(fatal)))
        except (TypeError, ValueError):
            continue  # a malformed fault entry in an otherwise good record: the gap stays
    note = (
        f"recovered from journal {Path(path).name}: {contents.checkpoints} checkpoint(s), "
        f"energy up to the last one at {end.t_s - start.t_s:.3f} s"
    )
    if isinstance(h.get("child_on_death"), str) and contents.ended is None:
        note += f"; the metered command, when greenai died: {h['child_on_death']}"
    if contents.skipped_lines:
        note += f"; skipped torn/corrupt line(s) {contents.skipped_lines}"
    run = RunInfo(
        task=task,
        unit=unit,
        units_done=units,
        started_at=str(h.get("started_at", "")),
        phases=phases,
        idle=idle,
        unavailable=unavailable,
        host=host,
        sampling={
            "interval_s": h.get("interval_s"),
            "journal_period_s": h.get("period_s"),
            "clock": "monotonic",
            "problems": [note],
            **({"energy_reads": h["energy_reads"]} if h.get("energy_reads") else {}),
        },
        command=command,
        exit_code=exit_code,
    )
    status = "interrupted"
    if contents.ended is not None:
        status = str(contents.ended.get("status", "interrupted"))
    m = assemble(
        specs, start, end, faults, run, status if status in ("ok", "failed") else "interrupted"
    )
    return assess(m, site, stacklevel=3)


MAX_MAGNITUDE = 1e18  # J or s: a billion GJ; above this a journal figure is corrupt, not data


def _finite(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{str(value)[:40]!r} is not a number")
    number = float(value)  # OverflowError for an int beyond a float: caught by the caller
    if not math.isfinite(number) or abs(number) > MAX_MAGNITUDE:
        raise ValueError(f"{str(value)[:40]} is not a finite number of plausible size")
    return number


def _snapshot_from(t: Any, energy: Any, failed: Any) -> Snapshot:
    if len(energy) != len(failed):
        raise ValueError("energy and failure lists differ in length")
    return Snapshot(
        _finite(t),
        tuple(_finite(e) for e in energy),
        tuple(None if f is None else _finite(f) for f in failed),
    )


def _spec_from(data: Any) -> ProbeSpec:
    spec = ProbeSpec(
        id=str(data["id"]),
        domain=str(data["domain"]),
        method=Method(data["method"]).value,
        counts_in_total=bool(data["counts_in_total"]),
        info=dict(data.get("info") or {}),
    )
    return spec


def _phases_from(data: Any) -> dict[str, list[Any]]:
    return {
        str(name): [_finite(v[0]), _finite(v[1]), {str(k): _finite(e) for k, e in v[2].items()}]
        for name, v in dict(data).items()
    }
