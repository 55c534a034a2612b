"""ASGI middleware (Starlette, FastAPI): energy per request by route, as requests are served.

    from greenai.export.prometheus import Exporter
    from greenai.integrations.asgi import EnergyMiddleware

    exporter = Exporter(port=9464)                      # the node's power, on /metrics
    app.add_middleware(EnergyMiddleware, exporter=exporter)   # or EnergyMiddleware(app, ...)

Attribution is the time-overlap share, as `greenai bench serve` does it: at each instant the
node's power is split equally among the requests in flight. On the request path the
middleware only updates an occupancy integral O(t) = integral of 1/n(t) dt (n requests in
flight) and notes the request's O at start and end: O(1), no hardware read. A background tick
every `interval_s` reads the sampler once, so the power of each tick P_k is measured, not
guessed; a request's energy is the sum over the ticks it spans of P_k x its share of O there.
It is exact for power constant within a tick and is observed at the first tick after the
request ends (so at most `interval_s` late).

Exported (into the exporter's registry, beside the node's power and energy):
``greenai_request_energy_joules`` (histogram, by route), ``greenai_requests_total`` (by route
and status class), ``greenai_request_output_tokens_total`` (by route, when the response says:
an ``x-output-tokens`` header, or ``"completion_tokens": N`` in a JSON or event-stream body, as
OpenAI-compatible servers write it), ``greenai_unattributed_energy_joules_total`` (energy
while no request was in flight).
"""

from __future__ import annotations

import re
import threading
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from greenai.errors import GreenAIError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[
    [Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]
]

ENERGY_BUCKETS_J = (0.01, 0.1, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000, float("inf"))
UNMATCHED = "<unmatched>"  # requests no route took: one label, not one per raw path
_TOKENS = re.compile(rb'"completion_tokens"\s*:\s*(\d+)')
_TAIL = 64  # bytes kept between body chunks, so a field split across two is still found
MAX_TICKS = 36_000  # tick history kept for long requests (an hour at 0.1 s)


class _Ticker:
    """The occupancy integral, the ticks' power, and requests waiting for their energy."""

    def __init__(self, read_energy: Callable[[], tuple[float, float]], clock: Callable[[], float]):
        self.read_energy = read_energy
        self.clock = clock
        self.lock = threading.Lock()
        self.in_flight = 0
        self.occupancy = 0.0  # O(t): integral of 1/n over time with n > 0
        self.busy_s = 0.0
        self.t_last = clock()
        self.pending: list[tuple[str, float, float, float, float, int, int | None]] = []
        t, e = read_energy()
        # (time, O at that time, busy time, power of the tick ending then)
        self.ticks: deque[tuple[float, float, float, float]] = deque(maxlen=MAX_TICKS)
        self.ticks.append((t, self.occupancy, 0.0, 0.0))
        self.e_last = e

    def _advance(self, now: float) -> None:
        if self.in_flight > 0:
            dt = now - self.t_last
            self.occupancy += dt / self.in_flight
            self.busy_s += dt
        self.t_last = now

    def begin(self) -> tuple[float, float]:
        now = self.clock()
        with self.lock:
            self._advance(now)
            self.in_flight += 1
            return now, self.occupancy

    def end(self, route: str, start: tuple[float, float], status: int, tokens: int | None) -> None:
        now = self.clock()
        with self.lock:
            self._advance(now)
            self.in_flight -= 1
            self.pending.append((route, start[0], start[1], now, self.occupancy, status, tokens))

    def tick(self) -> tuple[list[tuple[str, float, int, int | None]], float]:
        """Read the energy once; return finished requests (route, J, status, tokens) and the
        tick's energy while nothing was in flight (J)."""
        t, e = self.read_energy()
        with self.lock:
            self._advance(t)
            pending, self.pending = self.pending, []
            t0, _, busy0, _ = self.ticks[-1]
            dt = t - t0
            power = (e - self.e_last) / dt if dt > 0 else 0.0
            self.e_last = e
            busy = self.busy_s
            self.ticks.append((t, self.occupancy, busy, power))
        idle_j = power * max(dt - (busy - busy0), 0.0)
        return [(r[0], self._energy(r), r[5], r[6]) for r in pending], idle_j

    def _energy(self, r: tuple[str, float, float, float, float, int, int | None]) -> float:
        _, start, o_start, end, o_end, _, _ = r
        total = 0.0
        ticks = self.ticks
        for k in range(len(ticks) - 1, 0, -1):
            t_hi, o_hi, _, power = ticks[k]
            t_lo, o_lo, _, _ = ticks[k - 1]
            if t_hi <= start:
                break
            if t_lo >= end:
                continue
            lo = o_start if start > t_lo else o_lo
            hi = o_end if end < t_hi else o_hi
            total += power * (hi - lo)
        return total


