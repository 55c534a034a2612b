"""Suites across Slurm nodes: the sbatch script, and a real 2-node Slurm on this host.

The cluster test starts Debian's slurm-wlm daemons itself (one slurmctld, one slurmd per
node name with ``slurmd -N``, auth/none, everything in a temp dir on loopback ports) and
skips, saying why, where the binaries are missing or the daemons do not come up.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from greenai.bench import harness, slurm
from greenai.report.bench import ranking

REPO = Path(__file__).resolve().parents[2]
SUITE = REPO / "tests" / "data" / "suites" / "slurm-smoke.toml"
NODES = ("n1", "n2")
DAEMONS = ("slurmctld", "slurmd", "sbatch", "sinfo", "srun")


def test_script_runs_one_task_per_node_with_the_suite_by_absolute_path(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    script = slurm.sbatch_script(
        "tests/data/suites/slurm-smoke.toml",
        tmp_path / "out",
        suite_id="slurm-smoke",
        nodes=4,
        partition="gpu",
        bench_args=["--repetitions", "2"],
        python="/opt/venv/bin/python",
    )
    lines = script.splitlines()
    assert lines[0] == "#!/bin/bash"
    assert "#SBATCH --nodes=4" in lines and "#SBATCH --ntasks-per-node=1" in lines
    assert "#SBATCH --partition=gpu" in lines
    assert f"#SBATCH --output={tmp_path / 'out'}/slurm-%j.out" in lines
    assert lines[-1] == (
        f"srun --ntasks-per-node=1 /opt/venv/bin/python -m greenai bench run {SUITE} "
        f"-o {tmp_path / 'out'} --repetitions 2"
    )


def test_script_keeps_shipped_suite_names_and_refuses_zero_nodes(tmp_path):
    script = slurm.sbatch_script("smoke", tmp_path, suite_id="smoke", python="py")
    assert "#SBATCH --partition" not in script
    assert f"py -m greenai bench run smoke -o {tmp_path}" in script
    with pytest.raises(slurm.SlurmError, match="--nodes: expected an integer >= 1"):
        slurm.sbatch_script("smoke", tmp_path, suite_id="smoke", nodes=0)


def test_without_sbatch_the_script_is_written_and_the_error_says_how_to_submit(tmp_path):
    env = {"PATH": str(tmp_path / "empty")}
    with pytest.raises(slurm.SlurmError, match="sbatch not found on PATH") as info:
        slurm.submit("#!/bin/bash\n", tmp_path / "out", "smoke", env=env)
    assert str(tmp_path / "out" / "greenai-bench-smoke.sbatch") in str(info.value)
    assert (tmp_path / "out" / "greenai-bench-smoke.sbatch").read_text() == "#!/bin/bash\n"


def test_node_name_overrides_the_hostname_in_the_results_folder():
    assert harness.host_id({"SLURMD_NODENAME": "gpu-07"}) == "gpu-07"
    assert harness.host_id({"GREENAI_NODE": "rack 3/a", "SLURMD_NODENAME": "x"}) == "rack-3-a"
    assert harness.host_id({"SLURMD_NODENAME": "  "}) == harness.host_id({})
    assert harness.host_id({"GREENAI_NODE": "../.."}) == "host"


# ------------------------------------------------------------------ a real Slurm on this host
def _free_ports(count: int) -> list[int]:
    socks = [socket.socket() for _ in range(count)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _slurm_conf(d: Path, user: str) -> str:
    ctld, *node_ports = _free_ports(1 + len(NODES))
    host = socket.gethostname()
    nodes = "\n".join(
        f"NodeName={n} NodeHostname={host} NodeAddr=127.0.0.1 Port={p} CPUs=1 State=UNKNOWN"
        for n, p in zip(NODES, node_ports, strict=True)
    )
    return f"""\
