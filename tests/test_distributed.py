"""greenai.distributed: rank detection, probe selection, merging, and a real 2-process gloo job."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from greenai.distributed import RankInfo, detect_rank, merge, owned_gpus, rank_probes
from greenai.errors import DisclosureError
from greenai.measurement import DeviceEnergy, DomainEnergy, Measurement
from greenai.probes.base import Discovery, Method
from tests.fakes.powercap import FakePowercap

REPO = Path(__file__).resolve().parents[1]
STUB = REPO / "tests" / "fakes" / "nvml_stub"


# --------------------------------------------------------------------- rank detection
def test_detect_rank_single_process_without_launcher():
    r = detect_rank({})
    assert (r.rank, r.local_rank, r.world_size, r.node_rank, r.source) == (0, 0, 1, 0, "single")
    assert r.meters_node


def test_detect_rank_torchrun_env():
    env = {
        "RANK": "5",
        "WORLD_SIZE": "8",
        "LOCAL_RANK": "1",
        "LOCAL_WORLD_SIZE": "4",
        "GROUP_RANK": "1",
    }
    r = detect_rank(env)
    assert (r.rank, r.local_rank, r.world_size, r.local_world_size, r.node_rank) == (5, 1, 8, 4, 1)
    assert r.source == "torchrun" and not r.meters_node


def test_detect_rank_slurm_env_and_node_from_layout():
    r = detect_rank({"SLURM_PROCID": "6", "SLURM_NTASKS": "8", "SLURM_NTASKS_PER_NODE": "4"})
    assert (r.rank, r.local_rank, r.node_rank, r.source) == (6, 2, 1, "slurm")


class _Probe:
    method = Method.POWER
    counts_in_total = True
    wrap_j = None
    max_power_w = None

    def __init__(self, id: str, domain: str, cuda_index: int | None = None):
        self.id, self.domain, self.cuda_index = id, domain, cuda_index


def _found() -> Discovery:
    return Discovery(
        [
            _Probe("model:cpu", "cpu"),
            _Probe("model:dram", "dram"),
            _Probe("nvml:0", "gpu", 0),
            _Probe("nvml:1", "gpu", 1),
        ]
    )


def test_node_probes_only_on_local_rank_zero_and_each_gpu_on_its_rank():
    first = rank_probes(_found(), RankInfo(rank=0, local_rank=0, world_size=2))
    second = rank_probes(_found(), RankInfo(rank=1, local_rank=1, world_size=2))
    assert [p.id for p in first] == ["model:cpu", "model:dram", "nvml:0"]
    assert [p.id for p in second] == ["nvml:1"]
    third = rank_probes(_found(), RankInfo(rank=2, local_rank=2, world_size=3))
    assert third == []  # more ranks than GPUs: no GPU counted twice


def test_one_gpu_bound_per_rank_by_cuda_visible_devices():
    r = RankInfo(rank=3, local_rank=3, world_size=4)
    assert owned_gpus(r, 1, {"CUDA_VISIBLE_DEVICES": "3"}) == [0]
    assert owned_gpus(r, 4, {}) == [3]


# --------------------------------------------------------------------- merge
def _gpu_info(device_id: str, domain: str) -> dict:
    return {"nvml_index": int(device_id[-1])} if domain == "gpu" else {}


def _shard(rank: int, devices: list[tuple[str, str, float]], duration_s: float, units: float):
    domains: dict[str, float] = {}
    for _, domain, e in devices:
        domains[domain] = domains.get(domain, 0.0) + e
    return Measurement(
        status="ok",
        task="t",
        unit="sample",
        units_done=units,
        started_at=f"2026-01-01T00:00:0{rank}Z",
        duration_s=duration_s,
        domains={k: DomainEnergy(v, "measured", True) for k, v in domains.items()},
        devices=tuple(
            DeviceEnergy(
                i,
                d,
                "counter",
                "measured",
                e,
                True,
                info={"nvml_index": int(i[-1])} if d == "gpu" else {},
            )
            for i, d, e in devices
        ),
        host={"hostname": "n0", "gpus": []},
        sampling={"interval_s": 0.1, "samples": 10},
        extra={"rank": {"rank": rank, "local_rank": rank, "node_rank": 0, "host": "n0"}},
    )


def test_merge_counts_node_once_sums_gpus_and_units_takes_longest_window():
    a = _shard(0, [("rapl:package-0", "cpu", 100.0), ("nvml:0", "gpu", 300.0)], 2.0, 8)
    b = _shard(1, [("nvml:1", "gpu", 500.0)], 2.5, 8)
    m = merge([b, a])
    assert m.by_domain == {"cpu": 100.0, "gpu": 800.0}
    assert m.units_done == 16 and m.duration_s == 2.5
    assert m.started_at == "2026-01-01T00:00:00Z"
    devices = {d.id: d for d in m.devices}
    assert devices["node0:nvml:1"].info["rank"] == 1
    assert devices["node0:rapl:package-0"].info["rank"] == 0
    assert m.extra["distributed"]["world_size"] >= 1
    from greenai.disclosure import validation_errors

    assert validation_errors(m.to_dict()) == []


def test_merge_keeps_edge_reads_only_where_every_rank_read_counters_alone():
    from dataclasses import replace

    edges = {"interval_s": 900.0, "samples": 2, "energy_reads": "window edges"}
    a = replace(_shard(0, [("rapl:package-0", "cpu", 100.0)], 2.0, 1), sampling=edges)
    b = replace(_shard(1, [("nvml:1", "gpu", 500.0)], 2.0, 1), sampling=edges)
    assert merge([a, b]).sampling["energy_reads"] == "window edges"
    sampled = _shard(1, [("nvml:1", "gpu", 500.0)], 2.0, 1)  # power sampled at 0.1 s
    assert "energy_reads" not in merge([a, sampled]).sampling


def test_merge_refuses_a_node_metered_twice():
    a = _shard(0, [("rapl:package-0", "cpu", 100.0)], 2.0, 1)
    b = _shard(1, [("rapl:package-0", "cpu", 100.0)], 2.0, 1)
    with pytest.raises(DisclosureError, match="count twice"):
        merge([a, b])


# --------------------------------------------------------------------- real processes
CPU_W, DRAM_W, GPU_W = 40.0, 8.0, (100.0, 250.0)

WORKER = textwrap.dedent(
    """
    import os, sys, time
    from greenai.distributed import DistributedMeter
    if os.environ.get("USE_GLOO"):
        import torch.distributed as dist
        dist.init_process_group("gloo")
    m = DistributedMeter("image-classification", "sample", interval_s=0.05,
                         output=sys.argv[1], shard_dir=sys.argv[2], handle_signals=False)
    with m:
        time.sleep(1.5)
        m.count(10)
    if os.environ.get("USE_GLOO"):
        dist.barrier()
        dist.destroy_process_group()
    """
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_job(tmp_path: Path, gloo: bool) -> tuple[Path, Path]:
    tree = FakePowercap(tmp_path / "sys")
    tree.add_zone("0", "package-0", max_power_uw=200_000_000)
    tree.add_zone("0:2", "dram", max_power_uw=50_000_000)
    nvml = tmp_path / "nvml.json"
    nvml.write_text(
        json.dumps(
            {
                "gpus": [
                    {"uuid": f"GPU-{i}{i}{i}{i}-0000", "power_w": w} for i, w in enumerate(GPU_W)
                ]
            }
        )
    )
    worker = tmp_path / "worker.py"
    worker.write_text(WORKER)
    updater = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.fakes.powercap_updater",
            f"{tree.zones['intel-rapl:0'].path}={CPU_W}",
            f"{tree.zones['intel-rapl:0:2'].path}={DRAM_W}",
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    out, shards = tmp_path / "job.json", tmp_path / "shards"
    port = str(_free_port())
    base = {k: v for k, v in os.environ.items() if not k.startswith(("GREENAI_", "CUDA_"))}
    base.update(
        PYTHONPATH=os.pathsep.join([str(STUB), str(REPO)]),
        GREENAI_FAKE_NVML=str(nvml),
        GREENAI_NVML="on",
        GREENAI_POWERCAP_ROOT=str(tree.root),
        GREENAI_RUNTIME_DIR=str(tmp_path / "run"),
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=port,
        WORLD_SIZE="2",
        LOCAL_WORLD_SIZE="2",
    )
    if gloo:
        base["USE_GLOO"] = "1"
    try:
        updater.stdout.readline()
        time.sleep(0.1)
        procs = [
            subprocess.Popen(
                [sys.executable, str(worker), str(out), str(shards)],
                env={**base, "RANK": str(r), "LOCAL_RANK": str(r)},
                stderr=subprocess.PIPE,
                text=True,
            )
            for r in range(2)
        ]
        for p in procs:
            _, err = p.communicate(timeout=120)
            assert p.returncode == 0, err
    finally:
        updater.terminate()
        updater.communicate(timeout=10)
    return out, shards


def _check_job(doc: dict) -> None:
    d = doc["duration_s"]
    devices = {x["id"]: x for x in doc["devices"]}
    assert set(devices) == {
        "node0:rapl:package-0",
        "node0:rapl:dram-0",
        "node0:nvml:0",
        "node0:nvml:1",
    }
    # node energy once (not once per rank): 2x would be far outside these bounds
    assert doc["domains"]["cpu"]["energy_j"] == pytest.approx(CPU_W * d, rel=0.05)
    assert doc["domains"]["dram"]["energy_j"] == pytest.approx(DRAM_W * d, rel=0.05)
    assert devices["node0:rapl:package-0"]["info"]["rank"] == 0
    for i, watts in enumerate(GPU_W):
        gpu = devices[f"node0:nvml:{i}"]
        assert gpu["info"]["rank"] == i
        assert gpu["energy_j"] == pytest.approx(watts * d, rel=0.05)
    assert doc["domains"]["gpu"]["energy_j"] == pytest.approx(sum(GPU_W) * d, rel=0.05)
    assert doc["units_done"] == 20
    assert doc["distributed"]["world_size"] == 2
    assert doc["footprint"] is not None and "rating" in doc


def _validate(path: Path) -> None:
    res = subprocess.run(
        [sys.executable, "-m", "greenai", "validate", str(path)],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert res.returncode == 0, res.stdout + res.stderr


def test_two_gloo_processes_give_one_disclosure_with_node_energy_once(tmp_path: Path):
    pytest.importorskip("torch.distributed", reason="torch is not installed")
    out, shards = _run_job(tmp_path, gloo=True)
    assert not shards.exists()  # gathered over the process group: no shard files
    _check_job(json.loads(out.read_text()))
    _validate(out)


def test_without_a_process_group_ranks_write_shards_and_greenai_merge_combines(tmp_path: Path):
    out, shards = _run_job(tmp_path, gloo=False)
    assert not out.exists()
    files = sorted(shards.glob("rank-*.json"))
    assert [f.name for f in files] == ["rank-0.json", "rank-1.json"]
    job = tmp_path / "merged.json"
    res = subprocess.run(
        [sys.executable, "-m", "greenai", "merge", *map(str, files), "-o", str(job)],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert res.returncode == 0, res.stderr
    _check_job(json.loads(job.read_text()))
    _validate(job)
    res = subprocess.run(
        [sys.executable, "-m", "greenai", "merge", str(files[0]), str(files[0]), "-o", str(job)],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert res.returncode == 2 and "count twice" in res.stderr
