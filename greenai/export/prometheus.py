"""Prometheus exporter: live power (W) and cumulative energy (J) per device, read at scrape time.

Under a flood of scrapers one render serves every scrape that arrives within 10 ms of it.

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

import math
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
        # counters the sampler reads only at edges (RAPL core in its package) have no
        # timeline: their power is the mean since the previous scrape, from the energy
        self._edge_only = set(range(len(self.specs))) - set(sampler.timeline_probes)
        self._previous: Any = None  # the previous scrape's snapshot

    def _labels(self, spec: ProbeSpec) -> list[str]:
        return [self.host, spec.id, spec.domain, spec.method, spec.provenance]

    def collect(self) -> Iterator[Any]:
        """Yield per-device power (W, over ~power_window_s), energy (J), health; then the node's."""
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        snap = self.sampler.snapshot()
        times, powers = self.sampler.timeline()
        mean_w = _recent_mean_power(times, powers, self.power_window_s)
        if self._edge_only and mean_w:
            mean_w = self._edge_powers(mean_w, snap)
        self._previous = snap
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
            if mean_w and not failed and not math.isnan(mean_w[i]):
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

    def _edge_powers(self, mean_w: list[float], snap: Any) -> list[float]:
        """Return mean_w with the edge-only counters' power since the previous scrape
        (NaN on the first scrape: no power is published for them then)."""
        prev = self._previous
        out = list(mean_w)
        for i in self._edge_only:
            dt = snap.t_s - prev.t_s if prev is not None else 0.0
            out[i] = (snap.energy_j[i] - prev.energy_j[i]) / dt if dt > 0 else math.nan
        return out

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
        from prometheus_client import CollectorRegistry

        if probes is None:
            from greenai.probes.discover import discover

            probes = discover().probes
        self.sampler = Sampler(probes, interval_s=interval_s)
        self.sampler.start()
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(SamplerCollector(self.sampler, host=host, site=site))  # type: ignore[arg-type]
        try:
            self._server = MetricsServer(addr, port, self.registry)
        except BaseException:
            self.sampler.stop()
            raise
        self.addr = addr
        self.port = self._server.port

    @property
    def url(self) -> str:
        """Return the metrics URL."""
        return f"http://{self.addr}:{self.port}/metrics"

    def stop(self) -> None:
        """Stop serving and sampling."""
        self._server.stop()
        self.sampler.stop()

    def __enter__(self) -> Exporter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class MetricsServer:
    """An HTTP server for /metrics that a crowd of scrapers or idle sockets cannot stall.

    prometheus_client's own server listens with a backlog of 5 and gives every connection
    a thread that waits on it forever. Here one thread accepts (backlog 128) and watches
    the connections with a selector; a connection goes to a bounded pool of workers only
    once its request has arrived, and one idle past ``timeout_s`` is closed. A worker reads
    with the same timeout, answers one request (HTTP/1.0: then closes) and is free again.
    """

    def __init__(
        self,
        addr: str,
        port: int,
        registry: Any,
        *,
        workers: int = 8,
        timeout_s: float = 5.0,
        backlog: int = 128,
        reuse_s: float = 0.01,
    ):
        import selectors
        import socket
        import threading
        from concurrent.futures import ThreadPoolExecutor

        family = socket.AF_INET6 if ":" in addr else socket.AF_INET
        self._sock = socket.create_server((addr, port), family=family, backlog=backlog)
        self._sock.setblocking(False)
        self.port = self._sock.getsockname()[1]
        self.registry = registry
        self.timeout_s = timeout_s
        self.backlog = backlog
        self.reuse_s = reuse_s
        self._render_lock = threading.Lock()
        self._rendered: tuple[float, bytes] | None = None
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._sock, selectors.EVENT_READ, None)
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="greenai-exporter")
        self._stopping = threading.Event()
        self.closed_idle = 0  # connections closed for sending nothing within timeout_s
        self._thread = threading.Thread(target=self._loop, name="greenai-exporter", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        import time

        waiting: dict[Any, float] = {}  # connection -> when it was accepted
        next_sweep = time.monotonic() + 0.25
        while not self._stopping.is_set():
            for key, _ in self._selector.select(timeout=0.25):
                if key.data is None:
                    self._accept(waiting, time.monotonic())
                else:
                    conn = key.fileobj
                    self._selector.unregister(conn)
                    waiting.pop(conn, None)
                    self._pool.submit(self._serve, conn, key.data)
            now = time.monotonic()
            if now >= next_sweep:
                next_sweep = now + 0.25
                for conn, since in list(waiting.items()):
                    if now - since > self.timeout_s:
                        self._selector.unregister(conn)
                        del waiting[conn]
                        conn.close()
                        self.closed_idle += 1
        for conn in waiting:
            conn.close()

    def _accept(self, waiting: dict[Any, float], now: float) -> None:
        import selectors

        while True:
            try:
                conn, peer = self._sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # e.g. too many open files: the backlog keeps the rest
                return
            conn.setblocking(False)
            self._selector.register(conn, selectors.EVENT_READ, peer)
            waiting[conn] = now

    def _serve(self, conn: Any, peer: Any) -> None:
        try:
            conn.setblocking(True)
            conn.settimeout(self.timeout_s)
            conn.sendall(self._answer(_read_request(conn, self.timeout_s)))
        except Exception:  # noqa: BLE001 - a broken or slow client must not end the worker
            pass
        finally:
            conn.close()

    def _render(self, generate: Any) -> bytes:
        """Return the metrics text, rendered at most once per ``reuse_s`` (one at a time).

        Scrapes that arrive within reuse_s of a render get its text: a flood of scrapers
        costs one render per reuse_s, not one each, and no figure is older than reuse_s.
        """
        import time

        with self._render_lock:
            now = time.monotonic()
            if self._rendered is None or now - self._rendered[0] > self.reuse_s:
                self._rendered = (now, generate(self.registry))
            return self._rendered[1]

    def _answer(self, head: bytes | None) -> bytes:
        """Return the whole HTTP/1.0 response to a request head (None: unreadable)."""
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        line = head.split(b"\r\n", 1)[0].split() if head else []
        if len(line) != 3 or not line[2].startswith(b"HTTP/"):
            return _response(400, b"text/plain", b"bad request\n")
        if line[0] not in (b"GET", b"HEAD"):
            return _response(405, b"text/plain", b"only GET\n")
        if line[1].split(b"?", 1)[0] not in (b"/metrics", b"/"):
            return _response(404, b"text/plain", b"only /metrics is served\n")
        body = self._render(generate_latest)
        response = _response(200, CONTENT_TYPE_LATEST.encode(), body)
        return response[: len(response) - len(body)] if line[0] == b"HEAD" else response

    def stop(self) -> None:
        """Stop accepting, close every connection, and let the workers finish."""
        self._stopping.set()
        self._thread.join()
        self._selector.close()
        self._sock.close()
        self._pool.shutdown(wait=True)


MAX_REQUEST_HEAD = 16 * 1024
_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed"}


def _read_request(conn: Any, timeout_s: float) -> bytes | None:
    """Return the request head (up to the blank line); None if too long, cut off or slow.

    The whole head must come within timeout_s: a client trickling a byte at a time
    cannot hold a worker longer than that.
    """
    import time

    deadline = time.monotonic() + timeout_s
    data = b""
    while b"\r\n\r\n" not in data:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        conn.settimeout(left)
        chunk = conn.recv(4096)
        if not chunk or len(data) + len(chunk) > MAX_REQUEST_HEAD:
            return None
        data += chunk
    conn.settimeout(timeout_s)
    return data.split(b"\r\n\r\n", 1)[0]


def _response(status: int, content_type: bytes, body: bytes) -> bytes:
    head = (
        f"HTTP/1.0 {status} {_REASONS[status]}\r\nServer: greenai-exporter\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n"
    ).encode()
    return head + b"Content-Type: " + content_type + b"\r\n\r\n" + body
