"""Summary statistics of repeated measurements: mean, standard deviation, 95 % CI of the mean."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

# Two-sided 95 % quantiles of Student's t, t(0.975, df), for df = 1..30 (any statistics
# table, e.g. NIST/SEMATECH e-Handbook 1.3.6.7.2); beyond 30, interpolated in 1/df to 1.960.
_T975 = (
    12.706,
    4.303,
    3.182,
    2.776,
    2.571,
    2.447,
    2.365,
    2.306,
    2.262,
    2.228,
    2.201,
    2.179,
    2.160,
    2.145,
    2.131,
    2.120,
    2.110,
    2.101,
    2.093,
    2.086,
    2.080,
    2.074,
    2.069,
    2.064,
    2.060,
    2.056,
    2.052,
    2.048,
    2.045,
    2.042,
)
_Z975 = 1.960


def t975(df: int) -> float:
    """Return the 0.975 quantile of Student's t with df degrees of freedom."""
    if df < 1:
        raise ValueError("t quantile needs at least one degree of freedom")
    if df <= len(_T975):
        return _T975[df - 1]
    last = len(_T975)
    return _Z975 + (_T975[-1] - _Z975) * last / df


# How the interval was computed, as written into the JSON:
LOG_T = "log-t"  # all values > 0: t interval for the mean on the log scale (delta method)
PLAIN_T = "t"  # some value <= 0 (e.g. net energy after an idle baseline): plain t interval
SINGLE = "single"  # one value: no interval


@dataclass(frozen=True)
class Summary:
    """Mean, sample standard deviation and 95 % confidence interval of the mean.

    For positive values (energies, throughputs) the interval is a Student t interval on the
    log scale: mean x exp(+-t s / (mean sqrt n)), the delta-method standard error of the log
    of the mean. It is positive, contains the mean, and is wider above than below, as the
    spread of a positive quantity is. Values that can be zero or negative get the plain t
    interval (method "t").
    """

    n: int
    mean: float
    std: float
    ci95_low: float
    ci95_high: float
    method: str = LOG_T

    @property
    def ci95_half_width(self) -> float:
        """Return half the width of the 95 % confidence interval."""
        return (self.ci95_high - self.ci95_low) / 2

    @property
    def ci95_relative(self) -> float | None:
        """Return the larger distance from the mean to a bound, as a fraction of the mean.

        None for a single value (no interval) or a zero mean. This is the "+-12 %" printed
        beside the mean and what an adaptive run compares with its target.
        """
        if self.n < 2 or self.mean == 0 or not math.isfinite(self.mean):
            return None
        return max(self.ci95_high - self.mean, self.mean - self.ci95_low) / abs(self.mean)

    def wider_than(self, target: float) -> bool:
        """Return True when the interval is wider than +-target of the mean, or absent."""
        rel = self.ci95_relative
        return rel is None or rel > target

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {
            "n": self.n,
            "mean": self.mean,
            "std": self.std,
            "ci95_low": self.ci95_low,
            "ci95_high": self.ci95_high,
            "ci95_method": self.method,
            "ci95_relative": self.ci95_relative,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Summary:
        """Return the Summary that to_dict() wrote (older files lack the method: plain t)."""
        return cls(
            n=int(data["n"]),
            mean=float(data["mean"]),
            std=float(data["std"]),
            ci95_low=float(data["ci95_low"]),
            ci95_high=float(data["ci95_high"]),
            method=str(data.get("ci95_method", PLAIN_T)),
        )


def summarise(values: Sequence[float]) -> Summary:
    """Return the summary of values; with one value the interval is that value (std 0)."""
    n = len(values)
    if n == 0:
        raise ValueError("no values to summarise")
    mean = math.fsum(values) / n
    if n == 1:
        return Summary(1, mean, 0.0, mean, mean, SINGLE)
    std = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
    t = t975(n - 1)
    if all(v > 0 for v in values):
        spread = math.exp(t * std / (mean * math.sqrt(n)))
        return Summary(n, mean, std, mean / spread, mean * spread, LOG_T)
    half = t * std / math.sqrt(n)
    return Summary(n, mean, std, mean - half, mean + half, PLAIN_T)
