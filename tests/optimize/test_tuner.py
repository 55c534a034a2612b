"""The online tuner on the fake GPU curve: chooses near the sweep's optimum, cheaply, safely."""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from greenai.meter import Meter, _runtime_dir
from greenai.optimize import GpuPowerLimit, PowerLimitTuner
from greenai.optimize.search import Window, best, score
from greenai.sampler import Sampler
from tests.optimize.conftest import train


def _exhaustive(gpu, allowed, max_slowdown, objective="energy"):
    """Return the sweep's best and its profiling steps, measured on the exact curve."""
    base = [Window(gpu.draw_w(allowed[-1]), gpu.speed(allowed[-1]), 1.0)]
    scored = [
        score(v, [Window(gpu.draw_w(v), gpu.speed(v), 1.0)], base, max_slowdown) for v in allowed
    ]
    return best(scored, objective)


def _tuned_run(limited_gpu, clock, tuner, steps=4000):
    nvml, gpu, probe = limited_gpu
    sampler = Sampler([probe], clock=clock)
    sampler.sample()
    with Meter("training", "sample", sampler=sampler, tune=tuner, timeline=False) as m:
        train(m, gpu, clock, steps)
        during = gpu.limit_mw()
    return m, during


def test_chooses_the_optimum_with_a_third_of_the_sweep(limited_gpu, clock, fake_nvml):
    nvml, gpu, probe = limited_gpu
    # windows of 10 steps (at least 0.2 s each, longer than NVML's 0.1 s counter update)
    tuner = PowerLimitTuner(max_slowdown=0.05, window_s=0.2, min_steps=10)
    m, locked_mw = _tuned_run(limited_gpu, clock, tuner)
    block = m.result.optimisation
    sweep = PowerLimitTuner(max_slowdown=0.05, window_s=0.2, min_steps=10, strategy="sweep")
    ms, _ = _tuned_run(limited_gpu, clock, sweep, steps=12000)
    swept = ms.result.optimisation
    assert len(swept.candidates) == len(GpuPowerLimit(nvml=nvml).allowed()) == 21
    optimum = min(c.energy_per_unit_j for c in swept.candidates if c.feasible)
    chosen = next(c for c in block.candidates if c.role == "chosen")
    assert block.chosen == swept.chosen == 400.0  # the knee of the fake curve
    assert chosen.energy_per_unit_j <= optimum * 1.02
    assert tuner.profiling_steps <= sweep.profiling_steps / 3
    assert block.slowdown is not None and block.slowdown <= 0.05
    assert locked_mw == 400_000  # the choice stayed in force for the rest of the run
    assert gpu.limit_mw() == 700_000  # and the original is back after it
    assert block.restored and block.saving is not None and block.saving > 0.2
    low, high = block.saving_ci95
    assert low <= block.saving <= high
    assert block.provenance == "measured" and block.graded
    assert not list(_runtime_dir().glob("tune-*.json"))  # nothing left to restore


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    knee=st.floats(250, 550),
    above=st.floats(20, 250),
    loss=st.floats(0.005, 0.1),
    bound=st.sampled_from([0.02, 0.05, 0.1, None]),
    objective=st.sampled_from(["energy", "edp"]),
)
def test_any_curve_within_two_percent_and_the_bound(
    fake_nvml, tmp_path, monkeypatch, knee, above, loss, bound, objective
):
    monkeypatch.setenv("GREENAI_RUNTIME_DIR", str(tmp_path))
    from greenai.probes.nvml import discover
    from tests.fakes.clock import FakeClock

    clock = FakeClock()
    gpu = fake_nvml.FakeLimitedGpu(knee_w=knee, demand_w=min(knee + above, 700), loss_at_knee=loss)
    fake_nvml.configure([gpu], clock=clock)
    probe = discover({"GREENAI_NVML": "on"}).probes[0]
    sampler = Sampler([probe], clock=clock)
    sampler.sample()
    tuner = PowerLimitTuner(max_slowdown=bound, objective=objective, window_s=0.2)
    with Meter("training", "sample", sampler=sampler, tune=tuner, timeline=False) as m:
        train(m, gpu, clock, 3000)
    block = m.result.to_dict()["optimisation"]
    allowed = GpuPowerLimit(nvml=fake_nvml).allowed()
    optimum = _exhaustive(gpu, allowed, bound, objective)
    chosen = next(c for c in block["candidates"] if c["role"] == "chosen")
    key = "energy_per_unit_j" if objective == "energy" else "edp_j_s"
    target = optimum.energy_per_unit_j.mean if objective == "energy" else optimum.edp_j_s
    assert chosen[key] <= target * 1.02
    assert len(block["candidates"]) <= len(allowed) / 3
    if bound is not None:
        assert chosen["slowdown"] <= bound + 1e-9
    assert gpu.limit_mw() == gpu.default_limit_mw


