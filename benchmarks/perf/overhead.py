"""Prints greenai's metering overhead next to CodeCarbon's, measured in one run.

    python benchmarks/perf/overhead.py            # ~2 minutes
    python benchmarks/perf/overhead.py --quick    # ~25 s, noisier
    python benchmarks/perf/overhead.py --json out.json

Every figure that depends on process state (imports, start-up, CPU cost) is taken in a
fresh worker process (this file run with ``--worker``), so one figure never warms another.
greenai and the pynvml stub are imported from a byte-compiled copy of the working tree, so
no figure includes compiling a stale .pyc (an editable checkout under edit, or
PYTHONDONTWRITEBYTECODE, would otherwise recompile greenai on every import).

Probe sets:
  realistic   a fake powercap tree (package-0, core, uncore, dram: regular files whose
              counters a driver thread advances in real time) via GREENAI_POWERCAP_ROOT,
              and the pynvml stub of tests/fakes with 8 GPUs (energy counters) via
              GREENAI_FAKE_NVML: 12 probes.
  native      what greenai discovers on this machine unaided.
CodeCarbon runs natively (its GPU path needs nvidia-smi, which the stub does not provide).
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import cProfile
import json
import os
import platform
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SAMPLER_THREAD_NAME = "greenai-sampler"
GPU_COUNT = 8
# (index, name, power W): a two-socket server's first package, as tests/fakes/powercap.py
RAPL_ZONES = (
    ("0", "package-0", 120.0),
    ("0:0", "core", 80.0),
    ("0:1", "uncore", 15.0),
    ("0:2", "dram", 20.0),
)
RAPL_UPDATE_INTERVAL_S = 0.05  # counters advance in real time, 20 times a second
PACKAGE_MAX_POWER_UW = 280_000_000
# CodeCarbon takes any measure_power_secs > 0 (a float, no lower bound: its PeriodicScheduler
# re-arms a threading.Timer), so we use greenai's default 10 Hz for a like-for-like figure.
CODECARBON_INTERVAL_S = 0.1
CODECARBON_KWARGS = {
    "country_iso_code": "FRA",
    "measure_power_secs": CODECARBON_INTERVAL_S,
    "log_level": "error",
    "save_to_file": False,
}
SLOW_INTERVAL_S = 1.0  # the same probes at 1 Hz: energy counters are read exactly at edges
TARGET_CPU_PCT = 0.1
TARGET_EDGE_US = 100.0
TARGET_IMPORT_RATIO = 0.5
TARGET_STARTUP_MS = 10.0
# issue 20's targets (section (e)), each measured beside its peer or floor in the same run
TARGET_COUNTERS_CPU_PCT = 0.02  # default metering, counters only
COUNTERS_SPAN = 4  # the counters-only rows meter 4 x the other CPU rows' sleep (60 s)
TARGET_TIMELINE_FLOOR_RATIO = 1.3  # 10 Hz timeline / a bare time.sleep(0.1) thread
TARGET_WINDOW_ZEUS_RATIO = 1.5  # window with an outer meter open / Zeus begin+end_window
TARGET_RESULT_US = 20.0  # m.result after a window
TARGET_ALONE_US = 100.0  # a meter with nothing else open, after the first (enter + exit)
TARGET_LOAD_RATIO = 2.0  # greenai.load / json.loads, per file
LOAD_FILES = ("reports/reference/smoke/vm/[!s]*.json",)  # the disclosures, not summary.json
IMPORTS = (
    "import greenai",
    "import codecarbon",
    "from codecarbon import OfflineEmissionsTracker",
)


# ====================================================================== workers
# Each runs in a fresh interpreter and returns JSON-ready figures (seconds unless named).
def _median(values: Sequence[float]) -> float:
    return statistics.median(values)


def _p99(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, -(-99 * len(ordered) // 100) - 1)]  # nearest rank


def _stats_us(values_s: Sequence[float]) -> dict[str, float]:
    return {
        "median_us": _median(values_s) * 1e6,
        "p99_us": _p99(values_s) * 1e6,
        "n": len(values_s),
    }


def _time_call(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _idle_cpu_rate(idle_s: float) -> float:
    """Return this process's CPU seconds per wall second while its main thread sleeps."""
    cpu0, wall0 = time.process_time(), time.perf_counter()
    time.sleep(idle_s)
    return (time.process_time() - cpu0) / (time.perf_counter() - wall0)


def _thread_cpu(seconds: float, tick: Callable[[threading.Event], object]) -> tuple[float, float]:
    """Return (% of a core, us per wake) of a thread that calls tick(stop) until stop is set
    or tick returns a false value, for `seconds` of wall time."""
    stop = threading.Event()
    box: list[tuple[float, int]] = []

    def loop() -> None:
        t0, wakes = time.thread_time(), 0
        while not stop.is_set() and tick(stop):
            wakes += 1
        box.append((time.thread_time() - t0, wakes))

    thread = threading.Thread(target=loop)
    wall0 = time.perf_counter()
    thread.start()
    time.sleep(seconds)
    stop.set()
    thread.join()
    cpu_s, wakes = box[0]
    return 100 * cpu_s / (time.perf_counter() - wall0), 1e6 * cpu_s / max(wakes, 1)


def _floor_thread_cpu(seconds: float, interval_s: float) -> tuple[float, float]:
    """Return (% of a core, us per wake) of a thread that only wakes every interval_s."""
    # the sampler's loop without the sampling
    return _thread_cpu(seconds, lambda stop: not stop.wait(interval_s))


def worker_greenai_cpu(
    seconds: float, idle_s: float, interval_s: float, floor_s: float = 0.0
) -> dict[str, Any]:
    """Return one open meter's CPU cost: sampler thread CPU clock, and process CPU - idle."""
    import greenai

    with greenai.meter():  # discovery and lazy imports, off the clock
        pass
    floor_pct, floor_us = _floor_thread_cpu(floor_s, interval_s) if floor_s else (None, None)
    idle_rate = _idle_cpu_rate(idle_s)
    m = greenai.meter(interval_s=interval_s)
    m.__enter__()
    threads = [t for t in threading.enumerate() if t.name == SAMPLER_THREAD_NAME]
    if len(threads) != 1 or threads[0].ident is None:
        raise RuntimeError(f"expected one {SAMPLER_THREAD_NAME!r} thread, found {threads}")
    clock_id = time.pthread_getcpuclockid(threads[0].ident)
    thread0 = time.clock_gettime(clock_id)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    time.sleep(seconds)
    thread_s = time.clock_gettime(clock_id) - thread0
    cpu_s, wall_s = time.process_time() - cpu0, time.perf_counter() - wall0
    m.__exit__(None, None, None)
    if m.result is None:
        raise RuntimeError("the meter produced no result")
    samples = m.result.sampling["samples"]
    return {
        "probes": [d.id for d in m.result.devices],
        "wall_s": wall_s,
        "thread_cpu_pct": 100 * thread_s / wall_s,
        "process_cpu_pct": 100 * (cpu_s - idle_rate * wall_s) / wall_s,
        "idle_cpu_pct": 100 * idle_rate,
        "samples_per_s": samples / m.result.duration_s,
        "us_per_sample": 1e6 * thread_s / max(samples, 1),
        "floor_cpu_pct": floor_pct,
        "floor_us_per_wake": floor_us,
    }


