"""Fixtures: a throwaway PostgreSQL cluster, a store on each database, keys and signed docs."""

from __future__ import annotations

import contextlib
import copy
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from greenai import disclosure
from greenai.registry.server import Config, make_server
from greenai.registry.store import Store, open_store
from tests.registry.pg import pg_bin, start_cluster
from tests.report.docs import make_doc


@pytest.fixture(scope="session")
def postgres() -> Iterator[str]:
    """Yield the URL of a PostgreSQL server started for this test session (trust, loopback)."""
    if pg_bin() is None:
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) not found: apt-get install postgresql")
    pytest.importorskip("psycopg", reason="psycopg not installed: pip install 'greenai[registry]'")
    url, stop = start_cluster()
    try:
        yield url
    finally:
        stop()


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


def variant(base: dict, n: int, energy_scale: float = 1.0, **changes: object) -> dict:
    """Return a copy of a document that differs in its units (so in its hash), its energy
    (total and every domain, times energy_scale), and changes."""
    doc = copy.deepcopy(base)
    doc["units_done"] = float(base["units_done"] + n)
    doc["energy_j"] = base["energy_j"] * energy_scale
    for domain in doc["domains"].values():
        domain["energy_j"] *= energy_scale
    doc.update(changes)
    if "energy_per_unit_j" in base:
        doc["energy_per_unit_j"] = doc["energy_j"] / doc["units_done"]
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
