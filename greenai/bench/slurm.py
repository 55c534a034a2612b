"""Run a benchmark suite across Slurm nodes: one sbatch job, one srun task per node.

Each task runs ``greenai bench run`` on its node and writes ``OUT/<suite>/<node>/`` (the
node's Slurm name, SLURMD_NODENAME, names the folder), so ``greenai bench report OUT``
ranks the nodes. OUT must be on a filesystem every node sees, and the Python that runs
greenai must exist at the same path on every node (a shared venv).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from greenai.errors import GreenAIError


class SlurmError(GreenAIError):
    """sbatch is missing or refused the job; the message says what to do."""


@dataclass(frozen=True)
class SlurmJob:
    """A submitted (or only written) sbatch job."""

    script: Path
    job_id: str | None  # None: written, not submitted


def suite_argument(suite: str) -> str:
    """Return the suite as the nodes must see it: a shipped name, or an absolute .toml path."""
    return str(Path(suite).resolve()) if suite.endswith(".toml") else suite


def sbatch_script(
    suite: str,
    output_dir: str | os.PathLike[str],
    *,
    suite_id: str,
    nodes: int = 1,
    partition: str | None = None,
    bench_args: Sequence[str] = (),
    python: str = sys.executable,
) -> str:
    """Return an sbatch script running the suite once on each of `nodes` nodes."""
    if nodes < 1:
        raise SlurmError(f"--nodes: expected an integer >= 1, got {nodes}")
    out = Path(output_dir).resolve()
    head = [
        "#!/bin/bash",
        f"#SBATCH --job-name=greenai-bench-{suite_id}",
        f"#SBATCH --nodes={nodes}",
        "#SBATCH --ntasks-per-node=1",
        "#SBATCH --exclusive",  # a neighbour's job on the node would be metered too
        f"#SBATCH --output={out}/slurm-%j.out",
    ]
    if partition:
        head.append(f"#SBATCH --partition={partition}")
    command = [
        python,
        "-m",
        "greenai",
        "bench",
        "run",
        suite_argument(suite),
        "-o",
        str(out),
        *bench_args,
    ]
    return "\n".join(
        [
            *head,
            "set -euo pipefail",
            "# one task per node; each writes its results under OUT/<suite>/$SLURMD_NODENAME/",
            "srun --ntasks-per-node=1 " + shlex.join(command),
            "",
        ]
    )


def submit(
    script: str,
    output_dir: str | os.PathLike[str],
    suite_id: str,
    *,
    wait: bool = False,
    env: Mapping[str, str] | None = None,
) -> SlurmJob:
    """Write the script to OUT/greenai-bench-<suite>.sbatch, submit it; return the job.

    With ``wait`` sbatch returns when the job has ended (SlurmError if it failed).
    """
    sbatch = shutil.which("sbatch", path=(env or os.environ).get("PATH"))
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)  # Slurm opens the job's log here
    path = out / f"greenai-bench-{suite_id}.sbatch"
    path.write_text(script, encoding="utf-8")
    if sbatch is None:
        raise SlurmError(
            f"sbatch not found on PATH: the job script is written to {path}; "
            "submit it from a Slurm login node with `sbatch` (or install slurm-client)"
        )
    command = [sbatch, "--parsable", *(["--wait"] if wait else []), str(path)]
    proc = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    job_id = proc.stdout.strip().split(";")[0] or None
    if proc.returncode != 0:
        what = "the job failed" if wait and job_id else "sbatch refused the job"
        raise SlurmError(
            f"{path}: {what} (exit {proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}"
            f"; see {out}/slurm-{job_id or '<job id>'}.out"
        )
    return SlurmJob(path, job_id)
