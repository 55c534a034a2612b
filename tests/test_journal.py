"""Journal: torn and corrupt records are skipped; recovery rebuilds an interrupted run."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import greenai
from greenai import journal
from greenai.meter import Meter
from greenai.recovery import recover_journal
from greenai.sampler import Sampler
from tests.fakes.clock import FakeClock
from tests.fakes.probes import ClockProbe, constant

REPO = Path(__file__).resolve().parents[1]


def _metered_run(tmp_path: Path, clock: FakeClock, seconds: float = 3.0):
    probes = [
        ClockProbe("rapl:package-0", clock, constant(50.0)),
        ClockProbe("nvml:0", clock, constant(200.0), domain="gpu", fail_at_s=clock() + 2.05),
    ]
    s = Sampler(probes, clock=clock)
    s.sample()
    path = tmp_path / "run.journal"
    m = Meter(
        "training", "sample", sampler=s, journal=path, journal_period_s=3600, handle_signals=False
    )
    m.start()
    with pytest.warns(Warning, match="nvml:0"):
        for step in range(round(seconds / 0.1)):
            clock.advance(0.1)
            s.sample()
            m.count(2)
            if step % 10 == 9:
                m.checkpoint()
    return m, path


def test_recovery_equals_the_energy_at_the_last_checkpoint(tmp_path, clock):
    m, path = _metered_run(tmp_path, clock)
    r = recover_journal(path)
    assert r.status == "interrupted"
    assert r.duration_s == pytest.approx(3.0)
    assert r.by_device["rapl:package-0"] == pytest.approx(150.0)
    gpu = next(d for d in r.devices if d.id == "nvml:0")
    assert gpu.status == "failed" and gpu.energy_j == pytest.approx(400.0)
    assert "device went away" in gpu.error
    assert r.units_done == 60 and r.task == "training"
    assert "recovered from journal" in r.sampling["problems"][0]
    assert r.sampling["energy_reads"] == "window edges"  # counters only: rated as such
    assert r.footprint is not None and r.footprint.computed is True


def test_torn_last_record_is_skipped(tmp_path, clock):
    m, path = _metered_run(tmp_path, clock)
    data = path.read_bytes()
    lines = data.splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:-1]) + lines[-1][: len(lines[-1]) // 2])
    r = recover_journal(path)
    assert r.duration_s == pytest.approx(2.0)  # falls back to the checkpoint before
    assert r.by_device["rapl:package-0"] == pytest.approx(100.0)
    assert "skipped" in r.sampling["problems"][0]


def test_corrupt_middle_record_is_skipped_and_later_ones_used(tmp_path, clock):
    m, path = _metered_run(tmp_path, clock)
    lines = path.read_bytes().splitlines(keepends=True)
    lines[2] = lines[2].replace(b'"u":', b'"U":')  # bit rot: CRC no longer matches
    path.write_bytes(b"".join(lines))
    contents = journal.read(path)
    assert contents.skipped_lines == [3]
    assert recover_journal(path).duration_s == pytest.approx(3.0)


def test_not_a_journal(tmp_path):
    p = tmp_path / "x.journal"
    p.write_text("hello\n")
    with pytest.raises(greenai.DisclosureError, match="header is torn or corrupt"):
        journal.read(p)
    p.write_bytes(journal.encode({"k": "c"}))
    with pytest.raises(greenai.DisclosureError, match="not a greenai journal"):
        journal.read(p)
    p.write_bytes(b"")
    with pytest.raises(greenai.DisclosureError, match="empty"):
        journal.read(p)


def test_journal_on_a_full_disk_never_stops_the_run(clock):
    s = Sampler([ClockProbe("p", clock, constant(10.0))], clock=clock)
    s.sample()
    m = Meter(sampler=s, journal="/dev/full", handle_signals=False)  # ENOSPC on every write
    with pytest.warns(greenai.GreenAIWarning, match="No space left on device"):
        m.start()
    for _ in range(10):
        clock.advance(0.1)
        s.sample()
    r = m.stop()
    assert r.status == "ok" and r.energy_j == pytest.approx(10.0)
    assert any("No space left" in p for p in r.sampling["problems"])


def test_successful_run_removes_its_journal(tmp_path):
    out = tmp_path / "r.json"
    with Meter(output=out, journal=tmp_path / "r.json.journal", journal_period_s=0.05):
        time.sleep(0.2)
    assert out.exists() and not (tmp_path / "r.json.journal").exists()


CHILD = """
import sys, time
sys.path.insert(0, {repo!r})
from greenai.meter import Meter
from tests.fakes.probes import ClockProbe, constant
m = Meter("t", "sample", probes=[ClockProbe("p", time.monotonic, constant({power}))],
          journal=sys.argv[1], journal_period_s={period}, handle_signals=False, timeline=False)
m.start()
print(repr(m._start.t_s), flush=True)
while True:
    time.sleep(0.005)
    m.count(1)
"""


def _kill_trials(tmp_path: Path, trials: int, period_s: float = 0.1, power_w: float = 100.0):
    code = CHILD.format(repo=str(REPO), power=power_w, period=period_s)
    rng = random.Random(1234)
    losses = []
    for k in range(trials):
        path = tmp_path / f"k{k}.journal"
        child = subprocess.Popen(
            [sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, text=True
        )
        t0 = float(child.stdout.readline())
        time.sleep(rng.uniform(0.12, 0.9))
        t_kill = time.monotonic()
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        r = recover_journal(path)
        truth = power_w * (t_kill - t0)
        losses.append((truth - r.energy_j) / power_w)  # seconds of energy lost
        assert r.status == "interrupted"
    return losses


def test_kill_9_loses_at_most_one_period(tmp_path):
    losses = _kill_trials(tmp_path, trials=5)
    assert max(losses) <= 0.1 and min(losses) >= -0.005, losses


@pytest.mark.slow
def test_kill_9_fifty_trials(tmp_path):
    losses = _kill_trials(tmp_path, trials=50)
    print(
        f"\nkill test: 50/50 recovered; loss min {min(losses) * 1e3:.2f} ms, "
        f"max {max(losses) * 1e3:.2f} ms of a 100 ms period"
    )
    assert max(losses) <= 0.1 and min(losses) >= -0.005, losses


def test_greenai_recover_cli(tmp_path, clock):
    _, path = _metered_run(tmp_path, clock)
    out = tmp_path / "rec.json"
    res = subprocess.run(
        [sys.executable, "-m", "greenai", "recover", str(path), "-o", str(out)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert res.returncode == 0, res.stderr
    assert json.loads(out.read_text())["status"] == "interrupted"
    bad = tmp_path / "bad.journal"
    bad.write_text("garbage")
    res = subprocess.run(
        [sys.executable, "-m", "greenai", "recover", str(bad), "-o", str(out)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert res.returncode == 2 and "Traceback" not in res.stderr and "torn" in res.stderr
