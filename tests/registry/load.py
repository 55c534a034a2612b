"""Load for the registry: many submitters at once, a server process that can be killed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from greenai import disclosure
from greenai.errors import GreenAIError
from greenai.registry import client
from tests.registry.conftest import variant
from tests.registry.pg import free_port

REPO = Path(__file__).resolve().parents[2]


def signed_bodies(base: dict, key: Path, first: int, count: int) -> list[bytes]:
    """Return `count` distinct signed disclosures (compact JSON) made from a base document."""
    return [
        json.dumps(disclosure.sign(variant(base, first + n), key)).encode() for n in range(count)
    ]


class ServerProcess:
    """`greenai registry serve` in a child process, on a free port."""

    def __init__(self, db: str, log: Path):
        self.db, self.log, self.port = db, log, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout_s: float = 30.0) -> None:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        cmd = [sys.executable, "-m", "greenai", "registry", "serve", "--db", self.db]
        cmd += ["--port", str(self.port), "--per-minute", "1000000"]
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=log, env=env)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if client.request("GET", f"{self.url}/api/health", timeout=2)[0] == 200:
                    return
            except GreenAIError:
                time.sleep(0.1)
            if self.proc.poll() is not None:
                break
        raise RuntimeError(f"the registry did not start: {self.log.read_text()[-2000:]}")

    def kill(self) -> None:
        """kill -9: no shutdown, no flush."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)


@dataclass
class LoadResult:
    """What the submitters saw: acknowledged hashes, latencies of acknowledged uploads."""

    acked: dict[str, str] = field(default_factory=dict)  # sha256 -> submitter token
    stored_answers: int = 0  # answers saying 'stored' (not 'already stored')
    latencies_s: list[float] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    failed: int = 0  # requests that got no answer (the server was killed)
    seconds: float = 0.0

    def percentile_ms(self, q: float) -> float:
        ordered = sorted(self.latencies_s)
        return 1000 * ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


def run_load(
    url: str,
    work: Mapping[str, Sequence[bytes]],
    seconds: float,
    threads_per_token: int = 1,
    result: LoadResult | None = None,
) -> LoadResult:
    """Send each token's bodies from its own thread(s) until done, the time is up, or the
    server stops answering; return what was acknowledged (into `result` if given, so
    another thread can watch it grow)."""
    result = result if result is not None else LoadResult()
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def submitter(token: str, bodies: Sequence[bytes]) -> None:
        for body in bodies:
            if time.monotonic() >= stop_at:
                return
            t0 = time.perf_counter()
            try:
                answer = client.submit_bytes(url, body, token)
            except GreenAIError:
                with lock:
                    result.failed += 1
                return  # the server is gone
            dt = time.perf_counter() - t0
            with lock:
                if answer.ok:
                    result.acked[answer.body["sha256"]] = token
                    result.latencies_s.append(dt)
                    result.stored_answers += answer.body["state"] == "stored"
                else:
                    result.refused.append(answer.reason)

    t0 = time.monotonic()
    threads = []
    for token, bodies in work.items():
        share = max(1, len(bodies) // threads_per_token)
        for i in range(threads_per_token):
            part = bodies[i * share : (i + 1) * share]
            threads.append(threading.Thread(target=submitter, args=(token, part)))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result.seconds = time.monotonic() - t0
    return result
