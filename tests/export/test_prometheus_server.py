"""A real Prometheus server scrapes `greenai exporter` on loopback; PromQL agrees with it.

The test starts Debian's ``prometheus`` binary itself (temp config and storage, a free
loopback port) and skips, saying why, where it is not installed or does not become ready.
``rate(x[1m])`` divides by the whole minute, so the answer is only right once the series
spans the minute: the test lets Prometheus scrape for a little over 60 s.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("prometheus_client", reason="prometheus_client is not installed")

from tests.export.test_prometheus import dashboard_queries, fake_gpu_env, scrape  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
GPUS_W = {"nvml:0": 120.0, "nvml:1": 310.0}
SCRAPE_INTERVAL_S = 1
RATE_WINDOW_S = 60  # the [1m] of the query


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.loads(resp.read().decode())


def query(base: str, promql: str) -> dict[str, float]:
    """Return {device (or host): value} of an instant PromQL query."""
    doc = _get_json(f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": promql}))
    assert doc["status"] == "success", doc
    return {
        r["metric"].get("device", r["metric"].get("host", "")): float(r["value"][1])
        for r in doc["data"]["result"]
    }


def _stop(proc: subprocess.Popen) -> int:
    proc.terminate()
    try:
        return proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait(timeout=5)


@pytest.fixture
def exporter(tmp_path: Path) -> Iterator[str]:
    """Yield the host:port of a `greenai exporter` over two fake GPUs of constant power."""
    port = _free_port()
    env = fake_gpu_env(tmp_path, list(GPUS_W.values()))
    command = [sys.executable, "-m", "greenai", "exporter", "--port", str(port)]
    proc = subprocess.Popen(
        [*command, "--interval", "0.05"], env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        assert "serving http://127.0.0.1:" in proc.stderr.readline()
        yield f"127.0.0.1:{port}"
    finally:
        assert _stop(proc) == 0


@pytest.fixture
def prometheus(tmp_path: Path, exporter: str) -> Iterator[str]:
    """Yield the base URL of a Prometheus server scraping the exporter every second."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.skip("the prometheus binary is not on PATH (apt-get install prometheus)")
    config = tmp_path / "prometheus.yml"
    config.write_text(
        f"global:\n  scrape_interval: {SCRAPE_INTERVAL_S}s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: greenai\n"
        f"    static_configs:\n      - targets: ['{exporter}']\n"
    )
    port = _free_port()
    log = tmp_path / "prometheus.log"
    with log.open("w") as sink:
        proc = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
            stdout=sink,
            stderr=sink,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        ready = False
        while not ready and time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"{base}/-/ready", timeout=2) as resp:
                    ready = resp.status == 200
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.3)
        if not ready:
            tail = " | ".join(log.read_text(errors="replace").splitlines()[-5:])
            pytest.skip(f"prometheus did not become ready in 30 s (exit {proc.poll()}): {tail}")
        yield base
    finally:
        _stop(proc)


def _wait_for_scrapes(base: str, span_s: float, timeout_s: float) -> int:
    """Return the number of scrapes once the stored series spans span_s (bounded wait)."""
    deadline = time.monotonic() + timeout_s
    promql = 'greenai_energy_joules_total{device="nvml:0"}[2m]'
    while True:
        doc = _get_json(f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": promql}))
        result = doc["data"]["result"]
        values = result[0]["values"] if result else []
        if len(values) >= 2 and values[-1][0] - values[0][0] >= span_s:
            return len(values)
        assert time.monotonic() < deadline, f"only {len(values)} scrape(s) in {timeout_s} s"
        time.sleep(1.0)


def test_promql_rate_of_energy_matches_the_exporters_power(prometheus: str, exporter: str):
    scrapes = _wait_for_scrapes(prometheus, RATE_WINDOW_S + 1.5, timeout_s=120)
    assert scrapes >= 2
    rate_w = query(prometheus, "rate(greenai_energy_joules_total[1m])")
    own = scrape(f"http://{exporter}/metrics")
    lines = []
    for device, configured_w in GPUS_W.items():
        exporter_w = own[("greenai_power_watts", device)]
        assert exporter_w == pytest.approx(configured_w, rel=0.02)
        assert rate_w[device] == pytest.approx(exporter_w, rel=0.05)
        lines.append(
            f"{device}: PromQL rate(greenai_energy_joules_total[1m]) = {rate_w[device]:.2f} W, "
            f"exporter greenai_power_watts = {exporter_w:.2f} W"
        )
    # the dashboard's node queries answer too: water and carbon grow with the node's energy
    water = query(prometheus, "sum by (host) (rate(greenai_water_litres_total[1m]))")
    carbon = query(prometheus, "sum by (host) (rate(greenai_carbon_grams_total[1m]))")
    node_w = query(prometheus, "rate(greenai_node_energy_joules_total[1m])")
    assert list(water) == list(carbon) == list(node_w) and len(water) == 1
    host = next(iter(water))
    assert node_w[host] >= sum(GPUS_W.values()) * 0.95  # GPUs plus the modelled CPU
    assert water[host] > 0 and carbon[host] > 0
    lines.append(
        f"{host}: node {node_w[host]:.1f} W, water {water[host] * 3600:.4g} L/h, "
        f"carbon {carbon[host] * 3600:.4g} g/h, {scrapes} scrapes"
    )
    print("\n" + "\n".join(lines))
    # every query of the shipped Grafana dashboard runs and answers
    for expr in dashboard_queries():
        if expr.startswith("label_values("):  # a Grafana function, not PromQL
            expr = expr.removeprefix("label_values(").split(",")[0]
        promql = expr.replace("$host", ".*").replace("$__rate_interval", "1m")
        assert query(prometheus, promql.replace("$__range", "1m")), expr
