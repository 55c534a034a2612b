"""Never leave a device changed: remember originals where a killed process cannot lose them.

Before the first change a tuner writes the original settings to a small state file in the
node's runtime folder (``tune-<pid>.json``, beside the meters' markers) and, when its
meter keeps one, to the run's journal. The file goes once the tuner has restored them. A
file whose owner is dead is stale: ``greenai recover`` and the next greenai start on the
node put its settings back.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

from greenai import jsonio
from greenai.errors import GreenAIWarning
from greenai.optimize.knobs import KnobError, restore_described
from greenai.runtime import alive, private_dir, runtime_dir

PREFIX = "tune-"


def _folder() -> Path:
    return runtime_dir()


def record(settings: list[dict[str, Any]], folder: Path | None = None) -> Path:
    """Write this process's original settings to its state file; return its path."""
    folder = private_dir(folder or _folder())
    path = folder / f"{PREFIX}{os.getpid()}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"pid": os.getpid(), "settings": settings}))
    os.replace(tmp, path)  # whole or absent: a kill mid-write leaves the old file
    return path


def clear(path: Path | None) -> None:
    """Remove a state file once its settings are restored."""
    if path is not None:
        path.unlink(missing_ok=True)


def restore_settings(pid: int, settings: list[Any], folder: Path | None = None) -> list[str]:
    """Restore the settings a dead process recorded; return what was restored.

    Nothing is touched while that process lives (it restores its own). KnobError when a
    device refuses; the state file is removed only once every setting is back.
    """
    if pid != os.getpid() and alive(pid):
        return []
    done: list[str] = []
    for doc in settings:
        done.extend(restore_described(doc))
    clear((folder or _folder()) / f"{PREFIX}{pid}.json")
    return done


def restore_stale(folder: Path | None = None) -> list[str]:
    """Restore every stale state file's settings on this node; return what was restored.

    A setting that cannot be restored is warned about and its file kept for the next try.
    """
    folder = folder or _folder()
    done: list[str] = []
    if not folder.is_dir():
        return done
    try:
        private_dir(folder)  # state files another user planted are never "restored"
    except PermissionError as exc:
        warnings.warn(f"greenai: {exc}", GreenAIWarning, stacklevel=2)
        return done
    for path in sorted(folder.glob(f"{PREFIX}*.json")):
        try:
            doc = jsonio.read(path)
            pid, settings = int(doc["pid"]), list(doc["settings"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            warnings.warn(
                f"greenai: {path}: unreadable tuning state ({exc}); check the device "
                "settings by hand (nvidia-smi -q -d POWER) and delete the file",
                GreenAIWarning,
                stacklevel=2,
            )
            continue
        if pid == os.getpid():
            continue
        try:
            done.extend(restore_settings(pid, settings, folder))
        except KnobError as exc:
            warnings.warn(
                f"greenai: {path}: a setting left by process {pid} is not restored: {exc}",
                GreenAIWarning,
                stacklevel=2,
            )
    return done


def restore_from_journal(path: Any) -> list[str]:
    """Restore the settings a killed run's journal recorded; return what was restored."""
    from greenai import journal

    done: list[str] = []
    for rec in journal.read(path).settings:
        try:
            pid, settings = int(rec["pid"]), list(rec["settings"])
        except (KeyError, TypeError, ValueError) as exc:
            raise KnobError(f"{path}: a recorded setting is malformed ({exc!r})") from exc
        done.extend(restore_settings(pid, settings))
    return done
