"""`greenai tune -- CMD` on this machine: CPU threads, a table, a PNG, labelled modelled."""

from __future__ import annotations

import json
import sys

from tests.cli import greenai_cli


def test_tune_a_command_over_cpu_threads(tmp_path):
    work = "import numpy as np; a = np.ones((300, 300), np.float32); [a @ a for _ in range(20)]"
    out = tmp_path / "tune"
    done = greenai_cli(
        "tune", "--max-slowdown", "5%", "--repeats", "2", "-o", str(out),
        "--", sys.executable, "-c", work,
        env={"GREENAI_POWERCAP_ROOT": str(tmp_path / "none"), "GREENAI_NVML": "off",
             "GREENAI_RUNTIME_DIR": str(tmp_path / "run")},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "J/unit" in done.stdout and "95 % CI" in done.stdout
    assert "energy: modelled (NOT graded)" in done.stdout
    summary = json.loads((out / "summary.json").read_text())["optimisation"]
    assert summary["max_slowdown"] == 0.05 and summary["provenance"] == "modelled"
    assert summary["candidates"][0]["role"] in ("baseline", "chosen")
    assert (out / "tune.png").read_bytes()[:4] == b"\x89PNG"


def test_tune_without_a_command_is_a_usage_error():
    done = greenai_cli("tune")
    assert done.returncode == 2 and "no command given" in done.stderr
