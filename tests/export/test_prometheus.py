"""The Prometheus exporter, scraped over loopback and parsed with prometheus_client's parser."""

from __future__ import annotations

import contextlib
import json
import os
import select
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

import pytest

pytest.importorskip("prometheus_client", reason="prometheus_client is not installed")

from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from greenai.export.prometheus import Exporter  # noqa: E402
from greenai.probes.base import Method  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
STUB = REPO / "tests" / "fakes" / "nvml_stub"


def scrape(url: str) -> dict[tuple[str, str], float]:
    """Return {(sample name, device): value} of one scrape."""
    with urllib.request.urlopen(url, timeout=10) as resp:
        text = resp.read().decode()
    return {
        (s.name, s.labels.get("device", "")): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_exporter_in_process_serves_power_and_growing_energy():
    with Exporter(port=0, interval_s=0.02, probes=[_ConstantPower("fake:gpu", "gpu", 150.0)]) as ex:
        assert ex.addr == "127.0.0.1"
        time.sleep(0.3)
        first = scrape(ex.url)
        time.sleep(0.3)
        second = scrape(ex.url)
    assert first[("greenai_power_watts", "fake:gpu")] == pytest.approx(150.0)
    e1 = first[("greenai_energy_joules_total", "fake:gpu")]
    e2 = second[("greenai_energy_joules_total", "fake:gpu")]
    assert e2 - e1 == pytest.approx(150.0 * 0.3, rel=0.3)
    assert second[("greenai_probe_up", "fake:gpu")] == 1.0


class _ConstantPower:
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


def fake_gpu_env(tmp_path: Path, watts: Sequence[float]) -> dict[str, str]:
    """Return the environment of a greenai subprocess seeing fake GPUs of constant power."""
    nvml = tmp_path / "nvml.json"
    gpus = [{"uuid": f"GPU-{i:x}000-0000", "power_w": w} for i, w in enumerate(watts, start=10)]
    nvml.write_text(json.dumps({"gpus": gpus}))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GREENAI_", "CUDA_"))}
    env.update(
        PYTHONPATH=os.pathsep.join([str(STUB), str(REPO)]),
        GREENAI_FAKE_NVML=str(nvml),
        GREENAI_NVML="on",
        GREENAI_POWERCAP_ROOT=str(tmp_path / "none"),
    )
    return env


def test_greenai_exporter_command_with_fake_gpus(tmp_path: Path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = fake_gpu_env(tmp_path, [120.0, 310.0])
    proc = subprocess.Popen(
        [sys.executable, "-m", "greenai", "exporter", "--port", str(port), "--interval", "0.1"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert "serving http://127.0.0.1:" in proc.stderr.readline()
        time.sleep(0.5)
        first = scrape(f"http://127.0.0.1:{port}/metrics")
        time.sleep(1.0)
        second = scrape(f"http://127.0.0.1:{port}/metrics")
    finally:
        proc.terminate()
        assert proc.wait(timeout=20) == 0
    for device, watts in (("nvml:0", 120.0), ("nvml:1", 310.0)):
        assert first[("greenai_power_watts", device)] == pytest.approx(watts, rel=0.02)
        grown = second[("greenai_energy_joules_total", device)]
        grown -= first[("greenai_energy_joules_total", device)]
        assert grown == pytest.approx(watts * 1.0, rel=0.25)
    # the node's modelled CPU is exported too, labelled as modelled
    assert ("greenai_energy_joules_total", "model:cpu") in second


DASHBOARD = REPO / "examples" / "grafana-dashboard.json"


def dashboard_queries() -> list[str]:
    """Return every PromQL expression of the shipped Grafana dashboard (panels and variables)."""
    doc = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    exprs = [t["expr"] for p in doc["panels"] for t in p["targets"]]
    exprs += [v["query"]["query"] for v in doc["templating"]["list"] if v["type"] == "query"]
    return exprs


def test_grafana_dashboard_queries_only_metrics_the_exporter_exports():
    import re

    doc = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    titles = " ".join(p["title"].lower() for p in doc["panels"])
    for topic in ("power per device", "energy", "water", "carbon"):
        assert topic in titles
    with Exporter(port=0, interval_s=0.02, probes=[_ConstantPower("fake:gpu", "gpu", 150.0)]) as ex:
        time.sleep(0.1)
        exported = {name for name, _ in scrape(ex.url)}
    used = {m for e in dashboard_queries() for m in re.findall(r"\bgreenai_[a-z_]+\b", e)}
    assert len(used) >= 6 and used <= exported, used - exported
    assert {s for s in exported if s.endswith("_total")} >= {
        "greenai_energy_joules_total",
        "greenai_node_energy_joules_total",
        "greenai_water_litres_total",
        "greenai_carbon_grams_total",
    }


def test_every_series_carries_host_and_node_counters_follow_the_site():
    from greenai.site import Site
    from greenai.units import j_to_kwh

    site = Site.resolve(pue=1.5, wue_l_per_kwh=2.0, grid="FR")
    probes = [
        _ConstantPower("fake:gpu", "gpu", 300.0),
        _ConstantPower("fake:core", "cpu", 50.0),
    ]
    probes[1].counts_in_total = False  # inside the package: never added to the node
    with Exporter(port=0, interval_s=0.02, probes=probes, site=site, host="node-7") as ex:
        time.sleep(0.3)
        with urllib.request.urlopen(ex.url, timeout=10) as resp:
            families = list(text_string_to_metric_families(resp.read().decode()))
    samples = [s for f in families for s in f.samples]
    assert samples and all(s.labels["host"] == "node-7" for s in samples)
    value = {(s.name, s.labels.get("device", s.labels.get("scope", ""))): s.value for s in samples}
    node_j = value[("greenai_node_energy_joules_total", "")]
    assert node_j == pytest.approx(value[("greenai_energy_joules_total", "fake:gpu")])
    assert value[("greenai_node_power_watts", "")] == pytest.approx(300.0)
    kwh = j_to_kwh(node_j)
    assert value[("greenai_water_litres_total", "onsite")] == pytest.approx(kwh * 2.0)
    assert value[("greenai_carbon_grams_total", "")] == pytest.approx(
        kwh * 1.5 * site.carbon_intensity_g_per_kwh.value
    )


def test_idle_sockets_neither_stall_scrapes_nor_stay_open():
    import socket

    from prometheus_client import CollectorRegistry

    from greenai.export.prometheus import MetricsServer

    server = MetricsServer("127.0.0.1", 0, CollectorRegistry(), workers=2, timeout_s=0.5)
    try:
        assert server.backlog >= 128
        idle = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(50)]
        began = time.monotonic()
        for _ in range(5):  # 50 silent sockets, 2 workers: every scrape is still answered
            with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=5) as r:
                assert r.status == 200
        assert time.monotonic() - began < 2.0
        time.sleep(1.5)  # past the timeout: the server closed every idle socket
        for s in idle:
            s.settimeout(2.0)
            assert s.recv(1) == b""
            s.close()
        assert server.closed_idle == 50
        with pytest.raises(urllib.error.HTTPError, match="404"):
            urllib.request.urlopen(f"http://127.0.0.1:{server.port}/other", timeout=5)
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
            s.sendall(b"NONSENSE\r\n\r\n")
            assert s.recv(100).startswith(b"HTTP/1.0 400")
        # a client that trickles its request a byte at a time is cut off after the timeout:
        # the server answers 400 (or resets) and closes, whichever the client sees first
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
            began = time.monotonic()
            cut_off_at = None
            seen = b""
            try:
                for byte in b"GET /metrics HTTP/1.1\r\nHost: x\r\n":
                    s.sendall(bytes([byte]))
                    if select.select([s], [], [], 0.1)[0]:
                        cut_off_at = time.monotonic()
                        break
            except (BrokenPipeError, ConnectionResetError):
                cut_off_at = time.monotonic()
            assert cut_off_at is not None, "a trickling client was never cut off"
            s.settimeout(5)
            with contextlib.suppress(ConnectionResetError):
                while chunk := s.recv(4096):
                    seen += chunk
            assert seen == b"" or seen.startswith(b"HTTP/1.0 400"), seen[:40]
            assert cut_off_at - began < 0.5 + 0.25 + 1.5  # timeout + sweep + slack
    finally:
        server.stop()


def test_a_counter_read_only_at_edges_gets_its_power_from_energy_between_scrapes(powercap, clock):
    from greenai.export.prometheus import SamplerCollector
    from greenai.probes import rapl
    from greenai.sampler import Sampler
    from greenai.site import Site

    powercap.add_zone("0", "package-0", power_w=90.0)
    powercap.add_zone("0:0", "core", power_w=lambda t: 40.0 + 10.0 * ((t // 5) % 2))
    clock.on_advance(powercap.update)
    sampler = Sampler(rapl.discover().probes, clock=clock, timeline_hz=10.0)
    sampler.sample()
    collector = SamplerCollector(sampler, host="n", site=Site.resolve(pue=1.0))

    def power_w() -> dict[str, float]:
        families = {f.name: f for f in collector.collect()}
        return {s.labels["device"]: s.value for s in families["greenai_power_watts"].samples}

    def run(seconds: float) -> None:
        for _ in range(round(seconds / 0.1)):
            clock.advance(0.1)
            with sampler._lock:
                sampler._tick()

    run(2.0)
    assert set(power_w()) == {"rapl:package-0"}  # the core: no power before a second scrape
    run(5.0)  # the core at 40 W for 3 s, then 50 W for 2 s
    power = power_w()
    assert power["rapl:package-0"] == pytest.approx(90.0)
    assert power["rapl:package-0/core"] == pytest.approx((40.0 * 3 + 50.0 * 2) / 5)
