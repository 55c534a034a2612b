"""CPU model: TDP from CodeCarbon's table, scaled to the share of the package we see."""

from __future__ import annotations

import os

import pytest

from greenai.probes import cpu_model
from greenai.probes.cpu_model import CpuModelProbe, TdpMatch, cpu_topology, match_tdp

TABLE = cpu_model.load_cpu_table()


def test_table_is_codecarbons_and_complete():
    assert cpu_model.codecarbon_cpu_table_path().name == "cpu_power.csv"
    assert len(TABLE) > 4000


@pytest.mark.parametrize(
    ("brand", "kind", "row"),
    [
        ("AMD EPYC 7763 64-Core Processor", "exact", "AMD EPYC 7763"),
        ("Intel(R) Xeon(R) Platinum 8380 CPU @ 2.30GHz", "exact", "Intel Xeon Platinum 8380"),
        ("12th Gen Intel(R) Core(TM) i7-12700H", "model", "Intel Core i7-12700H"),
        ("AMD EPYC 4124P", "exact", "AMD EPYC 4124P"),
    ],
)
def test_brand_strings_match_their_row(brand, kind, row):
    m = match_tdp(brand, TABLE)
    assert (m.kind, m.row) == (kind, row)
    assert m.tdp_w == dict((r[0], r[2]) for r in TABLE)[row]


def test_vm_family_name_gets_a_flagged_median():
    m = match_tdp("AMD EPYC", TABLE)
    assert m.kind == "family" and m.candidates > 50
    epyc = sorted(t for name, _, t in TABLE if name.startswith("AMD EPYC "))
    assert m.tdp_w == epyc[len(epyc) // 2] or min(epyc) <= m.tdp_w <= max(epyc)


def test_unknown_cpu():
    assert match_tdp("Acme Quantum 9000", TABLE).kind == "none"
    assert match_tdp("", TABLE).kind == "none"


CPUINFO_BARE = "".join(
    f"processor\t: {i}\nmodel name\t: AMD EPYC 7763 64-Core Processor\nphysical id\t: 0\n"
    f"siblings\t: 128\ncpu cores\t: 64\nflags\t\t: fpu sse avx2\n\n"
    for i in range(4)
)


def test_container_slice_of_a_bare_metal_package_is_scaled():
    topo = cpu_topology(CPUINFO_BARE, affinity=128, quota_cpus=2.0, env={})
    assert topo.visible_threads == 2.0 and topo.package_threads == 128
    probe = CpuModelProbe(TdpMatch("x", "model", "AMD EPYC 7763", 280.0), topo)
    # 2 of 128 threads of a 280 W part: 4.375 W at full load, not 280 W and not 1.6 W
    assert probe.power_max_w == pytest.approx(280.0 * 2 / 128)
    assert "2/128" in probe.scaling


def test_vm_without_package_size_uses_per_thread_default_and_flags_it():
    cpuinfo = CPUINFO_BARE.replace("avx2", "avx2 hypervisor")
    topo = cpu_topology(cpuinfo, affinity=2, quota_cpus=None, env={})
    assert topo.virtualised and topo.package_threads is None
    probe = CpuModelProbe(TdpMatch("AMD EPYC", "family", "median", 200.0, 148), topo)
    assert probe.power_max_w == pytest.approx(2 * cpu_model.DEFAULT_W_PER_THREAD)
    assert probe.info()["flagged"] is True
    topo2 = cpu_topology(
        cpuinfo, affinity=2, quota_cpus=None, env={cpu_model.ENV_PACKAGE_THREADS: "128"}
    )
    assert CpuModelProbe(TdpMatch("x", "model", "r", 280.0), topo2).power_max_w == pytest.approx(
        4.375
    )


def test_cgroup_quota_parsing():
    assert cpu_model.cgroup_cpu_quota("max 100000") is None
    assert cpu_model.cgroup_cpu_quota("250000 100000") == 2.5
    assert cpu_model.cgroup_cpu_quota("") is None


def test_power_follows_utilisation(monkeypatch):
    topo = cpu_topology(CPUINFO_BARE, affinity=128, quota_cpus=None, env={})
    probe = CpuModelProbe(TdpMatch("x", "model", "r", 280.0), topo, cpus=None)
    busy_total = iter([(0.0, 0.0), (50.0, 100.0), (50.0, 200.0), (150.0, 300.0)])
    monkeypatch.setattr(probe, "_busy_total", lambda: next(busy_total))
    probe._last = probe._busy_total()
    assert probe.read() == pytest.approx(280.0 * (0.1 + 0.9 * 0.5))
    assert probe.read() == pytest.approx(280.0 * 0.1)  # idle floor
    assert probe.read() == pytest.approx(280.0)  # fully busy
    assert probe.method.provenance == "modelled"


def test_tdp_override(monkeypatch):
    probe = cpu_model.discover_cpu_model({cpu_model.ENV_TDP: "95"})
    assert probe.match.kind == "override" and probe.match.tdp_w == 95.0


PROC_STAT = b"""cpu  100 0 50 800 50 0 0 0 30 0
cpu0 60 0 30 400 10 0 0 0 30 0
cpu1 40 0 20 400 40 0 0 0 0 0
intr 12345
"""


def test_proc_stat_all_cpus_and_a_subset(tmp_path):
    stat = tmp_path / "stat"
    stat.write_bytes(PROC_STAT)
    topo = cpu_topology(CPUINFO_BARE, affinity=2, quota_cpus=None, env={})
    probe = CpuModelProbe(TdpMatch("x", "model", "r", 100.0), topo, cpus=None)
    probe._proc_stat = os.open(stat, os.O_RDONLY)
    # aggregate line: busy = user+system = 150 of 1000 (guest is inside user, not added)
    assert probe._busy_total() == (150.0, 1000.0)
    probe._want = {b"cpu1"}
    assert probe._busy_total() == (60.0, 500.0)  # iowait counts as idle
    probe.close()
    assert probe._proc_stat is None


@pytest.mark.parametrize(
    "brand",
    [
        "AMD EPYC",
        "AMD EPYC 7763 64-Core Processor",
        "Intel(R) Xeon(R) Platinum 8380 CPU @ 2.30GHz",
        "12th Gen Intel(R) Core(TM) i7-12700H",
        "Intel Xeon Processor (Cascadelake)",
        "Apple M2",
    ],
)
def test_start_up_candidates_match_like_the_whole_table(brand):
    assert match_tdp(brand, cpu_model.candidate_rows(brand)) == match_tdp(brand, TABLE)
