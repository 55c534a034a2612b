"""The Probe protocol: what every hardware source offers the sampler."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


class Method(str, enum.Enum):
    """How a probe's figure is obtained."""

    COUNTER = "counter"  # cumulative energy counter (J), read at window edges
    POWER = "power"  # sampled power (W), integrated by trapezoid
    MODEL = "model"  # estimated mean power (W) over the interval since the last read

    @property
    def provenance(self) -> str:
        """Return 'measured' for hardware counters and sampled power, 'modelled' for models."""
        return "modelled" if self is Method.MODEL else "measured"


_PROVENANCE = {m.value: m.provenance for m in Method}  # what a spec's method string means


@runtime_checkable
class Probe(Protocol):
    """One energy channel (a RAPL zone, one GPU, a model of the CPU).

    `read()` returns cumulative joules for COUNTER probes (raw, may wrap at `wrap_j`),
    watts for POWER and MODEL probes. It raises ProbeError when the hardware fails.

    A COUNTER probe may also offer `read_raw()` (the counter as the hardware gives it: an
    int, or bytes such as a sysfs file's) and `raw_per_j` (its units per joule): the sampler
    then reads it without the Python wrapper, and calls `read()` only to name an error.
    """

    id: str  # unique, stable: "rapl:package-0", "nvml:GPU-8f3c...", "model:cpu"
    domain: str  # "cpu" | "dram" | "gpu" | "system"
    method: Method
    counts_in_total: bool  # False for zones contained in another (core in package, psys)
    wrap_j: float | None  # counter range; None when it never wraps in practice
    max_power_w: float | None  # the highest power the channel can report (for wrap safety)

    def read(self) -> float: ...

    def info(self) -> dict[str, Any]: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class ProbeSpec:
    """What a result needs to know of a probe, captured once when metering starts."""

    id: str
    domain: str
    method: str  # counter | power | model
    counts_in_total: bool
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def provenance(self) -> str:
        """Return 'measured' or 'modelled'."""
        return _PROVENANCE.get(self.method) or Method(self.method).provenance

    @classmethod
    def of(cls, probe: Probe) -> ProbeSpec:
        """Return the spec of a live probe (calls its info() once)."""
        return cls(probe.id, probe.domain, probe.method.value, probe.counts_in_total, probe.info())

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {
            "id": self.id,
            "domain": self.domain,
            "method": self.method,
            "counts_in_total": self.counts_in_total,
            "info": self.info,
        }


@dataclass(frozen=True)
class ProbeUnavailable:
    """A probe that could not be used here, and why (with what to do about it)."""

    probe: str
    reason: str
    remedy: str = ""

    def to_dict(self) -> dict[str, str]:
        """Return the JSON form."""
        return {"probe": self.probe, "reason": self.reason, "remedy": self.remedy}


@dataclass
class Discovery:
    """The probes that work here and those that don't."""

    probes: list[Probe] = field(default_factory=list)
    unavailable: list[ProbeUnavailable] = field(default_factory=list)

    def extend(self, other: Discovery) -> None:
        """Append the probes and reasons of another discovery."""
        self.probes.extend(other.probes)
        self.unavailable.extend(other.unavailable)
