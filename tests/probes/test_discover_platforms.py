"""`greenai probe` names every probe family, each absent one with its reason on one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FAMILIES = ("rapl", "nvml", "amdsmi", "powermetrics", "ioreport", "hwmon", "redfish", "ipmi")


def test_probe_lists_every_family_with_a_one_line_reason(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GREENAI_", "CUDA_"))}
    env.update(
        PYTHONPATH=str(REPO),
        GREENAI_POWERCAP_ROOT=str(tmp_path / "none"),
        GREENAI_HWMON_ROOT=str(tmp_path / "none"),
        GREENAI_IPMITOOL="/usr/bin/true",
    )
    out = subprocess.run(
        [sys.executable, "-m", "greenai", "probe"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.split("Not available here:\n", 1)[1].splitlines()
    reasons = {ln.split()[0]: ln for ln in lines if not ln.startswith(" " * 4)}
    for family in FAMILIES:
        if family == "powermetrics" and sys.platform == "darwin":
            continue
        assert family in reasons, family
        assert len(reasons[family].split(None, 1)[1]) > 10  # a reason, not just a name


def test_hwmon_rails_replace_the_cpu_model(tmp_path: Path, monkeypatch):
    from greenai.probes.discover import discover
    from tests.fakes.hwmon import jetson_orin

    tree = jetson_orin(tmp_path / "sys")
    monkeypatch.setenv("GREENAI_HWMON_ROOT", str(tree.root))
    monkeypatch.setenv("GREENAI_POWERCAP_ROOT", str(tmp_path / "none"))
    found = discover({})
    ids = [p.id for p in found.probes]
    assert "model:cpu" not in ids and "hwmon:ina3221/VDD_CPU_GPU_CV" in ids
    assert "model:dram" in ids  # an Orin INA3221 has no DRAM rail


def test_accelerators_without_a_cuda_index_are_metered_once_per_node():
    from greenai.distributed import RankInfo, rank_probes
    from greenai.probes.base import Discovery, Method
    from tests.fakes.clock import FakeClock
    from tests.fakes.probes import ClockProbe, constant

    clock = FakeClock()
    ane = ClockProbe("apple:ane", clock, constant(1.0), Method.COUNTER, domain="gpu")
    cpu = ClockProbe("hwmon:ina3221/VDD_CPU", clock, constant(5.0), Method.POWER, domain="cpu")
    found = Discovery(probes=[ane, cpu])
    rank0 = rank_probes(found, RankInfo(rank=0, local_rank=0, world_size=2, local_world_size=2))
    rank1 = rank_probes(found, RankInfo(rank=1, local_rank=1, world_size=2, local_world_size=2))
    assert [p.id for p in rank0] == ["apple:ane", "hwmon:ina3221/VDD_CPU"] and rank1 == []
