"""CPU power model for machines without a readable energy counter.

P = TDP_share x (IDLE_FRACTION + (1 - IDLE_FRACTION) x u), u the utilisation of the CPUs
this process may use (psutil), TDP from CodeCarbon's shipped CPU power table. TDP_share
scales the package TDP by the share of the package's hardware threads that this machine
or container sees, so a 2-vCPU slice of a 64-core part is charged for 2 threads, not 64.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import math
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from greenai.probes.base import Method

MODEL_NAME = "tdp-linear-v1"
# Idle draw as a share of TDP; CodeCarbon's CPU load model uses the same 10 % floor.
IDLE_FRACTION = 0.1
# CodeCarbon's default for CPUs missing from its table (DEFAULT_POWER_PER_CORE, W/thread).
DEFAULT_W_PER_THREAD = 4.0
ENV_PACKAGE_THREADS = "GREENAI_CPU_PACKAGE_THREADS"
ENV_TDP = "GREENAI_CPU_TDP_W"

# The match for this machine's brand is kept between processes: matching reads and scans
# CodeCarbon's ~5,000-row table, most of a first meter's start-up. The cache key names all
# the match depends on; a cache file that does not read back as a valid match is ignored.
MATCHER_VERSION = 1  # bump when normalise_cpu_name, candidate_rows or match_tdp change
MATCH_CACHE_FILE = "cpu-tdp-match.json"
MATCH_CACHE_MAX_BYTES = 4096
MATCH_CACHE_MAX_TDP_W = 100_000.0  # a cached TDP outside 0..this is not believed
_MATCH_KINDS = ("exact", "model", "family", "none")

# patterns compiled on first use (_patterns): a cached match needs neither
_NOISE = r"\(r\)|\(tm\)|®|™|\bcpu\b|\bprocessor\b|@.*$|\b\d+-core\b|\bwith radeon.*$|,"


@dataclass(frozen=True)
class TdpMatch:
    """A row of the CPU power table matched to this machine's CPU brand string."""

    brand: str
    kind: str  # "exact" | "model" | "family" | "none" | "override"
    row: str | None  # the table row name used (or a family description)
    tdp_w: float | None
    candidates: int = 1

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {
            "brand": self.brand,
            "match": self.kind,
            "table_row": self.row,
            "tdp_w": self.tdp_w,
            "candidates": self.candidates,
        }


@dataclass(frozen=True)
class CpuTopology:
    """How many hardware threads this process may use and how big a package is."""

    visible_threads: float  # affinity, capped by a cgroup CPU quota
    package_threads: int | None  # threads per physical package, None when unknowable (VM)
    packages: int
    virtualised: bool
    note: str


_NEEDS_CLEANING = r"[(@,®™]|cpu|processor|-core|radeon"


@lru_cache(maxsize=1)
def _patterns() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """Return the compiled (needs cleaning, noise) patterns."""
    return re.compile(_NEEDS_CLEANING), re.compile(_NOISE)


def normalise_cpu_name(name: str) -> str:
    """Return a CPU name lower-cased with trademarks, frequency and filler words removed."""
    text = name.lower()
    needs_cleaning, noise = _patterns()
    if needs_cleaning.search(text):  # most table rows are clean already: skip the rewrite
        text = noise.sub(" ", text)
    return " ".join(text.split())


def codecarbon_cpu_table_path() -> Path:
    """Return the path of CodeCarbon's cpu_power.csv without importing codecarbon."""
    spec = importlib.util.find_spec("codecarbon")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("codecarbon is not installed (pip install codecarbon)")
    return Path(list(spec.submodule_search_locations)[0]) / "data" / "hardware" / "cpu_power.csv"


@lru_cache(maxsize=4)
def _raw_cpu_rows(path: str | None = None) -> tuple[tuple[str, float], ...]:
    """Return (name, TDP W) rows of the CPU power table, as written."""
    import csv  # only where the table is read: a cached match needs no csv module

    table_path = Path(path) if path else codecarbon_cpu_table_path()
    rows = []
    with open(table_path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader, [])
        try:
            name_at, tdp_at = header.index("Name"), header.index("TDP")
        except ValueError:
            return ()
        for rec in reader:
            try:
                rows.append((rec[name_at], float(rec[tdp_at])))
            except (IndexError, ValueError):
                continue
    return tuple(rows)


@lru_cache(maxsize=4)
def load_cpu_table(path: str | None = None) -> tuple[tuple[str, str, float], ...]:
    """Return (name, normalised name, TDP W) rows of the CPU power table."""
    return tuple((name, normalise_cpu_name(name), tdp) for name, tdp in _raw_cpu_rows(path))


