"""greenai.bench.serve against a stand-in endpoint with known request timings and a known power
trace (tests/fakes ClockProbe): attribution within 1 %, failures, a server dying mid-run."""

from __future__ import annotations

import json
import math
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from greenai.bench import serve
from greenai.bench.serve import RequestRecord, Window
from greenai.meter import Meter
from tests.fakes.probes import ClockProbe

PROMPTS = serve.load_prompts(serve.default_prompts_path())


def power_w(t: float) -> float:
    """The stand-in GPU's power: smooth and far from constant, so weighting by time matters."""
    return 100.0 + 40.0 * math.sin(2 * math.pi * t / 5.0)


class StandIn:
    """An OpenAI-compatible stand-in: each request takes a known time and reports usage.

    Request k (in arrival order) lasts 0.30 + 0.05 * (k % 4) s and yields 8 + (k % 5) tokens;
    every `fail_every`-th answers HTTP 500; after `die_after` requests the server shuts down.
    The handler records its own start and end of every request (the truth).
    """

    def __init__(self, fail_every: int | None = None, die_after: int | None = None):
        self.fail_every, self.die_after = fail_every, die_after
        self.timings: list[tuple[float, float]] = []
        self.by_prompt: dict[str, tuple[float, float]] = {}  # prompt text -> (start, end)
        self.tokens: list[int] = []
        self._count = 0
        self._lock = threading.Lock()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            server_version, sys_version = "stand-in/1.0", ""

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                body = json.dumps({"data": [{"id": "stand-in-model"}]}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                start = time.monotonic()
                doc = json.loads(self.rfile.read(int(self.headers["content-length"])))
                with stand_in._lock:
                    k = stand_in._count
                    stand_in._count += 1
                if stand_in.die_after is not None and k == stand_in.die_after:
                    threading.Thread(target=stand_in.stop, daemon=True).start()
                if stand_in.fail_every and k % stand_in.fail_every == stand_in.fail_every - 1:
                    self.send_error(500, "stand-in failure")
                    return
                tokens = 8 + k % 5
                time.sleep(0.30 + 0.05 * (k % 4))
                usage = {
                    "prompt_tokens": 5,
                    "completion_tokens": tokens,
                    "total_tokens": 5 + tokens,
                }
                self.send_response(200)
                if doc.get("stream"):
                    self.send_header("content-type", "text/event-stream")
                    self.end_headers()
                    for _ in range(tokens):
                        chunk = {"choices": [{"delta": {"content": "x"}, "index": 0}]}
                        self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    last = {"choices": [{"delta": {}, "index": 0}], "usage": usage}
                    self.wfile.write(f"data: {json.dumps(last)}\n\ndata: [DONE]\n\n".encode())
                else:
                    body = json.dumps(
                        {"choices": [{"message": {"content": "x" * tokens}}], "usage": usage}
                    ).encode()
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                self.wfile.flush()
                with stand_in._lock:
                    stand_in.timings.append((start, time.monotonic()))
                    stand_in.by_prompt[doc["messages"][-1]["content"]] = stand_in.timings[-1]
                    stand_in.tokens.append(tokens)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self._stopped = False

    def stop(self) -> None:
        if not self._stopped:
            self._stopped = True
            self.httpd.shutdown()
            self.httpd.server_close()


@pytest.fixture
def stand_in(request: pytest.FixtureRequest):
    server = StandIn(**getattr(request, "param", {}))
    yield server
    server.stop()


def fake_meter() -> Meter:
    probe = ClockProbe("fake:gpu0", time.monotonic, power_w, domain="gpu")
    return Meter(task="chat", unit="token", probes=[probe], interval_s=0.02, handle_signals=False)


def integral(f, a: float, b: float, steps: int = 4000) -> float:
    """Midpoint rule, fine enough to be the truth here."""
    h = (b - a) / steps
    return h * math.fsum(f(a + (k + 0.5) * h) for k in range(steps))


def test_energy_per_request_matches_the_truth_for_both_methods(stand_in: StandIn) -> None:
    endpoint = serve.Endpoint(stand_in.url, stream=True, max_tokens=16)
    run = serve.run_level(
        endpoint, PROMPTS, requests=24, concurrency=4, meter=fake_meter(), model="stand-in-model",
        trace_interval_s=0.02,
    )  # fmt: skip
    att = run.attribution
    assert att is not None and len(run.done) == 24 and not run.failed
    assert run.output_tokens == sum(stand_in.tokens)  # usage fields, summed exactly
    assert run.measurement.units_done == sum(stand_in.tokens)
    t0, t1 = att.window.start_s, att.window.end_s
    assert t1 - t0 > 1.5  # ramp-up and drain left out, most of the run kept
    truth_window_j = integral(power_w, t0, t1)
    assert att.energy_j == pytest.approx(truth_window_j, rel=0.01)
    # The request timings are known: the stand-in held each request for its scheduled time
    # (its own clock), and the driver saw each one start before and end after it did.
    text = {p["id"]: p["messages"][-1]["content"] for p in PROMPTS.prompts}
    for r in run.done:
        s, e = stand_in.by_prompt[text[r.prompt_id]]
        assert r.start_s <= s and e <= r.end_s, (r, s, e)
        assert r.latency_s - (e - s) < 0.25, (r, s, e)  # loose: a loaded CI machine
    # The truth: the analytic power over those timings, integrated independently.
    spans = [(r.start_s, r.end_s) for r in run.records]

    def in_flight(t: float) -> int:
        return sum(1 for s, e in spans if s <= t < e)

    frac = sum(max(0.0, min(e, t1) - max(s, t0)) / (e - s) for s, e in spans)
    assert att.simple_per_request_j == pytest.approx(truth_window_j / frac, rel=0.01)
    tokens = sum(
        r.output_tokens * max(0.0, min(r.end_s, t1) - max(r.start_s, t0)) / r.latency_s
        for r in run.done
    )
    assert att.simple_per_token_j == pytest.approx(truth_window_j / tokens, rel=0.01)
    inside = [r for r in run.done if r.start_s >= t0 and r.end_s <= t1]
    shares = [
        integral(lambda t: power_w(t) / max(in_flight(t), 1), r.start_s, r.end_s, 800)
        for r in inside
    ]
    assert att.per_request.n == len(inside) >= 10
    assert att.per_request.mean == pytest.approx(math.fsum(shares) / len(shares), rel=0.01)
    per_token = math.fsum(shares) / sum(r.output_tokens for r in inside)
    assert att.per_token.mean == pytest.approx(per_token, rel=0.01)
    assert att.per_token.ci95_low < per_token < att.per_token.ci95_high
    assert att.per_request.ci95_low < att.per_request.mean < att.per_request.ci95_high
    assert run.ttft_s()["p50"] is not None and run.latency_s()["p90"] >= 0.30
    serving = run.measurement.extra["serving"]
    assert serving["attribution"]["primary"] == "overlap"
    assert serving["requests"]["failed"] == 0


def test_steady_window_leaves_out_ramp_up_and_drain() -> None:
    recs = [
        RequestRecord(i, "p", s, e, True, output_tokens=1)
        for i, (s, e) in enumerate([(0, 4), (1, 3), (3, 6), (4, 5), (5, 7)])
    ]
    w = serve.steady_window(recs, concurrency=2)
    assert (w.start_s, w.end_s) == (1, 6)  # 2 in flight from t=1; last sent at 5, next end 6
    assert serve.steady_window(recs, concurrency=3).rule.startswith("whole run")
    poisson = serve.steady_window(
        [RequestRecord(i, "p", float(i), i + 0.5, True) for i in range(20)], None
    )
    assert (poisson.start_s, poisson.end_s) == (2.0, 17.0)


def test_attribute_splits_power_among_requests_in_flight() -> None:
    # 10 W constant; request 0 alone on [0, 1], with request 1 on [1, 2], request 1 alone [2, 3]
    recs = [
        RequestRecord(0, "a", 0.0, 2.0, True, output_tokens=10),
        RequestRecord(1, "b", 1.0, 3.0, True, output_tokens=20),
    ]
    att = serve.attribute([0.0, 3.0], [0.0, 30.0], recs, Window(0.0, 3.0, "test"))
    assert att.shares_j == {0: pytest.approx(15.0), 1: pytest.approx(15.0)}
    assert att.simple_per_request_j == pytest.approx(15.0)
    assert att.simple_per_token_j == pytest.approx(1.0)
    assert att.per_token.mean == pytest.approx(30.0 / 30)  # shares' sum / tokens' sum
    net = serve.attribute([0.0, 3.0], [0.0, 30.0], recs, Window(0.0, 3.0, "t"), idle_power_w=4.0)
    assert net.energy_j == pytest.approx(18.0) and net.shares_j[0] == pytest.approx(9.0)


@pytest.mark.parametrize("stand_in", [{"fail_every": 10}], indirect=True)
def test_failed_requests_are_counted_and_disclosed(stand_in: StandIn) -> None:
    endpoint = serve.Endpoint(stand_in.url, stream=False)
    run = serve.run_level(endpoint, PROMPTS, requests=20, concurrency=4, meter=fake_meter())
    assert (len(run.done), len(run.failed)) == (18, 2)
    assert run.failure_reasons() == {"HTTP 500": 2}
    m = run.measurement
    assert m.status == "ok" and m.energy_j > 0 and m.units_done == sum(stand_in.tokens)
    serving = m.to_dict()["serving"]
    assert serving["requests"]["failed"] == 2
    assert serving["what_happened"][0] == "2 of 20 requests failed (HTTP 500: 2)"
    assert serving["ttft_s"] is None  # not streaming: no first token to time
    assert run.attribution.failed_j > 0  # failed requests held the server too


@pytest.mark.parametrize("stand_in", [{"die_after": 9}], indirect=True)
def test_a_server_that_dies_mid_run_keeps_the_metered_energy(stand_in: StandIn) -> None:
    endpoint = serve.Endpoint(stand_in.url, stream=True, timeout_s=5)
    run = serve.run_level(endpoint, PROMPTS, requests=60, concurrency=2, meter=fake_meter())
    assert run.aborted and "consecutive requests got no answer" in run.aborted
    assert 1 <= len(run.done) <= 10 and run.not_sent > 0
    m = run.measurement
    assert m.status == "interrupted" and m.energy_j > 50  # ~100 W for the seconds it ran
    doc = m.to_dict()
    assert doc["serving"]["requests"]["not_sent"] == run.not_sent
    assert doc["serving"]["what_happened"][-1] == "the energy metered until then is kept"
    from greenai.disclosure import validate

    validate(doc)


def test_run_serve_writes_disclosures_summary_and_tradeoff(stand_in: StandIn, tmp_path) -> None:
    endpoint = serve.Endpoint(stand_in.url, stream=True)
    result = serve.run_serve(
        endpoint,
        PROMPTS,
        requests=8,
        concurrency=(1, 2),
        output=tmp_path,
        meter_factory=fake_meter,
        parameters=1234,
        software="stand-in 1.0",
        slo_p90_s=0.45,
    )
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["kind"] == "greenai.serve-summary"
    assert [r["level"] for r in summary["levels"]] == ["c1", "c2"]
    assert summary["server"]["software"]["server_header"].startswith("stand-in/1.0")
    assert summary["server"]["model_id"] == "stand-in-model"
    assert summary["prompt_set"]["sha256"] == PROMPTS.sha256
    assert set(summary["pareto_front"]) <= {"c1", "c2"} and summary["pareto_front"]
    from greenai.report.serve import table_text, write_tradeoff

    page, png = write_tradeoff(summary, tmp_path / "tradeoff.html")
    assert png.stat().st_size > 1000 and "<svg" in page.read_text()
    text = table_text(summary)
    assert text.count("\n| c") == 2 and "prompt set prompts-v1 sha256 " + PROMPTS.sha256 in text
    doc = json.loads((tmp_path / "serve-c2.json").read_text())
    assert doc["task"] == "chat" and doc["unit"] == "token"
    assert doc["serving"]["server"]["parameters"] == 1234
    assert doc["serving"]["load"]["concurrency"] == 2
    assert len(result.levels) == 2
    from greenai.report.text import summary as text_summary

    line = text_summary(result.levels[1].measurement).splitlines()[5]
    assert line.startswith("serving     concurrency 2: 8 done, 0 failed; ") and "/token" in line
    import greenai

    pop = greenai.population.load(tmp_path)  # the summary and request logs are not results
    assert len(pop) == 2 and pop.skipped == ()
    log = (tmp_path / "serve-c2.requests.csv").read_text().splitlines()
    assert len(log) == 9 and log[0].startswith("index,prompt_id,start_s,end_s,ok")


def test_pareto_and_choice() -> None:
    def row(name: str, per: float, p90: float) -> dict:
        return {"level": name, "energy_per_token_j": {"mean": per}, "latency_s": {"p90": p90}}

    rows = [row("c1", 3.0, 0.5), row("c4", 1.0, 1.5), row("c8", 1.2, 3.0), row("c16", 0.8, 4.0)]
    assert serve.pareto(rows) == ["c1", "c4", "c16"]
    assert serve.choose(rows, 2.0)["level"] == "c4"
    assert serve.choose(rows, None)["level"] == "c16"
    assert serve.choose(rows, 0.1)["level"] is None


def test_prompt_set_errors_name_the_line(tmp_path) -> None:
    bad = tmp_path / "p.jsonl"
    bad.write_text('{"id": "a", "messages": [{"role": "user", "content": "hi"}]}\n{"id": 2}\n')
    with pytest.raises(serve.ServeError, match=r"p.jsonl:2: field 'messages'"):
        serve.load_prompts(bad)


def test_shipped_prompt_set_hash_is_the_recorded_one() -> None:
    from pathlib import Path

    recorded = (Path(serve.default_prompts_path()).with_suffix(".sha256")).read_text().split()[0]
    assert PROMPTS.sha256 == recorded and len(PROMPTS.prompts) == 40


def test_poisson_arrivals(stand_in: StandIn) -> None:
    endpoint = serve.Endpoint(stand_in.url, stream=True)
    run = serve.run_level(endpoint, PROMPTS, requests=20, rate_per_s=10.0, meter=fake_meter())
    assert len(run.done) == 20 and run.label == "rate10"
    att = run.attribution
    assert att.window.rule.startswith("arrivals 3 to 18 of 20")
    assert att.per_request.n >= 1 and att.simple_per_request_j > 0
    assert run.measurement.extra["serving"]["load"]["mode"] == "Poisson arrivals"


def test_cli_refuses_an_endpoint_nobody_answers(tmp_path) -> None:
    from tests.bench.tiny_llama import free_port
    from tests.cli import greenai_cli

    url = f"http://127.0.0.1:{free_port()}/v1"
    res = greenai_cli("bench", "serve", "--endpoint", url, "-o", str(tmp_path / "o"))
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0 and "no server answers" in res.stderr
    res = greenai_cli("bench", "serve", "--endpoint", "ftp://x", "-o", str(tmp_path / "o"))
    assert res.returncode == 2 and "give an http(s) URL" in res.stderr


def test_idle_baseline_gives_net_energy(stand_in: StandIn) -> None:
    # 160 W while serving, against an idle baseline of 60 W measured before: net is 100 W
    from greenai.measurement import IdleBaseline

    probe = ClockProbe("fake:gpu0", time.monotonic, lambda t: 160.0, domain="gpu")
    idle = IdleBaseline(1.0, 60.0, {"gpu": 60.0}, 0.0, {})
    meter = Meter(
        task="chat", unit="token", probes=[probe], interval_s=0.02, idle=idle,
        handle_signals=False,
    )  # fmt: skip
    endpoint = serve.Endpoint(stand_in.url, stream=False)
    run = serve.run_level(endpoint, PROMPTS, requests=8, concurrency=2, meter=meter, warmup=2)
    assert stand_in._count == 10 and len(run.records) == 8  # 2 warm-up requests, not metered
    assert run.measurement.extra["serving"]["load"]["warmup_requests"] == 2
    att = run.attribution
    assert att.net and att.energy_j == pytest.approx(100.0 * att.window.duration_s, rel=0.01)
    assert att.mean_power_w == pytest.approx(160.0, rel=0.01)
    assert sum(att.shares_j.values()) == pytest.approx(att.energy_j, rel=0.01)
    assert run.measurement.extra["serving"]["attribution"]["net_of_idle"] is True


def test_ratio_summary_interval() -> None:
    from hypothesis import given
    from hypothesis import strategies as st

    # equal energy per token in every request: no spread, the interval is the point
    s = serve.ratio_summary([2.0, 4.0, 6.0], [1.0, 2.0, 3.0])
    assert (s.mean, s.ci95_low, s.ci95_high) == pytest.approx((2.0, 2.0, 2.0))
    assert serve.ratio_summary([], []) is None and serve.ratio_summary([1.0], [0.0]) is None

    @given(st.lists(st.tuples(st.floats(0.1, 100), st.integers(1, 500)), min_size=2, max_size=40))
    def contains(pairs):
        e, t = [p[0] for p in pairs], [float(p[1]) for p in pairs]
        s = serve.ratio_summary(e, t)
        assert 0 < s.ci95_low <= s.mean <= s.ci95_high
        assert s.mean == pytest.approx(sum(e) / sum(t))

    contains()


@pytest.mark.parametrize("stand_in", [{"die_after": 5}], indirect=True)
def test_later_levels_are_not_run_once_the_server_is_gone(stand_in: StandIn, tmp_path) -> None:
    endpoint = serve.Endpoint(stand_in.url, stream=False, timeout_s=5)
    result = serve.run_serve(
        endpoint, PROMPTS, requests=30, concurrency=(2, 4), output=tmp_path,
        meter_factory=fake_meter,
    )  # fmt: skip
    summary = result.summary
    assert [r["level"] for r in summary["levels"]] == ["c2"]
    assert summary["levels"][0]["status"] == "interrupted"
    assert summary["levels_not_run"] == ["c4"]
    from greenai.report.serve import notes

    assert "c4: not run (the server stopped answering)" in notes(summary)
    doc = json.loads((tmp_path / "serve-c2.json").read_text())
    assert doc["status"] == "interrupted" and doc["energy_j"] > 0


def test_notes_say_how_much_energy_no_request_held() -> None:
    from greenai.report.serve import notes

    level = {
        "level": "rate1", "failed": 0, "not_sent": 0, "status": "ok", "net_of_idle": False,
        "unattributed_j": 88.0, "window_energy_j": 100.0, "provenance": "measured",
        "domains": ["gpu"],
    }  # fmt: skip
    summary = {
        "server": {"model_id": "m", "parameters": None, "software": {"server_header": "x"}},
        "prompt_set": {"id": "p", "sha256": "0" * 64},
        "steady_window": "rule",
        "choice": {"level": None, "reason": "no level"},
        "levels": [level],
    }
    text = notes(summary)
    assert text[0] == "energy: measured (gpu, greenai meter)"
    assert any(line.startswith("rate1: 88% of the window") for line in text)
    level["unattributed_j"] = 1.0
    assert not any("no request in flight" in line for line in notes(summary))


def test_a_second_serve_run_into_one_folder_is_refused_while_the_first_holds_it(
    stand_in: StandIn, tmp_path
) -> None:
    from greenai.errors import DisclosureError
    from greenai.journal import OutputClaim

    endpoint = serve.Endpoint(stand_in.url, stream=True)
    # OutputClaim is what a live `greenai bench serve -o tmp_path` holds
    with OutputClaim(tmp_path), pytest.raises(DisclosureError, match="another live greenai run"):
        serve.run_serve(
            endpoint,
            PROMPTS,
            requests=2,
            concurrency=(1,),
            output=tmp_path,
            meter_factory=fake_meter,
        )
    assert not list(tmp_path.glob("serve-*"))  # refused before any level ran
    serve.run_serve(
        endpoint, PROMPTS, requests=2, concurrency=(1,), output=tmp_path, meter_factory=fake_meter
    )
    assert (tmp_path / "serve-c1.json").exists() and not tmp_path.with_name(
        tmp_path.name + ".lock"
    ).exists()
