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


# ------------------------------------------------------------ the match cache
VM_BRANDS = [
    "AMD EPYC",
    "Intel Xeon Processor (Cascadelake)",
    "Intel(R) Xeon(R) CPU @ 2.20GHz",
    "AMD EPYC 7B13",
    "Common KVM processor",
    "QEMU Virtual CPU version 2.5+",
    "Acme Quantum 9000",
    "",
    "   ",
]


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("GREENAI_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _hit_only(monkeypatch):
    """Make any table scan fail: what is returned then came from the cache."""

    def no_scan(*args, **kwargs):
        raise AssertionError("the table was scanned")

    monkeypatch.setattr(cpu_model, "candidate_rows", no_scan)


def test_every_cached_match_is_the_whole_table_match(cache_dir, monkeypatch):
    # the reference: match_tdp over the whole normalised table, for every row name and the
    # strings VMs report; the cache must hand back the very same match for each
    path = cpu_model.codecarbon_cpu_table_path()
    cache = cache_dir / cpu_model.MATCH_CACHE_FILE
    for brand in [name for name, _, _ in TABLE] + VM_BRANDS:
        want = match_tdp(brand, TABLE)
        key = cpu_model._match_cache_key(brand, path)
        cpu_model._write_match_cache(cache, key, want)
        assert cpu_model._read_match_cache(cache, key) == want, brand


@pytest.mark.parametrize("brand", VM_BRANDS + [name for name, _, _ in TABLE[::250]])
def test_match_brand_is_the_whole_table_match_cold_and_warm(brand, cache_dir, monkeypatch):
    want = match_tdp(brand, TABLE)
    assert cpu_model.match_brand(brand) == want  # cold: matched, then written
    assert (cache_dir / cpu_model.MATCH_CACHE_FILE).is_file()
    _hit_only(monkeypatch)
    assert cpu_model.match_brand(brand) == want  # warm: read back


def _table(path, tdp):
    path.write_text(f"Name,TDP\nAcme X1 Pro,{tdp}\nAcme X2,65\n", encoding="utf-8")
    cpu_model._raw_cpu_rows.cache_clear()  # the rows of a path are kept for a process


def test_cache_is_invalidated_when_the_table_changes(tmp_path, cache_dir, monkeypatch):
    table = tmp_path / "cpu_power.csv"
    _table(table, 95)
    assert cpu_model.match_brand("Acme X1 Pro", str(table)).tdp_w == 95.0
    _table(table, 125)  # another size
    assert cpu_model.match_brand("Acme X1 Pro", str(table)).tdp_w == 125.0
    before = table.stat().st_mtime_ns
    _table(table, 150)  # the same size: only the mtime tells
    os.utime(table, ns=(before + 10**9, before + 10**9))
    assert cpu_model.match_brand("Acme X1 Pro", str(table)).tdp_w == 150.0
    other = tmp_path / "other.csv"  # another table path
    other.write_text("Name,TDP\nAcme X1 Pro,7\n", encoding="utf-8")
    assert cpu_model.match_brand("Acme X1 Pro", str(other)).tdp_w == 7.0
    assert cpu_model.match_brand("Acme X2", str(table)).tdp_w == 65.0  # another brand
    # greenai's version and the matcher's are in the key too
    key = cpu_model._match_cache_key("Acme X2", table)
    monkeypatch.setattr(cpu_model, "MATCHER_VERSION", cpu_model.MATCHER_VERSION + 1)
    assert cpu_model._match_cache_key("Acme X2", table) != key
    assert cpu_model._read_match_cache(cache_dir / cpu_model.MATCH_CACHE_FILE, key) is not None
    _hit_only(monkeypatch)
    with pytest.raises(AssertionError, match="scanned"):
        cpu_model.match_brand("Acme X2", str(table))


def _valid_doc(key):
    return {
        "key": key,
        "match": {"kind": "exact", "row": "Acme X1 Pro", "tdp_w": 95.0, "candidates": 1},
    }


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"\xff\xfe garbage",
        b"not json",
        b"[" * 3000 + b"]" * 3000,  # nested past the stack, and over the size bound
        b"[" * 2000,
        b"null",
        b'{"key": 1}',
        b" " * (cpu_model.MATCH_CACHE_MAX_BYTES + 1),
        "tdp=nan",
        "kind=bad",
        "tdp=-1",
        "tdp=inf",
        "tdp=huge",
        "tdp=str",
        "tdp=bool",
        "row=none",
        "none-with-tdp",
        "candidates=-1",
        "candidates=float",
        "padded",
    ],
)
def test_a_corrupt_or_hostile_cache_is_ignored(tmp_path, cache_dir, content):
    import json

    table = tmp_path / "cpu_power.csv"
    _table(table, 95)
    key = cpu_model._match_cache_key("Acme X1 Pro", table)
    if isinstance(content, str):  # a valid key with a bad value, or a file too big
        doc = _valid_doc(key)
        fields = doc["match"]
        change = {
            "tdp=nan": ("tdp_w", float("nan")),
            "kind=bad": ("kind", "override"),
            "tdp=-1": ("tdp_w", -1.0),
            "tdp=inf": ("tdp_w", float("inf")),
            "tdp=huge": ("tdp_w", 1e12),
            "tdp=str": ("tdp_w", "95"),
            "tdp=bool": ("tdp_w", True),
            "row=none": ("row", None),
            "none-with-tdp": ("kind", "none"),
            "candidates=-1": ("candidates", -1),
            "candidates=float": ("candidates", 1.0),
            "padded": ("row", "x" * cpu_model.MATCH_CACHE_MAX_BYTES),
        }[content]
        fields[change[0]] = change[1]
        content = json.dumps(doc).encode()
    cache = cache_dir / cpu_model.MATCH_CACHE_FILE
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_bytes(content)
    assert cpu_model._read_match_cache(cache, key) is None
    want = match_tdp("Acme X1 Pro", cpu_model.load_cpu_table(str(table)))
    assert cpu_model.match_brand("Acme X1 Pro", str(table)) == want
    assert cpu_model._read_match_cache(cache, key) == want  # rewritten whole


