"""The registry re-rates exactly as `greenai rate -o` does, work block included (both DBs)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest

from greenai import disclosure
from greenai.cli import main
from greenai.probes.base import Method
from greenai.registry import store as store_mod
from greenai.registry.intake import check
from greenai.registry.ratings import boards, rerate
from greenai.registry.store import open_store
from greenai.scoring import rate_many
from greenai.standard import load_standard
from tests.interop.test_table import a40_path
from tests.registry.conftest import variant
from tests.report.docs import make_doc

REFERENCE = Path(__file__).resolve().parents[2] / "reports" / "reference" / "smoke" / "vm"


def _bench_block() -> dict:
    """Return a bench result's benchmark block (repetitions, CI of energy per unit)."""
    return json.loads((REFERENCE / "gemm-512.json").read_text())["benchmark"]


def mixed_docs(tmp_path: Path) -> dict[str, dict]:
    """Return {name: unsealed document}: every kind of run the default standard tells apart."""
    base = make_doc()  # measured, an 8 B model: text-generation/small
    bench = {"workload": "greenai-gemm-fp32", "phase": "inference"}
    docs = {
        "small": base,
        "large": variant(base, 1, 9.0, work={**base["work"], "params": 7.0e10}),
        "no-params": variant(base, 2, work={"model": "x/unsized", "phase": "inference"}),
        "no-work": variant(base, 3, work=None),
        "wrong-phase": variant(base, 4, work={**base["work"], "phase": "training"}),
        "modelled": make_doc(cpu_method=Method.MODEL),
        "modelled-dram": make_doc(dram_w=6.0, units=90_000),
        "failed": variant(base, 5, status="failed"),
        "no-footprint": variant(base, 6, footprint=None),
        "embeddings": make_doc(task="embeddings", unit="query", units=5_000, work=None),
        "training": make_doc(
            task="training",
            unit="token",
            units=1e5,
            seconds=660.0,
            gpu_w=700.0,
            work={"model": "x/big", "params": 2.0e11, "phase": "training", "dataset": "c4"},
        ),
        "training-compute": make_doc(
            task="training-compute", unit="PFLOP", units=3.0, work={"phase": "training"}
        ),
        "gemm": make_doc(task="greenai-gemm-fp32", unit="GFLOP", units=4e4, work=bench),
        "gemm-ci": make_doc(task="matrix-multiply", unit="GFLOP", units=5e4, work=bench),
        "gemm-wrong": make_doc(
            task="greenai-gemm-fp32", unit="GFLOP", units=6e4, work={**bench, "workload": "x"}
        ),
    }
    docs["gemm-ci"]["benchmark"] = _bench_block()
    folder = tmp_path / "third-party"
    args = ["import", "table", str(a40_path()), "--format", "ml-energy", "--gpu", "NVIDIA A40"]
    assert main([*args, "--task", "chat", "-o", str(folder)]) == 0
    for n, path in enumerate(sorted(folder.glob("*.json"))[:4]):
        doc = json.loads(path.read_text())
        doc.pop("integrity", None)
        docs[f"third-party-{n}"] = doc
    return docs


@pytest.fixture(scope="module")
def signed_files(tmp_path_factory, keys) -> tuple[Path, dict[str, bytes]]:
    """Return the folder of the signed mixed files and {name: bytes as written}."""
    folder = tmp_path_factory.mktemp("mixed")
    out = {}
    for name, doc in mixed_docs(folder).items():
        body = json.dumps(disclosure.sign(copy.deepcopy(doc), keys["lab-a"][0]), indent=2)
        (folder / f"{name}.json").write_text(body)
        out[name] = body.encode()
    return folder, out


@pytest.fixture(scope="module")
def rated_by_cli(signed_files, tmp_path_factory) -> dict[str, dict]:
    """Return {name: rating block} as `greenai rate FOLDER -o OUT` writes them."""
    folder, bodies = signed_files
    out = tmp_path_factory.mktemp("rated")
    inputs = [str(folder / f"{name}.json") for name in bodies]
    assert main(["rate", *inputs, "-o", str(out)]) == 0
    return {name: json.loads((out / f"{name}.json").read_text())["rating"] for name in bodies}


def _stored(store, bodies, keys) -> dict[str, str]:
    """Store each body through the server's checks; return {sha256: name}."""
    who = store.authenticate(store.add_submitter("lab-a", keys["lab-a"][1]))
    names = {}
    for name, body in bodies.items():
        accepted = check(body, who)
        state, _ = store.add(who, accepted.sha256, body, accepted.summary, accepted.verification)
        assert state == "stored"
        names[accepted.sha256] = name
    return names


