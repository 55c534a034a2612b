"""Output paths are owned: no run lost to a shared -o, no file written outside its folder,
and a metered command does not outlive a greenai that was killed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from greenai import journal, safepath
from greenai.errors import GreenAIError, GreenAIWarning
from greenai.journal import JournalWriter, OutputClaim

REPO = Path(__file__).resolve().parents[1]
CSV = REPO / "tests" / "data" / "ml-energy" / "A40_chat_benchmark.csv"


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GREENAI_")}
    env["PYTHONPATH"] = str(REPO)
    env["GREENAI_RUNTIME_DIR"] = env.get("TMPDIR", "/tmp")
    return env


def _greenai(*args: str, cwd: Path, **kw) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "greenai", *args],
        cwd=cwd,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


def _wait_for(predicate, timeout_s: float = 30.0) -> None:
    end = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead for our purpose
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


# ----------------------------------------------------------------------- names
@pytest.mark.parametrize(
    "name",
    ["../x", "/etc/x", "a/b", "..", ".hidden", "a\\b", "", "x" * 101, "a\x00b", "-rf", "a..b"],
)
def test_unsafe_names_are_refused(name):
    with pytest.raises(safepath.UnsafeNameError, match="m.toml: importer.id"):
        safepath.check_name(name, "importer.id", "m.toml")


@pytest.mark.parametrize(
    ("text", "slug"),
    [
        ("meta/Llama 3", "meta-Llama-3"),
        ("../../etc/passwd", "etc-passwd"),
        ("/abs/path", "abs-path"),
        ("..", "item"),
        ("Ünïcode", "Unicode"),
    ],
)
def test_slug_is_always_a_safe_name(text, slug):
    assert safepath.slug(text) == slug
    safepath.check_name(safepath.slug(text))


def test_create_unique_never_gives_one_name_twice(tmp_path):
    made: list[Path] = []
    lock = threading.Lock()

    def write(i: int) -> None:
        p = safepath.create_unique(tmp_path, "m", ".json", f"{i}\n")
        with lock:
            made.append(p)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({p.name for p in made}) == 40
    assert sorted(int(p.read_text()) for p in made) == list(range(40))
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp left


@pytest.mark.parametrize("hostile", ["../x", "/tmp/greenai-evil-abs", "a/../../x"])
def test_a_hostile_mapping_id_writes_nothing_outside_the_output(tmp_path, hostile):
    mapping = tmp_path / "evil.toml"
    mapping.write_text(
        f'[importer]\nid = "{hostile}"\ntitle = "t"\ndomains_measured = ["gpu"]\n'
        '[columns]\nmodel = "model"\nenergy = "energy"\nresponse_length = "response_length"\n'
    )
    out = tmp_path / "deep" / "out"
    proc = _greenai(
        "import", "table", str(CSV), "--mapping", str(mapping), "-o", str(out), cwd=tmp_path
    )
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2
    assert err.count("\n") == 1 and "importer.id" in err and "cannot name a file" in err
    assert not out.exists()
    assert not list(tmp_path.rglob("x-*.json"))
    assert not list(Path("/tmp").glob("greenai-evil-abs*"))


def test_import_names_come_from_the_model_and_two_imports_keep_everything(tmp_path):
    out = tmp_path / "out"
    rows = sum(1 for _ in CSV.open()) - 1
    procs = [
        _greenai("import", "table", str(CSV), "--format", "ml-energy", "-o", str(out), cwd=tmp_path)
        for _ in range(2)
    ]
    for p in procs:
        _, err = p.communicate(timeout=180)
        assert p.returncode == 0, err
    files = sorted(out.glob("*.json"))
    assert len(files) == 2 * rows
    first = json.loads((out / "ml-energy-lmsys-vicuna-7B.json").read_text())
    assert first["source"]["model"] == "lmsys/vicuna-7B"
    assert (out / "ml-energy-lmsys-vicuna-7B-2.json").is_file()


# ----------------------------------------------------------------------- journals
def test_a_journal_name_that_is_taken_goes_beside_it(tmp_path):
    path = tmp_path / "s.json.journal"
    path.write_bytes(b"a killed run's journal, kept for recovery\n")
    w = JournalWriter(path, fsync=False)
    w.open({"x": 1})
    try:
        assert w.moved_from == path and w.path != path
        assert w.path.name.startswith("s.json.") and w.path.name.endswith(".journal")
        assert path.read_bytes() == b"a killed run's journal, kept for recovery\n"
        assert journal.is_live(w.path) and not journal.is_live(path)
        assert set(journal.journals_for(tmp_path / "s.json")) == {path, w.path}
    finally:
        w.close(remove=True)
    assert path.exists() and not w.path.exists()  # a finishing run removes only its own


def test_an_output_claim_is_exclusive_while_held(tmp_path):
    a = OutputClaim(tmp_path / "s.json").acquire()
    with pytest.raises(GreenAIError, match=rf"pid {os.getpid()}.*different -o"):
        OutputClaim(tmp_path / "s.json").acquire()
    a.release()
    OutputClaim(tmp_path / "s.json").acquire().release()
    assert not (tmp_path / "s.json.lock").exists()


def test_two_runs_on_one_output_second_refused_first_kept_and_recoverable(tmp_path):
    a = _greenai(
        "run", "-o", "s.json", "--journal-period", "0.2", "--", "sleep", "30", cwd=tmp_path
    )
    _wait_for(lambda: (tmp_path / "s.json.journal").exists())
    b = _greenai("run", "-o", "s.json", "--", "sleep", "30", cwd=tmp_path)
    _, err_b = b.communicate(timeout=60)
    assert b.returncode == 2
    assert err_b.count("\n") == 1 and f"pid {a.pid}" in err_b and "different -o" in err_b
    time.sleep(0.6)  # a few checkpoints
    a.send_signal(signal.SIGKILL)
    a.wait(timeout=30)
    res = subprocess.run(
        [sys.executable, "-m", "greenai", "recover", "s.json.journal", "-o", "rec.json"],
        cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    rec = json.loads((tmp_path / "rec.json").read_text())
    assert rec["status"] == "interrupted" and rec["duration_s"] > 0
    assert "SIGTERM (PR_SET_PDEATHSIG)" in " ".join(rec["sampling"]["problems"])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux")
@pytest.mark.parametrize("opt_out", [False, True])
def test_the_child_dies_with_a_killed_greenai_unless_told(tmp_path, opt_out):
    pidfile = tmp_path / "child.pid"
    script = f"import os, time; open({str(pidfile)!r}, 'w').write(str(os.getpid())); time.sleep(60)"
    flags = ["--no-kill-child"] if opt_out else []
    g = _greenai("run", *flags, "-o", "k.json", "--", sys.executable, "-c", script, cwd=tmp_path)
    _wait_for(lambda: pidfile.exists() and pidfile.read_text().strip() != "")
    child = int(pidfile.read_text())
    g.send_signal(signal.SIGKILL)
    g.wait(timeout=30)
    try:
        if opt_out:
            time.sleep(1.0)
            assert _alive(child)
        else:
            _wait_for(lambda: not _alive(child), timeout_s=10)
    finally:
        if _alive(child):
            os.kill(child, signal.SIGKILL)


def test_two_library_meters_in_two_processes_on_one_output_keep_both_results(tmp_path):
    """Meter(output=same path) in two live processes: the second writes a sibling and says
    so (a warning, never an exception into user code); neither result is lost."""
    code = (
        "import sys, time, warnings, greenai\n"
        "with warnings.catch_warnings(record=True) as seen:\n"
        "    warnings.simplefilter('always')\n"
        "    with greenai.meter(task=sys.argv[1], output='s.json') as m:\n"
        "        print('ready', flush=True); sys.stdin.readline()\n"
        "print('OUT', m.output, flush=True)\n"
        "print('WARN', [str(w.message) for w in seen if 's.json' in str(w.message)], flush=True)\n"
    )
    procs = []
    for task in ("first", "second"):
        p = subprocess.Popen(
            [sys.executable, "-c", code, task], cwd=tmp_path, env=_env(), text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        assert p.stdout.readline().strip() == "ready"
        procs.append(p)
    outs = [p.communicate("\n", timeout=60)[0] for p in reversed(procs)][::-1]  # second ends first
    assert all(p.returncode == 0 for p in procs)
    first, second = (dict(line.split(" ", 1) for line in o.splitlines()) for o in outs)
    assert first["OUT"] == "s.json" and first["WARN"] == "[]"
    sibling = f"s.{procs[1].pid}.json"
    assert second["OUT"] == sibling
    assert f"pid {procs[0].pid}" in second["WARN"] and sibling in second["WARN"]
    assert json.loads((tmp_path / "s.json").read_text())["task"] == "first"
    assert json.loads((tmp_path / sibling).read_text())["task"] == "second"
    assert not list(tmp_path.glob("*.lock"))  # both claims released


def test_a_meter_never_overwrites_an_earlier_result_when_it_picks_a_sibling(tmp_path, monkeypatch):
    from greenai.meter import Meter

    monkeypatch.chdir(tmp_path)
    (tmp_path / f"s.{os.getpid()}.json").write_text("an earlier run's result\n")
    held = OutputClaim(tmp_path / "s.json").acquire()  # as another live run would
    try:
        with (
            pytest.warns(GreenAIWarning, match="another live greenai run"),
            Meter(task="x", output="s.json") as m,
        ):
            pass
    finally:
        held.release()
    assert m.output == f"s.{os.getpid()}-2.json"
    assert (tmp_path / f"s.{os.getpid()}.json").read_text() == "an earlier run's result\n"
    assert json.loads((tmp_path / m.output).read_text())["task"] == "x"


def test_a_lock_planted_as_a_link_or_a_fifo_is_never_written_through(tmp_path, monkeypatch):
    """In a shared folder another user may plant OUTPUT.lock -> a file of yours: greenai
    must not truncate it and write its pid there (it did, through the link)."""
    from greenai.meter import Meter

    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    (tmp_path / "run.json.lock").symlink_to(victim)
    os.mkfifo(tmp_path / "f.json.lock")
    for name in ("run.json", "f.json"):
        with pytest.raises(GreenAIError, match="not a greenai lock file"):
            OutputClaim(tmp_path / name).acquire()
    monkeypatch.chdir(tmp_path)
    linked = "a symbolic link, not a greenai lock file"
    with pytest.warns(GreenAIWarning, match=linked), Meter(task="x", output="run.json") as m:
        pass
    assert m.output == f"run.{os.getpid()}.json" and (tmp_path / m.output).exists()
    assert victim.read_text() == "precious\n" and (tmp_path / "run.json.lock").is_symlink()
    res = subprocess.run(
        [sys.executable, "-m", "greenai", "run", "-o", "run.json", "--", "true"],
        cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert res.returncode == 2 and "a symbolic link, not a greenai lock file" in res.stderr
    assert victim.read_text() == "precious\n" and not (tmp_path / "run.json").exists()