def worker_codecarbon_cpu(seconds: float, idle_s: float) -> dict[str, Any]:
    """Return CodeCarbon's process CPU - idle while one tracker runs."""
    from codecarbon import OfflineEmissionsTracker

    warm = OfflineEmissionsTracker(**CODECARBON_KWARGS)  # hardware detection, off the clock
    warm.start()
    warm.stop()
    idle_rate = _idle_cpu_rate(idle_s)
    tracker = OfflineEmissionsTracker(**CODECARBON_KWARGS)
    tracker.start()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    time.sleep(seconds)
    cpu_s, wall_s = time.process_time() - cpu0, time.perf_counter() - wall0
    tracker.stop()
    return {
        "hardware": [repr(h) for h in getattr(tracker, "_hardware", [])],
        "wall_s": wall_s,
        "process_cpu_pct": 100 * (cpu_s - idle_rate * wall_s) / wall_s,
        "idle_cpu_pct": 100 * idle_rate,
    }


def worker_greenai_startup(later: int) -> dict[str, Any]:
    """Return the first meter's enter/exit (discovery, lazy imports) and later ones'."""
    import greenai

    first = greenai.meter()
    first_enter_s = _time_call(first.__enter__)
    first_exit_s = _time_call(lambda: first.__exit__(None, None, None))
    enters, exits = [], []
    for _ in range(later):
        m = greenai.meter()
        enters.append(_time_call(m.__enter__))
        exits.append(_time_call(lambda m=m: m.__exit__(None, None, None)))
    return {
        "probes": [d.id for d in first.result.devices] if first.result else [],
        "first_enter_s": first_enter_s,
        "first_exit_s": first_exit_s,
        "later_enter_s": _median(enters),
        "later_exit_s": _median(exits),
    }


def worker_codecarbon_startup(later: int) -> dict[str, Any]:
    """Return the first tracker's constructor/start/stop (hardware detection) and later ones'."""
    from codecarbon import OfflineEmissionsTracker

    def one() -> tuple[float, float, float]:
        box: list[Any] = []
        ctor_s = _time_call(lambda: box.append(OfflineEmissionsTracker(**CODECARBON_KWARGS)))
        return ctor_s, _time_call(box[0].start), _time_call(box[0].stop)

    first = one()
    rest = [one() for _ in range(later)]
    return {
        "first_ctor_s": first[0],
        "first_start_s": first[1],
        "first_stop_s": first[2],
        "later_ctor_s": _median([r[0] for r in rest]),
        "later_start_s": _median([r[1] for r in rest]),
        "later_stop_s": _median([r[2] for r in rest]),
    }


def _exit_profile(make: Callable[[], Any], n: int) -> list[tuple[str, float]]:
    """Return (function, share of Meter.__exit__ time) for the exit's main costs (cProfile)."""
    profiler = cProfile.Profile()
    for _ in range(n):
        m = make()
        m.__enter__()
        profiler.enable()
        m.__exit__(None, None, None)
        profiler.disable()
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    rows = [
        (f"{Path(file).stem}.{name}", cum)
        for (file, _, name), (_, _, _, cum, _) in stats.items()
        if "/greenai/" in file or "/psutil/" in file
    ]
    total = max((cum for label, cum in rows if label.endswith("__exit__")), default=0.0)
    if total <= 0:
        return []
    shares = [(label, cum / total) for label, cum in rows if 0.04 <= cum / total < 0.9]
    return sorted(shares, key=lambda r: -r[1])[:8]


class _StepClock:
    """A monotonic clock that moves step_s forward at every reading."""

    def __init__(self, step_s: float):
        self.step_s = step_s
        self.t_s = time.monotonic()

    def __call__(self) -> float:
        self.t_s += self.step_s
        return self.t_s