def test_exception_restores_and_reports(limited_gpu, clock):
    nvml, gpu, probe = limited_gpu
    sampler = Sampler([probe], clock=clock)
    sampler.sample()
    with (
        pytest.raises(RuntimeError),
        Meter("training", "sample", sampler=sampler, tune=PowerLimitTuner(window_s=0.5)) as m,
    ):
        train(m, gpu, clock, 120)
        assert gpu.limit_mw() != 700_000  # mid-search
        raise RuntimeError("boom")
    assert gpu.limit_mw() == 700_000
    block = m.result.to_dict()["optimisation"]
    assert block["chosen"] is None and "before the search finished" in block["notes"][0]


def test_no_permission_is_reported_not_raised(limited_gpu, clock):
    nvml, gpu, probe = limited_gpu
    gpu.privileged = False
    sampler = Sampler([probe], clock=clock)
    sampler.sample()
    tuner = PowerLimitTuner()
    with (
        pytest.warns(UserWarning, match="needs root"),
        Meter("training", "sample", sampler=sampler, tune=tuner) as m,
    ):
        train(m, gpu, clock, 50)
    block = m.result.to_dict()["optimisation"]
    assert block["chosen"] is None and gpu.limit_mw() == 700_000
    assert m.result.units_done == 50 * 32  # the run itself is untouched


def test_the_journal_holds_the_original_before_the_first_change(limited_gpu, clock, tmp_path):
    from greenai import journal

    nvml, gpu, probe = limited_gpu
    sampler = Sampler([probe], clock=clock)
    sampler.sample()
    m = Meter(
        "training",
        "sample",
        sampler=sampler,
        tune=PowerLimitTuner(),
        journal=tmp_path / "run.journal",
    )
    m.start()
    contents = journal.read(tmp_path / "run.journal")
    assert contents.settings[0]["settings"][0]["devices"][0]["limit_mw"] == 700_000
    state = json.loads(next(_runtime_dir().glob("tune-*.json")).read_text())
    assert state["pid"] == os.getpid()
    m.stop()
    assert not list(_runtime_dir().glob("tune-*.json"))


def test_tune_true_means_the_power_limit_tuner(limited_gpu, clock):
    nvml, gpu, probe = limited_gpu
    sampler = Sampler([probe], clock=clock)
    sampler.sample()
    with Meter("training", "sample", sampler=sampler, tune=True) as m:
        train(m, gpu, clock, 3000)  # default windows: 3 x 1 s per candidate
    block = m.result.to_dict()["optimisation"]
    assert block["knob"] == "gpu_power_limit" and block["chosen"] == 400.0
    assert gpu.limit_mw() == 700_000


def test_an_unwritable_state_folder_means_untuned_not_a_crash(limited_gpu, clock, monkeypatch):
    nvml, gpu, probe = limited_gpu
    blocker = _runtime_dir().parent / "file"
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_text("")
    monkeypatch.setenv("GREENAI_RUNTIME_DIR", str(blocker))  # a file: nothing can go under it
    sampler = Sampler([probe], clock=clock)
    sampler.sample()
    with (
        pytest.warns(UserWarning, match="not tuned"),
        Meter("training", "sample", sampler=sampler, tune=PowerLimitTuner()) as m,
    ):
        train(m, gpu, clock, 100)
    assert gpu.limit_mw() == 700_000  # never changed: its original was not safe on disk
    assert m.result.units_done == 3200
