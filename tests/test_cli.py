"""The `greenai` command in subprocesses, as users run it."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fakes.powercap import FakePowercap

REPO = Path(__file__).resolve().parents[1]
STUB = REPO / "tests" / "fakes" / "nvml_stub"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GREENAI_", "CUDA_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *extra.pop("PYTHONPATH", "").split(os.pathsep)])
    env.update(extra)
    return env


def greenai(*args: str, env: dict[str, str] | None = None, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "greenai", *args],
        capture_output=True,
        text=True,
        env=env or _env(),
        timeout=120,
        **kw,
    )


def test_probe_without_rapl_or_gpu(tmp_path: Path):
    out = greenai("probe", env=_env(GREENAI_POWERCAP_ROOT=str(tmp_path / "none")))
    assert out.returncode == 0
    assert "model:cpu" in out.stdout and "modelled" in out.stdout
    assert "does not exist" in out.stdout and "nvml" in out.stdout
    doc = json.loads(
        greenai("probe", "--json", env=_env(GREENAI_POWERCAP_ROOT=str(tmp_path / "none"))).stdout
    )
    assert {p["id"] for p in doc["probes"]} >= {"model:cpu", "model:dram"}


def test_run_without_hardware_is_flagged_modelled(tmp_path: Path):
    out_file = tmp_path / "r.json"
    res = greenai(
        "run",
        "-o",
        str(out_file),
        "--units",
        "5",
        "--unit",
        "query",
        "--",
        sys.executable,
        "-c",
        "sum(range(3_000_000))",
        env=_env(GREENAI_POWERCAP_ROOT=str(tmp_path / "none")),
    )
    assert res.returncode == 0, res.stderr
    doc = json.loads(out_file.read_text())
    assert doc["status"] == "ok" and doc["exit_code"] == 0
    assert doc["provenance"] == "modelled"
    assert {d["id"]: d["provenance"] for d in doc["devices"]} == {
        "model:cpu": "modelled",
        "model:dram": "modelled",
    }
    assert doc["energy_j"] > 0 and doc["units_done"] == 5
    assert doc["energy_per_unit_j"] == pytest.approx(doc["energy_j"] / 5)
    assert doc["command"][1:] == ["-c", "sum(range(3_000_000))"]


def test_run_passes_exit_code_through_and_keeps_the_result(tmp_path: Path):
    out_file = tmp_path / "r.json"
    res = greenai("run", "-o", str(out_file), "--", sys.executable, "-c", "import sys; sys.exit(3)")
    assert res.returncode == 3
    doc = json.loads(out_file.read_text())
    assert doc["status"] == "failed" and doc["exit_code"] == 3


def test_run_of_a_missing_program(tmp_path: Path):
    out_file = tmp_path / "r.json"
    res = greenai("run", "-o", str(out_file), "--", "/nonexistent/prog")
    assert res.returncode == 127 and "cannot start" in res.stderr
    assert json.loads(out_file.read_text())["status"] == "failed"


def test_sigterm_is_forwarded_and_result_written(tmp_path: Path):
    out_file = tmp_path / "r.json"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "greenai",
            "run",
            "-o",
            str(out_file),
            "--",
            sys.executable,
            "-c",
            "import time; print('ready', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    assert proc.stdout.readline().strip() == "ready"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 128 + signal.SIGTERM
    doc = json.loads(out_file.read_text())
    assert doc["status"] == "interrupted" and doc["exit_code"] == 143
    assert doc["duration_s"] < 30


def test_fake_powercap_with_wraps_is_exact_within_a_tenth_of_a_percent(tmp_path: Path):
    tree = FakePowercap(tmp_path / "sys")
    # 100 W through a 60 J range wraps every 0.6 s; 15 W dram through 4 J wraps every 0.27 s
    tree.add_zone("0", "package-0", max_range_uj=60_000_000, max_power_uw=200_000_000)
    tree.add_zone("0:0", "core", max_range_uj=60_000_000, max_power_uw=200_000_000)
    tree.add_zone("0:2", "dram", max_range_uj=4_000_000, max_power_uw=30_000_000)
    rates = {"intel-rapl:0": 100.0, "intel-rapl:0:0": 70.0, "intel-rapl:0:2": 15.0}
    updater = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.fakes.powercap_updater",
            *(f"{tree.zones[z].path}={w}" for z, w in rates.items()),
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        updater.stdout.readline()
        time.sleep(0.2)
        out_file = tmp_path / "r.json"
        res = greenai(
            "run",
            "-o",
            str(out_file),
            "--",
            sys.executable,
            "-c",
            "import time; time.sleep(3)",
            env=_env(GREENAI_POWERCAP_ROOT=str(tree.root)),
        )
    finally:
        updater.terminate()
        max_gap_s = float(updater.communicate(timeout=10)[0].split()[-1])
    assert res.returncode == 0, res.stderr
    doc = json.loads(out_file.read_text())
    duration = doc["duration_s"]
    devices = {d["id"]: d for d in doc["devices"]}
    # The fake's counters are at most max_gap_s stale at each edge (the writer is a real
    # process sharing two cores); on a quiet machine that is < 1 ms and the bound is 0.1 %.
    for zone, probe in (("intel-rapl:0", "rapl:package-0"), ("intel-rapl:0:2", "rapl:dram-0")):
        known_j = rates[zone] * duration
        allowed_j = max(1e-3 * known_j, rates[zone] * 2 * max_gap_s)
        assert abs(devices[probe]["energy_j"] - known_j) <= allowed_j, (probe, max_gap_s)
    assert devices["rapl:package-0/core"]["counts_in_total"] is False
    assert doc["energy_j"] == pytest.approx(
        devices["rapl:package-0"]["energy_j"] + devices["rapl:dram-0"]["energy_j"]
    )
    assert doc["provenance"] == "measured"
    # counters wrapped ~5 and ~11 times during the run
    assert 100.0 * duration / 60.0 > 4


def test_stand_in_pynvml_per_device_visible_devices_and_lost_gpu(tmp_path: Path):
    config = tmp_path / "nvml.json"
    config.write_text(
        json.dumps(
            {
                "gpus": [
                    {"uuid": "GPU-aaaaaaaa-0000", "power_w": 100.0},
                    {"uuid": "GPU-bbbbbbbb-0000", "power_w": 200.0, "lost_at_s": 1.0},
                    {"uuid": "GPU-cccccccc-0000", "power_w": 300.0},
                ]
            }
        )
    )
    out_file = tmp_path / "r.json"
    res = greenai(
        "run",
        "-o",
        str(out_file),
        "--",
        sys.executable,
        "-c",
        "import time; time.sleep(2)",
        env=_env(
            PYTHONPATH=str(STUB),
            GREENAI_FAKE_NVML=str(config),
            GREENAI_NVML="on",
            GREENAI_POWERCAP_ROOT=str(tmp_path / "none"),
            CUDA_VISIBLE_DEVICES="GPU-cccc,1",
        ),
    )
    assert res.returncode == 0, res.stderr
    doc = json.loads(out_file.read_text())
    gpus = {d["id"]: d for d in doc["devices"] if d["domain"] == "gpu"}
    assert set(gpus) == {"nvml:0", "nvml:1"}  # GPU 0 is hidden
    assert gpus["nvml:0"]["info"]["uuid"] == "GPU-cccccccc-0000"
    assert gpus["nvml:0"]["energy_j"] == pytest.approx(300.0 * doc["duration_s"], rel=1e-3)
    assert gpus["nvml:1"]["status"] == "failed" and "GpuIsLost" in gpus["nvml:1"]["error"]
    assert 0 < gpus["nvml:1"]["energy_j"] <= 200.0 * 1.0 + 1
    assert doc["domains"]["gpu"]["complete"] is False
    assert [g["probe"] for g in doc["gaps"]] == ["nvml:1"]


def test_demo_runs(tmp_path: Path):
    res = greenai("demo", "--seconds", "0.5", "-o", str(tmp_path / "d.json"))
    assert res.returncode == 0, res.stderr
    assert re.search(r"units .* GFLOP  ->  [0-9.,]+ [mµk]?J/[kMGTP]FLOP\n", res.stdout)
    assert "rating      greenai-2026.3 greenai-gemm-fp32: energy index" in res.stdout
    assert json.loads((tmp_path / "d.json").read_text())["task"] == "greenai-gemm-fp32"


def test_grid_fr_and_cn_differ_by_the_ratio_of_the_shipped_factors(tmp_path: Path):
    import csv

    from greenai._resources import factors_dir

    def factor(table: str, column: str, region: str) -> float:
        with open(factors_dir() / table, newline="") as fh:
            return next(float(r[column]) for r in csv.DictReader(fh) if r["region"] == region)

    docs = {}
    for grid in ("FR", "CN"):
        out = tmp_path / f"{grid}.json"
        res = greenai(
            "run",
            "--grid",
            grid,
            "-o",
            str(out),
            "--",
            sys.executable,
            "-c",
            "sum(range(2_000_000))",
        )
        assert res.returncode == 0, res.stderr
        docs[grid] = json.loads(out.read_text())
    fr, cn = docs["FR"], docs["CN"]
    carbon_ratio = (fr["footprint"]["carbon_g"] / fr["energy_j"]) / (
        cn["footprint"]["carbon_g"] / cn["energy_j"]
    )
    water_ratio = (fr["footprint"]["water_l"]["offsite"] / fr["energy_j"]) / (
        cn["footprint"]["water_l"]["offsite"] / cn["energy_j"]
    )
    shipped_carbon = factor("grid_carbon.csv", "carbon_intensity_g_per_kwh", "FR") / factor(
        "grid_carbon.csv", "carbon_intensity_g_per_kwh", "CN"
    )
    assert fr["site"]["grid"] == "FR" and cn["site"]["grid"] == "CN"
    ewif = factor("grid_water.csv", "ewif_hydro_included_l_per_kwh", "FR") / factor(
        "grid_water.csv", "ewif_hydro_included_l_per_kwh", "CN"
    )
    assert carbon_ratio == pytest.approx(shipped_carbon, rel=1e-12)
    assert water_ratio == pytest.approx(ewif, rel=1e-12)


def test_run_prints_progress_lines_while_the_command_runs(tmp_path: Path):
    out = tmp_path / "r.json"
    sleep = [sys.executable, "-c", "import time; time.sleep(1.2)"]
    res = greenai("run", "--progress", "0.3", "-o", str(out), "--", *sleep)
    assert res.returncode == 0, res.stderr
    lines = [x for x in res.stderr.splitlines() if x.startswith("greenai: ")]
    lines = [x for x in lines if not x.startswith("greenai: warning:")]  # another meter on the VM
    assert len(lines) >= 2, res.stderr
    assert re.fullmatch(
        r"greenai: [0-9,]+ s, [0-9.]+ [mk]?J so far, mean .+ W \[modelled\]", lines[0]
    )
    quiet = greenai("run", "-q", "--progress", "0.3", "-o", str(out), "--", *sleep)
    assert "so far" not in quiet.stderr


CHILD_COUNTS = """
import subprocess, sys, threading
import greenai

