"""Every command and code block of README.md runs, as a new user would run them.

The ```bash blocks are run line by line (continuation lines joined), in order, in one
working folder, so what one line writes (run.json, population/, me.pem) is what the next
reads. The ```python blocks run in the same folder with a few names the snippets leave to
the reader (`loader`, `step`, `L`, `Trainer`) defined as small stand-ins.

Stand-ins, all listed here and nowhere else:
- data the README names but does not make (train.py, infer.py, reports/, my-draft.toml,
  a.json, b.json, emissions.csv, my-dc.toml, my-run.json, ../shared/...) are written by
  `_workdir` before the first line;
- no RAPL and no GPU (GREENAI_POWERCAP_ROOT names an empty folder, GREENAI_NVML=off):
  every figure is modelled, as on a laptop;
- SUBSTITUTE: a line that installs (the test runs in the installed environment), runs the
  test suite itself, or takes minutes, runs its quick documented equivalent instead;
- `sbatch` is a stub that accepts the job (no Slurm controller in CI);
- BEFORE: the journal `greenai recover` reads is made by killing a `greenai run` with -9.

A substitution whose README line is gone fails the test, so none goes stale; a README line
that breaks (a renamed flag, a crash, a wrong exit code) fails it too.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
FENCE = re.compile(r"^```(bash|python)[ \t]*\n(.*?)^```[ \t]*$", re.M | re.S)
QUICK = "--repetitions 2 --min-duration 0.2"  # documented flags of `greenai bench run`

SUBSTITUTE = {
    # install lines: the test runs in the environment CI installed (.ci/run); the rest runs
    "python -m venv .venv && . .venv/bin/activate && pip install . && greenai bench run smoke": (
        f"greenai bench run smoke {QUICK}"
    ),
    # the test suite cannot run itself from inside: collect it instead
    "python -m venv .venv && . .venv/bin/activate && pip install '.[test]' "
    "&& python -m pytest -q": (
        "python -m pytest -q --collect-only -p no:cacheprovider "
        + str(REPO / "tests" / "test_cli_help.py")
    ),
    "greenai bench list; greenai bench run standard --site my-dc.toml": (
        f"greenai bench list; greenai bench run smoke --site my-dc.toml --force {QUICK}"
    ),
    "greenai bench run smoke --adaptive --target-ci 5%": (
        "greenai bench run smoke --adaptive --target-ci 5% --force --min-duration 0.2 "
        "--max-repetitions 3 --time-cap 1"
    ),
    "greenai bench run smoke --slurm --nodes 8 --partition gpu -o /shared/results": (
        "greenai bench run smoke --slurm --nodes 8 --partition gpu -o shared-results"
    ),
    "greenai bench report /shared/results -o summary.html": (
        "greenai bench report shared-results -o summary.html"
    ),
    "greenai tune --max-slowdown 5% -- python infer.py": (
        "greenai tune --max-slowdown 5% --values 1,2 --repeats 2 -- python infer.py"
    ),
    "greenai tune --knob gpu-power --repeats 5 -o tune/ -- python infer.py": (
        "greenai tune --knob gpu-power --repeats 2 -o tune/ -- python infer.py"
    ),
    # the registry: the extra is installed by CI; the token the README says is printed once
    # is kept in a file for the submit line; the server runs in the background for 120 s
    "pip install 'greenai[registry]'": "python -c 'import greenai.registry, psycopg'",
    "greenai registry add-submitter lab-a --public-key lab-a.pub --db registry.db": (
        "greenai registry add-submitter lab-a --public-key lab-a.pub --db registry.db"
        " | tee /dev/stderr | sed -n 's/^token .*: //p' > token && test -s token"
    ),
    "greenai registry serve --db registry.db --port 8750": (
        "(timeout 120 greenai registry serve --db registry.db --port 8750 > registry.log 2>&1 &"
        " echo $! > registry.pid)"
        '; for i in $(seq 100); do python -c "import socket; socket.create_connection('
        "('127.0.0.1', 8750), 1)\" 2>/dev/null && exit 0; sleep 0.2; done; exit 1"
    ),
    'greenai submit my-run.json --registry http://127.0.0.1:8750 --token "$TOKEN"': (
        'greenai submit my-run.json --registry http://127.0.0.1:8750 --token "$(cat token)"'
    ),
}
BEFORE = {
    # the served results `greenai rank` reads: greenai's own reference run (reports/serve)
    "greenai rank population/a40/ serve-results/serve-c4.json -o rank.html": (
        f"mkdir -p serve-results && cp {REPO}/reports/serve/tiny-llama/*.json serve-results/"
    ),
    "greenai recover run.json.journal -o run.json": (
        "(greenai run -o run.json -- sleep 30 & p=$!; sleep 3; kill -9 $p; wait $p || true)"
    ),
}
# Exit codes other than 0 that the README documents for a line, and what it then says.
EXPECT = {
    # no GPU here: the gpu-power knob refuses, saying why (one line, exit 2)
    "greenai tune --knob gpu-power --repeats 5 -o tune/ -- python infer.py": (2, r"GPU|NVML"),
    # no model server on :8000 here (tests/bench run `bench serve` against `transformers
    # serve`): the line parses and refuses in one line, exit 2
    "greenai bench serve --endpoint http://127.0.0.1:8000/v1 --concurrency 1,4,16 --requests 200 "
    "--slo-p90 2s --params 7000000000 -o serve-results/": (2, r"no server answers"),
    # the reference served run (a 140 k-parameter model on a CPU) is not placed among 7 B+
    # GPU models, and says why
    "greenai rank population/a40/ serve-results/serve-c4.json -o rank.html": (
        3,
        r"not placed: different task class",
    ),
}


def _counted_1000(work: Path) -> None:
    doc = json.loads((work / "run.json").read_text())
    assert doc["units_done"] == 1000, "train.py counts 1000 units through greenai.count"


# Checks of what a line wrote, run right after it.
AFTER = {"greenai run -o run.json -- python train.py": _counted_1000}
# What the README says a line prints (in its comment) and the line must print.
PRINTS = {
    "--format ml-energy": r"23 disclosure",
}


def _every_model_graded(out: str) -> None:
    """README: `greenai rate population/ --standard draft-chat.toml  # every model graded,
    A:n B:n ...`: every model gets an energy grade, and the counts are the README's."""
    grades = re.findall(r"\stext-generation\S*\s+\S+\s+([A-G-])\s", out)  # the energy grade
    assert len(grades) == 23 and "-" not in grades, out
    line = next(
        x
        for x in README.read_text().splitlines()
        if "--standard draft-chat.toml" in x and x.startswith("greenai rate ")
    )
    said = dict(re.findall(r"\b([A-G]):(\d+)", line.split("#", 1)[1]))
    assert said, f"README line states no grade counts: {line}"
    counts = {g: str(grades.count(g)) for g in "ABCDEFG" if grades.count(g)}
    assert counts == said, f"README says {said}, rate printed {counts}"


