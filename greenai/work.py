"""What a run did: workload, dataset, model and its size, quality reached, phase.

    work = Work(model="meta-llama/Llama-3.1-8B", params=8.0e9, phase="inference")
    doc["work"] = work.to_dict()                 # the disclosure's `work` block
    Work.from_dict(doc.get("work"), "run.json")  # DisclosureError naming a bad field

A task class of a standard holds some of these fixed (standard.Workload, Quality, size
classes, phase); scoring checks the run's against them. Every field is optional: what a run
does not disclose is not invented, and a class that fixes it does not grade the run.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from greenai.errors import DisclosureError

PHASES = ("training", "inference")


@dataclass(frozen=True)
class Work:
    """What a run did, as it discloses it (None: not disclosed)."""

    workload: str | None = None  # a named benchmark workload, e.g. "greenai-gemm-fp32"
    dataset: str | None = None  # a dataset id, e.g. "imagenet-1k"
    split: str | None = None  # e.g. "validation"
    model: str | None = None  # e.g. "meta-llama/Llama-3.1-8B"
    params: float | None = None  # the model's parameter count
    quality_metric: str | None = None  # e.g. "top1-accuracy"
    quality: float | None = None  # the value reached on quality_metric
    phase: str | None = None  # training | inference

    def __post_init__(self) -> None:
        check(self, "work")

    def to_dict(self) -> dict[str, Any]:
        """Return the disclosure's `work` block (disclosed fields only)."""
        return {k: v for k, v in self.__dict__.items() if v is not None}  # in field order

    @property
    def empty(self) -> bool:
        """Return True when nothing is disclosed."""
        return not self.to_dict()

    def key(self) -> tuple[Any, ...]:
        """Return the fields as a tuple (hashable; population columns)."""
        return tuple(getattr(self, f.name) for f in fields(self))

    @classmethod
    def from_dict(cls, data: Any, source: str = "work") -> Work:
        """Return the Work of a disclosure's `work` block (None or {} -> nothing disclosed)."""
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise DisclosureError(f"{source}: work: expected an object")
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise DisclosureError(
                f"{source}: work.{unknown[0]}: unknown field (fields: {', '.join(sorted(names))})"
            )
        values = dict(data)
        for key in ("params", "quality"):
            value = values.get(key)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float)
            ):
                raise DisclosureError(f"{source}: work.{key}: expected a number, got {value!r:.40}")
            if value is not None:
                values[key] = float(value)
        return _build(values, source)


def _build(values: Mapping[str, Any], source: str) -> Work:
    try:
        return Work(**values)
    except DisclosureError as exc:
        raise DisclosureError(f"{source}: {exc}") from None


def check(work: Work, where: str) -> Work:
    """Return work if its fields are well formed; DisclosureError naming the field if not."""
    for name in ("workload", "dataset", "split", "model", "quality_metric", "phase"):
        value = getattr(work, name)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise DisclosureError(f"{where}.{name}: expected a non-empty string, got {value!r:.40}")
    if work.phase is not None and work.phase not in PHASES:
        raise DisclosureError(f"{where}.phase: {work.phase!r} is not one of {', '.join(PHASES)}")
    if work.params is not None and not (math.isfinite(work.params) and work.params > 0):
        raise DisclosureError(
            f"{where}.params: expected a parameter count > 0, got {work.params!r}"
        )
    if work.quality is not None and not math.isfinite(work.quality):
        raise DisclosureError(f"{where}.quality: expected a finite number, got {work.quality!r}")
    # A value needs its metric to mean anything; a metric may come first (a meter knows what
    # it will report before the run reaches it): the rating then says quality not disclosed.
    if work.quality is not None and work.quality_metric is None:
        raise DisclosureError(
            f"{where}.quality_metric: a quality value needs its metric, e.g. 'top1-accuracy'"
        )
    return work


def format_params(params: float) -> str:
    """Return a parameter count in billions, as people say it: '70 B', '1.3 B'."""
    return f"{params / 1e9:.3g} B"