def candidate_rows(brand: str, path: str | None = None) -> tuple[tuple[str, str, float], ...]:
    """Return the normalised rows that could match a brand (same as load_cpu_table for it).

    A row can only match if its first two words are words of the brand (exact and model
    matches are subsets of the brand, family matches extend it), so only those rows, and
    the few that need cleaning, are normalised: a fraction of the table at start-up.
    """
    wanted = set(normalise_cpu_name(brand).split())
    needs_cleaning = _patterns()[0].search
    out = []
    for name, tdp in _raw_cpu_rows(path):
        lower = name.lower()
        if wanted.issuperset(lower.split()[:2]) or needs_cleaning(lower):
            out.append((name, normalise_cpu_name(name), tdp))
    return tuple(out)


def match_tdp(brand: str, table: tuple[tuple[str, str, float], ...]) -> TdpMatch:
    """Return the table row that best matches a CPU brand string.

    exact: same normalised name; model: every token of a row appears in the brand (the
    longest such row wins); family: the brand is a prefix of several rows (a VM that says
    only "AMD EPYC"), the median TDP of those rows is used; none: no row fits.
    """
    wanted = normalise_cpu_name(brand)
    if not wanted:
        return TdpMatch(brand, "none", None, None, 0)
    wanted_tokens = frozenset(wanted.split())
    prefix = wanted + " "
    best: tuple[int, str, float] | None = None
    family: list[tuple[str, float]] = []
    for name, norm, tdp in table:
        if norm == wanted:
            return TdpMatch(brand, "exact", name, tdp)
        if norm.startswith(prefix):
            family.append((name, tdp))
            continue
        tokens = norm.split()
        # A row must carry a model number to be a "model" match, else "Intel Xeon" would
        # match every Xeon brand string.
        if (
            (best is None or len(tokens) > best[0])
            and wanted_tokens.issuperset(tokens)
            and any(ch.isdigit() for ch in norm)
        ):
            best = (len(tokens), name, tdp)
    if best is not None:
        return TdpMatch(brand, "model", best[1], best[2])
    if family:
        tdps = sorted(t for _, t in family)
        mid = len(tdps) // 2
        median = tdps[mid] if len(tdps) % 2 else (tdps[mid - 1] + tdps[mid]) / 2
        return TdpMatch(
            brand,
            "family",
            f"median of {len(family)} '{wanted}' rows ({tdps[0]:g}-{tdps[-1]:g} W)",
            median,
            len(family),
        )
    return TdpMatch(brand, "none", None, None, 0)


def _match_cache_key(brand: str, table_path: Path) -> list[Any] | None:
    """Return what a cached match must have been made from, None if the table is unreadable."""
    from greenai._version import __version__

    try:
        st = os.stat(table_path)
    except OSError:
        return None
    return [brand, str(table_path), st.st_size, st.st_mtime_ns, __version__, MATCHER_VERSION]


def _match_cache_path() -> Path | None:
    from greenai.runtime import user_cache_dir

    try:
        return user_cache_dir() / MATCH_CACHE_FILE
    except RuntimeError:  # no home folder to put it in
        return None


def _match_of_doc(doc: object, key: list[Any]) -> TdpMatch | None:
    """Return the match a cache document holds for key, None unless it is a valid one."""
    if not isinstance(doc, dict) or doc.get("key") != key:
        return None
    fields = doc.get("match")
    if not isinstance(fields, dict):
        return None
    kind, row, tdp_w, candidates = (fields.get(k) for k in ("kind", "row", "tdp_w", "candidates"))
    if kind not in _MATCH_KINDS or type(candidates) is not int or candidates < 0:
        return None
    if kind == "none":
        if row is not None or tdp_w is not None:
            return None
        return TdpMatch(key[0], kind, None, None, candidates)
    if not isinstance(row, str) or type(tdp_w) not in (int, float):
        return None
    if not (math.isfinite(tdp_w) and 0 <= tdp_w <= MATCH_CACHE_MAX_TDP_W):
        return None
    return TdpMatch(key[0], kind, row, float(tdp_w), candidates)


