"""Prints how the registry and greenai's population tools scale (issue 22's targets).

    python benchmarks/perf/registry.py million [-n 1000000]   # import + re-rate summaries
    python benchmarks/perf/registry.py files [-n 1000]        # validate / rate -o per file
    python benchmarks/perf/registry.py load [--db sqlite|postgresql] [--submitters 50]
                                            [--seconds 30] [--kill-after S]

million: n disclosure summaries (index rows, generated in code: task classes of the shipped
standard, energy log-normal around each class's reference, one in six modelled, one in ten
third-party) are imported into a new SQLite store, then re-rated in a fresh process under the
shipped standard and under a draft calibrated (quantile) on a 20,000-row sample; the worker
reports wall time (read columns + rate_many) and its peak RSS. Targets: < 10 s, < 500 MB.

files: n disclosures like a 10 Hz 150-second run (~110 KB each) are written to a folder,
then `greenai validate` and `greenai rate DIR -o OUT` run on them as the CLI does, beside the
floor: a process that only json.loads the same files. ms per file is the wall time of n files
less that of 1 (start-up and imports), over n - 1; --repeat rounds, min/median/max and the
ratio to the floor of the same round. Targets: validate <= 1 ms, rate -o <= 3 ms.

load: a `greenai registry serve` process on 127.0.0.1; each submitter (its own token and
thread) sends distinct signed disclosures for the given seconds. Reports acknowledged,
lost (acknowledged but not in the database), duplicated (rows beyond distinct hashes), p50
and p99 submit latency. With --kill-after, the server is killed with SIGKILL then, restarted,
and every acknowledged submission is looked up.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

TARGET_RERATE_S = 10.0
TARGET_RSS_MB = 500.0
TARGET_VALIDATE_MS = 1.0
TARGET_RATE_MS = 3.0


# ----------------------------------------------------------------------- million
def summary_rows(n: int, seed: int = 2026):
    """Yield n index rows (sha256, store.INDEX_COLUMNS, work block, CI), generated in chunks.

    Each row's work block is what its class holds fixed (phase, benchmark workload) and, for
    a sized task, a parameter count in one of its size classes.
    """
    import numpy as np

    from greenai.registry.store import pack_domains
    from greenai.standard import load_standard

    std = load_standard()
    classes = list(std.tasks.values())
    rng = np.random.default_rng(seed)
    measured = pack_domains({"cpu": ("measured", True), "gpu": ("measured", True)})
    modelled = pack_domains({"cpu": ("modelled", True), "gpu": ("measured", True)})
    third = pack_domains({"gpu": ("third-party", True)})

    def work_of(c, k: int) -> dict:
        block = {"phase": c.phase} if c.phase else {}
        if c.workload.benchmark:
            block["workload"] = c.workload.benchmark
        if c.sizes:
            block["params"] = float(c.sizes[k % len(c.sizes)].size.low or 1e9) * 1.5
        return block

    chunk = 100_000
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        which = rng.integers(0, len(classes), m)
        units = rng.uniform(1e3, 1e6, m).round()
        index = rng.lognormal(0.0, 0.6, m)
        refs = np.array([c.energy.per_unit for c in classes])[which]
        energy = index * refs * units
        duration = rng.uniform(30, 3600, m)
        kind = rng.integers(0, 60, m)
        water = energy * 5e-7
        for i in range(m):
            c = classes[int(which[i])]
            k = int(kind[i])
            domains, prov = (
                (third, "third-party") if k < 6 else (modelled, "mixed") if k < 16 else
                (measured, "measured")
            )  # fmt: skip
            yield (
                f"{start + i:064x}",
                c.id, c.unit, float(units[i]), float(energy[i]), float(duration[i]),
                0.1, 1, 3, "ok", float(water[i]), None, domains,
                prov, f"model-{k}", "NVIDIA H100 80GB HBM3", "hyperscale",
                f"2026-{1 + k % 12:02d}-01T00:00:00Z", work_of(c, k), None,
            )  # fmt: skip


def bench_million(n: int) -> dict:
    from greenai.calibration import calibrate
    from greenai.registry.store import open_store
    from greenai.standard import load_standard

    tmp = Path(tempfile.mkdtemp(prefix="greenai-registry-bench-"))
    db = tmp / "registry.db"
    store = open_store(db)
    who = store.authenticate(store.add_submitter("bench", "A" * 43 + "="))
    t0 = time.perf_counter()
    imported = store.import_summaries(who, summary_rows(n))
    import_s = time.perf_counter() - t0
    # the measured rows of January (1/12 of the rows; third-party ones are calibrated apart)
    sample, _ = store.population({"until": "2026-02-01", "provenance": "measured"})
    draft = calibrate(sample, load_standard(), method="quantile", new_id="draft-bench")
    draft_path = tmp / "draft.toml"
    draft_path.write_text(draft.to_toml())
    store.close()
    out = {"n": imported, "import_s": round(import_s, 2), "db_mb": db.stat().st_size / 2**20}
    try:
        out.update(_rerate_both(db, draft_path))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def _rerate_both(db: Path, draft_path: Path) -> dict:
    out = {}
    for name, standard in (("shipped", ""), ("draft", str(draft_path))):
        res = subprocess.run(
            [sys.executable, __file__, "_rerate", str(db), standard],
            capture_output=True,
            text=True,
            check=True,
        )
        out[name] = json.loads(res.stdout)
    return out


def worker_rerate(db: str, standard: str) -> None:
    """Re-rate a store under a standard; print seconds, peak RSS and the distribution."""
    from greenai.registry.ratings import rerate
    from greenai.registry.store import open_store
    from greenai.standard import load_standard

    std = load_standard(standard or None)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0, c0 = time.perf_counter(), time.process_time()
    result = rerate(open_store(db), std)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    graded = {t: c["grades"] for t, c in result["classes"].items() if c["rated"]}
    print(
        json.dumps(
            {
                "standard": std.id,
                "wall_s": round(wall, 2),
                "cpu_s": round(cpu, 2),
                "read_s": result["seconds"]["read"],
                "rate_s": result["seconds"]["rate"],
                "peak_rss_mb": round(peak, 1),
                "rss_before_mb": round(base, 1),
                "total": result["total"],
                "graded": sum(sum(g.values()) for g in graded.values()),
                "not_reindexed": result["not re-indexed"],
                "grades": graded,
            }
        )
    )


# ----------------------------------------------------------------------- files
FLOOR = (
    "import json, sys\n"
    "for name in sys.argv[1:]:\n"
    "    with open(name, 'rb') as fh:\n"
    "        json.loads(fh.read())\n"
)


def bench_files(n: int, repeat: int = 3) -> dict:
    """Time validate and rate -o on n files beside the floor (json.loads of the same files).

    Each command runs on 1 file and on n files, in a fresh process; ms per file is the
    difference over n - 1, so start-up and imports are left out. The three run side by side
    (floor, validate, rate -o, in turn) `repeat` times; min, median and max are reported.
    """
    from greenai import disclosure
    from tests.report.docs import make_doc

    tmp = Path(tempfile.mkdtemp(prefix="greenai-files-bench-"))
    base = make_doc(seconds=150.0, step_s=0.1)  # a 10 Hz timeline: ~100 KB a file
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out: dict = {"n": n, "repeat": repeat, "load_before": os.getloadavg()}
    try:
        folders = {}
        for count in (1, n):
            folder = folders[count] = tmp / f"in-{count}"
            folder.mkdir()
            for i in range(count):
                doc = {**base, "units_done": base["units_done"] + i}
                text = json.dumps(disclosure.seal(doc), indent=2)
                (folder / f"run-{i:05d}.json").write_text(text)
            out["file_kb"] = round(len(text) / 1024, 1)
        commands = {
            "floor": lambda files, folder, o: [sys.executable, "-c", FLOOR, *files],
            "validate": lambda files, folder, o: [
                sys.executable, "-m", "greenai", "validate", *files
            ],
            "rate -o": lambda files, folder, o: [
                sys.executable, "-m", "greenai", "rate", str(folder), "-o", str(o)
            ],
        }  # fmt: skip
        runs: dict[str, list[dict]] = {name: [] for name in commands}
        for r in range(repeat):
            for name, command in commands.items():
                run = {}
                for count, folder in folders.items():
                    files = sorted(str(p) for p in folder.glob("*.json"))
                    target = tmp / f"out-{r}-{count}"
                    t0, c0 = time.perf_counter(), _children_cpu()
                    subprocess.run(
                        command(files, folder, target),
                        env=env,
                        check=True,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                    run[count] = (time.perf_counter() - t0, _children_cpu() - c0)
                    shutil.rmtree(target, ignore_errors=True)
                runs[name].append(
                    {
                        "ms_per_file": 1000 * (run[n][0] - run[1][0]) / (n - 1),
                        "cpu_ms_per_file": 1000 * (run[n][1] - run[1][1]) / (n - 1),
                        "n_s": run[n][0],
                        "one_s": run[1][0],
                    }
                )
        for name, rows in runs.items():
            for key in ("ms_per_file", "cpu_ms_per_file"):
                values = sorted(row[key] for row in rows)
                out[f"{name} {key}"] = [round(v, 3) for v in values]
        for name in ("validate", "rate -o"):  # each run's ratio to the floor of its round
            ratios = sorted(
                a["ms_per_file"] / b["ms_per_file"]
                for a, b in zip(runs[name], runs["floor"], strict=True)
            )
            out[f"{name} ratio to floor"] = [round(v, 2) for v in ratios]
        out["load_after"] = os.getloadavg()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# ----------------------------------------------------------------------- load
def bench_load(db_kind: str, submitters: int, seconds: float, kill_after: float | None) -> dict:
    from greenai import disclosure
    from greenai.registry.store import open_store
    from tests.registry.load import ServerProcess, run_load, signed_bodies
    from tests.registry.pg import start_cluster
    from tests.report.docs import make_doc

    tmp = Path(tempfile.mkdtemp(prefix="greenai-load-bench-"))
    stop_pg = None
    if db_kind == "postgresql":
        db, stop_pg = start_cluster()
    else:
        db = str(tmp / "registry.db")
    try:
        store = open_store(db)
        pub = disclosure.generate_key(tmp / "k.pem", tmp / "k.pub")
        tokens = [store.add_submitter(f"lab-{i}", pub) for i in range(submitters)]
        base = make_doc(seconds=10.0, step_s=0.1)
        per_submitter = max(20, int(seconds * 20))  # more than a submitter can send in time
        t0 = time.perf_counter()
        work = {
            t: signed_bodies(base, tmp / "k.pem", 10_000 * i, per_submitter)
            for i, t in enumerate(tokens)
        }
        prepare_s = time.perf_counter() - t0
        server = ServerProcess(db, tmp / "server.log")
        server.start()
        killer = None
        if kill_after is not None:
            killer = threading.Timer(kill_after, server.kill)
            killer.start()
        result = run_load(server.url, work, seconds)
        if killer is not None:
            killer.join()
            server.start()
        stored = {r[0] for r in open_store(db).execute("SELECT sha256 FROM disclosures")}
        rows = open_store(db).count()
        server.stop()
    finally:
        if stop_pg is not None:
            stop_pg()
        shutil.rmtree(tmp, ignore_errors=True)
    lost = set(result.acked) - stored
    return {
        "db": db_kind,
        "submitters": submitters,
        "seconds": round(result.seconds, 1),
        "bodies_kb": round(len(next(iter(work.values()))[0]) / 1024, 1),
        "prepare_s": round(prepare_s, 1),
        "acknowledged": len(result.acked),
        "per_second": round(len(result.acked) / result.seconds, 1),
        "lost": len(lost),
        "duplicated": rows - len(stored),
        "stored_without_ack": len(stored - set(result.acked)),
        "refused": len(result.refused),
        "no_answer": result.failed,
        "p50_ms": round(result.percentile_ms(50), 1) if result.latencies_s else None,
        "p99_ms": round(result.percentile_ms(99), 1) if result.latencies_s else None,
        "killed_after_s": kill_after,
    }


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "_rerate":
        worker_rerate(sys.argv[2], sys.argv[3])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("million", "files", "load"))
    parser.add_argument("-n", type=int, default=None)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--submitters", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--kill-after", type=float, default=None)
    parser.add_argument("--repeat", type=int, default=3, help="files: rounds side by side")
    parser.add_argument("--json", default=None, help="also write the figures here")
    args = parser.parse_args()
    print(f"# {platform.node()}: {os.cpu_count()} CPUs, Python {platform.python_version()}")
    if args.what == "million":
        out = bench_million(args.n or 1_000_000)
        for name in ("shipped", "draft"):
            r = out[name]
            ok = r["wall_s"] < TARGET_RERATE_S and r["peak_rss_mb"] < TARGET_RSS_MB
            print(
                f"re-rate {r['total']:,} under {r['standard']}: {r['wall_s']} s "
                f"(read {r['read_s']} s, rate {r['rate_s']} s; CPU {r['cpu_s']} s), "
                f"peak RSS {r['peak_rss_mb']} MB, {r['graded']:,} graded, "
                f"{r['not_reindexed']:,} not re-indexed "
                f"[target < {TARGET_RERATE_S:g} s, < {TARGET_RSS_MB:g} MB: "
                f"{'met' if ok else 'NOT met'}]"
            )
        print(f"import of {out['n']:,} summaries: {out['import_s']} s, {out['db_mb']:.0f} MB")
    elif args.what == "files":
        out = bench_files(args.n or 1000, args.repeat)
        print(
            f"{out['n']} files of {out['file_kb']} KB, {out['repeat']} rounds side by side; "
            f"load average {out['load_before'][0]:.2f} before, {out['load_after'][0]:.2f} after"
        )
        targets = {"floor": None, "validate": TARGET_VALIDATE_MS, "rate -o": TARGET_RATE_MS}
        for name, target in targets.items():
            ms, cpu = out[f"{name} ms_per_file"], out[f"{name} cpu_ms_per_file"]
            line = (
                f"{name:<9} ms per file min/median/max {ms[0]} / {ms[len(ms) // 2]} / {ms[-1]} "
                f"(CPU {cpu[0]} / {cpu[len(cpu) // 2]} / {cpu[-1]})"
            )
            if target is not None:
                ratio = out[f"{name} ratio to floor"]
                verdict = "met" if ms[len(ms) // 2] <= target else "NOT met"
                line += (
                    f", x floor {ratio[0]} / {ratio[len(ratio) // 2]} / {ratio[-1]} "
                    f"[target <= {target:g} ms: {verdict} at the median]"
                )
            else:
                line += " (json.loads of the same files: the least any reader costs)"
            print(line)
    else:
        out = bench_load(args.db, args.submitters, args.seconds, args.kill_after)
        print(json.dumps(out, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
