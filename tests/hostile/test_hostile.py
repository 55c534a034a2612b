"""Every greenai command against every hostile file: a clear refusal, never a traceback or hang.

The corpus (tests/hostile/corpus.py) is written to a temp folder; tests/hostile/runner.py
runs the cases in two worker processes (each case under a 10 s alarm, each worker under
an RLIMIT_AS memory bound), and this test checks each result against its expectation. A
sample of cases also runs as separate ``python -m greenai`` processes, to see the real
exit code and stderr of the command line.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from tests.hostile.corpus import build

REPO = Path(__file__).resolve().parents[2]
RUNNER = Path(__file__).with_name("runner.py")
TIME_LIMIT_S = 10.0
MEMORY_MB = 4096  # address space of a worker (Python, numpy, pandas map ~1.5 GB of it)
LAST_RESORT = "GREENAI_DEBUG=1 shows the traceback"


def problems(result: dict, expect: str) -> list[str]:
    """Return what is wrong with one case's result (empty when it behaved)."""
    found = []
    rc, err, out = result["rc"], result["stderr"], result["stdout"]
    lines = [line for line in err.splitlines() if line.strip()]
    if result["escaped"]:
        return [f"escaped: {result['escaped'][:200]}"]
    if "Traceback" in err or "Traceback" in out:
        found.append("traceback: printed")
    if LAST_RESORT in err:
        found.append("last-resort: an unexpected exception reached main()")
    if result["seconds"] > TIME_LIMIT_S:
        found.append(f"slow: {result['seconds']:.1f} s")
    if expect == "refused":
        if rc != 2:
            found.append(f"exit: {rc}, expected 2")
        elif not lines or not lines[-1].startswith("greenai"):
            found.append("message: no greenai line last on stderr")
        elif any(not line.startswith(("skipped: ", "greenai")) for line in lines):
            found.append("message: a stderr line that is neither the refusal nor a skip")
        elif sum(not line.startswith(("skipped: ", "greenai: warning")) for line in lines) != 1:
            found.append("message: the refusal is not one line")
    elif expect == "invalid":
        first = out.splitlines()[0] if out else ""
        if rc != 1:
            found.append(f"exit: {rc}, expected 1")
        elif not any(w in first for w in ("INVALID", "unverified", "tampered", "not signed")):
            found.append(f"message: {first[:80]!r} does not say the file is refused")
    elif expect == "rowerrors":
        if rc != 1 or not any(line.startswith("error: ") for line in lines):
            found.append(f"exit: {rc}, expected 1 with error: lines")
    elif expect == "ok":
        if rc != 0:
            found.append(f"exit: {rc}, expected 0")
    elif expect == "tolerated" and rc not in (0, 1, 2, 3):
        found.append(f"exit: {rc}")
    return found


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    return root, build(root)


def _run_workers(root: Path, cases: list, workers: int = 2) -> list[dict]:
    procs = []
    for w in range(workers):
        part = [[c[0], c[1]] for c in cases[w::workers]]
        (root / f"cases-{w}.json").write_text(json.dumps(part))
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    str(RUNNER),
                    str(root / f"cases-{w}.json"),
                    str(root / f"results-{w}.json"),
                    "--memory-mb",
                    str(MEMORY_MB),
                    "--timeout-s",
                    str(TIME_LIMIT_S),
                ],
                cwd=root,
                env={**os.environ, "PYTHONPATH": str(REPO), "MPLBACKEND": "Agg"},
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    results = []
    for w, proc in enumerate(procs):
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, f"worker {w} died ({proc.returncode}): {err[-2000:]}"
        results += json.loads((root / f"results-{w}.json").read_text())
    return results


def test_every_hostile_case_is_refused_cleanly(corpus):
    root, cases = corpus
    assert len(cases) >= 200
    expect = {case_id: e for case_id, _, e in cases}
    assert len(expect) == len(cases), "case ids must be unique"
    results = _run_workers(root, cases)
    assert {r["id"] for r in results} == set(expect)
    failures = {r["id"]: problems(r, expect[r["id"]]) for r in results}
    failures = {k: v for k, v in failures.items() if v}
    slowest = max(results, key=lambda r: r["seconds"])
    print(
        f"\n{len(results)} hostile cases, {len(failures)} misbehaved; slowest "
        f"{slowest['id']} {slowest['seconds']:.2f} s; peak RSS of a worker "
        f"{max(r['max_rss_mb'] for r in results):.0f} MB"
    )
    assert not failures, json.dumps(failures, indent=1)[:6000]
    # nothing a hostile name asked for was written outside the output folder
    assert not (root / "x-00001.json").exists()
    assert not Path("/tmp/greenai-hostile-x").exists()
    written = [p for p in (root / "out").rglob("*") if p.is_file()]
    assert all(root / "out" in p.parents for p in written)
    # what an id of "../x" or "/tmp/greenai-hostile-x" would have written
    leaked = [*root.rglob("x-*.json"), *Path("/tmp").glob("greenai-hostile-x*")]
    assert not leaked, leaked


SAMPLE = (
    "verify:signed-duplicate-energy",
    "verify:signed-extra-integrity",
    "validate:deep-array",
    "show:lone-surrogate",
    "sign:negative-domain",
    "report-html:empty-object",
    "rate:oversize-sparse",
    "recover:negative-counters",
    "recover:int-400-digits",
    "run-site:pue-1e80",
    "standard-show:deep-array",
    "import-mapping:mapping-id-parent",
    "rate-csv:invalid-utf8",
)


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_MB << 20, MEMORY_MB << 20))


@pytest.mark.parametrize("case_id", SAMPLE)
def test_a_sample_as_real_processes(corpus, case_id):
    root, cases = corpus
    argv, expect = next((c[1], c[2]) for c in cases if c[0] == case_id)
    res = subprocess.run(
        [sys.executable, "-m", "greenai", *argv],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=TIME_LIMIT_S + 20,  # interpreter start-up on a loaded machine
        preexec_fn=_limit_memory,
    )
    result = {
        "rc": res.returncode,
        "stdout": res.stdout,
        "stderr": res.stderr,
        "seconds": 0.0,
        "escaped": None,
    }
    assert problems(result, expect) == [], (res.returncode, res.stderr[-1500:], res.stdout[:500])
