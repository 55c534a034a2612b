"""Every example in examples/ runs as its README says, and writes a valid disclosure."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from greenai import disclosure

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"

CASES = [
    ("meter_basics.py", ["numpy"], None),
    ("torch_loop.py", ["torch"], None),
    ("lightning_train.py", ["torch", "lightning"], None),
    ("hf_trainer.py", ["torch", "transformers"], None),
    ("torchrun_ddp.py", ["torch"], "torchrun"),
    ("exporter.py", ["prometheus_client"], None),
]


@pytest.mark.parametrize(("script", "needs", "launcher"), CASES, ids=[c[0] for c in CASES])
def test_example_runs(tmp_path, script, needs, launcher):
    for module in needs:
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed (see examples/README.md for the extra)")
    if launcher == "torchrun":
        torchrun = shutil.which("torchrun") or str(Path(sys.executable).parent / "torchrun")
        argv = [torchrun, "--standalone", "--nproc-per-node", "2", str(EXAMPLES / script)]
    else:
        argv = [sys.executable, str(EXAMPLES / script)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    started = time.monotonic()
    res = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env)
    took = time.monotonic() - started
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    assert took < 60, f"{script} took {took:.1f} s; examples must run in under a minute"
    written = []
    for out in tmp_path.glob("*.json"):
        doc = json.loads(out.read_text())
        if doc.get("kind") == "greenai.measurement":
            assert disclosure.validation_errors(disclosure.upgrade(doc)) == [], out.name
            written.append(out.name)
    if script != "exporter.py":  # the exporter serves figures; every other example discloses
        assert written, f"{script} wrote no disclosure"
