"""Served inference: drive an OpenAI-compatible endpoint and meter energy per request and token.

    prompts = load_prompts("benchmarks/serve/prompts-v1.jsonl")
    target = Endpoint("http://127.0.0.1:8000/v1", api="chat", stream=True, max_tokens=64)
    level = run_level(target, prompts, concurrency=4, requests=40)
    level.attribution.overlap.per_request.mean, level.latency_s["p90"]

Each level (a concurrency, or a Poisson arrival rate) runs under one Meter; a thread reads the
meter's cumulative energy every `trace_interval_s`, so the energy of any stretch of the run is
known (linear between readings). The steady-state window leaves out the ramp-up (workers
starting) and the drain (workers running out of prompts), as the ML.ENERGY benchmark measures
only while the server holds its full load:

- closed loop, concurrency C: from the instant C requests are first in flight to the first
  completion after the last request was sent (when in-flight falls below C for good);
- Poisson arrivals: from the arrival of request k to the arrival of request n - k, k = n // 10.

Before a level's meter starts, `warmup` requests are sent and not counted (the first requests
pay for lazy loading, caches and compilation).

Energy of the window is attributed to requests two ways (both disclosed, overlap primary):

- overlap share: at each instant the power is split equally among the requests in flight, so
  request i gets the integral over its time in the window of P(t) / n(t);
- total / requests: the window's energy over the requests it holds, each counted by the
  fraction of its duration inside the window (tokens likewise).

Pure functions (steady_window, attribute, percentile) carry the maths; run_level does the I/O.
"""

from __future__ import annotations

import bisect
import hashlib
import http.client
import json
import math
import os
import queue
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from greenai.bench.stats import Summary, summarise
from greenai.errors import GreenAIError

DEFAULT_PROMPTS = "prompts-v1.jsonl"
TRACE_INTERVAL_S = 0.05
ABORT_AFTER_FAILURES = 10  # consecutive connection failures: the server is gone, stop sending
PRIMARY = "overlap"
DOCUMENT_KIND = "greenai.serve-summary"


class ServeError(GreenAIError):
    """The prompt set, the endpoint or the options cannot be used."""


# --------------------------------------------------------------------- prompt set
@dataclass(frozen=True)
class PromptSet:
    """Prompts (chat messages), the set's id and the sha256 of its file."""

    id: str
    sha256: str
    path: str
    prompts: tuple[dict[str, Any], ...]


def load_prompts(path: str | os.PathLike[str]) -> PromptSet:
    """Return the prompt set in a JSONL file: one {"id", "messages"} or {"id", "prompt"} a line."""
    from greenai import jsonio

    file = Path(path)
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise ServeError(f"{file}: cannot read the prompt set ({exc.strerror or exc})") from exc
    prompts = []
    for n, line in enumerate(data.decode("utf-8", errors="strict").splitlines(), 1):
        if not line.strip():
            continue
        item = jsonio.loads(line, f"{file}:{n}")
        if not isinstance(item, dict):
            raise ServeError(f"{file}:{n}: a prompt is a JSON object, got {type(item).__name__}")
        messages = item.get("messages")
        if messages is None and isinstance(item.get("prompt"), str):
            messages = [{"role": "user", "content": item["prompt"]}]
        if not (
            isinstance(messages, list)
            and messages
            and all(isinstance(m, dict) and isinstance(m.get("content"), str) for m in messages)
        ):
            raise ServeError(
                f"{file}:{n}: field 'messages' must be a non-empty list of "
                "{'role', 'content'} objects (or give 'prompt' as a string)"
            )
        prompts.append({"id": str(item.get("id", n)), "messages": messages})
    if not prompts:
        raise ServeError(f"{file}: the prompt set has no prompt")
    return PromptSet(file.stem, hashlib.sha256(data).hexdigest(), str(file), tuple(prompts))


def default_prompts_path() -> Path:
    """Return the path of the prompt set shipped with greenai (benchmarks/serve/)."""
    from importlib import resources

    packaged = Path(str(resources.files("greenai"))) / "_serve" / DEFAULT_PROMPTS
    if packaged.is_file():
        return packaged
    return Path(__file__).resolve().parents[2] / "benchmarks" / "serve" / DEFAULT_PROMPTS


# --------------------------------------------------------------------- the endpoint
@dataclass(frozen=True)
class Endpoint:
    """An OpenAI-compatible endpoint: base URL (…/v1), API, streaming, generation length."""

    base_url: str
    api: str = "chat"  # "chat": /chat/completions; "completions": /completions
    stream: bool = True
    max_tokens: int = 64
    model: str | None = None  # None: the first id of GET /models
    timeout_s: float = 120.0
    temperature: float | None = None

    def __post_init__(self) -> None:
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ServeError(
                f"--endpoint {self.base_url!r}: give an http(s) URL such as http://127.0.0.1:8000/v1"
            )
        if self.api not in ("chat", "completions"):
            raise ServeError(f"--api {self.api!r}: choose chat or completions")
        if self.max_tokens < 1:
            raise ServeError("--max-tokens must be at least 1")

    @property
    def path(self) -> str:
        """Return the request path of the API (…/v1/chat/completions or …/v1/completions)."""
        base = urlsplit(self.base_url).path.rstrip("/")
        return f"{base}/chat/completions" if self.api == "chat" else f"{base}/completions"

    def connection(self) -> http.client.HTTPConnection:
        """Return a new (keep-alive) connection to the server."""
        parts = urlsplit(self.base_url)
        cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        return cls(parts.hostname, parts.port, timeout=self.timeout_s)

    def body(self, prompt: Mapping[str, Any], model: str | None) -> bytes:
        """Return the JSON request body for one prompt."""
        doc: dict[str, Any] = {"max_tokens": self.max_tokens, "stream": self.stream}
        if model:
            doc["model"] = model
        if self.api == "chat":
            doc["messages"] = prompt["messages"]
        else:
            doc["prompt"] = "\n".join(m["content"] for m in prompt["messages"])
        if self.stream:
            doc["stream_options"] = {"include_usage": True}
        if self.temperature is not None:
            doc["temperature"] = self.temperature
        return json.dumps(doc).encode()


