"""Prometheus exporter: live power (W) and cumulative energy (J) per device, read at scrape time.

Like DCGM exporter or Kepler: a sampler runs over the discovered probes, and a custom
prometheus_client Collector turns its state into metrics whenever Prometheus scrapes.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from greenai.probes.base import Probe, ProbeSpec
from greenai.sampler import Sampler

DEFAULT_PORT = 9464
DEFAULT_ADDR = "127.0.0.1"  # loopback unless the operator opens it up
LABELS = ("device", "domain", "method", "provenance")


class SamplerCollector:
    """A prometheus_client Collector reading a running Sampler at scrape time."""

    def __init__(self, sampler: Sampler, power_window_s: float = 1.0):
        self.sampler = sampler
        self.power_window_s = power_window_s
        self.specs = tuple(ProbeSpec.of(p) for p in sampler.probes)

    def _labels(self, spec: ProbeSpec) -> list[str]:
        return [spec.id, spec.domain, spec.method, spec.provenance]

    def collect(self) -> Iterator[Any]:
        """Yield power (W, mean over the newest ~power_window_s), energy (J), probe health."""
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        snap = self.sampler.snapshot()
        times, powers = self.sampler.timeline()
        mean_w = _recent_mean_power(times, powers, self.power_window_s)
        power = GaugeMetricFamily(
            "greenai_power_watts",
            "Mean power of the device over the last second or so, in watts.",
            labels=LABELS,
        )
        energy = CounterMetricFamily(
            "greenai_energy_joules",
            "Energy of the device since the exporter started, in joules.",
            labels=LABELS,
        )
        up = GaugeMetricFamily(
            "greenai_probe_up", "1 while the probe reads, 0 after it failed.", labels=LABELS
        )
        for i, spec in enumerate(self.specs):
            labels = self._labels(spec)
            failed = snap.failed_at_s[i] is not None
            if mean_w and not failed:
                power.add_metric(labels, mean_w[i])
            energy.add_metric(labels, snap.energy_j[i])
            up.add_metric(labels, 0.0 if failed else 1.0)
        yield power
        yield energy
        yield up

    def describe(self) -> list[Any]:
        """Return no descriptions: metrics are only produced at scrape time."""
        return []


def _recent_mean_power(
    times: Sequence[float], powers: Sequence[Sequence[float]], window_s: float
) -> list[float]:
    """Return per-probe mean power (W) over the newest slots spanning at least window_s."""
    if len(times) < 2:
        return [p[-1] for p in powers] if times else []
    k = len(times) - 1
    while k > 0 and times[-1] - times[k - 1] < window_s:
        k -= 1
    first = max(k, 1)
    span = times[-1] - times[first - 1]
    return [
        sum(p[j] * (times[j] - times[j - 1]) for j in range(first, len(times))) / span
        for p in powers
    ]


class Exporter:
    """A Prometheus endpoint over a private sampler; ``stop()`` ends both."""

    def __init__(
        self,
        port: int = DEFAULT_PORT,
        addr: str = DEFAULT_ADDR,
        *,
        interval_s: float = 1.0,
        probes: Sequence[Probe] | None = None,
    ):
        from prometheus_client import CollectorRegistry, start_http_server

        if probes is None:
            from greenai.probes.discover import discover

            probes = discover().probes
        self.sampler = Sampler(probes, interval_s=interval_s)
        self.sampler.start()
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(SamplerCollector(self.sampler))  # type: ignore[arg-type]
        self._server, self._thread = start_http_server(port, addr=addr, registry=self.registry)
        self.addr = addr
        self.port = self._server.server_address[1]

    @property
    def url(self) -> str:
        """Return the metrics URL."""
        return f"http://{self.addr}:{self.port}/metrics"

    def stop(self) -> None:
        """Stop serving and sampling."""
        self._server.shutdown()
        self._server.server_close()
        self.sampler.stop()

    def __enter__(self) -> Exporter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