def test_the_valid_document_of_the_corrupt_cases_is_read(tmp_path, cache_dir):
    # the corrupt cases above fail for their one change, not for the document around it
    import json

    table = tmp_path / "cpu_power.csv"
    _table(table, 95)
    key = cpu_model._match_cache_key("Acme X1 Pro", table)
    cache = cache_dir / cpu_model.MATCH_CACHE_FILE
    cache.parent.mkdir(parents=True)
    cache.write_text(json.dumps(_valid_doc(key)))
    assert cpu_model._read_match_cache(cache, key) == TdpMatch(
        "Acme X1 Pro", "exact", "Acme X1 Pro", 95.0
    )


def test_a_cache_that_is_a_symlink_is_not_followed(tmp_path, cache_dir):
    import json

    table = tmp_path / "cpu_power.csv"
    _table(table, 95)
    key = cpu_model._match_cache_key("Acme X1 Pro", table)
    elsewhere = tmp_path / "planted.json"
    elsewhere.write_text(json.dumps(_valid_doc(key)))
    cache_dir.mkdir()
    (cache_dir / cpu_model.MATCH_CACHE_FILE).symlink_to(elsewhere)
    assert cpu_model._read_match_cache(cache_dir / cpu_model.MATCH_CACHE_FILE, key) is None


def test_a_cache_that_is_a_fifo_does_not_block(tmp_path, cache_dir):
    import os
    import threading

    table = tmp_path / "cpu_power.csv"
    _table(table, 95)
    key = cpu_model._match_cache_key("Acme X1 Pro", table)
    cache_dir.mkdir()
    os.mkfifo(cache_dir / cpu_model.MATCH_CACHE_FILE)
    got = []
    reader = threading.Thread(
        target=lambda: got.append(
            cpu_model._read_match_cache(cache_dir / cpu_model.MATCH_CACHE_FILE, key)
        ),
        daemon=True,  # a blocked open would hang here forever otherwise
    )
    reader.start()
    reader.join(timeout=10)
    assert got == [None]


def test_no_cache_folder_still_matches(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("GREENAI_CACHE_DIR", str(blocker / "cache"))  # cannot be made
    assert cpu_model.match_brand("AMD EPYC") == match_tdp("AMD EPYC", TABLE)


@pytest.mark.parametrize("error", [OSError("gone"), "csv"])
def test_an_unreadable_table_gives_no_match_not_a_crash(monkeypatch, error):
    import csv

    def broken(brand, path=None):
        raise csv.Error("field larger than field limit") if error == "csv" else error

    monkeypatch.setattr(cpu_model, "match_brand", broken)
    probe = cpu_model.discover_cpu_model({})
    assert probe.match.kind == "none" and probe.match.tdp_w is None
    probe.close()
