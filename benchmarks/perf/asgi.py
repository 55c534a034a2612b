"""Overhead of greenai's ASGI middleware per request, side by side with the bare app in one run.

    python benchmarks/perf/asgi.py            # ~15 s
    python benchmarks/perf/asgi.py --json out.json

The same Starlette app (one plain-text route, one JSON route that reports usage) is called
in-process through the ASGI interface (no sockets, so the figure is the middleware's own
cost, not the network's), bare and wrapped in EnergyMiddleware, in alternating blocks so
drift in machine load hits both. The middleware's tick thread runs at its default 0.5 s over a
fake counter probe (tests/fakes), as it would over RAPL/NVML. Per request: the median over
blocks of (wrapped - bare) time per call. Target: under 50 us.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from prometheus_client import CollectorRegistry  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.responses import JSONResponse, PlainTextResponse  # noqa: E402
from starlette.routing import Route  # noqa: E402

from greenai.integrations.asgi import EnergyMiddleware  # noqa: E402
from greenai.sampler import Sampler  # noqa: E402
from tests.fakes.probes import ClockProbe  # noqa: E402

TARGET_US = 50.0


def app() -> Starlette:
    async def text(request):
        return PlainTextResponse("ok")

    async def chat(request):
        return JSONResponse({"choices": [], "usage": {"completion_tokens": 12}})

    return Starlette(routes=[Route("/text", text), Route("/v1/chat/completions", chat)])


def scope(path: str) -> dict:
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "headers": [], "client": ("127.0.0.1", 1), "server": ("bench", 80),
    }  # fmt: skip


async def block(target, path: str, n: int) -> float:
    """Return seconds per call over n calls."""

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        pass

    t0 = time.perf_counter()
    for _ in range(n):
        await target(scope(path), receive, send)
    return (time.perf_counter() - t0) / n


async def measure(blocks: int, n: int) -> dict:
    bare = app()
    probe = ClockProbe("fake:gpu0", time.monotonic, lambda t: 250.0, domain="gpu")
    sampler = Sampler([probe])
    sampler.start()
    wrapped = EnergyMiddleware(app(), sampler=sampler, registry=CollectorRegistry())
    out = {}
    for path in ("/text", "/v1/chat/completions"):
        await block(bare, path, n)  # warm both
        await block(wrapped, path, n)
        b, w = [], []
        for _ in range(blocks):
            b.append(await block(bare, path, n))
            w.append(await block(wrapped, path, n))
        out[path] = {
            "bare_us": statistics.median(b) * 1e6,
            "wrapped_us": statistics.median(w) * 1e6,
            "overhead_us": statistics.median(x - y for x, y in zip(w, b, strict=True)) * 1e6,
        }
    wrapped.close()
    sampler.stop()
    total = wrapped.metrics.energy.labels("/text")._sum.get()
    out["energy_observed_j"] = total
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--blocks", type=int, default=15)
    p.add_argument("--calls", type=int, default=2000)
    p.add_argument("--json", default=None)
    args = p.parse_args()
    res = asyncio.run(measure(args.blocks, args.calls))
    print("| route | bare us/request | with EnergyMiddleware | overhead us | target |")
    print("|---|---|---|---|---|")
    ok = True
    for path in ("/text", "/v1/chat/completions"):
        r = res[path]
        ok &= r["overhead_us"] < TARGET_US
        print(
            f"| {path} | {r['bare_us']:.1f} | {r['wrapped_us']:.1f} | {r['overhead_us']:.1f} | "
            f"< {TARGET_US:g} |"
        )
    print(
        f"in-process ASGI calls, median of {args.blocks} alternating blocks of {args.calls} "
        f"calls; Python {sys.version.split()[0]}; energy attributed to /text meanwhile: "
        f"{res['energy_observed_j']:.3g} J (fake 250 W probe)"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
