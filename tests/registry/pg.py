"""A throwaway PostgreSQL cluster in a temporary folder, on a free loopback port."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path


def pg_bin() -> Path | None:
    """Return the folder holding initdb and pg_ctl, None when PostgreSQL is not installed."""
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)  # Debian
    for folder in (*map(str, versions), os.path.dirname(shutil.which("initdb") or "")):
        if folder and (Path(folder) / "initdb").exists() and (Path(folder) / "pg_ctl").exists():
            return Path(folder)
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ClusterError(RuntimeError):
    """initdb or pg_ctl failed; the message holds their output and the server log."""


def start_cluster() -> tuple[str, Callable[[], None]]:
    """Return (URL of the postgres database, stop) of a new cluster (trust auth, loopback)."""
    bin_dir = pg_bin()
    if bin_dir is None:
        raise ClusterError("PostgreSQL binaries (initdb, pg_ctl) not found")
    tmp = Path(tempfile.mkdtemp(prefix="greenai-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        shutil.chown(tmp, "postgres")
        run_as = ["runuser", "-u", "postgres", "--"]
    data, port = tmp / "data", free_port()

    def pg(*args: str) -> None:
        res = subprocess.run([*run_as, *args], capture_output=True, text=True, timeout=120)
        if res.returncode:
            log = (tmp / "log").read_text() if (tmp / "log").exists() else ""
            raise ClusterError(f"{args[0]} failed: {res.stderr[-1500:]} {log[-1500:]}")

    pg(str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "greenai", "-E", "UTF8")
    opts = f"-k {tmp} -p {port} -c listen_addresses=127.0.0.1 -c max_connections=200"
    pg(str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(tmp / "log"), "-o", opts, "-w", "start")

    def stop() -> None:
        subprocess.run(
            [*run_as, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(tmp, ignore_errors=True)

    return f"postgresql://greenai@127.0.0.1:{port}/postgres", stop
