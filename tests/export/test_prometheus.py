"""The Prometheus exporter, scraped over loopback and parsed with prometheus_client's parser."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
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


def test_greenai_exporter_command_with_fake_gpus(tmp_path: Path):
    import socket

    nvml = tmp_path / "nvml.json"
    nvml.write_text(
        json.dumps(
            {
                "gpus": [
                    {"uuid": "GPU-a000-0000", "power_w": 120.0},
                    {"uuid": "GPU-b000-0000", "power_w": 310.0},
                ]
            }
        )
    )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GREENAI_", "CUDA_"))}
    env.update(
        PYTHONPATH=os.pathsep.join([str(STUB), str(REPO)]),
        GREENAI_FAKE_NVML=str(nvml),
        GREENAI_NVML="on",
        GREENAI_POWERCAP_ROOT=str(tmp_path / "none"),
    )
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
