"""SIGTERM in a metered process, user handlers, clocks, and meters that share a node."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import greenai
from greenai.meter import Meter, _shared, _sigterm
from tests.fakes.powercap import FakePowercap

REPO = Path(__file__).resolve().parents[1]


def _child(code: str, *args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
    )


def test_sigterm_in_a_metered_process_writes_an_interrupted_result(tmp_path):
    out = tmp_path / "r.json"
    code = (
        "import sys, time, greenai\n"
        "with greenai.meter(task='t', output=sys.argv[1]) as m:\n"
        "    print('ready', flush=True)\n"
        "    while True:\n"
        "        time.sleep(0.01); m.count(1)\n"
    )
    child = _child(code, str(out))
    assert child.stdout.readline().strip() == "ready"
    time.sleep(0.3)
    child.send_signal(signal.SIGTERM)
    assert child.wait(timeout=30) == 128 + signal.SIGTERM
    doc = json.loads(out.read_text())
    assert doc["status"] == "interrupted" and doc["error"]["type"] == "Terminated"
    assert doc["energy_j"] > 0 and doc["units_done"] > 5


def test_users_own_sigterm_handler_keeps_working(tmp_path):
    out = tmp_path / "r.json"
    code = (
        "import signal, sys, time, greenai\n"
        "stop = []\n"
        "def mine(signum, frame):\n"
        "    stop.append(signum)\n"
        "signal.signal(signal.SIGTERM, mine)\n"
        "with greenai.meter(output=sys.argv[1], journal=sys.argv[1] + '.journal') as m:\n"
        "    print('ready', flush=True)\n"
        "    while not stop:\n"
        "        time.sleep(0.01)\n"
        "print('handled', signal.getsignal(signal.SIGTERM) is mine, flush=True)\n"
    )
    child = _child(code, str(out))
    assert child.stdout.readline().strip() == "ready"
    child.send_signal(signal.SIGTERM)
    assert child.wait(timeout=30) == 0
    assert child.stdout.read().split() == ["handled", "True"]
    assert json.loads(out.read_text())["status"] == "ok"  # the user's handler chose to finish


def test_sigint_is_an_interrupted_run(tmp_path):
    out = tmp_path / "r.json"
    code = (
        "import sys, time, greenai\n"
        "try:\n"
        "    with greenai.meter(output=sys.argv[1]):\n"
        "        print('ready', flush=True); time.sleep(30)\n"
        "except KeyboardInterrupt:\n"
        "    sys.exit(130)\n"
    )
    child = _child(code, str(out))
    assert child.stdout.readline().strip() == "ready"
    child.send_signal(signal.SIGINT)
    assert child.wait(timeout=30) == 130
    assert json.loads(out.read_text())["status"] == "interrupted"


def test_meter_left_running_is_saved_at_exit(tmp_path):
    out = tmp_path / "r.json"
    code = "import sys, greenai\nm = greenai.meter(output=sys.argv[1]).start()\nsum(range(10**6))\n"
    child = _child(code, str(out))
    assert child.wait(timeout=30) == 0
    assert json.loads(out.read_text())["status"] == "interrupted"


def test_wall_clock_jumps_do_not_change_duration(monkeypatch):
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 7200.0)  # NTP step of two hours
    with greenai.meter() as m:
        time.sleep(0.05)
        monkeypatch.setattr(time, "time", lambda: real() - 86400.0)
        time.sleep(0.05)
    assert 0.09 < m.result.duration_s < 1.0


@pytest.fixture
def live_tree(tmp_path, monkeypatch):
    tree = FakePowercap(tmp_path / "sys")
    tree.add_zone("0", "package-0", max_range_uj=60_000_000, max_power_uw=200_000_000)
    updater = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.fakes.powercap_updater",
            f"{tree.zones['intel-rapl:0'].path}=100.0",
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    updater.stdout.readline()
    monkeypatch.setenv("GREENAI_POWERCAP_ROOT", str(tree.root))

    def stop() -> float:
        """Stop the writer; return the longest gap between its writes (s)."""
        updater.terminate()
        return float(updater.communicate(timeout=10)[0].split()[-1])

    yield stop
    if updater.poll() is None:
        updater.kill()
        updater.wait()


def test_meters_in_threads_share_one_sampler_and_are_exact(live_tree):
    results: dict[str, greenai.Measurement] = {}
    samplers = set()

    def work(name: str, seconds: float) -> None:
        with greenai.meter(task=name) as m:
            samplers.add(id(_shared._sampler))
            time.sleep(seconds)
        results[name] = m.result

    with greenai.meter(task="outer") as outer:
        threads = [
            threading.Thread(target=work, args=(n, s))
            for n, s in (("a", 1.0), ("b", 0.5), ("c", 0.7))
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    results["outer"] = outer.result
    max_gap_s = live_tree()
    assert len(samplers) == 1
    for r in results.values():
        known_j = 100.0 * r.duration_s
        allowed_j = max(1e-3 * known_j, 100.0 * 2 * max_gap_s)  # the fake writer's staleness
        assert abs(r.by_device["rapl:package-0"] - known_j) <= allowed_j


def test_two_processes_on_one_node_are_warned(tmp_path):
    env = {"GREENAI_RUNTIME_DIR": str(tmp_path)}
    code = (
        "import time, greenai\nwith greenai.meter():\n"
        "    print('ready', flush=True); time.sleep(20)\n"
    )
    other = _child(code, env=env)
    try:
        assert other.stdout.readline().strip() == "ready"
        probe = _child(
            "import warnings, greenai\n"
            "with warnings.catch_warnings(record=True) as w:\n"
            "    warnings.simplefilter('always')\n"
            "    with greenai.meter(): pass\n"
            "print([str(x.message) for x in w])\n",
            env=env,
        )
        out, _ = probe.communicate(timeout=60)
        assert str(other.pid) in out and "also meter this node" in out
    finally:
        other.kill()
        other.wait()


def test_meter_in_a_thread_does_not_touch_signals():
    seen = []

    def work() -> None:
        with Meter():
            seen.append(_sigterm.installed)

    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert seen == [False] and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
