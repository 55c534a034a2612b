"""greenai.runtime: node markers, liveness, the node's id."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from greenai.runtime import NodeMarker, alive, host_id

REPO = Path(__file__).resolve().parents[1]


def _others_seen_from_another_process(folder: Path) -> list[int]:
    code = (
        "import json, sys\nfrom pathlib import Path\nfrom greenai.runtime import NodeMarker\n"
        "m = NodeMarker(Path(sys.argv[1]))\nassert m.create()\nprint(json.dumps(m.others()))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(folder)],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    return json.loads(out.stdout)


def test_a_marker_counts_only_while_its_process_meters(tmp_path: Path):
    marker = NodeMarker(tmp_path)
    assert marker.create() and marker.path.exists()
    assert _others_seen_from_another_process(tmp_path) == [os.getpid()]
    marker.metering(False)  # idle: the file stays, the lock goes
    assert marker.path.exists() and _others_seen_from_another_process(tmp_path) == []
    marker.metering(True)
    assert _others_seen_from_another_process(tmp_path) == [os.getpid()]
    marker.remove()
    assert not marker.path.exists()


def test_a_dead_process_marker_is_removed(tmp_path: Path):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    pid = int(dead.stdout)
    (tmp_path / f"meter-{pid}").write_text(str(pid))
    (tmp_path / "meter-notapid").write_text("x")
    assert not alive(pid)
    mine = NodeMarker(tmp_path)
    assert mine.create() and mine.others() == []
    assert not (tmp_path / f"meter-{pid}").exists() and (tmp_path / "meter-notapid").exists()


def test_host_id_prefers_the_scheduler_name_and_is_filesystem_safe():
    assert host_id({"GREENAI_NODE": "rack 3/a"}) == "rack-3-a"
    assert host_id({"SLURMD_NODENAME": "gpu-07"}) == "gpu-07"
