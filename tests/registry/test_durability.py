"""kill -9 of the registry mid-load: every acknowledged submission is there on restart."""

from __future__ import annotations

import threading
import time

import pytest

from greenai.registry.store import open_store
from tests.registry.load import LoadResult, ServerProcess, run_load, signed_bodies
from tests.report.docs import make_doc


@pytest.fixture(scope="module")
def small_doc() -> dict:
    return make_doc(seconds=5.0)


def test_every_acknowledged_submission_survives_kill_9(db_url, keys, small_doc, tmp_path):
    store = open_store(db_url)
    tokens = [store.add_submitter(f"lab-{i}", keys["lab-a"][1]) for i in range(6)]
    work = {
        t: signed_bodies(small_doc, keys["lab-a"][0], 1000 * i, 60) for i, t in enumerate(tokens)
    }
    server = ServerProcess(db_url, tmp_path / "server.log")
    server.start()
    try:
        result = LoadResult()
        load = threading.Thread(target=run_load, args=(server.url, work, 120.0, 1, result))
        load.start()
        deadline = time.monotonic() + 60
        while len(result.acked) < 30 and load.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        server.kill()  # mid-load: 30 acknowledged, most of the 360 still to send
        load.join()
        assert result.acked, "nothing was acknowledged before the kill"
        assert result.failed > 0, "the load ended before the kill: it proved nothing"
        assert not result.refused, result.refused[:3]
        server.start()  # a fresh process on the same database
        after = open_store(db_url)
        stored = {r[0] for r in after.execute("SELECT sha256 FROM disclosures").fetchall()}
        assert set(result.acked) <= stored
        # at most one per submitter was stored without its acknowledgement reaching us
        assert len(stored) - len(result.acked) <= len(tokens)
        after.close()
    finally:
        server.stop()
        store.close()