def work():
    for _ in range(100):
        greenai.count(2)            # 2 x 100 x 4 threads = 800

threads = [threading.Thread(target=work) for _ in range(4)]
for t in threads: t.start()
for t in threads: t.join()
greenai.count(150)
# a grandchild writes to the same channel without greenai: the documented line protocol
subprocess.run(["sh", "-c", 'echo 50 >> "$GREENAI_UNITS_FILE"'], check=True)
"""


def test_run_takes_the_units_the_command_counts(tmp_path: Path):
    child = tmp_path / "child.py"
    child.write_text(CHILD_COUNTS)
    out_file = tmp_path / "r.json"
    res = greenai(
        "run",
        "-o",
        str(out_file),
        "--unit",
        "query",
        "--",
        sys.executable,
        str(child),
        env=_env(GREENAI_POWERCAP_ROOT=str(tmp_path / "none")),
    )
    assert res.returncode == 0, res.stderr
    doc = json.loads(out_file.read_text())
    assert doc["units_done"] == 1000
    assert doc["energy_per_unit_j"] == pytest.approx(doc["energy_j"] / 1000)
    assert "1,000 query" in res.stderr or "1000 query" in res.stderr, res.stderr


def test_run_units_flag_wins_and_the_channel_is_closed(tmp_path: Path):
    child = tmp_path / "child.py"
    child.write_text(
        "import greenai, os\nassert not greenai.count(7)\n"
        "print(os.environ.get('GREENAI_UNITS_FILE'))\n"
    )
    out_file = tmp_path / "r.json"
    res = greenai(
        "run",
        "-o",
        str(out_file),
        "--units",
        "3",
        "--",
        sys.executable,
        str(child),
        env=_env(GREENAI_POWERCAP_ROOT=str(tmp_path / "none"), GREENAI_UNITS_FILE="/nonexistent/x"),
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "None"
    assert json.loads(out_file.read_text())["units_done"] == 3


def test_a_bad_line_in_the_units_file_is_named_and_left_out(tmp_path: Path):
    from greenai.channel import read_total

    path = tmp_path / "units.txt"
    path.write_text("10\nten\n-3\n2.5\n")
    with pytest.warns(Warning) as caught:
        assert read_total(path) == (12.5, 2)
    texts = [str(w.message) for w in caught]
    assert len(texts) == 2
    assert "units.txt: line 2: 'ten'" in texts[0] and "units.txt: line 3: '-3'" in texts[1]


def test_run_timeline_rate_is_disclosed_and_zero_turns_it_off(tmp_path: Path):
    out = tmp_path / "r.json"
    sleep = [sys.executable, "-c", "import time; time.sleep(0.3)"]
    res = greenai("run", "-q", "--timeline-hz", "0", "-o", str(out), "--", *sleep)
    assert res.returncode == 0, res.stderr
    doc = json.loads(out.read_text())
    assert doc["sampling"]["timeline_hz"] == 0.0 and doc["timeline"] is None
    bad = greenai("run", "-q", "--timeline-hz", "-1", "-o", str(out), "--", *sleep)
    assert bad.returncode == 2 and "timeline_hz must be >= 0" in bad.stderr