def _assert_rated_as_cli(store, names, rated_by_cli, std, skip=()):
    population, ids = store.population()
    sha = dict(store.execute("SELECT id, sha256 FROM disclosures").fetchall())
    table = rate_many(population, std)
    energy, water = table.grades("energy"), table.grades("water")
    compared = 0
    for i, row_id in enumerate(ids.tolist()):
        name = names[sha[row_id]]
        if name in skip:
            continue
        expected = rated_by_cli[name]
        assert table.rating(i).to_dict() == expected, name  # task, indices, grades, reasons
        assert table.task[i] == expected["task"], name
        assert energy[i] == expected["energy"]["grade"], name
        assert water[i] == expected["water"]["grade"], name
        index = expected["energy"]["index"]
        assert (index is None and np.isnan(table.energy_index[i])) or (
            table.energy_index[i] == index
        ), name
        compared += 1
    return compared


def test_registry_rerating_equals_rate_o_on_a_mixed_set(db_url, keys, signed_files, rated_by_cli):
    _folder, bodies = signed_files
    std = load_standard()
    store = open_store(db_url)
    names = _stored(store, bodies, keys)
    assert _assert_rated_as_cli(store, names, rated_by_cli, std) == len(bodies)

    # the mix does exercise what the work block decides: size classes, phase, workload
    grades = {name: r["energy"]["grade"] for name, r in rated_by_cli.items()}
    tasks = {name: r["task"] for name, r in rated_by_cli.items()}
    assert tasks["small"] == "text-generation/small" and grades["small"] is not None
    assert tasks["large"] == "text-generation/large"
    assert tasks["no-params"] == "text-generation" and grades["no-params"] is None
    assert grades["wrong-phase"] is None and grades["gemm-wrong"] is None
    assert tasks["training"] == "training/100b-1t" and grades["training"] is not None
    assert tasks["gemm-ci"] == "greenai-gemm-fp32"
    assert any(t.startswith("third-party") for t in grades)

    # the distribution counts each file in the class `rate -o` put it in
    result = rerate(store, std)
    assert result["total"] == len(bodies) and result["not re-indexed"] == 0
    for task_id, c in result["classes"].items():
        mine = [n for n, t in tasks.items() if t == task_id]
        assert c["rated"] == len(mine), task_id
        graded = [grades[n] for n in mine if grades[n] is not None]
        assert c["grades"] == {g: graded.count(g) for g in sorted(set(graded))}, task_id
    assert result["unknown task"] == sum(t is None for t in tasks.values())

    # the leaderboard puts each run on its size class's board, graded as rate -o grades it
    seen = 0
    for board in boards(store, std):
        for entry in board.entries:
            name = names[entry.row["sha256"]]
            assert board.task == tasks[name], name
            assert entry.grade == grades[name], name
            seen += 1
    assert seen == sum(t is not None for t in tasks.values())
    assert entry.row["work"] is not None
    store.close()


def test_the_energy_ci_and_work_keys_are_indexed(db_url, keys, signed_files):
    _folder, bodies = signed_files
    store = open_store(db_url)
    _stored(store, bodies, keys)
    population, _ = store.population()
    assert np.isfinite(population.energy_ci_rel).sum() == 1  # gemm-ci alone has a CI
    assert store.count({"phase": "training"}) == 3  # training, training-compute, wrong-phase
    assert store.count({"workload": "greenai-gemm-fp32"}) == 2
    assert store.count({"dataset": "c4"}) == 1
    (row,) = store.query({"dataset": "c4"})
    assert row["work"] == {"model": "x/big", "params": 2.0e11, "phase": "training", "dataset": "c4"}
    assert row["params"] == 2.0e11 and row["phase"] == "training"
    store.close()


def _v1_store(db_url, version=1):
    """Return a store migrated to `version` only (1: the registry as it shipped first)."""
    original = store_mod.MIGRATIONS
    store_mod.MIGRATIONS = original[:version]
    try:
        return open_store(db_url)
    finally:
        store_mod.MIGRATIONS = original


def _add_v1(store, who, sha, body, summary):
    """Insert a row as version 1 did (its columns only); body None: an imported summary."""
    names = (
        "sha256", "submitter_id", "received_at", "origin", "document", "verification",
        "rating_record", *store_mod.INDEX_COLUMNS,
    )  # fmt: skip
    values = (
        sha, who.id, store_mod.now(), "submitted" if body else "imported", body,
        "verified" if body else "summary", store.record(summary),
        *(summary[c] for c in store_mod.INDEX_COLUMNS),
    )  # fmt: skip
    with store.transaction():
        store.execute(
            f"INSERT INTO disclosures ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
            values,
        )


