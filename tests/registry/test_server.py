"""The registry over HTTP: what it accepts, what it refuses and why, who may do what."""

from __future__ import annotations

import json
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from greenai import disclosure
from greenai.registry import client
from greenai.registry.server import Config, RateLimiter
from tests.registry.conftest import serving, variant
from tests.test_fuzz import json_values


@pytest.fixture
def registry(store, keys):
    """Yield (url, store, {name: token}) with lab-a and lab-b registered, a reader too."""
    tokens = {n: store.add_submitter(n, keys[n][1]) for n in ("lab-a", "lab-b")}
    tokens["reader"] = store.add_submitter("reader", keys["stranger"][1], role="read")
    with serving(store) as url:
        yield url, store, tokens


def _signed(base, keys, n, who="lab-a", **changes) -> bytes:
    return json.dumps(disclosure.sign(variant(base, n, **changes), keys[who][0]), indent=2).encode()


def test_a_signed_disclosure_is_stored_unchanged_and_indexed(registry, keys, base_doc):
    url, store, tokens = registry
    body = _signed(base_doc, keys, 1)
    answer = client.submit_bytes(url, body, tokens["lab-a"])
    assert answer.status == 201, answer.body
    sha = answer.body["sha256"]
    assert sha == json.loads(body)["integrity"]["sha256"]
    status, stored = client.request("GET", f"{url}/api/disclosures/{sha}")
    assert status == 200 and stored == body  # byte for byte, indentation included
    status, raw = client.request("GET", f"{url}/api/disclosures?task=text-generation")
    rows = json.loads(raw)["rows"]
    assert [r["sha256"] for r in rows] == [sha]
    assert rows[0]["verification"] == "verified" and rows[0]["submitter"] == "lab-a"
    again = client.submit_bytes(url, body, tokens["lab-a"])
    assert (again.status, again.body["state"]) == (200, "already stored")
    assert store.count() == 1


@pytest.mark.parametrize(
    ("make", "status", "reason"),
    [
        (lambda b, k: json.dumps(disclosure.seal(variant(b, 1))).encode(), 422, "not signed"),
        (lambda b, k: _signed(b, k, 1, who="stranger"), 422, "not the one registered"),
        (
            lambda b, k: _signed(b, k, 1).replace(b'"energy_j": ', b'"energy_j": 1', 1),
            422,
            "content hash differs",
        ),
        (lambda b, k: json.dumps(variant(b, 1)).encode(), 422, "no integrity block"),
        (lambda b, k: b'{"a": 1, "a": 2}', 400, "appears twice"),
        (lambda b, k: b'{"energy_j": NaN}', 400, "non-finite"),
        (lambda b, k: b"[1, 2]", 400, "expected a disclosure"),
        (lambda b, k: b"\xff\xfe", 400, "not UTF-8"),
        (lambda b, k: b"[" * 100_000, 400, "nested too deeply"),
        (
            lambda b, k: b'{"kind": "greenai.measurement", "schema_version": "1.0"}',
            422,
            "problem(s)",
        ),
        (lambda b, k: b'"\\ud800"', 400, "surrogate"),
    ],
)
def test_bad_uploads_are_refused_with_a_reason(registry, keys, base_doc, make, status, reason):
    url, store, tokens = registry
    answer = client.submit_bytes(url, make(base_doc, keys), tokens["lab-a"])
    assert answer.status == status, answer.body
    assert reason in answer.reason
    assert store.count() == 0