def worker_greenai_windows(windows: int) -> dict[str, Any]:
    """Return window-edge latencies: bare snapshot, Meter enter/exit, and where exit goes."""
    import greenai
    from greenai.probes.discover import discover_cached
    from greenai.sampler import DEFAULT_INTERVAL_S, TIMELINE_SLOTS, Sampler

    with greenai.meter():  # discovery and lazy imports, off the clock
        pass
    probes = discover_cached().probes
    out: dict[str, Any] = {"probes": [p.id for p in probes]}

    # Raw edge: a snapshot while the sampler's own thread polls at 10 Hz beside it.
    sampler = Sampler(probes)
    sampler.start()
    out["snapshot"] = _stats_us([_time_call(sampler.snapshot) for _ in range(windows * 2)])
    sampler.stop()

    def windows_of(make: Callable[[], Any], n: int) -> tuple[list[float], list[float]]:
        enters, exits = [], []
        for _ in range(n):
            m = make()
            enters.append(_time_call(m.__enter__))
            exits.append(_time_call(lambda m=m: m.__exit__(None, None, None)))
        return enters, exits

    # Windows inside a long run: an outer meter keeps the shared sampler running.
    n_short = max(windows // 4, 50)
    outer = greenai.meter()
    outer.__enter__()
    first_enters, first_exits = windows_of(greenai.meter, n_short)
    enters, exits = windows_of(greenai.meter, windows - n_short)
    outer.__exit__(None, None, None)
    out["enter_warm"], out["exit_warm"] = _stats_us(enters), _stats_us(exits)
    out["exit_warm_first"] = _stats_us(first_exits)
    out["enter_exit_warm"] = _stats_us([a + b for a, b in zip(enters, exits, strict=True)])
    if outer.result is not None and outer.result.timeline is not None:
        out["outer_timeline"] = {
            "duration_s": outer.result.duration_s,
            "slots": len(outer.result.timeline.t_s),
            "resolution_s": outer.result.timeline.resolution_s,
        }

    # Back-to-back meters with nothing else open: each wakes and parks the shared sampler.
    enters, exits = windows_of(greenai.meter, n_short)
    out["enter_cold"], out["exit_cold"] = _stats_us(enters), _stats_us(exits)

    # A sampler polled at 10 Hz for longer than its timeline holds (~205 s), replayed in a
    # moment on a clock that steps 0.1 s per reading. The fake counters then look stalled
    # on that clock, hence the warnings filter: it is the exit's cost we want here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        full = Sampler(probes, clock=_StepClock(DEFAULT_INTERVAL_S))
        for _ in range(2 * TIMELINE_SLOTS + 1):
            full.sample()
        _, exits = windows_of(lambda: greenai.meter(sampler=full), n_short)
        out["exit_full_timeline"] = _stats_us(exits)
        last_s = full.snapshot().t_s
        out["timeline_full"] = _stats_us(
            [_time_call(lambda: full.timeline(since_s=last_s)) for _ in range(n_short)]
        )
        out["exit_profile"] = _exit_profile(lambda: greenai.meter(sampler=full), n_short)
    return out


# ---------------------------------------------------------------- issue 20 (section (e))
def _sleep_floor_cpu(seconds: float, interval_s: float) -> tuple[float, float]:
    """Return (% of a core, us per wake) of a thread that only does time.sleep(interval_s)."""
    return _thread_cpu(seconds, lambda _: time.sleep(interval_s) or True)


def _read_floor_cpu(seconds: float, interval_s: float, probes: Sequence[Any]) -> float:
    """Return the % of a core of a thread that does time.sleep(interval_s) and then reads
    each probe once, as cheaply as it can be read (its raw counter where it offers one):
    what any poller of these probes pays, with none of greenai's bookkeeping."""
    reads = [getattr(p, "read_raw", None) or p.read for p in probes]

    def tick(_: threading.Event) -> bool:
        time.sleep(interval_s)
        for read in reads:
            read()
        return True

    return _thread_cpu(seconds, tick)[0]


def worker_greenai_rates(
    seconds: float,
    idle_s: float,
    meter_kwargs: dict[str, Any],
    floor_s: float = 0.0,
    rounds: int = 1,
) -> dict[str, Any]:
    """Return one open meter's sampler CPU at the given rates (0 where it runs no thread),
    its process CPU - idle, and (floor_s > 0) a bare time.sleep(0.1) thread's CPU and the
    same thread reading the probes (the reads' own floor). With rounds > 1 the meter and the
    read floor alternate in that many blocks of seconds / rounds each (drift on a shared
    machine hits both alike); each figure is the mean over the blocks, with their ratios."""
    import greenai
    from greenai.probes.discover import discover_cached

    with greenai.meter(**meter_kwargs):  # discovery and lazy imports, off the clock
        pass
    floor_pct, floor_us = _sleep_floor_cpu(floor_s, 0.1) if floor_s else (None, None)
    idle_rate = _idle_cpu_rate(idle_s)
    reads, blocks = [], []
    for _ in range(rounds):
        if floor_s:
            reads.append(_read_floor_cpu(floor_s / rounds, 0.1, discover_cached().probes))
        blocks.append(_meter_block(seconds / rounds, idle_rate, meter_kwargs))
    m, threads = blocks[-1][0], blocks[-1][1]
    return {
        "probes": [d.id for d in m.result.devices],
        "threads": threads,
        "sampling": m.result.sampling,
        "wall_s": sum(b[4] for b in blocks),
        "thread_cpu_pct": _mean([b[2] for b in blocks]),
        "process_cpu_pct": _mean([b[3] for b in blocks]),
        "floor_cpu_pct": floor_pct,
        "floor_us_per_wake": floor_us,
        "read_floor_cpu_pct": _mean(reads) if reads else None,
        "read_ratios": [b[2] / r for b, r in zip(blocks, reads, strict=True)] if reads else [],
    }


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def _meter_block(
    seconds: float, idle_rate: float, meter_kwargs: dict[str, Any]
) -> tuple[Any, int, float, float, float]:
    """Open a meter for `seconds` of sleep; return it, the sampler threads, the sampler
    thread's % of a core, the process's % of a core less idle, and the wall seconds."""
    import greenai

    m = greenai.meter(**meter_kwargs)
    m.__enter__()
    threads = [t for t in threading.enumerate() if t.name == SAMPLER_THREAD_NAME]
    clock_id = time.pthread_getcpuclockid(threads[0].ident) if threads else None  # type: ignore[arg-type]
    thread0 = time.clock_gettime(clock_id) if clock_id is not None else 0.0
    cpu0, wall0 = time.process_time(), time.perf_counter()
    time.sleep(seconds)
    thread_s = time.clock_gettime(clock_id) - thread0 if clock_id is not None else 0.0
    cpu_s, wall_s = time.process_time() - cpu0, time.perf_counter() - wall0
    m.__exit__(None, None, None)
    if m.result is None:
        raise RuntimeError("the meter produced no result")
    process_pct = 100 * (cpu_s - idle_rate * wall_s) / wall_s
    return m, len(threads), 100 * thread_s / wall_s, process_pct, wall_s


def worker_greenai_edges(windows: int) -> dict[str, Any]:
    """Return enter+exit with an outer meter open, m.result after it, and a meter with
    nothing else open (after the first), in microseconds."""
    import greenai

    with greenai.meter():
        pass
    first = greenai.meter()
    first.__enter__()
    first.__exit__(None, None, None)
    _ = first.result
    out: dict[str, Any] = {}
    outer = greenai.meter()
    outer.__enter__()
    window_s = []
    for _ in range(windows):  # each meter dropped at once, as in a loop of windows
        m = greenai.meter()
        t0 = time.perf_counter()
        m.__enter__()
        m.__exit__(None, None, None)
        window_s.append(time.perf_counter() - t0)
    out["window_outer_open"] = _stats_us(window_s)
    result_s = []
    for _ in range(max(windows // 2, 50)):
        m = greenai.meter()
        m.__enter__()
        m.__exit__(None, None, None)
        result_s.append(_time_call(lambda m=m: m.result))
    out["result"] = _stats_us(result_s)
    # what m.result leaves to the first read of its fields: per-device energy, and the
    # assessment (site, footprint, rating, embodied: one computation for the four)
    devices_s, assessment_s = [], []
    for _ in range(max(windows // 8, 25)):
        m = greenai.meter()
        m.__enter__()
        m.__exit__(None, None, None)
        r = m.result
        devices_s.append(_time_call(lambda r=r: r.devices))
        assessment_s.append(_time_call(lambda r=r: r.footprint))
    out["first_devices"] = _stats_us(devices_s)
    out["first_assessment"] = _stats_us(assessment_s)
    outer.__exit__(None, None, None)
    alone = []
    for _ in range(max(windows // 4, 50)):
        m = greenai.meter()
        t0 = time.perf_counter()
        m.__enter__()
        m.__exit__(None, None, None)
        alone.append(time.perf_counter() - t0)
    out["window_alone"] = _stats_us(alone)
    out["threads_after"] = sum(t.name == SAMPLER_THREAD_NAME for t in threading.enumerate())
    out["probes"] = [d.id for d in first.result.devices] if first.result else []
    return out


def _complete_nvml_stub() -> None:
    """Let Zeus import the pynvml stand-in: it names NVML constants and functions the stub
    does not define (each constant gets a distinct value, each function raises
    NVML_ERROR_NOT_SUPPORTED, as an older driver does) and checks for the official
    bindings' _nvmlGetFunctionPointer. Zeus's windows call only the energy counter, which
    the stub has, so its figures read the same 8 GPUs as greenai's."""
    import itertools

    import pynvml  # the stand-in: first on PYTHONPATH in the realistic environment

    if not hasattr(pynvml, "FakeGpu") and "nvml_stub" not in (pynvml.__file__ or ""):
        return  # real bindings: nothing to add
    codes = itertools.count(9000)

    def missing(name: str) -> Any:
        if name.startswith("NVML_"):
            value: Any = next(codes)
        elif name.startswith("nvml"):

            def value(*_: Any, **__: Any) -> Any:
                raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)

        else:
            raise AttributeError(name)
        setattr(pynvml, name, value)
        return value

    pynvml.__getattr__ = missing  # type: ignore[attr-defined]
    pynvml._nvmlGetFunctionPointer = lambda name: None  # type: ignore[attr-defined]


def worker_zeus(windows: int, seconds: float, idle_s: float) -> dict[str, Any]:
    """Return Zeus's begin/end_window latency and process CPU - idle with a window open."""
    import logging

    _complete_nvml_stub()
    logging.disable(logging.WARNING)
    t0 = time.perf_counter()
    from zeus.monitor import ZeusMonitor

    monitor = ZeusMonitor(approx_instant_energy=False)
    ctor_s = time.perf_counter() - t0
    for i in range(20):  # warm-up
        monitor.begin_window(f"warm{i}", sync_execution=False)
        monitor.end_window(f"warm{i}", sync_execution=False)
    lat = []
    for i in range(windows):
        t0 = time.perf_counter()
        monitor.begin_window(f"w{i}", sync_execution=False)
        monitor.end_window(f"w{i}", sync_execution=False)
        lat.append(time.perf_counter() - t0)
    idle_rate = _idle_cpu_rate(idle_s)
    monitor.begin_window("cpu", sync_execution=False)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    time.sleep(seconds)
    cpu_s, wall_s = time.process_time() - cpu0, time.perf_counter() - wall0
    measured = monitor.end_window("cpu", sync_execution=False)
    return {
        "gpus": list(monitor.gpu_indices),
        "cpus": list(getattr(monitor, "cpu_indices", []) or []),
        "import_and_ctor_s": ctor_s,
        "window": _stats_us(lat),
        "process_cpu_pct": 100 * (cpu_s - idle_rate * wall_s) / wall_s,
        "threads": len(threading.enumerate()) - 1,
        "gpu_energy_j": sum((measured.gpu_energy or {}).values()),
    }


def worker_window_pair(windows: int, blocks: int) -> dict[str, Any]:
    """Return greenai's window (an outer meter open) and Zeus's begin/end_window timed in one
    process, in alternating blocks (ABBA), so both see the same CPU: the ratio's figure."""
    import logging

    import greenai

    with greenai.meter():  # greenai discovers the 8 stub GPUs before Zeus completes the stub
        pass
    _complete_nvml_stub()
    logging.disable(logging.WARNING)
    from zeus.monitor import ZeusMonitor

    monitor = ZeusMonitor(approx_instant_energy=False)
    outer = greenai.meter()
    outer.__enter__()

    def ours() -> float:
        m = greenai.meter()
        t0 = time.perf_counter()
        m.__enter__()
        m.__exit__(None, None, None)
        return time.perf_counter() - t0

    def zeus(i: int) -> float:
        t0 = time.perf_counter()
        monitor.begin_window(f"w{i}", sync_execution=False)
        monitor.end_window(f"w{i}", sync_execution=False)
        return time.perf_counter() - t0

    for i in range(20):  # warm-up
        ours()
        zeus(i)
    per_block = max(windows // blocks, 10)
    g: list[float] = []
    z: list[float] = []
    ratios = []
    for b in range(blocks):
        first_ours = b % 4 in (0, 3)  # A B B A
        runs = [(g, ours), (z, None)] if first_ours else [(z, None), (g, ours)]
        block: dict[int, list[float]] = {}
        for out, fn in runs:
            times = [fn() if fn else zeus(b * per_block + k) for k in range(per_block)]
            out.extend(times)
            block[id(out)] = times
        ratios.append(_median(block[id(g)]) / _median(block[id(z)]))
    outer.__exit__(None, None, None)
    return {
        "greenai": _stats_us(g),
        "zeus": _stats_us(z),
        "block_ratios": ratios,
        "gpus": list(monitor.gpu_indices),
    }


def worker_load(files: list[str], rounds: int) -> dict[str, Any]:
    """Return greenai.load and json.loads(read_text) per file, median microseconds."""
    import greenai

    out = {}
    for name in files:
        path = Path(name)
        greenai.load(path)  # lazy imports, off the clock
        plain = [_time_call(lambda p=path: json.loads(p.read_text())) for _ in range(rounds)]
        ours = [_time_call(lambda p=path: greenai.load(p)) for _ in range(rounds)]
        out[path.name] = {
            "bytes": path.stat().st_size,
            "json_us": 1e6 * _median(plain),
            "load_us": 1e6 * _median(ours),
        }
    return out


def import_graph() -> dict[str, Any]:
    """Return greenai's import circles and upward imports, as tests/test_architecture.py
    checks them (ast over every module, lazy imports included, TYPE_CHECKING left out)."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from tests import test_architecture as arch

    edges = arch.graph()
    upward = [f"{a} -> {b}" for a, ts in edges.items() for b in ts if arch.floor(b) > arch.floor(a)]
    return {
        "modules": len(edges),
        "imports": sum(len(v) for v in edges.values()),
        "circles": arch.cycles(edges),
        "upward": upward,
    }


WORKERS: dict[str, Callable[..., dict[str, Any]]] = {
    "greenai-cpu": worker_greenai_cpu,
    "codecarbon-cpu": worker_codecarbon_cpu,
    "greenai-startup": worker_greenai_startup,
    "codecarbon-startup": worker_codecarbon_startup,
    "greenai-windows": worker_greenai_windows,
    "greenai-rates": worker_greenai_rates,
    "greenai-edges": worker_greenai_edges,
    "zeus": worker_zeus,
    "window-pair": worker_window_pair,
    "load": worker_load,
}


# ====================================================================== driver
def stage_sources(base: Path) -> Path:
    """Copy greenai/, its standards/ data and the pynvml stub under base/site, byte-compiled."""
    site = base / "site"
    skip = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(REPO / "greenai", site / "greenai", ignore=skip)
    if (REPO / "standards").is_dir():  # found next to the package, as in the checkout
        shutil.copytree(REPO / "standards", site / "standards", ignore=skip)
    shutil.copytree(REPO / "tests" / "fakes" / "nvml_stub", site / "nvml_stub", ignore=skip)
    if not compileall.compile_dir(site, quiet=1):
        raise RuntimeError(f"could not byte-compile {site}")
    return site


def native_env(site: Path) -> dict[str, str]:
    """Return an environment that imports the staged greenai and sees this machine's probes."""
    drop = {
        "PYTHONPATH",
        "GREENAI_POWERCAP_ROOT",
        "GREENAI_FAKE_NVML",
        "GREENAI_NVML",
        "CUDA_VISIBLE_DEVICES",
        "GREENAI_SITE",
        "GREENAI_GRID",
        "GREENAI_PUE",
        "GREENAI_WUE",
    }
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env["PYTHONPATH"] = str(site)
    # where meters register on the node: private, so other greenai users do not interfere
    env["GREENAI_RUNTIME_DIR"] = str(site.parent / "runtime")
    return env


class CounterUpdater:
    """Advances fake energy_uj files in real time from a thread of this (driver) process.

    Its CPU is spent here, not in the measured workers. Values are padded to a fixed width
    and written with one pwrite, so a reader never sees a half-written number.
    """

    def __init__(self, zones: Sequence[tuple[Path, float, int]]):
        self._zones = [
            (os.open(path / "energy_uj", os.O_WRONLY), power_w, wrap_uj)
            for path, power_w, wrap_uj in zones
        ]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fake-rapl-updater", daemon=True)

    def _run(self) -> None:
        t0 = time.monotonic()
        while not self._stop.wait(RAPL_UPDATE_INTERVAL_S):
            elapsed_s = time.monotonic() - t0
            for fd, power_w, wrap_uj in self._zones:
                os.pwrite(fd, f"{int(power_w * elapsed_s * 1e6) % wrap_uj}\n".encode().ljust(24), 0)

    def __enter__(self) -> CounterUpdater:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        for fd, _, _ in self._zones:
            os.close(fd)


def realistic_env(base: Path, site: Path) -> tuple[dict[str, str], CounterUpdater]:
    """Return an environment whose greenai sees 4 fake RAPL zones and 8 stub GPUs.

    Also return the updater that keeps the zones' counters moving (start it with ``with``).
    """
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from tests.fakes.powercap import FakePowercap

    tree = FakePowercap(base / "powercap")
    zones = []
    for index, name, power_w in RAPL_ZONES:
        zone = tree.add_zone(
            index,
            name,
            power_w=power_w,
            max_power_uw=PACKAGE_MAX_POWER_UW if index == "0" else None,
        )
        zones.append((zone.path, power_w, zone.max_range_uj))
    nvml_config = base / "fake_nvml.json"
    nvml_config.write_text(
        json.dumps(
            {
                "gpus": [
                    {"uuid": f"GPU-{i:08x}-0000-4000-8000-000000000000"} for i in range(GPU_COUNT)
                ]
            }
        )
    )
    env = native_env(site)
    env["GREENAI_POWERCAP_ROOT"] = str(tree.root)
    env["GREENAI_FAKE_NVML"] = str(nvml_config)
    env["GREENAI_NVML"] = "on"  # no driver here: probe the stand-in anyway
    env["PYTHONPATH"] = os.pathsep.join([str(site / "nvml_stub"), str(site)])
    return env, CounterUpdater(zones)


def run_worker(name: str, env: dict[str, str], cwd: Path, **kwargs: Any) -> dict[str, Any]:
    """Run one worker in a fresh interpreter; return its JSON result."""
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        name,
        "--worker-args",
        json.dumps(kwargs),
    ]
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"worker {name} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def import_times_s(runs: int, env: dict[str, str], cwd: Path) -> dict[str, list[float]]:
    """Return import wall times (s) per statement, a fresh interpreter each, interleaved."""
    times: dict[str, list[float]] = {stmt: [] for stmt in IMPORTS}
    for i in range(runs + 1):
        for stmt in IMPORTS:
            code = f"import time; t = time.perf_counter(); {stmt}; print(time.perf_counter() - t)"
            proc = subprocess.run(
                [sys.executable, "-c", code],
                env=env,
                cwd=cwd,
                capture_output=True,
                text=True,
                check=True,
            )
            if i:  # round 0 only warms the page cache
                times[stmt].append(float(proc.stdout.strip().splitlines()[-1]))
    return times


def machine() -> str:
    """Return CPU model, logical CPUs, virtualisation, OS and Python, in one line."""
    brand, hypervisor = platform.processor() or "unknown CPU", False
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                if key.strip() == "model name":
                    brand = value.strip()
                elif key.strip() == "flags":
                    hypervisor = "hypervisor" in value.split()
                    break
    except OSError:
        pass
    kind = "virtual machine" if hypervisor else "no hypervisor flag"
    return (
        f"{brand}, {os.cpu_count()} logical CPUs ({kind}); {platform.system()} "
        f"{platform.release()}; Python {platform.python_version()}"
    )


def versions() -> str:
    """Return the versions of the packages measured, and the greenai checkout state."""
    from importlib.metadata import PackageNotFoundError, version

    parts = []
    for dist in ("greenai", "codecarbon", "psutil"):
        try:
            parts.append(f"{dist} {version(dist)}")
        except PackageNotFoundError:
            parts.append(f"{dist} not installed")
    git = subprocess.run(
        ["git", "-C", str(REPO), "status", "--porcelain", "--", "greenai"],
        capture_output=True,
        text=True,
        check=False,
    )
    head = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    if head.returncode == 0:
        dirty = len(git.stdout.splitlines())
        parts.append(
            f"checkout {head.stdout.strip()}"
            + (f" + {dirty} changed file(s) in greenai/" if dirty else "")
        )
    return ", ".join(parts)


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Return rows as a plain-text table (first column left-aligned, the rest right)."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(r: Sequence[str]) -> str:
        cells = [
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ]
        return "  " + "  ".join(cells).rstrip()

    return "\n".join(
        [line(header), "  " + "  ".join("-" * w for w in widths), *[line(r) for r in rows]]
    )


def verdict(value: float, target: float) -> str:
    return f"<= {target:g}: {'ok' if value <= target else 'MISS'}"


def ratio(a: float, b: float) -> str:
    return f"{a / b:.3g}x" if b > 0 else "n/a"


def report(r: dict[str, Any]) -> None:
    """Print the figures as tables, each with the method behind it."""
    real, here, slow, cc = r["cpu_realistic"], r["cpu_native"], r["cpu_slow"], r["cpu_codecarbon"]
    win, g_start, cc_start = r["windows"], r["greenai_startup"], r["codecarbon_startup"]

    def med(runs: list[dict[str, Any]], key: str) -> float:
        return _median([x[key] for x in runs])

    print(f"greenai overhead benchmark ({'--quick' if r['quick'] else 'default'} run, {r['when']})")
    print(f"machine:  {r['machine']}")
    print(f"packages: {r['packages']}")
    if r.get("load_1min"):
        a, b = r["load_1min"]
        print(
            f"load:     1-min load average {a:.2f} at start, {b:.2f} at end (above ~1, other "
            "processes were competing for the CPUs: expect noisier figures)"
        )
    print(f"probes:   realistic  = {len(win['probes'])} probes: {', '.join(win['probes'])}")
    print(
        "                        (fake RAPL: regular files advanced at 20 Hz by the driver "
        "process; a real sysfs read also reads an MSR)"
    )
    print(f"          native     = greenai on this machine: {', '.join(here['probes'])}")
    print(
        f"          codecarbon = {', '.join(cc['hardware'])}, measure_power_secs="
        f"{CODECARBON_INTERVAL_S:g} s"
    )

    # (a) and (e): CPU cost ----------------------------------------------------------
    print(f"\n(a, e) CPU cost while metering, % of one core, over {real['wall_s']:.0f} s wall")
    rows = [
        [
            "greenai realistic 10 Hz, sampler thread CPU clock",
            f"{real['thread_cpu_pct']:.4f}",
            f"{real['samples_per_s']:.1f}",
            f"{real['us_per_sample']:.0f}",
            verdict(real["thread_cpu_pct"], TARGET_CPU_PCT),
        ],
        [
            "greenai realistic 10 Hz, process CPU - idle",
            f"{real['process_cpu_pct']:.4f}",
            "",
            "",
            verdict(real["process_cpu_pct"], TARGET_CPU_PCT),
        ],
        [
            "  floor: a thread that only does Event.wait(0.1)",
            f"{real['floor_cpu_pct']:.4f}",
            "10",
            f"{real['floor_us_per_wake']:.0f}",
            "",
        ],
        [
            f"greenai realistic {1 / SLOW_INTERVAL_S:g} Hz, sampler thread CPU clock",
            f"{slow['thread_cpu_pct']:.4f}",
            f"{slow['samples_per_s']:.1f}",
            f"{slow['us_per_sample']:.0f}",
            verdict(slow["thread_cpu_pct"], TARGET_CPU_PCT),
        ],
        [
            "greenai native 10 Hz, sampler thread CPU clock",
            f"{here['thread_cpu_pct']:.4f}",
            f"{here['samples_per_s']:.1f}",
            f"{here['us_per_sample']:.0f}",
            verdict(here["thread_cpu_pct"], TARGET_CPU_PCT),
        ],
        ["greenai native 10 Hz, process CPU - idle", f"{here['process_cpu_pct']:.4f}", "", "", ""],
        ["codecarbon 10 Hz, process CPU - idle", f"{cc['process_cpu_pct']:.4f}", "", "", ""],
        [
            "ratio greenai native / codecarbon (same method)",
            ratio(here["process_cpu_pct"], cc["process_cpu_pct"]),
            "",
            "",
            "",
        ],
        [
            "ratio greenai realistic / codecarbon (same method)",
            ratio(real["process_cpu_pct"], cc["process_cpu_pct"]),
            "",
            "",
            "",
        ],
    ]
    print(table(["figure", "% core", "wakes/s", "us/wake", "target"], rows))
    print(
        "  method: 'thread CPU clock' = clock_gettime(pthread_getcpuclockid(the greenai-sampler\n"
        "  thread)) read from the main thread before and after a sleep: that thread's own\n"
        "  on-CPU time (user + kernel), ns resolution, nothing else in the process counted.\n"
        "  'process CPU - idle' = process_time() over the same window minus this process's\n"
        f"  rate with its main thread asleep ({r['idle_s']:g} s: {real['idle_cpu_pct']:.4f} / "
        f"{here['idle_cpu_pct']:.4f} / {cc['idle_cpu_pct']:.4f} %). CodeCarbon's scheduler\n"
        "  starts a new Timer thread per tick, so only the process method applies to it."
    )

    # (b): window edges -----------------------------------------------------------------
    print(
        f"\n(b) window begin/end latency, realistic probes, microseconds "
        f"({win['snapshot']['n']} snapshots, {win['enter_warm']['n']} windows)"
    )

    def lat(label: str, key: str, target: bool = True) -> list[str]:
        s = win[key]
        return [
            label,
            f"{s['median_us']:.1f}",
            f"{s['p99_us']:.1f}",
            verdict(s["median_us"], TARGET_EDGE_US) if target else "",
        ]

    rows = [
        lat("sampler.snapshot() (the raw edge; its thread polls beside)", "snapshot"),
        lat("Meter.__enter__, shared sampler running", "enter_warm"),
        lat(
            f"Meter.__exit__, shared sampler running, first {win['exit_warm_first']['n']}",
            "exit_warm_first",
        ),
        lat("Meter.__exit__, shared sampler running, the rest", "exit_warm"),
        lat("  enter + exit (the rest)", "enter_exit_warm"),
        lat("Meter.__enter__, no other meter open (wakes the parked sampler)", "enter_cold"),
        lat("Meter.__exit__, no other meter open (parks the sampler)", "exit_cold"),
        lat("Meter.__exit__, sampler timeline full (>= 205 s at 10 Hz)", "exit_full_timeline"),
        lat("  sampler.timeline(since_s=now) alone, timeline full", "timeline_full", False),
    ]
    print(table(["figure", "median", "p99", "target (median)"], rows))
    if win.get("exit_profile"):
        shares = ", ".join(f"{name} {share:.0%}" for name, share in win["exit_profile"])
        print(f"  where Meter.__exit__ goes (cProfile, cumulative share, full timeline): {shares}")
    tl = win.get("outer_timeline")
    if tl:
        print(
            f"  the outer meter ({tl['duration_s']:.2f} s) reports {tl['slots']} timeline slots"
            f" at resolution_s={tl['resolution_s']:g} (about duration / resolution_s when window"
            " edges do not split slots)"
        )
    print(
        "  method: perf_counter around each call in one process after a warm-up meter;\n"
        "  'timeline full' = greenai.meter(sampler=s) on a Sampler fed 2 x TIMELINE_SLOTS "
        "readings\n  on a clock that steps 0.1 s per reading."
    )

    # (c): import time ------------------------------------------------------------------
    imports = r["imports_s"]
    g_imp = _median(imports["import greenai"])
    print(
        f"\n(c) import time, ms: fresh interpreter each, perf_counter around the statement, "
        f"{len(imports['import greenai'])} runs interleaved after a warm-up round"
    )
    rows = []
    for stmt, values in imports.items():
        other = stmt != "import greenai"
        rows.append(
            [
                stmt,
                f"{_median(values) * 1e3:.1f}",
                f"{min(values) * 1e3:.1f}",
                f"{max(values) * 1e3:.1f}",
                ratio(g_imp, _median(values)) if other else "",
                verdict(g_imp / _median(values), TARGET_IMPORT_RATIO) if other else "",
            ]
        )
    print(table(["statement", "median", "min", "max", "greenai/this", "target"], rows))

    # (d) and (e): start-up and stop ------------------------------------------------------
    print(
        f"\n(d, e) start-up and stop, ms: 'first' = median over {len(g_start['realistic'])} "
        f"fresh processes (codecarbon: {len(cc_start)}), 'later' = median of the later ones"
    )
    rows = []
    for name in ("realistic", "native"):
        runs = g_start[name]
        rows += [
            [
                f"greenai {name}: first meter __enter__ (discovery)",
                f"{med(runs, 'first_enter_s') * 1e3:.2f}",
                verdict(med(runs, "first_enter_s") * 1e3, TARGET_STARTUP_MS),
            ],
            [f"greenai {name}: first meter __exit__", f"{med(runs, 'first_exit_s') * 1e3:.2f}", ""],
            [
                f"greenai {name}: later __enter__",
                f"{med(runs, 'later_enter_s') * 1e3:.3f}",
                verdict(med(runs, "later_enter_s") * 1e3, TARGET_STARTUP_MS),
            ],
            [f"greenai {name}: later __exit__", f"{med(runs, 'later_exit_s') * 1e3:.3f}", ""],
        ]
    cc_first = med(cc_start, "first_ctor_s") + med(cc_start, "first_start_s")
    cc_later = med(cc_start, "later_ctor_s") + med(cc_start, "later_start_s")
    rows += [
        [
            "codecarbon: first OfflineEmissionsTracker()",
            f"{med(cc_start, 'first_ctor_s') * 1e3:.2f}",
            "",
        ],
        [
            "codecarbon: first start() (hardware detection)",
            f"{med(cc_start, 'first_start_s') * 1e3:.2f}",
            "",
        ],
        ["codecarbon: first stop()", f"{med(cc_start, 'first_stop_s') * 1e3:.2f}", ""],
        ["codecarbon: later constructor + start()", f"{cc_later * 1e3:.3f}", ""],
        ["codecarbon: later stop()", f"{med(cc_start, 'later_stop_s') * 1e3:.3f}", ""],
    ]
    print(table(["figure", "ms", "target"], rows))
    rows = []
    for name in ("realistic", "native"):
        runs = g_start[name]
        rows += [
            [
                f"{name}: first enter / first constructor+start",
                ratio(med(runs, "first_enter_s"), cc_first),
            ],
            [
                f"{name}: first exit / first stop",
                ratio(med(runs, "first_exit_s"), med(cc_start, "first_stop_s")),
            ],
            [
                f"{name}: later enter / later constructor+start",
                ratio(med(runs, "later_enter_s"), cc_later),
            ],
            [
                f"{name}: later exit / later stop",
                ratio(med(runs, "later_exit_s"), med(cc_start, "later_stop_s")),
            ],
        ]
    print(table(["greenai / codecarbon", "ratio"], rows))
    print(
        "  method: perf_counter around the call, after the import (that is (c)); 'later'\n"
        "  meters run back to back with none open around them, so each wakes and parks\n"
        "  the shared sampler (its thread is kept for the process)."
    )
    seen = sorted({w for part in r.values() for w in _warnings_in(part)})
    if seen:
        print("\nwarnings raised inside the workers (a greenai one may mean an unusual code path):")
        print("\n".join(f"  {w}" for w in seen))
    if r.get("issue20"):
        report_issue20(r)
    print(f"\ntotal benchmark wall time: {r['wall_s']:.0f} s")


def issue20_figures(
    real_env: dict[str, str],
    here_env: dict[str, str],
    cwd: Path,
    cpu_s: float,
    idle_s: float,
    windows: int,
    rounds: int = 3,
) -> dict[str, Any]:
    """Return section (e)'s figures: counter-edge CPU, windows beside Zeus, result, load.

    The edge latencies and Zeus's window run in `rounds` alternating pairs of workers, so
    drift on a shared machine hits both alike; each figure is the median over the rounds.
    """
    import glob
    import importlib.util

    cpu = {"seconds": cpu_s, "idle_s": idle_s}
    # a slow timeline wakes a few times in cpu_s, and one wake in PENDING_TICKS also folds
    # the ticks kept: its rows run COUNTERS_SPAN times as long, so the folds average out
    slow = {"seconds": cpu_s * COUNTERS_SPAN, "idle_s": idle_s}
    out: dict[str, Any] = {
        "counters_default": run_worker("greenai-rates", real_env, cwd, meter_kwargs={}, **slow),
        "counters_1hz": run_worker(
            "greenai-rates", real_env, cwd, meter_kwargs={"timeline_hz": 1}, **slow
        ),
        "counters_no_timeline": run_worker(
            "greenai-rates", real_env, cwd, meter_kwargs={"timeline_hz": 0}, **cpu
        ),
        "timeline_10hz": run_worker(
            "greenai-rates",
            real_env,
            cwd,
            meter_kwargs={"timeline_hz": 10},
            floor_s=cpu_s,
            rounds=rounds,
            **cpu,
        ),
    }
    zeus_missing = importlib.util.find_spec("zeus") is None
    edges, zeus = [], []
    for _ in range(rounds):
        edges.append(run_worker("greenai-edges", real_env, cwd, windows=windows))
        if zeus_missing or (zeus and "skipped" in zeus[0]):
            continue
        try:
            zeus.append(run_worker("zeus", real_env, cwd, windows=windows, **cpu))
        except RuntimeError as exc:
            zeus = [{"skipped": f"zeus did not run: {str(exc).splitlines()[-1]}"}]
    out["edges"] = _median_rounds(edges)
    if zeus_missing:
        out["zeus"] = {"skipped": "zeus is not installed (pip install zeus: optional peer)"}
    elif "skipped" in zeus[0]:
        out["zeus"] = zeus[0]
    else:
        out["zeus"] = _median_rounds(zeus)
        out["window_ratios"] = [
            e["window_outer_open"]["median_us"] / z["window"]["median_us"]
            for e, z in zip(edges, zeus, strict=True)
        ]
        try:
            out["window_pair"] = run_worker(
                "window-pair", real_env, cwd, windows=windows * rounds, blocks=4 * rounds
            )
        except RuntimeError as exc:
            out["window_pair"] = {"skipped": str(exc).splitlines()[-1]}
    # a machine where greenai has not matched its CPU yet: an empty CPU-match cache each
    cold = []
    for i in range(rounds):
        cache = cwd.parent / f"cpu-match-cache-{i}"  # made by the worker, empty until then
        cold.append(
            run_worker(
                "greenai-startup", {**here_env, "GREENAI_CACHE_DIR": str(cache)}, cwd, later=1
            )
        )
    out["startup_cold_cache"] = cold
    files = sorted(f for pattern in LOAD_FILES for f in glob.glob(str(REPO / pattern)))
    out["load"] = run_worker("load", here_env, cwd, files=files, rounds=max(windows // 10, 40))
    out["graph"] = import_graph()
    return out


def _median_rounds(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Return the first run with every numeric figure (also in nested dicts) replaced by its
    median over the runs; the rounds' own figures are kept under "rounds"."""

    def merge(parts: list[Any]) -> Any:
        first = parts[0]
        if isinstance(first, dict):
            return {k: merge([p[k] for p in parts]) for k in first}
        if isinstance(first, int | float) and not isinstance(first, bool):
            return _median(parts)
        return first

    out = merge(runs)
    out["rounds"] = len(runs)
    return out


def report_issue20(r: dict[str, Any]) -> None:
    """Print section (e): each of issue 20's rows with its target and verdict."""
    e = r["issue20"]
    d, off, tl, edges, zeus = (
        e["counters_default"],
        e["counters_no_timeline"],
        e["timeline_10hz"],
        e["edges"],
        e["zeus"],
    )
    native_first_ms = 1e3 * _median([x["first_enter_s"] for x in r["greenai_startup"]["native"]])
    floor = tl["floor_cpu_pct"]
    one_hz = e.get("counters_1hz")
    rows = [
        [
            f"sampler CPU, counters only, default (timeline {d['sampling']['timeline_hz']:g} Hz),"
            " % of a core",
            f"{d['thread_cpu_pct']:.4f} (process - idle {d['process_cpu_pct']:.4f})",
            f"Zeus {zeus['process_cpu_pct']:.4f} (process - idle)" if "window" in zeus else "-",
            f"<= {TARGET_COUNTERS_CPU_PCT:g}",
            verdict(d["thread_cpu_pct"], TARGET_COUNTERS_CPU_PCT),
        ],
        *(
            [
                [
                    "  the same with timeline_hz=1 (the default before)",
                    f"{one_hz['thread_cpu_pct']:.4f} (process - idle "
                    f"{one_hz['process_cpu_pct']:.4f})",
                    "",
                    "context",
                    "-",
                ]
            ]
            if one_hz
            else []
        ),
        [
            f"sampler CPU, counters only, timeline_hz=0 (threads: {off['threads']}), % of a core",
            f"{off['thread_cpu_pct']:.4f} (process - idle {off['process_cpu_pct']:.4f})",
            "",
            f"<= {TARGET_COUNTERS_CPU_PCT:g}",
            verdict(max(off["thread_cpu_pct"], 0.0), TARGET_COUNTERS_CPU_PCT),
        ],
        [
            "sampler CPU, 10 Hz timeline, % of a core",
            f"{tl['thread_cpu_pct']:.4f}",
            f"time.sleep(0.1) thread {floor:.4f}",
            f"<= {TARGET_TIMELINE_FLOOR_RATIO:g}x floor",
            verdict(tl["thread_cpu_pct"] / floor, TARGET_TIMELINE_FLOOR_RATIO)
            + f" ({tl['thread_cpu_pct'] / floor:.2f}x)",
        ],
    ]
    reads = tl.get("read_floor_cpu_pct")
    if reads:
        rows.append(
            [
                f"  the same thread reading the {len(tl['probes'])} probes raw (no bookkeeping)",
                f"{reads:.4f} ({reads / floor:.2f}x floor)",
                f"greenai / this {tl['thread_cpu_pct'] / reads:.2f}x",
                f"<= {TARGET_TIMELINE_FLOOR_RATIO:g}x this",
                verdict(tl["thread_cpu_pct"] / reads, TARGET_TIMELINE_FLOOR_RATIO)
                + (
                    f" (blocks {min(tl['read_ratios']):.2f}-{max(tl['read_ratios']):.2f}x)"
                    if len(tl.get("read_ratios") or []) > 1
                    else ""
                ),
            ]
        )
    w = edges["window_outer_open"]["median_us"]
    pair = e.get("window_pair") or {}
    if "greenai" in pair:
        gw, zw = pair["greenai"]["median_us"], pair["zeus"]["median_us"]
        each = pair["block_ratios"]
        rows.append(
            [
                f"window enter+exit, outer meter open, us ({len(edges['probes'])} probes), "
                "one process, ABBA blocks",
                f"{gw:.1f}",
                f"Zeus begin+end_window {zw:.1f} ({len(pair['gpus'])} GPUs)",
                f"<= {TARGET_WINDOW_ZEUS_RATIO:g}x Zeus",
                verdict(gw / zw, TARGET_WINDOW_ZEUS_RATIO)
                + f" ({gw / zw:.2f}x, blocks {min(each):.2f}-{max(each):.2f}x)",
            ]
        )
    if "window" in zeus:
        z = zeus["window"]["median_us"]
        each = e.get("window_ratios") or []
        spread = f", rounds {min(each):.2f}-{max(each):.2f}x" if len(each) > 1 else ""
        rows.append(
            [
                f"  the same, each in its own worker ({len(zeus['gpus'])} GPUs, "
                f"{len(zeus['cpus'])} CPUs for Zeus)",
                f"{w:.1f}",
                f"Zeus begin+end_window {z:.1f}",
                "context" if "greenai" in pair else f"<= {TARGET_WINDOW_ZEUS_RATIO:g}x Zeus",
                f"{w / z:.2f}x{spread}"
                if "greenai" in pair
                else verdict(w / z, TARGET_WINDOW_ZEUS_RATIO) + f" ({w / z:.2f}x{spread})",
            ]
        )
    else:
        rows.append(
            [
                "window enter+exit, outer meter open, us",
                f"{w:.1f}",
                f"Zeus skipped: {zeus['skipped']}",
                f"<= {TARGET_WINDOW_ZEUS_RATIO:g}x Zeus",
                "n/a",
            ]
        )
    res = edges["result"]["median_us"]
    alone = edges["window_alone"]["median_us"]
    rows += [
        [
            "m.result after a window, us",
            f"{res:.1f}",
            "",
            f"<= {TARGET_RESULT_US:g}",
            verdict(res, TARGET_RESULT_US),
        ],
        [
            "  then first read of .footprint (site, footprint, rating, embodied), us",
            f"{edges['first_assessment']['median_us']:.1f}",
            f"first .devices {edges['first_devices']['median_us']:.1f}",
            "context",
            "-",
        ],
        [
            "a meter with nothing else open (enter+exit, after the first), us",
            f"{alone:.1f}",
            f"sampler threads kept: {edges['threads_after']}",
            f"<= {TARGET_ALONE_US:g}",
            verdict(alone, TARGET_ALONE_US),
        ],
        [
            "first meter enter, native, ms",
            f"{native_first_ms:.2f}",
            "",
            f"<= {TARGET_STARTUP_MS:g}",
            verdict(native_first_ms, TARGET_STARTUP_MS),
        ],
    ]
    cold = e.get("startup_cold_cache")
    if cold:
        cold_ms = [1e3 * x["first_enter_s"] for x in cold]
        rows.append(
            [
                "  the same, CPU not matched on this machine yet (empty match cache), ms",
                f"{_median(cold_ms):.2f}",
                f"{min(cold_ms):.2f}-{max(cold_ms):.2f} over {len(cold_ms)}",
                "context",
                "-",
            ]
        )
    for name, f in e["load"].items():
        if name == "warnings":  # added to every worker's output
            continue
        ratio_ = f["load_us"] / f["json_us"]
        rows.append(
            [
                f"greenai.load {name} ({f['bytes'] / 1024:.0f} KiB), us",
                f"{f['load_us']:.0f}",
                f"json.loads {f['json_us']:.0f}",
                f"<= {TARGET_LOAD_RATIO:g}x",
                verdict(ratio_, TARGET_LOAD_RATIO) + f" ({ratio_:.2f}x)",
            ]
        )
    g = e["graph"]
    rows.append(
        [
            f"import graph ({g['modules']} modules, {g['imports']} imports)",
            f"{len(g['circles'])} circles, {len(g['upward'])} upward",
            "",
            "0, 0",
            "met" if not g["circles"] and not g["upward"] else "MISSED",
        ]
    )
    print("\n(e) counter-edge metering and the meter core (issue 20), side by side in this run")
    print(table(["figure", "greenai", "peer / floor", "target", "verdict"], rows))
    print(
        "  method: fresh worker per row group; realistic probes (4 fake RAPL zones + 8 stub\n"
        "  GPUs, all energy counters). Sampler CPU = the greenai-sampler thread's own CPU\n"
        "  clock over the sleep (0 when no thread runs; the counters-only default and 1 Hz\n"
        f"  rows sleep {COUNTERS_SPAN}x as long, so their few wakes and folds average out);\n"
        "  the floor is a thread doing only\n"
        "  time.sleep(0.1), measured in the same worker. Zeus reads the same 8 stub GPUs (it\n"
        "  finds no RAPL here); its window is begin_window + end_window, sync_execution=False.\n"
        "  The window, m.result and alone rows: median over alternating greenai/Zeus worker\n"
        "  rounds (ratio of the medians; the rounds' own ratios beside it).\n"
        "  m.result = the first access after a window: the window's accounting; per-device\n"
        "  energy, the timeline and the assessment (footprint, rating, embodied) are computed\n"
        "  on their first read (the 'then first read' row) and kept. The raw-read floor is\n"
        "  the time.sleep(0.1) thread calling each probe's cheapest read once per wake. The\n"
        "  import graph is tests/test_architecture.py's: ast over every module, lazy imports\n"
        "  included, floors as defined there. First enter, native: the CPU's TDP-table match\n"
        "  is read from the user's cache, made by any earlier greenai run on this machine;\n"
        "  the row below it gives each process an empty cache (what the first run pays)."
    )


def _warnings_in(part: Any) -> list[str]:
    if isinstance(part, list):
        return [w for item in part for w in _warnings_in(item)]
    if isinstance(part, dict):
        return list(part.get("warnings", [])) + [
            w for key, v in part.items() if key != "warnings" for w in _warnings_in(v)
        ]
    return []


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a ~25 s run (noisier)")
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--worker-args", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("default")
            out = WORKERS[args.worker](**json.loads(args.worker_args))
        out["warnings"] = sorted({f"{w.category.__name__}: {w.message}" for w in seen})
        print(json.dumps(out))
        return 0

    quick = args.quick
    cpu_s, idle_s = (3.0, 1.0) if quick else (15.0, 3.0)
    import_runs = 3 if quick else 10
    startup_procs, cc_startup_procs, later = (2, 1, 10) if quick else (5, 3, 30)
    windows = 400 if quick else 2000
    wall0 = time.perf_counter()
    load_start = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    r: dict[str, Any] = {
        "quick": quick,
        "when": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": machine(),
        "packages": versions(),
        "idle_s": idle_s,
    }
    with contextlib.ExitStack() as stack:
        base = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="greenai-overhead-")))
        site = stage_sources(base)
        (real_env, updater), here_env = realistic_env(base, site), native_env(site)
        run = base / "run"  # cwd: keeps the checkout itself off sys.path
        run.mkdir()
        stack.enter_context(updater)
        r["imports_s"] = import_times_s(import_runs, here_env, run)
        r["windows"] = run_worker("greenai-windows", real_env, run, windows=windows)
        r["greenai_startup"] = {
            name: [
                run_worker("greenai-startup", env, run, later=later) for _ in range(startup_procs)
            ]
            for name, env in (("realistic", real_env), ("native", here_env))
        }
        r["codecarbon_startup"] = [
            run_worker("codecarbon-startup", here_env, run, later=max(later // 6, 3))
            for _ in range(cc_startup_procs)
        ]
        cpu = {"seconds": cpu_s, "idle_s": idle_s}
        r["cpu_realistic"] = run_worker(
            "greenai-cpu", real_env, run, interval_s=0.1, floor_s=cpu_s / 3, **cpu
        )
        r["cpu_slow"] = run_worker("greenai-cpu", real_env, run, interval_s=SLOW_INTERVAL_S, **cpu)
        r["cpu_native"] = run_worker("greenai-cpu", here_env, run, interval_s=0.1, **cpu)
        r["cpu_codecarbon"] = run_worker("codecarbon-cpu", here_env, run, **cpu)
        r["issue20"] = issue20_figures(
            real_env, here_env, run, cpu_s, idle_s, windows, rounds=3 if quick else 5
        )
    r["wall_s"] = time.perf_counter() - wall0
    if load_start is not None:
        r["load_1min"] = [load_start, os.getloadavg()[0]]
    report(r)
    if args.json:
        args.json.write_text(json.dumps(r, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