CLAIMS = {"greenai rate population/ --standard draft-chat.toml": _every_model_graded}

PYTHON_STAND_INS = """
import types
import greenai

loader = [([1.0] * 8, [0] * 8) for _ in range(3)]      # (x, y) batches of 8 samples
def step(*batch):                                      # a training step
    sum(range(20_000))
predict = step                                         # an inference step
def n_tokens(batch):                                   # tokens in a batch
    return 8 * 128
L = types.SimpleNamespace(Trainer=lambda **kw: kw)     # lightning, as `import lightning as L`
def Trainer(*args, **kw):                              # transformers.Trainer
    return kw
"""

TRAIN_PY = """
import greenai
for _ in range(10):
    sum(range(100_000))
    greenai.count(100)          # 1000 units in all, through greenai run's units channel
"""
INFER_PY = "sum(range(200_000))\n"


def readme_blocks(text: str) -> list[tuple[str, str, int]]:
    """Return (language, body, line number) of every ```bash and ```python block."""
    return [(m[1], m[2], text.count("\n", 0, m.start()) + 1) for m in FENCE.finditer(text)]


def bash_lines(body: str) -> list[str]:
    """Return the commands of a bash block: continuations joined, comments and blanks out."""
    commands, pending = [], ""
    for raw in body.splitlines():
        line = pending + raw.strip()
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        pending = ""
        command = re.sub(r"\s+#.*$", "", line).strip() if not line.startswith("#") else ""
        if command:
            commands.append(" ".join(command.split()))
    return commands


