"""The registry's HTTP service (standard library http.server, one thread per request).

http.server rather than starlette/uvicorn: the service is a dozen routes over a blocking
database, so an async framework would run every request in a thread pool anyway; the standard
library needs nothing installed, and a thread per request gives 50 concurrent submitters their
own database connections. TLS and public exposure belong to a reverse proxy in front of it.

    POST   /api/disclosures             submit (Authorization: Bearer TOKEN; body: the JSON)
    GET    /api/disclosures?FILTERS     index rows (task, hardware, model, site, since, until,
                                        provenance, submitter; limit, offset)
    GET    /api/disclosures/SHA256      the document as submitted (also /disclosures/SHA256)
    DELETE /api/disclosures/SHA256      the submitter's own only
    GET    /api/rerate?standard=ID      grade distribution under a shipped standard
    POST   /api/rerate?FILTERS          ... under the standard TOML in the body (a draft)
    GET    /api/export?FILTERS          population file (JSON lines) for rank / calibrate
    GET    /api/audit                   the append-only audit log
    GET    /                            the leaderboard page (same FILTERS, standard=ID)
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from greenai.errors import GreenAIError
from greenai.registry.intake import DEFAULT_MAX_UPLOAD_BYTES, Refused, check
from greenai.registry.store import FILTERS, RegistryError, Store, Submitter

READ_ACCESS = ("public", "token")
MAX_STANDARD_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Config:
    """Who may read, how big an upload may be, how many a submitter may send a minute."""

    read_access: str = "public"  # public | token (any registered token)
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    submissions_per_minute: int = 600
    standard: str | None = None  # the leaderboard's default standard (id); None: shipped


class RateLimiter:
    """At most `per_minute` events per key in any 60 s window."""

    def __init__(self, per_minute: int, clock: Any = time.monotonic):
        self.per_minute = per_minute
        self._clock = clock
        self._events: dict[int, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: int) -> float | None:
        """Return None if allowed (and count it), else the seconds to wait."""
        t = self._clock()
        with self._lock:
            events = self._events.setdefault(key, deque())
            while events and events[0] <= t - 60.0:
                events.popleft()
            if len(events) >= self.per_minute:
                return 60.0 - (t - events[0])
            events.append(t)
            return None


class RegistryServer(ThreadingHTTPServer):
    """The HTTP server: a store, its configuration and the submitters' rate limiter."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], store: Store, config: Config, quiet: bool):
        super().__init__(address, Handler)
        self.store = store
        self.config = config
        self.limiter = RateLimiter(config.submissions_per_minute)
        self.quiet = quiet

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"