class _Metrics:
    def __init__(self, registry: Any):
        from prometheus_client import Counter, Histogram

        kw = {"registry": registry}
        self.energy = Histogram(
            "greenai_request_energy_joules",
            "Energy per request (J): time-overlap share of the node's measured power",
            ["route"],
            buckets=ENERGY_BUCKETS_J,
            **kw,
        )
        self.requests = Counter("greenai_requests", "Requests served", ["route", "status"], **kw)
        self.tokens = Counter(
            "greenai_request_output_tokens",
            "Output tokens of responses that report them",
            ["route"],
            **kw,
        )
        self.idle = Counter(
            "greenai_unattributed_energy",
            "Energy while no request was in flight (J)",
            unit="joules",
            **kw,
        )


def _route(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    return str(path) if path else UNMATCHED


class EnergyMiddleware:
    """Attributes the node's energy to HTTP requests by route (see the module docstring)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        exporter: Any = None,
        sampler: Any = None,
        registry: Any = None,
        interval_s: float | None = 0.5,
        clock: Callable[[], float] | None = None,
    ):
        """`exporter` (greenai.export.prometheus.Exporter) gives both the sampler and the
        registry; otherwise a running `sampler` (greenai.sampler.Sampler; default: one over the
        probes discovered here) and a prometheus_client `registry` (default: the global one).
        interval_s=None starts no tick thread: call tick() yourself (tests)."""
        from greenai.probes.base import ProbeSpec

        self.app = app
        if exporter is not None:
            sampler = sampler or exporter.sampler
            registry = registry or exporter.registry
        if sampler is None:
            from greenai.probes.discover import discover
            from greenai.sampler import Sampler

            sampler = Sampler(discover().probes)
            sampler.start()
        if registry is None:
            from prometheus_client import REGISTRY

            registry = REGISTRY
        self.sampler = sampler
        counted = [i for i, p in enumerate(sampler.probes) if ProbeSpec.of(p).counts_in_total]

        def read_energy() -> tuple[float, float]:
            snap = sampler.snapshot()
            return snap.t_s, sum(snap.energy_j[i] for i in counted)

        self.metrics = _Metrics(registry)
        self._ticker = _Ticker(read_energy, clock or sampler.clock)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if interval_s is not None:
            self._thread = threading.Thread(
                target=self._loop, args=(interval_s,), name="greenai-asgi", daemon=True
            )
            self._thread.start()

    async def __call__(
        self,
        scope: Scope,
        receive: Callable[[], Awaitable[Message]],
        send: Callable[[Message], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        ticker = self._ticker
        start = ticker.begin()
        state = [500, None, b""]  # status, tokens, tail of the body seen so far

        async def send_wrapper(message: Message) -> None:
            kind = message["type"]
            if kind == "http.response.start":
                state[0] = message["status"]
                for name, value in message.get("headers", ()):
                    if name.lower() == b"x-output-tokens" and value.isdigit():
                        state[1] = int(value)
            elif kind == "http.response.body" and state[1] is None:
                body = message.get("body", b"")
                if body:
                    seen = state[2] + body if state[2] else body
                    found = _TOKENS.findall(seen) if b"completion_tokens" in seen else None
                    if found:
                        state[1], state[2] = int(found[-1]), b""
                    else:  # the field may be split across this chunk and the next
                        state[2] = seen[-_TAIL:]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            ticker.end(_route(scope), start, state[0], state[1])

    def tick(self) -> int:
        """Read the energy once and export the requests that ended since; return how many."""
        done, idle_j = self._ticker.tick()
        m = self.metrics
        for route, energy_j, status, tokens in done:
            m.energy.labels(route).observe(energy_j)
            m.requests.labels(route, f"{status // 100}xx").inc()
            if tokens is not None:
                m.tokens.labels(route).inc(tokens)
        if idle_j > 0:
            m.idle.inc(idle_j)
        return len(done)

    def _loop(self, interval_s: float) -> None:
        while not self._stop.wait(interval_s):
            try:
                self.tick()
            except (GreenAIError, OSError, ValueError) as exc:
                # the app keeps serving; its requests are no longer metered
                import warnings

                from greenai.errors import GreenAIWarning

                warnings.warn(
                    f"greenai: request metering stopped: {exc}", GreenAIWarning, stacklevel=1
                )
                return

    def close(self) -> None:
        """Stop the tick thread after a last tick (requests still in flight stay unobserved)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.tick()


__all__ = ["EnergyMiddleware"]
