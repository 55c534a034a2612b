"""`greenai bench serve` against a real OpenAI-compatible server: `transformers serve` running a
tiny Llama built in code (tests/bench/tiny_llama.py); then `greenai rank` in the A40 population."""

from __future__ import annotations

import csv
import json

import pytest

from tests.bench import tiny_llama
from tests.cli import greenai_cli
from tests.interop.test_table import a40_path

missing = tiny_llama.serving_missing()
pytestmark = pytest.mark.skipif(missing is not None, reason=missing or "")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("tiny-llama")
    params = tiny_llama.build(folder)
    srv = tiny_llama.Server(folder, folder / "server.log")
    try:
        srv.wait()
        yield srv, params
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def served(server, tmp_path_factory: pytest.TempPathFactory):
    srv, params = server
    out = tmp_path_factory.mktemp("serve")
    res = greenai_cli(
        "bench", "serve", "--endpoint", srv.url, "--concurrency", "1,4", "--requests", "40",
        "--max-tokens", "8", "--params", str(params), "--slo-p90", "2s", "-o", str(out),
        timeout=300,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    return out, res.stdout, params


def test_both_levels_complete_and_tokens_match_usage(served) -> None:
    out, stdout, params = served
    summary = json.loads((out / "summary.json").read_text())
    assert [r["level"] for r in summary["levels"]] == ["c1", "c4"]
    for level in ("c1", "c4"):
        doc = json.loads((out / f"serve-{level}.json").read_text())
        with open(out / f"serve-{level}.requests.csv", newline="") as f:
            log = list(csv.DictReader(f))
        assert len(log) == 40 and all(r["ok"] == "True" for r in log)
        usage = sum(int(r["output_tokens"]) for r in log)
        assert doc["units_done"] == usage == doc["serving"]["output_tokens"]
        assert all(1 <= int(r["output_tokens"]) <= 8 for r in log)
        assert doc["task"] == "chat" and doc["unit"] == "token" and doc["energy_j"] > 0
        server = doc["serving"]["server"]
        assert server["model_id"] and server["parameters"] == params
        assert server["software"]["server_header"] == "uvicorn"
        assert doc["serving"]["ttft_s"]["p50"] is not None
    assert (out / "tradeoff.png").stat().st_size > 1000
    assert "| c4" in stdout and "choice: " in stdout


def test_rank_in_the_a40_population(served, tmp_path) -> None:
    out, _, _ = served
    pop = tmp_path / "a40"
    res = greenai_cli(
        "import", "table", str(a40_path()), "--format", "ml-energy", "--gpu", "NVIDIA A40",
        "--task", "chat", "-o", str(pop),
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    res = greenai_cli("rank", str(pop), str(out / "serve-c4.json"), "-o", str(tmp_path / "r.html"))
    assert res.returncode in (0, 3), res.stderr
    line = next(x for x in res.stdout.splitlines() if x.startswith("serve-c4"))
    # placed (with the boundary and provenance flags) or refused, saying why
    assert "percentile" in line or "not placed: " in res.stdout
    if "percentile" in line:
        assert "flag: " in res.stdout


def test_completions_api_without_streaming(server) -> None:
    from greenai.bench import serve

    srv, _ = server
    endpoint = serve.Endpoint(srv.url, api="completions", stream=False, max_tokens=6)
    prompts = serve.load_prompts(serve.default_prompts_path())
    run = serve.run_level(endpoint, prompts, requests=8, concurrency=2)
    assert len(run.done) == 8 and run.output_tokens == sum(r.output_tokens for r in run.done)
    assert all(1 <= r.output_tokens <= 6 for r in run.done)
    assert run.ttft_s()["p50"] is None  # not streamed: no first token to time
    assert run.measurement.units_done == run.output_tokens
