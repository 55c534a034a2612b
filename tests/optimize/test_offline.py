"""The offline sweep, with a stand-in command whose cost depends on the threads it gets."""

from __future__ import annotations

import json
import sys

import pytest

from greenai.optimize.knobs import CpuThreads
from greenai.optimize.offline import sweep_command
from greenai.report.tune import tradeoff_png, tune_table


def test_sweep_measures_the_baseline_first_and_restores(tmp_path, monkeypatch):
    monkeypatch.setenv("GREENAI_RUNTIME_DIR", str(tmp_path / "run"))
    # a command's threads, not this process's: a torch another test loaded must not count
    monkeypatch.delitem(sys.modules, "torch", raising=False)
    seen = []

    def run(command, env):
        seen.append(env["OMP_NUM_THREADS"])
        return 0

    knob = CpuThreads(cpus=4)
    sweep = sweep_command(["true"], knob, tmp_path / "out", repeats=2, run=run, warmup_runs=1)
    assert seen[:3] == ["4", "4", "4"]  # warm-up, then the baseline's two runs
    assert sorted(set(seen)) == ["1", "2", "4"]
    block = sweep.optimisation
    assert block.baseline == 4.0 and block.mode == "offline"
    assert [c.windows for c in block.candidates] == [2, 2, 2]
    assert sorted(sweep.disclosures) == [1.0, 2.0, 4.0]
    doc = json.loads(sweep.disclosures[2.0].read_text())
    assert doc["tune_setting"] == {"knob": "cpu_threads", "unit": "threads", "value": 2.0}
    assert doc["units_done"] == 2.0
    assert knob.read() == 4.0


def test_one_repeat_is_refused(tmp_path):
    with pytest.raises(ValueError, match="at least 2"):
        sweep_command(["true"], CpuThreads(cpus=2), tmp_path, repeats=1, run=lambda c, e: 0)


def test_table_and_png_say_modelled(tmp_path, monkeypatch):
    monkeypatch.setenv("GREENAI_RUNTIME_DIR", str(tmp_path / "run"))
    monkeypatch.setenv("GREENAI_POWERCAP_ROOT", str(tmp_path / "none"))  # no RAPL: modelled
    monkeypatch.setenv("GREENAI_NVML", "off")
    sweep = sweep_command(
        ["true"], CpuThreads(cpus=2), tmp_path / "out", repeats=2, run=lambda c, e: 0
    )
    block = sweep.optimisation
    assert block.provenance == "modelled" and not block.graded
    text = tune_table(block)
    assert "modelled (NOT graded)" in text and "baseline" in text
    png = tradeoff_png(block, tmp_path / "t.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
