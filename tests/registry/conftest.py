"""Fixtures: a throwaway PostgreSQL cluster, a store on each database, keys and signed docs."""

from __future__ import annotations

import contextlib
import copy
import os
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from greenai import disclosure
from greenai.registry.server import Config, make_server
from greenai.registry.store import Store, open_store
from tests.report.docs import make_doc


def _pg_bin() -> Path | None:
    for folder in ("/usr/lib/postgresql/15/bin", os.path.dirname(shutil.which("initdb") or "")):
        if folder and (Path(folder) / "initdb").exists() and (Path(folder) / "pg_ctl").exists():
            return Path(folder)
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def postgres() -> Iterator[str]:
    """Yield the URL of a PostgreSQL server started for this test session (trust, loopback)."""
    bin_dir = _pg_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) not found: apt-get install postgresql")
    pytest.importorskip("psycopg", reason="psycopg not installed: pip install 'greenai[registry]'")
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
            pytest.fail(f"{args[0]} failed: {res.stderr[-1500:]} {log[-1500:]}")

    pg(str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "greenai", "-E", "UTF8")
    opts = f"-k {tmp} -p {port} -c listen_addresses=127.0.0.1 -c max_connections=200"
    pg(str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(tmp / "log"), "-o", opts, "-w", "start")
    try:
        yield f"postgresql://greenai@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*run_as, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(tmp, ignore_errors=True)


_counter = iter(range(1_000_000))


@pytest.fixture
def pg_database(postgres: str) -> Iterator[str]:
    """Yield the URL of a new, empty database on the session's PostgreSQL server."""
    import psycopg

    name = f"greenai_test_{os.getpid()}_{next(_counter)}"
    with psycopg.connect(postgres, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield postgres.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(postgres, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Return a database URL: a SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "registry.db")
    return request.getfixturevalue("pg_database")


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = open_store(db_url)
    yield s
    s.close()


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, str]]:
    """Return {name: (private PEM path, base64 public key)} for three parties."""
    folder = tmp_path_factory.mktemp("keys")
    out = {}
    for name in ("lab-a", "lab-b", "stranger"):
        pub = disclosure.generate_key(folder / f"{name}.pem", folder / f"{name}.pub")
        out[name] = (folder / f"{name}.pem", pub)
    return out


@pytest.fixture(scope="session")
def base_doc() -> dict:
    return make_doc()


def variant(base: dict, n: int, **changes: object) -> dict:
    """Return a copy of a document that differs in its units (so in its hash), and changes."""
    doc = copy.deepcopy(base)
    doc["units_done"] = float(base["units_done"] + n)
    doc.update(changes)
    doc.pop("integrity", None)
    return doc


@contextlib.contextmanager
def serving(store: Store, config: Config | None = None) -> Iterator[str]:
    """Serve a store on a free loopback port in a thread; yield its URL."""
    server = make_server(store, port=0, config=config)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.url
    finally:
        server.shutdown()
        server.server_close()
