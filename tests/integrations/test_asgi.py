"""Tests for greenai/integrations/asgi.py: energy per request by route, on a fake clock."""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("starlette")
pytest.importorskip("prometheus_client")

from prometheus_client import CollectorRegistry  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.responses import JSONResponse, PlainTextResponse  # noqa: E402
from starlette.routing import Route  # noqa: E402

from greenai.integrations.asgi import EnergyMiddleware  # noqa: E402
from greenai.sampler import Sampler  # noqa: E402
from tests.fakes.clock import FakeClock  # noqa: E402
from tests.fakes.probes import ClockProbe  # noqa: E402


def make(clock: FakeClock, events: dict[str, asyncio.Event]):
    async def slow(request):
        await events[request.path_params["id"]].wait()
        return JSONResponse({"usage": {"prompt_tokens": 3, "completion_tokens": 7}})

    async def fast(request):
        return PlainTextResponse("ok", headers={"x-output-tokens": "2"})

    app = Starlette(routes=[Route("/slow/{id}", slow), Route("/fast", fast)])
    power = ClockProbe("fake:gpu0", clock, lambda t: 100.0 if t < 1002 else 300.0, domain="gpu")
    sampler = Sampler([power], clock=clock)
    registry = CollectorRegistry()
    mw = EnergyMiddleware(app, sampler=sampler, registry=registry, interval_s=None)
    return mw, registry


async def call(app, path: str) -> int:
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "headers": [], "client": ("127.0.0.1", 1), "server": ("t", 80),
    }  # fmt: skip
    status = []
    received = []

    async def receive():
        if received:  # the client stays connected: a second receive waits (until cancelled)
            await asyncio.Event().wait()
        received.append(1)
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        if message["type"] == "http.response.start":
            status.append(message["status"])

    await app(scope, receive, send)
    return status[0]


def test_energy_is_split_among_requests_in_flight_tick_by_tick() -> None:
    async def scenario():
        clock = FakeClock(1000.0)
        events = {"a": asyncio.Event(), "b": asyncio.Event()}
        mw, registry = make(clock, events)
        a = asyncio.create_task(call(mw, "/slow/a"))  # t=1000: A alone
        await asyncio.sleep(0)
        clock.advance(1.0)
        b = asyncio.create_task(call(mw, "/slow/b"))  # t=1001: A and B
        await asyncio.sleep(0)
        assert mw.tick() == 0
        clock.advance(1.0)
        events["a"].set()  # t=1002: A ends; power goes from 100 W to 300 W
        await a
        assert mw.tick() == 1
        clock.advance(2.0)
        events["b"].set()  # t=1004: B ends
        await b
        assert await call(mw, "/fast") == 200
        assert await call(mw, "/nowhere") == 404
        assert mw.tick() == 3
        return registry

    registry = asyncio.run(scenario())
    get = registry.get_sample_value
    slow = {"route": "/slow/{id}"}
    # A: 100 J alone + 50 J shared; B: 50 J shared + 2 s x 300 W alone
    assert get("greenai_request_energy_joules_sum", slow) == pytest.approx(800.0)
    assert get("greenai_request_energy_joules_count", slow) == 2
    assert get("greenai_request_energy_joules_bucket", {**slow, "le": "200.0"}) == 1
    assert get("greenai_requests_total", {"route": "/slow/{id}", "status": "2xx"}) == 2
    assert get("greenai_requests_total", {"route": "<unmatched>", "status": "4xx"}) == 1
    assert get("greenai_request_output_tokens_total", slow) == 14  # from the JSON usage
    assert get("greenai_request_output_tokens_total", {"route": "/fast"}) == 2  # header
    assert get("greenai_request_energy_joules_sum", {"route": "/fast"}) == 0.0  # no time


def test_lifespan_scope_passes_through_unmetered() -> None:
    seen = []

    async def app(scope, receive, send):
        seen.append(scope["type"])

    clock = FakeClock()
    sampler = Sampler([ClockProbe("p", clock, lambda t: 1.0)], clock=clock)
    mw = EnergyMiddleware(app, sampler=sampler, registry=CollectorRegistry(), interval_s=None)
    asyncio.run(mw({"type": "lifespan"}, None, None))
    assert seen == ["lifespan"] and mw.tick() == 0


def test_request_energy_is_scraped_from_the_exporter_beside_node_power() -> None:
    import time
    import urllib.request

    from greenai.export.prometheus import Exporter

    probe = ClockProbe("fake:gpu0", time.monotonic, lambda t: 200.0, domain="gpu")
    with Exporter(port=0, probes=[probe], interval_s=0.05, host="test-node") as exporter:

        async def fast(request):
            return PlainTextResponse("ok")

        app = Starlette(routes=[Route("/fast", fast)])
        mw = EnergyMiddleware(app, exporter=exporter, interval_s=None)

        async def serve_some():
            for _ in range(3):
                await call(mw, "/fast")

        asyncio.run(serve_some())
        time.sleep(0.05)
        assert mw.tick() == 3
        text = urllib.request.urlopen(exporter.url, timeout=5).read().decode()
    assert 'greenai_request_energy_joules_count{route="/fast"} 3.0' in text
    assert 'greenai_requests_total{route="/fast",status="2xx"} 3.0' in text
    assert "greenai_node_power_watts" in text and "greenai_unattributed_energy_joules_total" in text


def test_tokens_are_read_from_an_event_stream_split_across_chunks() -> None:
    from starlette.responses import StreamingResponse

    async def stream(request):
        async def body():
            yield b'data: {"choices": [{"delta": {"content": "hi"}}]}\n\n'
            yield b'data: {"usage": {"prompt_tokens": 4, "completion_to'  # split mid-field
            yield b'kens": 31}}\n\ndata: [DONE]\n\n'

        return StreamingResponse(body(), media_type="text/event-stream")

    clock = FakeClock()
    sampler = Sampler([ClockProbe("p", clock, lambda t: 10.0)], clock=clock)
    registry = CollectorRegistry()
    app = Starlette(routes=[Route("/v1/chat/completions", stream, methods=["GET"])])
    mw = EnergyMiddleware(app, sampler=sampler, registry=registry, interval_s=None)
    assert asyncio.run(call(mw, "/v1/chat/completions")) == 200
    clock.advance(1.0)
    assert mw.tick() == 1
    route = {"route": "/v1/chat/completions"}
    assert registry.get_sample_value("greenai_request_output_tokens_total", route) == 31
    # nothing was in flight during the second: all of it is unattributed
    assert registry.get_sample_value("greenai_unattributed_energy_joules_total") == pytest.approx(
        10.0
    )
