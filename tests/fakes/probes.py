"""Minimal probes driven by a clock, for sampler and meter tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from greenai.errors import ProbeError
from greenai.probes.base import Method


class ClockProbe:
    """A probe whose power is a function of the clock: counter (J), power (W) or model (W)."""

    def __init__(
        self,
        id: str,
        clock: Callable[[], float],
        power_w: Callable[[float], float],
        method: Method = Method.COUNTER,
        domain: str = "cpu",
        counts_in_total: bool = True,
        fail_at_s: float | None = None,
    ):
        self.id = id
        self.domain = domain
        self.method = method
        self.counts_in_total = counts_in_total
        self.wrap_j = None
        self.max_power_w = None
        self._clock = clock
        self._power = power_w
        self._energy_j = 0.0
        self._last_t = clock()
        self.fail_at_s = fail_at_s

    def read(self) -> float:
        t = self._clock()
        if self.fail_at_s is not None and t >= self.fail_at_s:
            raise ProbeError(f"{self.id}: device went away")
        mid = 0.5 * (t + self._last_t)
        self._energy_j += self._power(mid) * (t - self._last_t)
        self._last_t = t
        return self._energy_j if self.method is Method.COUNTER else self._power(t)

    def info(self) -> dict[str, Any]:
        return {"fake": True}

    def close(self) -> None:
        pass


def constant(power_w: float) -> Callable[[float], float]:
    return lambda _t: power_w