class _Reply(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def _whole(query: dict[str, str], name: str, default: int) -> int:
    """Return a query parameter as a whole number >= 0; 400 otherwise."""
    raw = query.get(name)
    if raw is None:
        return default
    if not raw.isdigit():
        raise _Reply(400, f"{name}={raw!r}: expected a whole number >= 0")
    return int(raw)


class Handler(BaseHTTPRequestHandler):
    """One request: route, check access, answer JSON (or the page)."""

    server: RegistryServer
    timeout = 30  # a client that stops sending mid-body does not hold a thread for ever
    server_version = "greenai-registry"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        if not self.server.quiet:
            sys.stderr.write(f"{self.address_string()} {format % args}\n")

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self._handle("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._handle("POST")

    def do_DELETE(self) -> None:  # noqa: N802
        self._handle("DELETE")

    # -- plumbing
    def _send(self, status: int, body: bytes, kind: str, headers: dict[str, str] = {}) -> None:  # noqa: B006
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, value: Any) -> None:
        self._send(status, json.dumps(value).encode(), "application/json")

    def _token(self) -> str | None:
        auth = self.headers.get("Authorization", "")
        return auth[7:].strip() if auth.startswith("Bearer ") else None

    def _who(self, required: bool) -> Submitter | None:
        token = self._token()
        who = self.server.store.authenticate(token)
        if token and who is None:
            raise _Reply(401, "the token is not one this registry issued")
        if required and who is None:
            raise _Reply(401, "this needs a token: Authorization: Bearer TOKEN")
        return who

    def _body(self, limit: int) -> bytes:
        length = self.headers.get("Content-Length")
        if length is None:
            raise _Reply(411, "send a Content-Length")
        try:
            n = int(length)
        except ValueError as exc:
            raise _Reply(400, f"Content-Length {length!r} is not a number") from exc
        if n < 0:
            raise _Reply(400, "negative Content-Length")
        if n > limit:
            self.close_connection = True  # the body is not read: the connection cannot be reused
            raise _Reply(413, f"upload of {n:,} bytes is over the {limit:,} byte limit")
        return self.rfile.read(n)

    def _handle(self, method: str) -> None:
        try:
            url = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            with self.server.store.session():
                self._route(method, unquote(url.path), query)
        except _Reply as reply:
            self._send(
                reply.status,
                json.dumps({"error": reply.message}).encode(),
                "application/json",
                reply.headers,
            )
        except Refused as exc:
            self._json(exc.status, {"error": exc.reason})
        except RegistryError as exc:
            self._json(exc.status, {"error": str(exc)})
        except GreenAIError as exc:
            self._json(422, {"error": str(exc).splitlines()[0]})
        except (ConnectionError, TimeoutError):
            self.close_connection = True
        except Exception as exc:  # noqa: BLE001 - the service answers, logs, and keeps serving
            sys.stderr.write(f"registry: {method} {self.path}: {type(exc).__name__}: {exc}\n")
            self._json(500, {"error": f"internal error ({type(exc).__name__})"})

    # -- routes
    def _route(self, method: str, path: str, query: dict[str, str]) -> None:
        store = self.server.store
        filters = {k: v for k, v in query.items() if k in FILTERS}
        if method == "POST" and path == "/api/disclosures":
            self._submit()
            return
        if method == "DELETE" and path.startswith("/api/disclosures/"):
            who = self._who(required=True)
            assert who is not None
            store.delete(who, path.rsplit("/", 1)[1])
            self._json(200, {"deleted": path.rsplit("/", 1)[1]})
            return
        if method == "POST" and path == "/api/rerate":
            self._who(required=self.server.config.read_access == "token")
            from greenai.standard import parse_standard

            try:
                text = self._body(MAX_STANDARD_BYTES).decode("utf-8")
            except UnicodeDecodeError as exc:
                raise _Reply(400, f"the standard is not UTF-8 text (byte {exc.start})") from exc
            self._rerate(parse_standard(text, source="uploaded standard"), filters)
            return
        if method != "GET":
            raise _Reply(405, f"{method} {path}: not a route of this registry")
        self._who(required=self.server.config.read_access == "token")
        if path == "/api/disclosures":
            limit = min(_whole(query, "limit", 100), 10_000)
            rows = store.query(filters, limit=limit, offset=_whole(query, "offset", 0))
            self._json(200, {"total": store.count(filters), "rows": rows})
        elif path.startswith(("/api/disclosures/", "/disclosures/")):
            sha = path.rsplit("/", 1)[1]
            doc = store.document(sha)
            if doc is None:
                raise _Reply(404, f"{sha}: no stored document")
            self._send(200, doc, "application/json")
        elif path == "/api/rerate":
            self._rerate(self._standard(query.get("standard")), filters)
        elif path == "/api/export":
            lines = [
                json.dumps(json.loads(doc), separators=(",", ":"), ensure_ascii=False)
                for _sha, doc in store.documents(filters)
            ]
            body = ("\n".join(lines) + "\n" if lines else "").encode()
            self._send(200, body, "application/x-ndjson")
        elif path == "/api/audit":
            self._json(200, store.audit_log(_whole(query, "limit", 1000)))
        elif path == "/api/health":
            self._json(200, {"ok": True, "schema_version": store.schema_version()})
        elif path in ("/", "/leaderboard"):
            self._leaderboard(query, filters)
        else:
            raise _Reply(404, f"{path}: not a route of this registry")

    def _submit(self) -> None:
        who = self._who(required=True)
        assert who is not None
        if who.role != "submit":
            raise _Reply(403, f"{who.name} may read, not submit")
        wait = self.server.limiter.allow(who.id)
        if wait is not None:
            raise _Reply(
                429,
                f"over {self.server.config.submissions_per_minute} submissions a minute",
                {"Retry-After": str(max(1, round(wait)))},
            )
        try:  # a refused upload is a change attempted: the audit log says who and why
            body = self._body(self.server.config.max_upload_bytes)
            accepted = check(body, who, self.server.config.max_upload_bytes)
        except _Reply as reply:
            self.server.store.refuse(who, None, f"upload: HTTP {reply.status}: {reply.message}")
            raise
        except Refused as exc:
            self.server.store.refuse(who, _claimed_sha(body), f"HTTP {exc.status}: {exc.reason}")
            raise
        state, row_id = self.server.store.add(
            who, accepted.sha256, body, accepted.summary, accepted.verification
        )
        self._json(
            201 if state == "stored" else 200,
            {"sha256": accepted.sha256, "id": row_id, "state": state, "status": "verified"},
        )

    def _standard(self, name: str | None) -> Any:
        from greenai.standard import list_standards, load_standard

        name = name or self.server.config.standard
        if name and name not in {s.id for s in list_standards()}:
            raise _Reply(404, f"standard {name!r} is not shipped here (POST a draft's TOML)")
        return load_standard(name)

    def _rerate(self, std: Any, filters: dict[str, str]) -> None:
        from greenai.registry.ratings import rerate

        self._json(200, rerate(self.server.store, std, filters))

    def _leaderboard(self, query: dict[str, str], filters: dict[str, str]) -> None:
        from greenai.registry.page import render
        from greenai.registry.ratings import boards

        std = self._standard(query.get("standard"))
        store = self.server.store
        tasks = [t.id for t in std.tasks.values()]
        page = render(
            boards(store, std, filters),
            std,
            filters,
            store.count(filters),
            tasks,
            query.get("standard"),
        )
        self._send(200, page.encode(), "text/html; charset=utf-8")


def _claimed_sha(body: bytes) -> str | None:
    """Return the SHA-256 a refused upload says it has, if it says one (for the audit log)."""
    import re

    found = re.search(rb'"sha256"\s*:\s*"([0-9a-f]{64})"', body[-4096:])
    return found.group(1).decode() if found else None


def make_server(
    store: Store,
    host: str = "127.0.0.1",
    port: int = 8750,
    config: Config | None = None,
    quiet: bool = True,
) -> RegistryServer:
    """Return a bound (not yet serving) registry server; port 0 picks a free one."""
    config = config or Config()
    if config.read_access not in READ_ACCESS:
        raise RegistryError(f"read access {config.read_access!r}: expected one of {READ_ACCESS}")
    return RegistryServer((host, port), store, config, quiet)


__all__ = ["Config", "RateLimiter", "RegistryServer", "make_server"]