def _docs() -> list[tuple[str, str, int]]:
    return readme_blocks(README.read_text(encoding="utf-8"))


def test_the_readme_has_the_blocks_this_test_runs():
    blocks = _docs()
    assert sum(lang == "bash" for lang, _, _ in blocks) >= 4
    assert sum(lang == "python" for lang, _, _ in blocks) >= 3
    commands = {c for lang, body, _ in blocks if lang == "bash" for c in bash_lines(body)}
    stale = sorted(
        (set(SUBSTITUTE) | set(BEFORE) | set(EXPECT) | set(AFTER) | set(CLAIMS)) - commands
    )
    assert not stale, f"stand-ins for README lines that are gone: {stale}"


def _env(work: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GREENAI_", "CUDA_"))}
    stub = work / ".bin"
    env.update(
        GREENAI_POWERCAP_ROOT=str(work / ".no-powercap"),
        GREENAI_NVML="off",
        GREENAI_NODE="readme",
        PATH=os.pathsep.join([str(stub), str(Path(sys.executable).parent), env.get("PATH", "")]),
        PYTHONPATH=os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        MPLBACKEND="Agg",
    )
    return env


def _workdir(work: Path) -> None:
    """Write the data the README's lines name but do not make."""
    from tests.interop.test_codecarbon import _row, _write
    from tests.interop.test_table import a40_path
    from tests.report.docs import make_doc

    (work / ".no-powercap").mkdir()
    stub = work / ".bin"
    stub.mkdir()
    (stub / "sbatch").write_text("#!/bin/sh\necho 'Submitted batch job 42'\n")
    (stub / "sbatch").chmod(0o755)
    if shutil.which("greenai") is None:  # the test may run from a checkout, not an install
        (stub / "greenai").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m greenai "$@"\n')
        (stub / "greenai").chmod(0o755)
    (work / "train.py").write_text(TRAIN_PY)
    (work / "infer.py").write_text(INFER_PY)
    (work / "serve.py").write_text(INFER_PY)  # the README's served model: the same stand-in
    reference = REPO / "reports" / "reference"
    # reports/: a population the standard can be calibrated on (30 conformant measured runs
    # of one class, the default --min-population), beside the shipped reference results
    shutil.copytree(reference, work / "reports")
    for n in range(30):
        doc = make_doc(units=60_000 + 2_000 * n, gpu_w=200.0 + 5 * n)
        (work / "reports" / f"run-{n:02d}.json").write_text(json.dumps(doc))
    shutil.copytree(reference, work / "shared-results")
    shutil.copy(reference / "smoke" / "vm" / "embed-infer.json", work / "run.json")
    shutil.copy(reference / "smoke" / "vm" / "embed-infer.json", work / "a.json")
    shutil.copy(reference / "smoke" / "vm" / "gemm-512.json", work / "b.json")
    shipped = (REPO / "standards" / "greenai-2026.1.toml").read_text(encoding="utf-8")
    (work / "my-draft.toml").write_text(
        shipped.replace('id = "greenai-2026.1"', 'id = "my-draft"', 1)
    )
    (work / "my-dc.toml").write_text('[site]\nname = "my-dc"\npreset = "hyperscale"\ngrid = "FR"\n')
    (work / "my-run.json").write_text(json.dumps(make_doc(task="chat", units=3000)))
    _write(work, _row())  # emissions.csv, written by CodeCarbon's own FileOutput
    # ../shared/data/third-party/...: the shared original where present, else the copy
    shared = work.parent / "shared" / "data" / "third-party" / "ml-energy-leaderboard"
    shared.mkdir(parents=True, exist_ok=True)
    shutil.copy(a40_path(), shared / a40_path().name)


def _run(command: str, work: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-o", "pipefail", "-c", command],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


def _stop_background(work: Path) -> None:
    """Stop what a README line left running (the registry server), so no port stays taken."""
    import signal

    pid = work / "registry.pid"
    if pid.exists() and pid.read_text().strip().isdigit():
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(int(pid.read_text()), signal.SIGTERM)  # timeout passes it to the server


def test_every_readme_command_and_code_block_runs(tmp_path):
    try:
        _run_readme(tmp_path)
    finally:
        _stop_background(tmp_path / "work")


def _run_readme(tmp_path):
    pytest.importorskip("codecarbon")
    work = tmp_path / "work"
    work.mkdir()
    _workdir(work)
    env = _env(work)
    ran = []
    for lang, body, line in _docs():
        if lang == "python":
            script = work / f"readme_block_{line}.py"
            script.write_text(f"{PYTHON_STAND_INS}\n# README.md line {line}\n{body}")
            res = _run(f"python {script.name}", work, env)
            assert res.returncode == 0, f"README.md:{line}: python block failed:\n{res.stderr}"
            ran.append(f"python block at line {line}")
            continue
        for command in bash_lines(body):
            if command in BEFORE:
                setup = _run(BEFORE[command], work, env)
                assert setup.returncode == 0, setup.stderr
            actual = SUBSTITUTE.get(command, command)
            res = _run(actual, work, env)
            code, says = EXPECT.get(command, (0, ""))
            where = f"README.md:{line}: `{command}`" + (
                f" (run as `{actual}`)" if actual != command else ""
            )
            assert res.returncode == code, (
                f"{where}: exit {res.returncode}\n{res.stdout}\n{res.stderr}"
            )
            if says:
                assert re.search(says, res.stdout + res.stderr), f"{where}: {res.stderr}"
            for key, pattern in PRINTS.items():
                if key in command:
                    assert re.search(pattern, res.stdout + res.stderr), f"{where}: {res.stdout}"
            if command in CLAIMS:
                CLAIMS[command](res.stdout)
            if command in AFTER:
                AFTER[command](work)
            ran.append(command)
    assert len(ran) >= 25, ran  # the README's 4+ bash blocks and 3+ python blocks


def test_a_broken_readme_line_fails(tmp_path, monkeypatch):
    """The doc test is not a formality: a README line with a flag greenai lacks fails it."""
    broken = README.read_text(encoding="utf-8").replace(
        "greenai probe ", "greenai probe --no-such-flag ", 1
    )
    assert broken != README.read_text(encoding="utf-8")
    copy = tmp_path / "README.md"
    copy.write_text(broken, encoding="utf-8")
    monkeypatch.setattr(sys.modules[__name__], "README", copy)
    with pytest.raises(AssertionError, match=r"`greenai probe --no-such-flag`: exit 2"):
        test_every_readme_command_and_code_block_runs(tmp_path)


def test_every_task_and_unit_the_readme_names_is_rated_by_the_default_standard():
    from greenai.standard import fit_warning, load_standard

    std = load_standard()
    text = README.read_text(encoding="utf-8")
    pairs = re.findall(r'task="([^"]+)", unit="([^"]+)"', text)
    assert len(pairs) >= 6, pairs
    for task, unit in pairs:
        assert std.task_class(task) is not None, f"README: task {task!r} is no class of {std.id}"
        phase = "training" if "train" in task else None
        assert fit_warning(std, task, unit, phase) is None, fit_warning(std, task, unit, phase)