def server_info(endpoint: Endpoint) -> dict[str, Any]:
    """Return what the server says of itself: model ids (GET /models), Server header, /version."""
    info: dict[str, Any] = {"models": [], "server_header": None, "version": None, "errors": []}
    parts = urlsplit(endpoint.base_url)
    base = parts.path.rstrip("/")
    root = base.rsplit("/", 1)[0] if base.endswith("/v1") else base
    answered = False
    for path, key in ((f"{base}/models", "models"), (f"{root}/version", "version")):
        conn = endpoint.connection()
        try:
            try:
                conn.request("GET", path, headers={"accept": "application/json"})
                resp = conn.getresponse()
            except OSError as exc:
                if not answered:
                    raise ServeError(
                        f"--endpoint {endpoint.base_url}: no server answers "
                        f"({exc.strerror or exc}); start it or check the URL"
                    ) from exc
                raise
            answered = True
            payload = resp.read()
            info["server_header"] = info["server_header"] or resp.getheader("server")
            if resp.status != 200:
                if key == "models":
                    info["errors"].append(f"GET {path}: HTTP {resp.status}")
                continue
            doc = json.loads(payload)
            if key == "models":
                data = doc.get("data") if isinstance(doc, dict) else None
                info["models"] = [m.get("id") for m in data or [] if isinstance(m, dict)]
            elif isinstance(doc, dict) and doc.get("version") is not None:
                info["version"] = str(doc["version"])
        except (OSError, http.client.HTTPException, ValueError) as exc:
            info["errors"].append(f"GET {path}: {exc}")
        finally:
            conn.close()
    return info