def _read_match_cache(path: Path, key: list[Any]) -> TdpMatch | None:
    try:
        # no link followed, and a FIFO planted there cannot block the first meter
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        data = os.read(fd, MATCH_CACHE_MAX_BYTES + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    if len(data) > MATCH_CACHE_MAX_BYTES:
        return None
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested past the stack
        return None
    return _match_of_doc(doc, key)


def _write_match_cache(path: Path, key: list[Any], match: TdpMatch) -> None:
    fields = {"kind": match.kind, "row": match.row, "tdp_w": match.tdp_w}
    data = json.dumps({"key": key, "match": {**fields, "candidates": match.candidates}}).encode()
    if len(data) > MATCH_CACHE_MAX_BYTES or _match_of_doc(json.loads(data), key) != match:
        return  # kept only if it reads back as this very match
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{os.urandom(4).hex()}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, flags, 0o600)
    except OSError:  # no cache folder to write to: the next process matches again
        return
    try:
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        os.replace(tmp, path)  # readers see the old file or the new one, never half of one
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def match_brand(brand: str, path: str | None = None) -> TdpMatch:
    """Return match_tdp(brand, candidate_rows(brand)), cached between processes.

    The cache (GREENAI_CACHE_DIR, else the user cache folder) is keyed by the brand, the
    table's path, size and mtime and greenai's version; a miss or a bad file rematches.
    """
    table_path = Path(path) if path else codecarbon_cpu_table_path()
    key = _match_cache_key(brand, table_path)
    cache = _match_cache_path() if key is not None else None
    hit = _read_match_cache(cache, key) if cache is not None and key is not None else None
    if hit is not None:
        return hit
    match = match_tdp(brand, candidate_rows(brand, str(table_path)))
    if cache is not None and key is not None:
        _write_match_cache(cache, key, match)
    return match


def cpu_brand(cpuinfo: str | None = None) -> str:
    """Return the CPU brand string ('model name' in /proc/cpuinfo, else platform)."""
    text = cpuinfo if cpuinfo is not None else _read("/proc/cpuinfo")
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("model name", "Model Name", "cpu model"):
            return value.strip()
    import platform

    return platform.processor() or "unknown"


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read()
    except OSError:
        return ""


def cgroup_cpu_quota(cpu_max: str | None = None) -> float | None:
    """Return the CPU quota in CPUs from cgroup v2 cpu.max, None when unlimited."""
    text = cpu_max if cpu_max is not None else _read("/sys/fs/cgroup/cpu.max")
    parts = text.split()
    if len(parts) != 2 or parts[0] == "max":
        return None
    try:
        return int(parts[0]) / int(parts[1])
    except (ValueError, ZeroDivisionError):
        return None


def cpu_topology(
    cpuinfo: str | None = None,
    affinity: int | None = None,
    quota_cpus: float | None = None,
    env: dict[str, str] | None = None,
) -> CpuTopology:
    """Return the visible threads and package size, from /proc/cpuinfo, affinity and cgroups."""
    env = os.environ if env is None else env
    text = cpuinfo if cpuinfo is not None else _read("/proc/cpuinfo")
    if affinity is None:
        try:
            affinity = len(os.sched_getaffinity(0))
        except AttributeError:  # not Linux
            affinity = os.cpu_count() or 1
    quota = quota_cpus if quota_cpus is not None else cgroup_cpu_quota()
    visible = float(affinity if quota is None else min(affinity, quota))
    packages: set[str] = set()
    siblings: int | None = None
    virtualised = False
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "physical id":
            packages.add(value.strip())
        elif key == "siblings" and siblings is None and value.strip().isdigit():
            siblings = int(value)
        elif key == "flags" and "hypervisor" in value.split():
            virtualised = True
    override = env.get(ENV_PACKAGE_THREADS)
    if override:
        return CpuTopology(
            visible,
            int(override),
            max(len(packages), 1),
            virtualised,
            f"package size {override} threads from {ENV_PACKAGE_THREADS}",
        )
    if virtualised:
        return CpuTopology(
            visible,
            None,
            max(len(packages), 1),
            True,
            "virtual machine: the host package size is unknown "
            f"(set {ENV_PACKAGE_THREADS} to the host CPU's threads per package)",
        )
    return CpuTopology(
        visible,
        siblings,
        max(len(packages), 1),
        False,
        f"{visible:g} of {siblings} threads per package visible" if siblings else "",
    )