def test_tokens_and_roles(registry, keys, base_doc):
    url, store, tokens = registry
    body = _signed(base_doc, keys, 1)
    assert client.submit_bytes(url, body, "").status == 401
    assert "not one this registry issued" in client.submit_bytes(url, body, "gai_x").reason
    assert client.submit_bytes(url, body, tokens["reader"]).status == 403
    # lab-b cannot store lab-a's document as its own, nor delete it
    assert client.submit_bytes(url, body, tokens["lab-a"]).status == 201
    assert client.submit_bytes(url, body, tokens["lab-b"]).status == 422  # not lab-b's key
    sha = json.loads(body)["integrity"]["sha256"]
    status, _ = client.request("DELETE", f"{url}/api/disclosures/{sha}", token=tokens["lab-b"])
    assert status == 403 and store.count() == 1
    status, _ = client.request("DELETE", f"{url}/api/disclosures/{sha}", token=tokens["lab-a"])
    assert status == 200 and store.count() == 0
    status, raw = client.request("GET", f"{url}/api/audit")
    log = json.loads(raw)
    assert [e["action"] for e in log][:4] == ["delete", "refused", "refused", "submit"]
    # the refused upload is logged with who sent it, the hash it claims and why
    upload = log[2]
    assert upload["submitter"] == "lab-b" and upload["sha256"] == sha
    assert upload["detail"].startswith("HTTP 422: upload: hash-only: signed with a key")


def test_reading_can_be_gated_by_token(store, keys):
    token = store.add_submitter("lab-a", keys["lab-a"][1])
    with serving(store, Config(read_access="token")) as url:
        assert client.request("GET", f"{url}/api/disclosures")[0] == 401
        assert client.request("GET", f"{url}/")[0] == 401
        assert client.request("GET", f"{url}/api/disclosures", token=token)[0] == 200


def test_uploads_have_a_size_and_a_rate_limit(store, keys, base_doc):
    token = store.add_submitter("lab-a", keys["lab-a"][1])
    with serving(store, Config(max_upload_bytes=50_000, submissions_per_minute=3)) as url:
        big = client.submit_bytes(url, b" " * 60_000, token)
        assert big.status == 413 and "50,000 byte limit" in big.reason
        # every attempt counts, the oversized one too: two more are allowed, then 429
        answers = [client.submit_bytes(url, _signed(base_doc, keys, n), token) for n in range(2)]
        assert [a.status for a in answers] == [201, 201]
        limited = client.submit_bytes(url, _signed(base_doc, keys, 9), token)
        assert limited.status == 429 and "3 submissions a minute" in limited.reason


def test_the_rate_limiter_forgets_after_a_minute():
    now = [0.0]
    limiter = RateLimiter(2, clock=lambda: now[0])
    assert limiter.allow(1) is None and limiter.allow(1) is None
    assert limiter.allow(1) == pytest.approx(60.0)
    assert limiter.allow(2) is None  # per submitter
    now[0] = 60.5
    assert limiter.allow(1) is None


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=st.binary(max_size=300) | json_values.map(lambda v: json.dumps(v).encode()))
def test_hostile_uploads_never_crash_the_server(registry, body):
    url, store, tokens = registry
    answer = client.submit_bytes(url, body, tokens["lab-a"])
    assert 400 <= answer.status < 500, answer.body
    assert answer.reason
    assert client.request("GET", f"{url}/api/health")[0] == 200