# --------------------------------------------------------------------- one request
@dataclass(frozen=True)
class RequestRecord:
    """One request: times on the meter's clock (s), outcome and token counts from `usage`."""

    index: int
    prompt_id: str
    start_s: float
    end_s: float
    ok: bool
    first_token_s: float | None = None
    status: int | None = None  # HTTP status, None when no response came
    error: str | None = None
    prompt_tokens: int | None = None
    output_tokens: int | None = None  # usage.completion_tokens as the server reported it
    stream_chunks: int = 0  # content chunks seen when streaming (a cross-check, not a count)

    @property
    def latency_s(self) -> float:
        """Return the time from sending the request to its last byte, s."""
        return self.end_s - self.start_s

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form (times in s on the meter's monotonic clock, the clock of the
        disclosure's serving.attribution.window)."""
        return {
            "index": self.index,
            "prompt_id": self.prompt_id,
            "start_s": self.start_s,
            "first_token_s": self.first_token_s,
            "end_s": self.end_s,
            "ok": self.ok,
            "status": self.status,
            "error": self.error,
            "prompt_tokens": self.prompt_tokens,
            "output_tokens": self.output_tokens,
            "stream_chunks": self.stream_chunks,
        }


def _usage(doc: Any) -> tuple[int | None, int | None]:
    usage = doc.get("usage") if isinstance(doc, dict) else None
    if not isinstance(usage, dict):
        return None, None
    prompt, out = usage.get("prompt_tokens"), usage.get("completion_tokens")
    return (
        prompt if isinstance(prompt, int) else None,
        out if isinstance(out, int) else None,
    )


def _content(doc: Any, api: str) -> str:
    choices = doc.get("choices") if isinstance(doc, dict) else None
    if not choices or not isinstance(choices[0], dict):
        return ""
    first = choices[0]
    if api == "chat":
        delta = first.get("delta") or first.get("message") or {}
        return delta.get("content") or "" if isinstance(delta, dict) else ""
    return first.get("text") or ""


def send(
    endpoint: Endpoint,
    conn: http.client.HTTPConnection,
    prompt: Mapping[str, Any],
    index: int,
    model: str | None,
    clock: Callable[[], float],
) -> tuple[RequestRecord, bool]:
    """Send one request on conn; return its record and whether the connection is still usable."""
    start = clock()
    first: float | None = None
    chunks = 0
    status = None

    def record(ok: bool, error: str | None = None, **tokens: Any) -> RequestRecord:
        return RequestRecord(
            index, prompt["id"], start, clock(), ok, first, status, error, stream_chunks=chunks,
            **tokens,
        )  # fmt: skip

    try:
        conn.request(
            "POST",
            endpoint.path,
            body=endpoint.body(prompt, model),
            headers={"content-type": "application/json", "accept": "application/json"},
        )
        resp = conn.getresponse()
        status = resp.status
        if status != 200:
            detail = resp.read()[:200].decode("utf-8", "replace").strip()
            return record(False, f"HTTP {status}: {detail}" if detail else f"HTTP {status}"), (
                not resp.will_close
            )
        prompt_tokens = output_tokens = None
        if endpoint.stream:
            for raw in iter(resp.readline, b""):
                line = raw.strip()
                if not line.startswith(b"data:"):
                    continue
                data = line[5:].strip()
                if data == b"[DONE]":
                    break
                doc = json.loads(data)
                if _content(doc, endpoint.api):
                    chunks += 1
                    if first is None:
                        first = clock()
                p, o = _usage(doc)
                if o is not None:
                    prompt_tokens, output_tokens = p, o
            resp.read()
        else:
            prompt_tokens, output_tokens = _usage(json.loads(resp.read()))
        if output_tokens is None:
            why = "the response has no usage.completion_tokens: its tokens cannot be counted"
            return record(False, why, prompt_tokens=prompt_tokens), True
        rec = record(True, prompt_tokens=prompt_tokens, output_tokens=output_tokens)
        return rec, not resp.will_close
    except (OSError, http.client.HTTPException, ValueError) as exc:
        return record(False, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__), (
            False
        )


# --------------------------------------------------------------------- pure maths
def percentile(values: Sequence[float], q: float) -> float | None:
    """Return the q-th percentile (0-100) by linear interpolation (numpy's default), or None."""
    if not values:
        return None
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


@dataclass(frozen=True)
class Window:
    """The steady-state window (meter clock, s) and how it was chosen."""

    start_s: float
    end_s: float
    rule: str

    @property
    def duration_s(self) -> float:
        """Return the window's length, s."""
        return self.end_s - self.start_s


def steady_window(
    records: Sequence[RequestRecord], concurrency: int | None = None, trim: float = 0.1
) -> Window:
    """Return the steady window of a level's requests (see the module docstring for the rules).

    A level that never held `concurrency` requests at once (fewer requests than workers, a
    server that failed at once) gets the whole run, and the rule says so.
    """
    if not records:
        raise ServeError("no request was sent: no window")
    starts = sorted(r.start_s for r in records)
    ends = sorted(r.end_s for r in records)
    whole = Window(starts[0], max(ends), "whole run")
    if concurrency is None:
        k = math.floor(len(starts) * trim + 1e-9)
        if k < 1 or len(starts) - k - 1 <= k:
            return Window(whole.start_s, whole.end_s, "whole run (too few requests to trim)")
        return Window(
            starts[k],
            starts[len(starts) - k - 1],
            f"arrivals {k + 1} to {len(starts) - k} of {len(starts)} (first and last "
            f"{trim:.0%} of arrivals left out)",
        )
    events = sorted([(s, 1) for s in starts] + [(e, -1) for e in ends])
    in_flight, t0 = 0, None
    for t, step in events:
        in_flight += step
        if in_flight >= concurrency and t0 is None:
            t0 = t
    if t0 is None:
        return Window(
            whole.start_s, whole.end_s, f"whole run (never {concurrency} requests in flight)"
        )
    last_start = starts[-1]
    i = bisect.bisect_right(ends, last_start)
    t1 = ends[i] if i < len(ends) else ends[-1]
    if t1 <= t0:
        return Window(whole.start_s, whole.end_s, "whole run (no steady stretch)")
    return Window(
        t0,
        t1,
        f"from the moment {concurrency} requests were first in flight to the first completion "
        "after the last request was sent (ramp-up and drain left out)",
    )


@dataclass(frozen=True)
class Attribution:
    """Energy of the steady window and its share per request, by both methods (J)."""

    window: Window
    energy_j: float  # the window's energy (net of the idle baseline when one was measured)
    net: bool
    requests_in_window: float  # ok requests, each counted by its fraction inside the window
    tokens_in_window: float  # output tokens likewise
    unattributed_j: float  # window energy while no request was in flight
    failed_j: float  # overlap share of failed requests
    shares_j: dict[int, float]  # request index -> overlap share (J), every request touching it
    per_request: Summary | None  # overlap share of ok requests wholly inside the window
    per_token: Summary | None  # their shares' sum / their output tokens' sum
    simple_per_request_j: float | None
    simple_per_token_j: float | None
    mean_power_w: float

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {
            "window": {
                "start_s": self.window.start_s,
                "end_s": self.window.end_s,
                "duration_s": self.window.duration_s,
                "rule": self.window.rule,
            },
            "energy_j": self.energy_j,
            "net_of_idle": self.net,
            "mean_power_w": self.mean_power_w,
            "requests_in_window": self.requests_in_window,
            "output_tokens_in_window": self.tokens_in_window,
            "unattributed_j": self.unattributed_j,
            "failed_requests_j": self.failed_j,
            "primary": PRIMARY,
            "overlap": {
                "method": "time-overlap share: at each instant the power is split equally "
                "among the requests in flight; over ok requests wholly inside the window: "
                "per request the mean share, per token the shares' sum / their tokens' sum",
                "per_request_j": self.per_request.to_dict() if self.per_request else None,
                "per_output_token_j": self.per_token.to_dict() if self.per_token else None,
            },
            "simple": {
                "method": "window energy / requests in the window (each by the fraction of "
                "its duration inside it); per token likewise",
                "per_request_j": self.simple_per_request_j,
                "per_output_token_j": self.simple_per_token_j,
            },
        }


RATIO_LOG_T = "log-t ratio (delta method)"


def ratio_summary(energy_j: Sequence[float], tokens: Sequence[float]) -> Summary | None:
    """Return energy per token as sum(energy) / sum(tokens) over requests, with a 95 % CI.

    The ratio of sums weighs every token alike (a long response counts for more than a
    short one), as a leaderboard's energy per token does. Its interval: the delta-method
    standard error of a ratio of means, se = sd(e_i - R t_i) / (mean(t) sqrt(n)), applied on
    the log scale like summarise(): R x exp(+-t se / R). std is sd(e_i - R t_i) / mean(t).
    """
    from greenai.bench.stats import SINGLE, t975

    n = len(energy_j)
    total_t = math.fsum(tokens)
    if n == 0 or total_t <= 0:
        return None
    ratio = math.fsum(energy_j) / total_t
    if n == 1:
        return Summary(1, ratio, 0.0, ratio, ratio, SINGLE)
    mean_t = total_t / n
    resid = [e - ratio * t for e, t in zip(energy_j, tokens, strict=True)]
    std = math.sqrt(math.fsum(d * d for d in resid) / (n - 1)) / mean_t
    se = std / math.sqrt(n)
    if ratio > 0:
        spread = math.exp(t975(n - 1) * se / ratio)
        return Summary(n, ratio, std, ratio / spread, ratio * spread, RATIO_LOG_T)
    half = t975(n - 1) * se
    return Summary(n, ratio, std, ratio - half, ratio + half, "t ratio (delta method)")


def _energy_at(trace_t: Sequence[float], trace_e: Sequence[float], t: float) -> float:
    """Return cumulative energy at t, linear between trace readings (held flat outside)."""
    if t <= trace_t[0]:
        return trace_e[0]
    if t >= trace_t[-1]:
        return trace_e[-1]
    i = bisect.bisect_right(trace_t, t)
    t0, t1 = trace_t[i - 1], trace_t[i]
    e0, e1 = trace_e[i - 1], trace_e[i]
    return e0 if t1 == t0 else e0 + (e1 - e0) * (t - t0) / (t1 - t0)


def attribute(
    trace_t: Sequence[float],
    trace_e: Sequence[float],
    records: Sequence[RequestRecord],
    window: Window,
    idle_power_w: float | None = None,
) -> Attribution:
    """Return the window's energy and each request's share (see the module docstring).

    trace_t/trace_e: cumulative energy (J) read at times (s, same clock as the records). With
    idle_power_w, energy is net of idle (idle power x time taken off, shares likewise).
    """
    if len(trace_t) < 2:
        raise ServeError("fewer than two energy readings: nothing to attribute")
    idle = idle_power_w or 0.0
    t0, t1 = window.start_s, window.end_s

    def energy(t: float) -> float:
        return _energy_at(trace_t, trace_e, t) - idle * t

    # Breakpoints: where the power (between readings) or the number in flight changes.
    points = {t0, t1}
    points.update(t for t in trace_t if t0 < t < t1)
    for r in records:
        points.update(t for t in (r.start_s, r.end_s) if t0 < t < t1)
    grid = sorted(points)
    starts = sorted(r.start_s for r in records)
    ends = sorted(r.end_s for r in records)
    # a(t) = integral of P/n over time in flight; a request's share is a(end) - a(start)
    acc = [0.0]
    unattributed = 0.0
    e_prev = energy(grid[0])
    for a, b in zip(grid, grid[1:], strict=False):
        e_b = energy(b)
        mid = 0.5 * (a + b)
        n = bisect.bisect_right(starts, mid) - bisect.bisect_right(ends, mid)
        if n > 0:
            acc.append(acc[-1] + (e_b - e_prev) / n)
        else:
            acc.append(acc[-1])
            unattributed += e_b - e_prev
        e_prev = e_b

    def acc_at(t: float) -> float:
        t = min(max(t, t0), t1)
        i = bisect.bisect_left(grid, t)
        return acc[min(i, len(acc) - 1)]

    shares: dict[int, float] = {}
    ok_fraction = tokens = failed = 0.0
    inside_share: list[float] = []
    inside_tokens: list[float] = []
    for r in records:
        lo, hi = max(r.start_s, t0), min(r.end_s, t1)
        if hi <= lo:
            continue
        share = acc_at(hi) - acc_at(lo)
        shares[r.index] = share
        if not r.ok:
            failed += share
            continue
        frac = (hi - lo) / r.latency_s if r.latency_s > 0 else 1.0
        ok_fraction += frac
        tokens += frac * (r.output_tokens or 0)
        if r.start_s >= t0 and r.end_s <= t1:
            inside_share.append(share)
            inside_tokens.append(float(r.output_tokens or 0))
    total = energy(t1) - energy(t0)
    return Attribution(
        window=window,
        energy_j=total,
        net=idle_power_w is not None,
        requests_in_window=ok_fraction,
        tokens_in_window=tokens,
        unattributed_j=unattributed,
        failed_j=failed,
        shares_j=shares,
        per_request=summarise(inside_share) if inside_share else None,
        per_token=ratio_summary(inside_share, inside_tokens),
        simple_per_request_j=total / ok_fraction if ok_fraction > 0 else None,
        simple_per_token_j=total / tokens if tokens > 0 else None,
        mean_power_w=(total / window.duration_s + idle) if window.duration_s > 0 else 0.0,
    )


# --------------------------------------------------------------------- one level
@dataclass(frozen=True)
class LevelRun:
    """A level's requests, energy trace, attribution and the meter's Measurement."""

    concurrency: int | None
    rate_per_s: float | None
    records: tuple[RequestRecord, ...]
    trace_t: tuple[float, ...]
    trace_e: tuple[float, ...]
    attribution: Attribution | None
    measurement: Any  # greenai.Measurement (None if metering failed)
    not_sent: int
    aborted: str | None
    model: str | None
    duration_s: float
    notes: tuple[str, ...] = field(default=())
    warmup: int = 0  # requests sent before metering began, not counted

    @property
    def label(self) -> str:
        """Return 'c4' or 'rate2.5' (file names, table rows)."""
        return (
            f"c{self.concurrency}" if self.concurrency is not None else f"rate{self.rate_per_s:g}"
        )

    @property
    def done(self) -> tuple[RequestRecord, ...]:
        """Return the requests that succeeded."""
        return tuple(r for r in self.records if r.ok)

    @property
    def failed(self) -> tuple[RequestRecord, ...]:
        """Return the requests that failed."""
        return tuple(r for r in self.records if not r.ok)

    @property
    def output_tokens(self) -> int:
        """Return the output tokens of the ok requests, as the server's usage reported them."""
        return sum(r.output_tokens or 0 for r in self.done)

    def latency_s(self) -> dict[str, float | None]:
        """Return p50/p90/p99 of latency of ok requests, s."""
        lat = [r.latency_s for r in self.done]
        return {f"p{q}": percentile(lat, q) for q in (50, 90, 99)}

    def ttft_s(self) -> dict[str, float | None]:
        """Return p50/p90/p99 of time to first token (streaming only), s."""
        ttft = [r.first_token_s - r.start_s for r in self.done if r.first_token_s is not None]
        return {f"p{q}": percentile(ttft, q) for q in (50, 90, 99)}

    def tokens_per_s(self) -> float | None:
        """Return output tokens per second in the steady window (or over the run)."""
        att = self.attribution
        if att is not None and att.window.duration_s > 0:
            return att.tokens_in_window / att.window.duration_s
        return self.output_tokens / self.duration_s if self.duration_s > 0 else None

    def failure_reasons(self) -> dict[str, int]:
        """Return how many requests failed, by reason (HTTP status or exception type)."""
        out: dict[str, int] = {}
        for r in self.failed:
            key = (
                f"HTTP {r.status}"
                if r.status not in (None, 200)
                else (r.error or "?").split(":")[0]
            )
            out[key] = out.get(key, 0) + 1
        return dict(sorted(out.items()))


def _trace_loop(
    reading: Callable[[], tuple[float, float]],
    out_t: list[float],
    out_e: list[float],
    stop: threading.Event,
    interval_s: float,
    problems: list[str],
) -> None:
    while not stop.wait(interval_s):
        try:
            t, e = reading()
        except (GreenAIError, OSError, ValueError, AssertionError) as exc:
            problems.append(f"energy reading failed: {exc}")
            return
        out_t.append(t)
        out_e.append(e)


def run_level(
    endpoint: Endpoint,
    prompts: PromptSet,
    *,
    requests: int,
    concurrency: int | None = None,
    rate_per_s: float | None = None,
    meter: Any = None,
    model: str | None = None,
    trace_interval_s: float = TRACE_INTERVAL_S,
    seed: int = 0,
    abort_after: int = ABORT_AFTER_FAILURES,
    warmup: int = 0,
    clock: Callable[[], float] = time.monotonic,
    server: Mapping[str, Any] | None = None,
) -> LevelRun:
    """Return one level: `requests` prompts sent by `concurrency` workers, or at a Poisson rate.

    `meter` is a greenai Meter not yet started (default Meter(task="chat", unit="token"));
    its clock must be `clock` (both time.monotonic unless a test says otherwise).
    """
    from greenai.meter import Meter

    if (concurrency is None) == (rate_per_s is None):
        raise ServeError("give a concurrency or a rate, not both")
    if requests < 1:
        raise ServeError("--requests must be at least 1")
    if concurrency is not None and concurrency < 1:
        raise ServeError("--concurrency levels must be at least 1")
    if rate_per_s is not None and not rate_per_s > 0:
        raise ServeError("--rate must be above 0 requests/s")
    m = meter if meter is not None else Meter(task="chat", unit="token")
    records: list[RequestRecord] = []
    lock = threading.Lock()
    todo: queue.SimpleQueue[int] = queue.SimpleQueue()
    for i in range(requests):
        todo.put(i)
    stop_sending = threading.Event()
    state: dict[str, Any] = {"consecutive": 0, "aborted": None}

    def finished(rec: RequestRecord) -> None:
        with lock:
            records.append(rec)
            if rec.ok:
                m.count(rec.output_tokens or 0)
                state["consecutive"] = 0
            elif rec.status is None:  # no HTTP answer at all: connection refused, reset, timeout
                state["consecutive"] += 1
                if state["consecutive"] >= abort_after and state["aborted"] is None:
                    state["aborted"] = (
                        f"stopped sending after {abort_after} consecutive requests got no "
                        f"answer (last: {rec.error})"
                    )
                    stop_sending.set()

    Conn = http.client.HTTPConnection | None

    def exchange(i: int, index: int, conn: Conn) -> tuple[RequestRecord, Conn]:
        conn = conn or endpoint.connection()
        prompt = prompts.prompts[i % len(prompts.prompts)]
        rec, reusable = send(endpoint, conn, prompt, index, model, clock)
        if not reusable:
            conn.close()
            return rec, None
        return rec, conn

    def one(i: int, conn: Conn) -> Conn:
        rec, conn = exchange(i, i, conn)
        finished(rec)
        return conn

    def worker() -> None:
        conn = None
        while not stop_sending.is_set():
            try:
                i = todo.get_nowait()
            except queue.Empty:
                break
            conn = one(i, conn)
        if conn is not None:
            conn.close()

    trace_t: list[float] = []
    trace_e: list[float] = []
    problems: list[str] = []
    # before metering: the first requests pay for lazy loading, caches, compilation
    conn: Conn = None
    warm_failed = 0
    for i in range(warmup):
        rec, conn = exchange(i, -1 - i, conn)
        warm_failed += not rec.ok
    if conn is not None:
        conn.close()
    if warm_failed:
        problems.append(f"{warm_failed} of {warmup} warm-up request(s) failed")
    m.start()
    stop_trace = threading.Event()
    started = clock()
    try:
        t, e = m.reading()
        trace_t.append(t)
        trace_e.append(e)
    except (GreenAIError, OSError, ValueError, AssertionError) as exc:
        problems.append(f"metering did not start: {exc}")
    tracer = threading.Thread(
        target=_trace_loop,
        args=(m.reading, trace_t, trace_e, stop_trace, trace_interval_s, problems),
        name="greenai-serve-trace",
        daemon=True,
    )
    if trace_t:
        tracer.start()
    threads: list[threading.Thread] = []
    interrupted = False
    try:
        if concurrency is not None:
            threads = [
                threading.Thread(target=worker, name=f"greenai-serve-{k}", daemon=True)
                for k in range(concurrency)
            ]
            for th in threads:
                th.start()
        else:
            rng = random.Random(seed)
            due = clock()
            for i in range(requests):
                due += rng.expovariate(rate_per_s)
                delay = due - clock()
                if stop_sending.wait(max(delay, 0.0)):
                    break
                th = threading.Thread(target=one, args=(i, None), daemon=True)
                th.start()
                threads.append(th)
        for th in threads:
            th.join()
    except KeyboardInterrupt:
        interrupted = True
        stop_sending.set()
        for th in threads:
            th.join(timeout=endpoint.timeout_s)
    finally:
        stop_trace.set()
        if tracer.is_alive():
            tracer.join()
        if trace_t:
            try:
                t, e = m.reading()
                trace_t.append(t)
                trace_e.append(e)
            except (GreenAIError, OSError, ValueError, AssertionError) as exc:
                problems.append(f"closing energy reading failed: {exc}")
    ended = clock()
    m.stop(status="interrupted" if state["aborted"] or interrupted else "ok")
    result = m.result
    aborted = state["aborted"] or ("interrupted (Ctrl-C)" if interrupted else None)
    recs = tuple(sorted(records, key=lambda r: r.index))
    notes = list(problems)
    if result is None:
        notes.append("the meter gave no result (see its warnings): no energy figures")
    idle_w = result.idle.power_w if result is not None and result.idle is not None else None
    attribution = None
    if recs and len(trace_t) >= 2:
        attribution = attribute(trace_t, trace_e, recs, steady_window(recs, concurrency), idle_w)
    elif not recs:
        notes.append("no request was sent")
    run = LevelRun(
        concurrency=concurrency,
        rate_per_s=rate_per_s,
        records=recs,
        trace_t=tuple(trace_t),
        trace_e=tuple(trace_e),
        attribution=attribution,
        measurement=None,
        not_sent=requests - len(recs),
        aborted=aborted,
        model=model,
        duration_s=ended - started,
        notes=tuple(notes),
        warmup=warmup,
    )
    if result is not None:
        block = serving_block(run, endpoint, prompts, server or {})
        result = replace(result, extra={**result.extra, "serving": block})
    return replace(run, measurement=result)


# --------------------------------------------------------------------- disclosure blocks
def serving_block(
    run: LevelRun, endpoint: Endpoint, prompts: PromptSet, server: Mapping[str, Any]
) -> dict[str, Any]:
    """Return the 'serving' block of a level's disclosure: load, outcome, latency, attribution."""
    att = run.attribution
    happened = []
    if run.failed:
        reasons = ", ".join(f"{k}: {v}" for k, v in run.failure_reasons().items())
        happened.append(f"{len(run.failed)} of {len(run.records)} requests failed ({reasons})")
    if run.aborted:
        happened.append(run.aborted)
    if run.not_sent:
        happened.append(f"{run.not_sent} planned request(s) not sent")
    if run.aborted or run.not_sent:
        happened.append("the energy metered until then is kept")
    elif happened:
        happened.append("the energy of the failed requests is in the level's energy")
    return {
        "load": {
            "mode": "closed loop" if run.concurrency is not None else "Poisson arrivals",
            "concurrency": run.concurrency,
            "rate_per_s": run.rate_per_s,
            "requests_planned": len(run.records) + run.not_sent,
            "warmup_requests": run.warmup,
        },
        "endpoint": {
            "url": endpoint.base_url,
            "api": endpoint.api,
            "stream": endpoint.stream,
            "max_tokens": endpoint.max_tokens,
            "model": run.model,
        },
        "server": dict(server),
        "prompt_set": {"id": prompts.id, "sha256": prompts.sha256, "prompts": len(prompts.prompts)},
        "requests": {
            "sent": len(run.records),
            "done": len(run.done),
            "failed": len(run.failed),
            "not_sent": run.not_sent,
            "failures": run.failure_reasons(),
            "aborted": run.aborted,
        },
        "what_happened": happened,
        "output_tokens": run.output_tokens,
        "tokens_source": "usage.completion_tokens of each response, as the server reported it",
        "prompt_tokens": sum(r.prompt_tokens or 0 for r in run.done),
        "duration_s": run.duration_s,
        "tokens_per_s": run.tokens_per_s(),
        "latency_s": run.latency_s(),
        "ttft_s": run.ttft_s() if endpoint.stream else None,
        "energy_trace": {"readings": len(run.trace_t), "interval_s": TRACE_INTERVAL_S},
        "attribution": att.to_dict() if att is not None else None,
        "notes": list(run.notes),
    }


# --------------------------------------------------------------------- levels and summary
def _csv(records: Sequence[RequestRecord]) -> str:
    import csv
    import io

    out = io.StringIO()
    names = list(RequestRecord.__dataclass_fields__)
    writer = csv.DictWriter(out, fieldnames=names, lineterminator="\n")
    writer.writeheader()
    for r in records:
        writer.writerow(r.to_dict())
    return out.getvalue()


def _summary_or_none(summary: Summary | None) -> dict[str, Any] | None:
    return summary.to_dict() if summary is not None else None


def level_row(run: LevelRun) -> dict[str, Any]:
    """Return a level's table row: outcome, energy per request/token (primary with CI), latency."""
    att = run.attribution
    m = run.measurement
    return {
        "level": run.label,
        "concurrency": run.concurrency,
        "rate_per_s": run.rate_per_s,
        "status": m.status if m is not None else "no result",
        "done": len(run.done),
        "failed": len(run.failed),
        "not_sent": run.not_sent,
        "output_tokens": run.output_tokens,
        "energy_j": m.energy_j if m is not None else None,
        "provenance": m.provenance if m is not None else None,
        "domains": sorted(m.domains) if m is not None else [],
        "window_s": att.window.duration_s if att else None,
        "window_energy_j": att.energy_j if att else None,
        "unattributed_j": att.unattributed_j if att else None,
        "energy_per_request_j": _summary_or_none(att.per_request) if att else None,
        "energy_per_token_j": _summary_or_none(att.per_token) if att else None,
        "simple_per_request_j": att.simple_per_request_j if att else None,
        "simple_per_token_j": att.simple_per_token_j if att else None,
        "net_of_idle": att.net if att else False,
        "tokens_per_s": run.tokens_per_s(),
        "latency_s": run.latency_s(),
        "ttft_s": run.ttft_s(),
        "mean_power_w": att.mean_power_w if att else None,
    }


def _per_token(row: Mapping[str, Any]) -> float | None:
    per = row.get("energy_per_token_j")
    return per["mean"] if per else None


def pareto(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Return the levels on the Pareto front of (energy per token, p90 latency), both minimised."""
    pts = [
        (row["level"], _per_token(row), row["latency_s"]["p90"])
        for row in rows
        if _per_token(row) is not None and row["latency_s"]["p90"] is not None
    ]
    front = []
    for name, e, lat in pts:
        dominated = any((e2 <= e and l2 <= lat) and (e2 < e or l2 < lat) for _, e2, l2 in pts)
        if not dominated:
            front.append(name)
    return front


def choose(rows: Sequence[Mapping[str, Any]], slo_p90_s: float | None) -> dict[str, Any]:
    """Return the most efficient level (least energy per token) whose p90 latency meets the SLO."""
    usable = [r for r in rows if _per_token(r) is not None and r["latency_s"]["p90"] is not None]
    if slo_p90_s is not None:
        meets = [r for r in usable if r["latency_s"]["p90"] <= slo_p90_s]
    else:
        meets = usable
    if not meets:
        why = (
            f"no level has p90 latency <= {slo_p90_s:g} s"
            if slo_p90_s is not None
            else "no level has energy per token and latency"
        )
        return {"slo_p90_s": slo_p90_s, "level": None, "reason": why}
    best = min(meets, key=lambda r: _per_token(r))
    target = f"p90 latency <= {slo_p90_s:g} s" if slo_p90_s is not None else "no latency target"
    return {
        "slo_p90_s": slo_p90_s,
        "level": best["level"],
        "energy_per_token_j": _per_token(best),
        "p90_latency_s": best["latency_s"]["p90"],
        "reason": f"least energy per output token among {len(meets)} level(s) meeting {target}",
    }


def describe_server(
    endpoint: Endpoint,
    info: Mapping[str, Any],
    model: str | None,
    parameters: int | None,
    software: str | None,
) -> dict[str, Any]:
    """Return the server block: model id and parameters, software as reported and as declared."""
    return {
        "model_id": model,
        "model_id_source": "GET /models" if model and not endpoint.model else "--model",
        "parameters": parameters,
        "parameters_source": "declared (--params)" if parameters else "not reported by the server",
        "software": {
            "server_header": info.get("server_header"),
            "version": info.get("version"),
            "version_source": "GET /version" if info.get("version") else "not reported",
            "declared": software,
        },
        "models_listed": list(info.get("models") or []),
        "errors": list(info.get("errors") or []),
    }


@dataclass(frozen=True)
class ServeRun:
    """All levels of one `greenai bench serve`, the summary document and where files went."""

    levels: tuple[LevelRun, ...]
    summary: dict[str, Any]
    files: tuple[Path, ...]


def run_serve(
    endpoint: Endpoint,
    prompts: PromptSet,
    *,
    requests: int,
    concurrency: Sequence[int] = (),
    rates_per_s: Sequence[float] = (),
    output: str | os.PathLike[str] = "serve-results",
    meter_factory: Callable[[], Any] | None = None,
    parameters: int | None = None,
    software: str | None = None,
    slo_p90_s: float | None = None,
    log: Callable[[str], None] | None = None,
    warmup: int = 0,
) -> ServeRun:
    """Run every level; write one disclosure and request log per level and the summary.

    The trade-off table and plot are the reporter's (greenai.report.serve.write_tradeoff).
    """
    from greenai.journal import OutputClaim
    from greenai.measurement import write_atomic
    from greenai.meter import Meter

    if not concurrency and not rates_per_s:
        raise ServeError("give --concurrency levels or --rate values")
    info = server_info(endpoint)
    model = endpoint.model or (info["models"][0] if info["models"] else None)
    server = describe_server(endpoint, info, model, parameters, software)
    factory = meter_factory or (lambda: Meter(task="chat", unit="token"))
    folder = Path(output)
    folder.mkdir(parents=True, exist_ok=True)
    # one live run per results folder: a second one is refused (FOLDER.lock, fcntl)
    with OutputClaim(folder):
        plan = [(c, None) for c in concurrency] + [(None, r) for r in rates_per_s]
        levels, files = [], []
        for c, r in plan:
            run = run_level(
                endpoint,
                prompts,
                requests=requests,
                concurrency=c,
                rate_per_s=r,
                meter=factory(),
                model=model,
                server=server,
                warmup=warmup,
            )
            levels.append(run)
            if run.measurement is not None:
                path = folder / f"serve-{run.label}.json"
                run.measurement.save(path)
                files.append(path)
            log_path = folder / f"serve-{run.label}.requests.csv"  # not .jsonl: not a population
            write_atomic(log_path, _csv(run.records))
            files.append(log_path)
            if log is not None:
                row = level_row(run)
                log(
                    f"{run.label}: {row['done']} done, {row['failed']} failed, "
                    f"{row['output_tokens']} output tokens"
                )
            if run.aborted and run.aborted.startswith("stopped sending"):
                break  # the server is gone: later levels would only fail
        rows = [level_row(run) for run in levels]
        summary = {
            "kind": DOCUMENT_KIND,
            "task": "chat",
            "unit": "token",
            "server": server,
            "endpoint": {
                "url": endpoint.base_url,
                "api": endpoint.api,
                "stream": endpoint.stream,
                "max_tokens": endpoint.max_tokens,
            },
            "prompt_set": {
                "id": prompts.id,
                "sha256": prompts.sha256,
                "prompts": len(prompts.prompts),
            },
            "requests_per_level": requests,
            "warmup_requests_per_level": warmup,
            "primary_attribution": PRIMARY,
            "steady_window": "closed loop: from the moment C requests are first in flight to the "
            "first completion after the last request was sent; Poisson: arrivals k+1 to n-k, "
            "k = n // 10",
            "levels": rows,
            "pareto_front": pareto(rows),
            "choice": choose(rows, slo_p90_s),
            "levels_not_run": [
                f"c{c}" if c is not None else f"rate{r:g}" for c, r in plan[len(levels) :]
            ],
            "disclosures": [p.name for p in files if p.suffix == ".json"],
        }
        path = folder / "summary.json"
        write_atomic(path, json.dumps(summary, indent=2) + "\n")
    return ServeRun(tuple(levels), summary, (*files, path))


__all__ = [
    "Attribution",
    "ServeRun",
    "choose",
    "level_row",
    "pareto",
    "run_serve",
    "Endpoint",
    "LevelRun",
    "PromptSet",
    "RequestRecord",
    "ServeError",
    "Window",
    "attribute",
    "load_prompts",
    "percentile",
    "run_level",
    "server_info",
    "steady_window",
]