class CpuModelProbe:
    """Estimated CPU power (W) from utilisation and TDP; method MODEL."""

    domain = "cpu"
    method = Method.MODEL
    counts_in_total = True
    wrap_j = None
    max_power_w = None

    def __init__(self, match: TdpMatch, topology: CpuTopology, cpus: list[int] | None = None):
        self.id = "model:cpu"
        self.match = match
        self.topology = topology
        self.power_max_w, self.scaling = self._share_of_tdp(match, topology)
        self._cpus = cpus
        self._proc_stat: int | None = None
        self._want: set[bytes] | None = None
        if cpus is not None and os.path.exists("/proc/stat"):
            self._proc_stat = os.open("/proc/stat", os.O_RDONLY)
            if len(cpus) != os.cpu_count():  # a subset: sum its per-CPU lines
                self._want = {f"cpu{i}".encode() for i in cpus}
        self._last = self._busy_total()

    @staticmethod
    def _share_of_tdp(match: TdpMatch, topo: CpuTopology) -> tuple[float, str]:
        if match.tdp_w is not None and topo.package_threads:
            share = min(topo.visible_threads / topo.package_threads, float(topo.packages))
            return match.tdp_w * share, (
                f"TDP {match.tdp_w:g} W x {topo.visible_threads:g}/{topo.package_threads} "
                "threads of the package"
            )
        threads = topo.visible_threads
        why = "CPU not in the power table" if match.tdp_w is None else topo.note
        return DEFAULT_W_PER_THREAD * threads, (
            f"{DEFAULT_W_PER_THREAD:g} W per thread x {threads:g} threads "
            f"(CodeCarbon's default for unknown CPUs; {why})"
        )

    def _busy_total(self) -> tuple[float, float]:
        """Return (busy, total) CPU time of the visible CPUs, in ticks or seconds."""
        if self._proc_stat is not None:
            try:
                return self._busy_total_proc()
            except (OSError, ValueError, IndexError):
                self._proc_stat = None  # fall back to psutil for good
        import psutil

        times = psutil.cpu_times(percpu=True)
        if self._cpus is not None:
            times = [times[i] for i in self._cpus if i < len(times)]
        busy = total = 0.0
        for t in times:
            idle = t.idle + getattr(t, "iowait", 0.0)
            tot = (
                t.user
                + t.nice
                + t.system
                + t.idle
                + getattr(t, "iowait", 0.0)
                + getattr(t, "irq", 0.0)
                + getattr(t, "softirq", 0.0)
                + getattr(t, "steal", 0.0)
            )
            busy += tot - idle
            total += tot
        return busy, total

    def _busy_total_proc(self) -> tuple[float, float]:
        # /proc/stat read through a held fd: cheaper than psutil's full parse on every tick.
        # Fields: user nice system idle iowait irq softirq steal (guest is inside user).
        data = os.pread(self._proc_stat, 1 << 16, 0)
        busy = total = 0
        for line in data.split(b"\n"):
            if not line.startswith(b"cpu"):
                break
            name, *fields = line.split()
            if self._want is None:
                if name != b"cpu":
                    continue
            elif name not in self._want:
                continue
            ticks = [int(f) for f in fields[:8]]
            idle = ticks[3] + ticks[4]
            t = sum(ticks)
            busy += t - idle
            total += t
            if self._want is None:
                break
        return float(busy), float(total)

    def utilisation(self) -> float:
        """Return the mean utilisation (0..1) of the visible CPUs since the last call."""
        busy, total = self._busy_total()
        d_busy, d_total = busy - self._last[0], total - self._last[1]
        self._last = (busy, total)
        if d_total <= 0:
            return 0.0
        return min(max(d_busy / d_total, 0.0), 1.0)

    def read(self) -> float:
        """Return the estimated mean CPU power (W) since the last read."""
        u = self.utilisation()
        return self.power_max_w * (IDLE_FRACTION + (1.0 - IDLE_FRACTION) * u)

    def info(self) -> dict[str, Any]:
        """Return the model, the matched table row and the TDP share used."""
        return {
            "model": MODEL_NAME,
            "formula": f"P = P_max x ({IDLE_FRACTION:g} + {1 - IDLE_FRACTION:g} x utilisation)",
            "p_max_w": round(self.power_max_w, 6),
            "scaling": self.scaling,
            "tdp_source": "CodeCarbon data/hardware/cpu_power.csv",
            "cpu": self.match.to_dict(),
            "visible_threads": self.topology.visible_threads,
            "package_threads": self.topology.package_threads,
            "virtualised": self.topology.virtualised,
            "flagged": self.match.kind in ("family", "none")
            or self.topology.package_threads is None,
            "note": self.topology.note,
            "boundary": "CPU package share of this machine's visible threads (modelled)",
        }

    def close(self) -> None:
        """Close /proc/stat."""
        if self._proc_stat is not None:
            os.close(self._proc_stat)
            self._proc_stat = None


def _csv_error() -> type[Exception]:
    import csv

    return csv.Error


def discover_cpu_model(env: dict[str, str] | None = None) -> CpuModelProbe:
    """Return the CPU model probe for this machine."""
    env = os.environ if env is None else env
    brand = cpu_brand()
    if env.get(ENV_TDP):
        match = TdpMatch(brand, "override", f"{ENV_TDP}={env[ENV_TDP]}", float(env[ENV_TDP]))
    else:
        try:
            match = match_brand(brand)
        except (OSError, _csv_error()):  # evaluated only when something was raised
            match = TdpMatch(brand, "none", None, None, 0)
    cpus: list[int] | None
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except AttributeError:
        cpus = None
    return CpuModelProbe(match, cpu_topology(env=env), cpus)
