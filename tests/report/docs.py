"""Disclosure documents for reporter tests, made by the real Meter with fake probes."""

from __future__ import annotations

import copy
from typing import Any

from greenai.meter import Meter
from greenai.probes.base import Method
from greenai.sampler import Sampler
from tests.fakes.clock import FakeClock
from tests.fakes.probes import ClockProbe, constant

H100 = "NVIDIA H100 80GB HBM3"
# What the test run says it did: an inference run of an 8 B model, so that a sized class
# (text generation) can grade it. Pass work=None for a run that discloses nothing.
WORK = {"model": "test/model-8b", "params": 8e9, "phase": "inference"}


class NamedProbe(ClockProbe):
    """A ClockProbe that reports a device name, as NVML probes do."""

    def __init__(self, *args: Any, name: str | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.name = name

    def info(self) -> dict[str, Any]:
        return {"fake": True, "name": self.name}


def make_doc(
    task: str | None = "text-generation",
    unit: str | None = "token",
    units: float = 100_000,
    seconds: float = 70.0,
    cpu_w: float = 40.0,
    cpu_method: Method = Method.COUNTER,
    gpu_w: float | None = 250.0,
    dram_w: float | None = None,
    site: str | None = "hyperscale",
    phases: tuple[str, ...] = ("prefill", "decode"),
    rate: bool = True,
    step_s: float = 0.5,
    gpu_fails_after_s: float | None = None,
    work: dict[str, Any] | None = WORK,
) -> dict[str, Any]:
    """Return a metered run's document: Measurement.to_dict() with site, footprint, rating."""
    clock = FakeClock()
    cpu_id = "rapl:package-0" if cpu_method is Method.COUNTER else "model:cpu"
    probes: list[Any] = [ClockProbe(cpu_id, clock, constant(cpu_w), method=cpu_method)]
    if gpu_w is not None:
        fail_at_s = None if gpu_fails_after_s is None else clock() + gpu_fails_after_s
        probes.append(
            NamedProbe(
                "nvml:0", clock, constant(gpu_w), domain="gpu", name=H100, fail_at_s=fail_at_s
            )
        )
    if dram_w is not None:
        probes.append(
            ClockProbe("model:dram", clock, constant(dram_w), method=Method.MODEL, domain="dram")
        )
    sampler = Sampler(probes, clock=clock)
    sampler.sample()
    steps = round(seconds / step_s)
    with Meter(task, unit, sampler=sampler, handle_signals=False, site=site, work=work) as m:
        for i, name in enumerate(phases or (None,)):
            share = steps // len(phases or (None,)) + (
                steps % len(phases or (None,)) if i == 0 else 0
            )
            if name is None:
                _run(clock, sampler, share, step_s)
            else:
                with m.phase(name):
                    _run(clock, sampler, share, step_s)
        m.count(units)
    assert m.result is not None
    doc = m.result.to_dict()
    # The meter rates under the default standard; rate=False stands for an unrated document.
    doc["rating"] = rating_block(doc) if rate else None
    return doc


def _run(clock: FakeClock, sampler: Sampler, steps: int, step_s: float) -> None:
    for _ in range(steps):
        clock.advance(step_s)
        sampler.sample()


def rating_block(doc: dict[str, Any], standard: Any = None) -> dict[str, Any]:
    """Return the rating block of a document under a standard (default: the shipped one)."""
    from greenai.scoring import RatingInput, rate
    from greenai.standard import load_standard

    std = standard if standard is not None and not isinstance(standard, str) else None
    std = std or load_standard(standard)
    return rate(RatingInput.from_disclosure(doc), std).to_dict()


def hostile(doc: dict[str, Any], payload: str = "<script>alert(1)</script>") -> dict[str, Any]:
    """Return a copy of doc with markup in every string a reporter shows."""
    doc = copy.deepcopy(doc)
    doc["task"] = f"task {payload}"
    doc["unit"] = f"token{payload}"
    doc["host"]["hostname"] = f"host{payload}"
    doc["host"]["cpu"] = f"cpu{payload}"
    for gpu in doc["host"].get("gpus", []):
        gpu["name"] = f"gpu{payload}"
    for dev in doc["devices"]:
        dev["error"] = f"err{payload}"
    for factor in (doc.get("site") or {}).get("factors", {}).values():
        if factor:
            factor["source"] = f"source{payload}"
    if doc.get("rating"):
        doc["rating"]["energy"]["reasons"] = [f"reason{payload}"]
        doc["rating"]["standard"]["id"] = f"std{payload}"
    return doc
