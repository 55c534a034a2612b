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


def test_a_runtime_folder_another_user_made_first_is_never_used(tmp_path):
    """/tmp/greenai-<uid> made in advance by someone else (owned by them, or a link to a
    folder of theirs) could hold links a marker is written through, or tuner state files a
    later greenai would 'restore': greenai writes and restores nothing there."""
    import pytest

    from greenai.errors import GreenAIWarning
    from greenai.optimize import guard
    from greenai.runtime import private_dir

    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    planted = theirs / "tune-1.json"
    planted.write_text(json.dumps({"pid": 1, "settings": [{"knob": "gpu-power-limit"}]}))
    (theirs / f"{NodeMarker.PREFIX}{os.getpid()}").symlink_to(victim)
    linked = tmp_path / "linked"
    linked.symlink_to(theirs)
    cases = [linked]
    if os.geteuid() == 0:  # root can make a folder another user owns
        os.chown(theirs, 12345, 12345)
        cases.append(theirs)
    for folder in cases:
        with pytest.raises(PermissionError, match="not this user's own folder"):
            private_dir(folder)
        assert NodeMarker(folder).create() is False
        with pytest.warns(GreenAIWarning, match="not this user's own folder"):
            assert guard.restore_stale(folder) == []
        assert planted.exists() and victim.read_text() == "precious\n"
    ours = tmp_path / "ours"
    ours.mkdir(mode=0o777)
    os.chmod(ours, 0o777)  # ours, but others could write: made private
    assert private_dir(ours) == ours and (ours.stat().st_mode & 0o777) == 0o700