def test_concurrent_submitters_lose_nothing_and_duplicate_nothing(registry, keys, base_doc):
    url, store, tokens = registry
    bodies = {
        w: [_signed(base_doc, keys, 100 * i + n, who=w) for n in range(15)]
        for i, w in enumerate(("lab-a", "lab-b"))
    }
    results: list[client.Answer] = []
    lock = threading.Lock()

    def send(who: str) -> None:
        for body in bodies[who] + bodies[who][:5]:  # five retries of the same content
            answer = client.submit_bytes(url, body, tokens[who])
            with lock:
                results.append(answer)

    threads = [threading.Thread(target=send, args=(w,)) for w in bodies for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(a.ok for a in results), [a.reason for a in results if not a.ok][:3]
    stored = [a for a in results if a.body["state"] == "stored"]
    assert len(stored) == 30 and store.count() == 30
    assert len({a.body["sha256"] for a in stored}) == 30


def test_rerating_under_a_draft_shows_its_grade_distribution(registry, keys, base_doc):
    from greenai.standard import load_standard

    url, store, tokens = registry
    for n in range(6):
        body = _signed(base_doc, keys, n, energy_scale=1.5**n)
        assert client.submit_bytes(url, body, tokens["lab-a"]).ok
    status, raw = client.request("GET", f"{url}/api/rerate")
    shipped = json.loads(raw)
    assert status == 200 and shipped["total"] == 6
    # the runs disclose an 8 B model: rated in the size class, none left as "unknown task"
    assert sum(shipped["classes"]["text-generation/small"]["grades"].values()) == 6
    assert shipped["unknown task"] == 0 and shipped["not re-indexed"] == 0
    # a draft whose text-generation reference is 100 times larger grades everything better
    toml = load_standard().to_toml()
    std = load_standard()
    ref = std.tasks["text-generation"].energy
    assert str(ref.value) in toml or f"{ref.value:g}" in toml
    status, raw = client.request("POST", f"{url}/api/rerate", toml.encode(), kind="text/plain")
    assert status == 200 and json.loads(raw)["classes"] == shipped["classes"]
    status, raw = client.request("POST", f"{url}/api/rerate", b"not = [toml", kind="text/plain")
    assert status == 422 and "uploaded standard" in json.loads(raw)["error"]


def test_export_is_a_population_file(registry, keys, base_doc, tmp_path):
    from greenai.population import load

    url, _, tokens = registry
    for n in range(3):
        assert client.submit_bytes(url, _signed(base_doc, keys, n), tokens["lab-a"]).ok
    assert client.export(url, tmp_path / "pop.jsonl") == 3
    results = load(tmp_path / "pop.jsonl")
    assert len(results) == 3 and not results.skipped
    assert all(disclosure.verify(d)[0] == "hash-only" for d in results.docs)  # still intact


def test_requests_reuse_pooled_connections(registry):
    url, store, _ = registry
    for _ in range(60):  # a thread per request: connections must not pile up
        assert client.request("GET", f"{url}/api/health")[0] == 200
    # a request can arrive before the previous thread has given its connection back, so a
    # few more than one; without the pool there would be one per request (60)
    assert len(store._connections) <= 10


def test_the_leaderboard_escapes_what_submitters_wrote(registry, keys, base_doc):
    url, _, tokens = registry
    hostile = "<script>alert(1)</script>"
    body = _signed(base_doc, keys, 1, model=hostile, site={**base_doc["site"], "name": hostile})
    assert client.submit_bytes(url, body, tokens["lab-a"]).ok
    status, page = client.request("GET", f"{url}/?site={hostile}")
    text = page.decode()
    assert status == 200 and hostile not in text
    assert text.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 3  # model, site, filter box
    assert text.count('<tr class="entry"') == 1


def test_bad_queries_are_400_and_an_empty_registry_rerates(registry):
    url, _, _ = registry
    for query in (
        "/api/disclosures?limit=lots",
        "/api/disclosures?offset=-1",
        "/api/audit?limit=x",
    ):
        status, raw = client.request("GET", url + query)
        assert status == 400 and "whole number" in json.loads(raw)["error"]
    status, raw = client.request("GET", f"{url}/api/disclosures?colour=red")
    assert status == 200  # unknown parameters are not filters: ignored
    status, raw = client.request("POST", f"{url}/api/rerate", b"\xff", kind="text/plain")
    assert status == 400 and "UTF-8" in json.loads(raw)["error"]
    status, raw = client.request("GET", f"{url}/api/rerate?standard=../../etc/passwd")
    assert status == 404 and "not shipped" in json.loads(raw)["error"]
    status, raw = client.request("GET", f"{url}/api/rerate")
    assert status == 200 and json.loads(raw)["total"] == 0
    assert client.request("GET", f"{url}/nowhere")[0] == 404
    assert client.request("DELETE", f"{url}/api/disclosures/abc")[0] == 401
