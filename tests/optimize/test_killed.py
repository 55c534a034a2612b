"""A tuned process killed mid-search never leaves its GPU changed (kill -9, SIGTERM, SIGINT)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli import REPO, greenai_cli
from tests.conftest import NVML_STUB_DIR

WORKER = Path(__file__).with_name("_tuned_worker.py")
ORIGINAL_MW = 700_000


@pytest.fixture
def node(tmp_path):
    """Return (env for the processes of one node with a fake GPU, its limit file)."""
    limit = tmp_path / "limit"
    limit.write_text(str(ORIGINAL_MW))
    config = tmp_path / "nvml.json"
    config.write_text(json.dumps({"gpus": [{"limited": True, "limit_file": str(limit)}]}))
    env = {
        "PYTHONPATH": f"{NVML_STUB_DIR}{os.pathsep}{REPO}",
        "GREENAI_FAKE_NVML": str(config),
        "GREENAI_NVML": "on",
        "GREENAI_RUNTIME_DIR": str(tmp_path / "run"),
    }
    return env, limit


def _tuning_worker(env, journal) -> subprocess.Popen:
    """Start the worker and return it once its GPU runs at a candidate limit."""
    child = subprocess.Popen(
        [sys.executable, str(WORKER), str(journal)],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        text=True,
    )
    line = child.stdout.readline()
    assert line.strip() == "tuning", line
    return child


def test_kill_9_then_recover_restores_the_original_limit_10_of_10(node, tmp_path):
    env, limit = node
    restored = 0
    for trial in range(10):
        journal = tmp_path / f"run{trial}.json.journal"
        child = _tuning_worker(env, journal)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        assert int(limit.read_text()) != ORIGINAL_MW  # the kill left it changed
        done = greenai_cli("recover", str(journal), "-o", str(tmp_path / "out.json"), env=env)
        assert done.returncode == 0, done.stderr
        assert "restored    GPU" in done.stdout
        restored += int(limit.read_text()) == ORIGINAL_MW
    assert restored == 10


def test_the_next_greenai_start_on_the_node_restores_a_stale_limit(node, tmp_path):
    env, limit = node
    child = _tuning_worker(env, tmp_path / "run.journal")
    child.kill()
    child.wait(timeout=30)
    assert int(limit.read_text()) != ORIGINAL_MW
    code = "import greenai\nwith greenai.meter():\n    pass\n"
    done = subprocess.run(
        [sys.executable, "-c", code], env={**os.environ, **env}, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert int(limit.read_text()) == ORIGINAL_MW
    assert not list((tmp_path / "run").rglob("tune-*.json"))


def test_recover_settings_alone_restores_the_node(node, tmp_path):
    env, limit = node
    child = _tuning_worker(env, tmp_path / "run.journal")
    child.kill()
    child.wait(timeout=30)
    done = greenai_cli("recover", "--settings", env=env)
    assert done.returncode == 0, done.stderr
    assert int(limit.read_text()) == ORIGINAL_MW


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_sigint_restore_on_the_way_out(node, tmp_path, signum):
    env, limit = node
    child = _tuning_worker(env, tmp_path / "run.json.journal")
    child.send_signal(signum)
    child.wait(timeout=30)
    assert child.returncode != 0
    assert int(limit.read_text()) == ORIGINAL_MW
