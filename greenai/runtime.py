"""This node and this process: the runtime folder, whether a process lives, the node's id.

A neutral room below everything that needs it (the meter's node markers, the tuner's
guard files, recovery, the bench harness, the exporter).
"""

from __future__ import annotations

import os
import platform
import re
from collections.abc import Mapping
from pathlib import Path

NODE_NAME_VARIABLES = ("GREENAI_NODE", "SLURMD_NODENAME")


def runtime_dir() -> Path:
    """Return this user's greenai folder for per-node state (markers, tuner originals)."""
    base = os.environ.get("GREENAI_RUNTIME_DIR") or os.environ.get("TMPDIR")
    if not base:
        import tempfile  # its import costs milliseconds of start-up: only where TMPDIR is unset

        base = "/tmp" if os.path.isdir("/tmp") else tempfile.gettempdir()
    return Path(base) / f"greenai-{os.getuid() if hasattr(os, 'getuid') else 'user'}"


def alive(pid: int) -> bool:
    """Return True if process ``pid`` exists (also when another user owns it)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def host_id(env: Mapping[str, str] | None = None) -> str:
    """Return a filesystem-safe id of this node: GREENAI_NODE, SLURMD_NODENAME or hostname."""
    env = os.environ if env is None else env
    name = next((env[v] for v in NODE_NAME_VARIABLES if env.get(v, "").strip()), None)
    name = name or platform.node() or "host"
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "host"


def umask() -> int:
    """Return the process umask: from /proc (no change to the process), else set and put back."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """Return the mode a plain open() gives a new file (0o666 less the umask: 0644 under
    umask 022); for temp files that replace an output, which mkstemp makes 0600."""
    return 0o666 & ~umask()
