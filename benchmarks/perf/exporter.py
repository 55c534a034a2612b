"""Scrape the greenai exporter hard on 127.0.0.1: a crowd of scrapers, then idle sockets.

    python benchmarks/perf/exporter.py                 # 50 scrapers x 20 s, 200 idle sockets
    python benchmarks/perf/exporter.py --seconds 5     # shorter
    python benchmarks/perf/exporter.py --json out.json

(a) ``--scrapers`` threads each GET /metrics every ``--period`` s (default 0.1: each scraper
    10 times a second, 500 scrapes/s in all, a hundred times what 50 Prometheus servers
    scraping every 10 s would ask) for ``--seconds``, every scrape on a new connection;
    latency is connect to last byte. ``--period 0`` scrapes back to back (closed loop: then
    latency is concurrency / throughput of the client as much as of the server). Printed:
    scrapes, errors, p50, p99, max. Target: p99 < 50 ms, 0 errors.
(b) ``--idle`` sockets connect and send nothing. While they are open, 20 scrapes must each
    answer (and their latency is printed); after the server's timeout every idle socket
    must have been closed by the server (recv gives EOF). Target: all answered, all closed.

The exporter runs in a child process (its own interpreter, so the load generator's threads
do not hold its GIL) over 4 constant-power fake probes (no hardware needed), sampling at
10 Hz. The load generator shares the CPUs with the server: on a small machine the figures
include that contention.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from greenai.export.prometheus import Exporter  # noqa: E402
from greenai.probes.base import Method  # noqa: E402

REQUEST = b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"


class ConstantPower:
    """A probe drawing a constant power (W): energy grows with the monotonic clock."""

    method = Method.POWER
    counts_in_total = True
    wrap_j = None
    max_power_w = None

    def __init__(self, id: str, domain: str, watts: float):
        self.id, self.domain, self.watts = id, domain, watts

    def read(self) -> float:
        return self.watts

    def info(self) -> dict:
        return {}

    def close(self) -> None:
        pass


def scrape(port: int, timeout_s: float = 5.0) -> float:
    """Return the seconds one GET /metrics took, connect to the last byte; raise on error."""
    began = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as s:
        s.sendall(REQUEST)
        chunks = []
        while True:
            data = s.recv(65536)
            if not data:
                break
            chunks.append(data)
    body = b"".join(chunks)
    if not body.startswith(b"HTTP/1.0 200") or b"greenai_node_energy_joules_total" not in body:
        raise RuntimeError(f"bad answer: {body[:80]!r}")
    return time.perf_counter() - began


def crowd(port: int, scrapers: int, seconds: float, period_s: float) -> dict:
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    stop_at = time.perf_counter() + seconds

    def worker() -> None:
        mine, bad = [], []
        next_at = time.perf_counter() + period_s * (id(mine) % 1000) / 1000  # spread starts
        while time.perf_counter() < stop_at:
            time.sleep(max(0.0, next_at - time.perf_counter()))
            next_at += period_s
            try:
                mine.append(scrape(port))
            except Exception as exc:  # noqa: BLE001 - counted, not raised
                bad.append(f"{type(exc).__name__}: {exc}")
        with lock:
            latencies.extend(mine)
            errors.extend(bad)

    threads = [threading.Thread(target=worker) for _ in range(scrapers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    latencies.sort()
    q = statistics.quantiles(latencies, n=100) if len(latencies) >= 2 else [float("nan")] * 99
    return {
        "scrapers": scrapers,
        "seconds": seconds,
        "period_s": period_s,
        "scrapes": len(latencies),
        "errors": len(errors),
        "first_errors": errors[:3],
        "p50_ms": q[49] * 1e3,
        "p99_ms": q[98] * 1e3,
        "max_ms": latencies[-1] * 1e3 if latencies else float("nan"),
    }


def idle(port: int, count: int, server_timeout_s: float) -> dict:
    sockets = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(count)]
    try:
        answered = [scrape(port) for _ in range(20)]
        time.sleep(server_timeout_s + 1.0)
        closed = 0
        for s in sockets:
            s.settimeout(2.0)
            try:
                closed += s.recv(1) == b""
            except (ConnectionResetError, BrokenPipeError):
                closed += 1
            except TimeoutError:
                pass
        after = scrape(port)
    finally:
        for s in sockets:
            s.close()
    return {
        "idle_sockets": count,
        "scrapes_answered_while_idle_open": len(answered),
        "max_ms_while_idle_open": max(answered) * 1e3,
        "closed_by_server_after_timeout": closed,
        "scrape_after_ms": after * 1e3,
    }


def serve(conn: object) -> None:
    """Child process: run the exporter, send (port, timeout) and wait for 'stop'."""
    probes = [ConstantPower(f"fake:{d}", d, w) for d, w in (("cpu", 60), ("dram", 8), ("gpu", 300))]
    probes.append(ConstantPower("fake:gpu1", "gpu", 280))
    with Exporter(port=0, interval_s=0.1, probes=probes) as ex:
        conn.send((ex.port, ex._server.timeout_s))  # type: ignore[attr-defined]
        conn.recv()  # type: ignore[attr-defined]
        import resource

        use = resource.getrusage(resource.RUSAGE_SELF)
        cpu_s = use.ru_utime + use.ru_stime
        conn.send((ex._server.closed_idle, threading.active_count(), cpu_s))  # type: ignore[attr-defined]


def main() -> int:
    import multiprocessing

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scrapers", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--period", type=float, default=0.1, help="s between one scraper's GETs")
    ap.add_argument("--idle", type=int, default=200)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    ours, theirs = multiprocessing.Pipe()
    child = multiprocessing.get_context("spawn").Process(target=serve, args=(theirs,))
    child.start()
    try:
        port, timeout_s = ours.recv()
        time.sleep(0.3)
        a = crowd(port, args.scrapers, args.seconds, args.period)
        b = idle(port, args.idle, timeout_s)
        ours.send("stop")
        b["closed_idle_counted_by_server"], b["server_threads"], server_cpu_s = ours.recv()
        a["server_cpu_ms_per_scrape"] = server_cpu_s * 1e3 / max(1, a["scrapes"] + 21)
    finally:
        child.join(timeout=10)
        if child.is_alive():
            child.kill()
    out = {"crowd": a, "idle": b, "cpus": os.cpu_count(), "python": sys.version.split()[0]}
    print(
        f"(a) {a['scrapers']} scrapers x {a['seconds']:g} s, one GET each per {a['period_s']:g} s, "
        f"on 127.0.0.1: {a['scrapes']} scrapes, "
        f"{a['errors']} errors, p50 {a['p50_ms']:.2f} ms, p99 {a['p99_ms']:.2f} ms, "
        f"max {a['max_ms']:.2f} ms; server CPU {a['server_cpu_ms_per_scrape']:.2f} ms/scrape "
        "(target p99 < 50 ms, 0 errors)"
    )
    print(
        f"(b) {b['idle_sockets']} idle sockets: {b['scrapes_answered_while_idle_open']}/20 scrapes "
        f"answered while open (max {b['max_ms_while_idle_open']:.2f} ms, "
        f"{b['server_threads']} threads in the server); "
        f"{b['closed_by_server_after_timeout']}/{b['idle_sockets']} closed by the server after "
        f"its {timeout_s:g} s timeout; a scrape after: {b['scrape_after_ms']:.2f} ms"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
    ok = (
        a["errors"] == 0
        and a["p99_ms"] < 50
        and b["scrapes_answered_while_idle_open"] == 20
        and b["closed_by_server_after_timeout"] == b["idle_sockets"]
    )
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
