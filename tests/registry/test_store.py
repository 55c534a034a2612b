"""The registry store on SQLite and PostgreSQL: migrations, tokens, ownership, audit, columns."""

from __future__ import annotations

import json

import numpy as np
import pytest

from greenai import disclosure
from greenai.registry.store import (
    MIGRATIONS,
    RegistryError,
    hash_token,
    open_store,
    summarize,
)
from greenai.scoring import Population, rate_many
from greenai.standard import load_standard
from tests.registry.conftest import variant


def _add(store, who, base, keys, n, **changes):
    doc = disclosure.sign(variant(base, n, **changes), keys[who.name][0])
    body = json.dumps(doc).encode()
    return doc, store.add(who, doc["integrity"]["sha256"], body, summarize(doc), "verified")


def _submitter(store, keys, name="lab-a"):
    token = store.add_submitter(name, keys[name][1])
    return token, store.authenticate(token)


def test_migrations_apply_once_and_are_recorded(db_url):
    first = open_store(db_url)
    assert first.schema_version() == MIGRATIONS[-1][0]
    again = open_store(db_url)
    assert again.migrate() == []
    rows = again.execute("SELECT version, name FROM schema_migrations").fetchall()
    assert [r[0] for r in rows] == [m[0] for m in MIGRATIONS]
    first.close()
    again.close()


def test_tokens_are_kept_hashed_and_authenticate_their_submitter(store, keys):
    token, who = _submitter(store, keys)
    assert who is not None and who.name == "lab-a" and who.public_key == keys["lab-a"][1]
    stored = [r[0] for r in store.execute("SELECT token_sha256 FROM submitters").fetchall()]
    assert stored == [hash_token(token)] and token not in stored
    assert store.authenticate(token + "x") is None
    assert store.authenticate(None) is None
    with pytest.raises(RegistryError, match="already exists"):
        store.add_submitter("lab-a", keys["lab-a"][1])
    with pytest.raises(RegistryError, match="32"):
        store.add_submitter("lab-c", "AAAA")


def test_a_submitter_cannot_overwrite_or_delete_anothers_disclosure(store, keys, base_doc):
    _, a = _submitter(store, keys, "lab-a")
    _, b = _submitter(store, keys, "lab-b")
    doc, (state, _) = _add(store, a, base_doc, keys, 1)
    sha = doc["integrity"]["sha256"]
    assert state == "stored"
    assert store.add(a, sha, b"{}", summarize(doc), "verified")[0] == "already stored"
    with pytest.raises(RegistryError, match="another party") as refused:
        store.add(b, sha, b"{}", summarize(doc), "verified")
    assert refused.value.status == 409
    with pytest.raises(RegistryError, match="not yours") as refused:
        store.delete(b, sha)
    assert refused.value.status == 403
    assert json.loads(store.document(sha)) == doc  # unchanged by either attempt
    store.delete(a, sha)
    assert store.document(sha) is None
    actions = [e["action"] for e in store.audit_log()]
    assert actions == ["delete", "refused", "refused", "submit", "add-submitter", "add-submitter"]


def test_the_audit_log_is_append_only(store, keys):
    _submitter(store, keys)
    for statement in ("UPDATE audit SET detail = 'x'", "DELETE FROM audit"):
        with pytest.raises(Exception, match="append-only"), store.transaction():
            store.execute(statement)
    assert [e["detail"] for e in store.audit_log()][0].startswith("role submit")


def test_queries_filter_on_the_indexed_figures(store, keys, base_doc):
    _, a = _submitter(store, keys)
    _add(store, a, base_doc, keys, 1)
    _add(store, a, base_doc, keys, 2, task="embeddings", unit="query")
    _add(store, a, base_doc, keys, 3, provenance="modelled", started_at="2027-01-05T00:00:00Z")
    assert store.count() == 3
    assert store.count({"task": "embeddings"}) == 1
    assert store.count({"hardware": "h100"}) == 3  # substring, any case
    assert store.count({"hardware": "A100"}) == 0
    assert store.count({"provenance": "modelled"}) == 1
    assert store.count({"since": "2027-01-01"}) == 1
    assert store.count({"until": "2027-01-01"}) == 2
    assert store.count({"submitter": "lab-a"}) == 3
    rows = store.query({"task": "embeddings"})
    assert rows[0]["unit"] == "query" and rows[0]["submitter"] == "lab-a"
    with pytest.raises(RegistryError, match="unknown filter"):
        store.count({"colour": "red"})
    with pytest.raises(RegistryError, match="provenance"):
        store.count({"provenance": "guessed"})


def test_the_columnar_population_rates_as_the_documents_do(store, keys, base_doc):
    _, a = _submitter(store, keys)
    docs = []
    for n, changes in enumerate(
        [
            {},
            {"task": "embeddings", "unit": "query"},
            {"status": "failed"},
            {"sampling": {**base_doc["sampling"], "interval_s": 5.0}},
            {"footprint": None},
            {"repetitions": 1, "idle": None},
        ]
    ):
        docs.append(_add(store, a, base_doc, keys, n, **changes)[0])
    population, ids = store.population()
    assert ids.tolist() == sorted(ids.tolist()) and len(ids) == len(docs)
    std = load_standard()
    expected = rate_many(Population.from_disclosures(docs), std)
    got = rate_many(population, std)
    assert got.grades("energy") == expected.grades("energy")
    assert got.grades("water") == expected.grades("water")
    assert np.array_equal(got.energy_reasons, expected.energy_reasons)
    assert np.allclose(got.energy_index, expected.energy_index, equal_nan=True)
    assert [got.reasons(i) for i in range(len(docs))] == [
        expected.reasons(i) for i in range(len(docs))
    ]
    assert len({g for g in got.grades("energy")}) > 1  # the variants do differ


def test_best_first_queries_order_by_energy_per_unit(store, keys, base_doc):
    _, a = _submitter(store, keys)
    for n, scale in enumerate((3.0, 1.0, 2.0)):
        _add(store, a, base_doc, keys, n, energy_j=base_doc["energy_j"] * scale)
    _add(store, a, base_doc, keys, 9, task="embeddings", unit="query")
    rows = store.query(tasks=["text-generation"], best_first=True, limit=2)
    per_unit = [r["energy_j"] / r["units_done"] for r in rows]
    assert len(rows) == 2 and per_unit == sorted(per_unit)
    assert rows[0]["energy_j"] == base_doc["energy_j"]  # the x1.0 run leads
    assert {r["task"] for r in store.query(tasks=["embeddings", "x"])} == {"embeddings"}