ClusterName=greenaitest
SlurmctldHost=localhost
SlurmctldPort={ctld}
SlurmUser={user}
SlurmdUser={user}
AuthType=auth/none
CredType=cred/none
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool/%n
SlurmctldPidFile={d}/slurmctld.pid
SlurmdPidFile={d}/slurmd-%n.pid
SlurmctldLogFile={d}/slurmctld.log
SlurmdLogFile={d}/slurmd-%n.log
ProctrackType=proctrack/pgid
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
SwitchType=switch/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
ReturnToService=2
SlurmdParameters=config_overrides
InactiveLimit=0
KillWait=5
{nodes}
PartitionName=debug Nodes={",".join(NODES)} Default=YES MaxTime=60 State=UP
"""


def _tail(path: Path, lines: int = 5) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"({path.name} not written)"


@pytest.fixture
def slurm_cluster() -> Iterator[dict[str, str]]:
    """Yield the environment of a running 2-node Slurm (slurmctld + 2 slurmd) on this host."""
    missing = [b for b in DAEMONS if shutil.which(b) is None]
    if missing:
        pytest.skip(f"Slurm binaries not on PATH: {', '.join(missing)} (apt-get install slurm-wlm)")
    import pwd

    # short: slurmd puts step sockets in its spool dir, and a socket path has 107 bytes at most
    d = Path(tempfile.mkdtemp(prefix="greenai-slurm-"))
    (d / "state").mkdir(parents=True)
    for n in NODES:
        (d / "spool" / n).mkdir(parents=True)
    conf = d / "slurm.conf"
    conf.write_text(_slurm_conf(d, pwd.getpwuid(os.getuid()).pw_name))
    env = {**os.environ, "SLURM_CONF": str(conf)}
    for var in [v for v in env if v.startswith(("SLURM_", "SBATCH_", "SRUN_"))]:
        if var != "SLURM_CONF":  # a job we may run inside must not leak into this cluster
            del env[var]
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": env}
    procs = [subprocess.Popen(["slurmctld", "-D", "-i", "-f", str(conf)], **quiet)]  # type: ignore[call-overload]
    procs += [subprocess.Popen(["slurmd", "-D", "-N", n, "-f", str(conf)], **quiet) for n in NODES]  # type: ignore[call-overload]
    try:
        deadline = time.monotonic() + 30
        states: list[str] = []
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in procs):
                break
            out = subprocess.run(
                ["sinfo", "-h", "-N", "-o", "%N %T"], env=env, capture_output=True, text=True
            )
            states = out.stdout.splitlines() if out.returncode == 0 else []
            if len(states) == len(NODES) and all(s.endswith(" idle") for s in states):
                break
            time.sleep(0.5)
        up = len(states) == len(NODES) and all(s.endswith(" idle") for s in states)
        if not up or any(p.poll() is not None for p in procs):
            pytest.skip(
                f"Slurm did not come up with {len(NODES)} idle nodes in 30 s (nodes: {states}); "
                f"slurmctld.log: {_tail(d / 'slurmctld.log')}; "
                f"slurmd-n1.log: {_tail(d / 'slurmd-n1.log')}"
            )
        yield env
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=5)
        shutil.rmtree(d, ignore_errors=True)


def test_two_node_suite_through_sbatch_and_the_merged_report_ranks_both(
    slurm_cluster: dict[str, str], tmp_path: Path
):
    env = {k: v for k, v in slurm_cluster.items() if not k.startswith(("GREENAI_", "CUDA_"))}
    env.update(PYTHONPATH=str(REPO), GREENAI_NVML="off")
    out = tmp_path / "results"
    greenai = [sys.executable, "-m", "greenai", "bench"]
    submitted = subprocess.run(
        [*greenai, "run", str(SUITE), "--slurm", "--nodes", "2", "--wait", "-o", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    logs = " ".join(_tail(p, 20) for p in sorted(out.glob("slurm-*.out")))
    assert submitted.returncode == 0, f"{submitted.stdout}{submitted.stderr} job log: {logs}"
    assert "node(s), script" in submitted.stdout and "finished: 2 node(s)" in submitted.stdout
    for node in NODES:
        summary = json.loads((out / "slurm-smoke" / node / "summary.json").read_text())
        assert summary["host"] == node and summary["complete"], summary
    report = subprocess.run(
        [*greenai, "report", str(out), "-o", str(tmp_path / "summary.html")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert report.returncode == 0, report.stderr
    assert "2 result set(s) compared" in report.stdout
    ranked = ranking(harness.load_results([out]))
    assert set(ranked) == {"gemm-128", "embed-infer"}
    for rows in ranked.values():
        assert sorted(host for host, _ in rows) == ["n1 (slurm-smoke)", "n2 (slurm-smoke)"]
        means = [row["energy_per_unit_j"]["mean"] for _, row in rows]
        assert means == sorted(means) and all(m > 0 for m in means)
        ranks = ", ".join(
            f"{h} {r['energy_per_unit_j']['mean']:.4g} J/{r['unit']}" for h, r in rows
        )
        print(f"\n{rows[0][1]['workload']}: {ranks}")
    print(submitted.stdout + report.stdout)
    page = (tmp_path / "summary.html").read_text()
    assert "n1 (slurm-smoke)" in page and "n2 (slurm-smoke)" in page


def test_cli_refuses_slurm_options_without_slurm(capsys):
    from greenai.cli import main

    assert main(["bench", "run", "smoke", "--nodes", "2"]) == 2
    assert "--nodes, --partition and --wait need --slurm" in capsys.readouterr().err


def test_cli_without_sbatch_writes_the_script_and_says_so(tmp_path, monkeypatch, capsys):
    from greenai.cli import main

    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    out = tmp_path / "results"
    code = main(
        ["bench", "run", str(SUITE), "--slurm", "--nodes", "3", "--pue", "1.2", "-o", str(out)]
    )
    assert code == 2 and "sbatch not found on PATH" in capsys.readouterr().err
    script = (out / "greenai-bench-slurm-smoke.sbatch").read_text()
    assert "#SBATCH --nodes=3" in script
    assert script.rstrip().endswith(f"bench run {SUITE} -o {out} --pue 1.2")
