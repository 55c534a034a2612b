"""Prometheus exporter: live power (W) and cumulative energy (J) per device, read at scrape time.

Like DCGM exporter or Kepler: a sampler runs over the discovered probes, and a custom
prometheus_client Collector turns its state into metrics whenever Prometheus scrapes.
Names follow Prometheus practice (base units in the name, ``_total`` on counters); every
series carries ``host``. Per device: ``greenai_power_watts``, ``greenai_energy_joules_total``,
``greenai_probe_up``. Per node, over the probes that count in its total (no overlapping
domains): ``greenai_node_power_watts``, ``greenai_node_energy_joules_total`` and, with the
site's factors, ``greenai_water_litres_total{scope=onsite|offsite}`` and
``greenai_carbon_grams_total``. The README maps them to DCGM exporter and Kepler metrics.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from greenai.probes.base import Probe, ProbeSpec
from greenai.sampler import Sampler

if TYPE_CHECKING:
    from greenai.site import Site

DEFAULT_PORT = 9464
DEFAULT_ADDR = "127.0.0.1"  # loopback unless the operator opens it up
LABELS = ("host", "device", "domain", "method", "provenance")
NODE_LABELS = ("host",)


class SamplerCollector:
    """A prometheus_client Collector reading a running Sampler at scrape time."""

    def __init__(
        self,
        sampler: Sampler,
        power_window_s: float = 1.0,
        *,
        host: str | None = None,
        site: Site | None = None,
    ):
        from greenai.runtime import host_id
        from greenai.site import Site

        self.sampler = sampler
        self.power_window_s = power_window_s
        self.specs = tuple(ProbeSpec.of(p) for p in sampler.probes)
        self.host = host or host_id()
        self.site = site if site is not None else Site.resolve()

    def _labels(self, spec: ProbeSpec) -> list[str]:
        return [self.host, spec.id, spec.domain, spec.method, spec.provenance]

    def collect(self) -> Iterator[Any]:
        """Yield per-device power (W, over ~power_window_s), energy (J), health; then the node's."""
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
        node_power_w = node_energy_j = 0.0
        for i, spec in enumerate(self.specs):
            labels = self._labels(spec)
            failed = snap.failed_at_s[i] is not None
            if mean_w and not failed:
                power.add_metric(labels, mean_w[i])
            energy.add_metric(labels, snap.energy_j[i])
            up.add_metric(labels, 0.0 if failed else 1.0)
            if spec.counts_in_total:
                node_energy_j += snap.energy_j[i]
                node_power_w += mean_w[i] if mean_w and not failed else 0.0
        yield power
        yield energy
        yield up
        yield from self._node_metrics(node_power_w, node_energy_j, bool(mean_w))

    def _node_metrics(self, power_w: float, energy_j: float, has_power: bool) -> Iterator[Any]:
        """Yield the node's power (W), IT energy (J), water (L) and carbon (g) families."""
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        from greenai.footprint import compute

        host = [self.host]
        power = GaugeMetricFamily(
            "greenai_node_power_watts",
            "IT power of the node (probes counted in its total, no overlaps), in watts.",
            labels=NODE_LABELS,
        )
        if has_power:
            power.add_metric(host, power_w)
        energy = CounterMetricFamily(
            "greenai_node_energy_joules",
            "IT energy of the node since the exporter started, in joules.",
            labels=NODE_LABELS,
        )
        energy.add_metric(host, energy_j)
        fp = compute(energy_j, self.site)
        water = CounterMetricFamily(
            "greenai_water_litres",
            "Water consumed for the node's energy (on-site cooling, off-site generation), "
            "in litres, with the site's factors.",
            labels=(*NODE_LABELS, "scope", "site", "grid"),
        )
        carbon = CounterMetricFamily(
            "greenai_carbon_grams",
            "Operational carbon of the node's facility energy, in grams CO2e.",
            labels=(*NODE_LABELS, "site", "grid"),
        )
        where = [str(fp.site), str(fp.grid)]
        if fp.water_l is not None:
            water.add_metric([*host, "onsite", *where], fp.water_l.onsite)
            water.add_metric([*host, "offsite", *where], fp.water_l.offsite)
        if fp.carbon_g is not None:
            carbon.add_metric([*host, *where], fp.carbon_g)
        yield power
        yield energy
        yield water
        yield carbon

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
        site: Site | None = None,
        host: str | None = None,
    ):
        from prometheus_client import CollectorRegistry, start_http_server

        if probes is None:
            from greenai.probes.discover import discover

            probes = discover().probes
        self.sampler = Sampler(probes, interval_s=interval_s)
        self.sampler.start()
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(SamplerCollector(self.sampler, host=host, site=site))  # type: ignore[arg-type]
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