def test_a_v1_database_is_re_indexed_in_place(db_url, keys, signed_files, rated_by_cli):
    _folder, bodies = signed_files
    old = _v1_store(db_url)
    assert old.schema_version() == 1
    who = old.authenticate(old.add_submitter("lab-a", keys["lab-a"][1]))
    names = {}
    for name, body in bodies.items():
        accepted = check(body, who)
        _add_v1(old, who, accepted.sha256, body, accepted.summary)
        names[accepted.sha256] = name
    summary = check(bodies["small"], who).summary  # a summary stored without its document
    _add_v1(old, who, "f" * 64, None, summary)
    names["f" * 64] = "summary-only"
    models = {s: check(bodies[n], who).summary["model"] for s, n in names.items() if n in bodies}
    with old.transaction():  # as rows indexed before the model came from the work block
        old.execute("UPDATE disclosures SET model = NULL")
    old.close()

    store = open_store(db_url)
    assert store.schema_version() == store_mod.MIGRATIONS[-1][0]
    expected = f"{len(bodies)} re-indexed, 1 not re-indexed (1 without a stored document)"
    assert store.notes == [f"migration 2: work block indexed: {expected}"]
    migrate = store.audit_log()[0]
    assert migrate["action"] == "migrate" and migrate["detail"].endswith(expected)
    std = load_standard()
    compared = _assert_rated_as_cli(store, names, rated_by_cli, std, skip=("summary-only",))
    assert compared == len(bodies)
    result = rerate(store, std)
    assert result["not re-indexed"] == 1 and result["total"] == len(bodies) + 1
    assert store.query(limit=1000)[-1]["work"] is None  # the summary: not indexed
    refilled = dict(store.execute("SELECT sha256, model FROM disclosures").fetchall())
    assert {sha: refilled[sha] for sha in models} == models and any(models.values())
    assert open_store(db_url).notes == []  # migrated once: nothing to say the second time
    store.close()


def test_rerate_cli_says_how_many_were_not_re_indexed(tmp_path, keys, signed_files, capsys):
    _folder, bodies = signed_files
    db = str(tmp_path / "registry.db")
    old = _v1_store(db)
    who = old.authenticate(old.add_submitter("lab-a", keys["lab-a"][1]))
    accepted = check(bodies["small"], who)
    _add_v1(old, who, accepted.sha256, bodies["small"], accepted.summary)
    _add_v1(old, who, "e" * 64, None, accepted.summary)
    old.close()
    assert main(["registry", "rerate", "--db", db]) == 0
    captured = capsys.readouterr()
    assert "work block indexed: 1 re-indexed, 1 not re-indexed" in captured.err
    assert "1 not re-indexed: stored without a document" in captured.out
    assert "text-generation/small" in captured.out


def test_counter_runs_indexed_with_the_wrap_guards_interval_are_set_to_0(db_url, keys, base_doc):
    from greenai import disclosure
    from greenai.registry.store import summarize
    from greenai.scoring import INTERVAL_TOO_LONG, rate_many
    from tests.registry.conftest import variant

    old = _v1_store(db_url, version=2)
    who = old.authenticate(old.add_submitter("lab-a", keys["lab-a"][1]))
    edges = {"interval_s": 468.1, "samples": 2, "energy_reads": "window edges"}
    shas = {}
    for n, sampling in enumerate((edges, {**edges, "energy_reads": None}, {"interval_s": 0.1})):
        doc = disclosure.sign(variant(base_doc, n, sampling=sampling), keys["lab-a"][0])
        summary = {**summarize(doc), "sampling_interval_s": sampling["interval_s"]}  # as before
        old.add(who, doc["integrity"]["sha256"], json.dumps(doc).encode(), summary, "verified")
        shas[n] = doc["integrity"]["sha256"]
    old.close()

    store = open_store(db_url)
    note = "migration 3: sampling interval 0 (counters read at window edges): 1 row(s)"
    assert store.notes == [note]
    rows = dict(store.execute("SELECT sha256, sampling_interval_s FROM disclosures").fetchall())
    assert [rows[shas[n]] for n in range(3)] == [0.0, 468.1, 0.1]
    population, ids = store.population()  # rated from the packed records
    bits = rate_many(population, load_standard()).energy_reasons
    sha_of = dict(store.execute("SELECT id, sha256 FROM disclosures").fetchall())
    too_long = {sha_of[int(i)]: bool(b & INTERVAL_TOO_LONG) for i, b in zip(ids, bits, strict=True)}
    assert too_long == {shas[0]: False, shas[1]: True, shas[2]: False}
    store.close()
