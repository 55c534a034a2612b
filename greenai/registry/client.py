"""A client of the registry: submit disclosures, fetch a population file (standard library)."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from greenai.registry.store import RegistryError

TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Answer:
    """The registry's answer to one request: HTTP status and the JSON it sent."""

    status: int
    body: Any

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def reason(self) -> str:
        if isinstance(self.body, Mapping) and "error" in self.body:
            return str(self.body["error"])
        return "" if self.ok else f"HTTP {self.status}"


def request(
    method: str,
    url: str,
    body: bytes | None = None,
    token: str | None = None,
    kind: str = "application/json",
    timeout: float = TIMEOUT_S,
) -> tuple[int, bytes]:
    """Return (status, body bytes) of one request; RegistryError if nothing answers."""
    headers = {"Content-Type": kind} if body is not None else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as res:
            return res.status, res.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise RegistryError(f"{url}: no answer from the registry ({reason})") from exc


def _answer(status: int, raw: bytes) -> Answer:
    try:
        return Answer(status, json.loads(raw) if raw else None)
    except ValueError:
        return Answer(status, {"error": raw[:200].decode("utf-8", "replace")})


def submit_bytes(registry: str, body: bytes, token: str) -> Answer:
    """Return the registry's answer to one upload of disclosure bytes."""
    return _answer(*request("POST", f"{registry.rstrip('/')}/api/disclosures", body, token))


def submit(registry: str, path: str | os.PathLike[str], token: str) -> Answer:
    """Return the registry's answer to the upload of one disclosure file, sent unchanged."""
    try:
        body = Path(path).read_bytes()
    except OSError as exc:
        raise RegistryError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    return submit_bytes(registry, body, token)


def export(
    registry: str,
    out: str | os.PathLike[str],
    filters: Mapping[str, Any] | None = None,
    token: str | None = None,
) -> int:
    """Write the matching disclosures as a JSON-lines population file; return how many."""
    query = urlencode({k: v for k, v in (filters or {}).items() if v})
    status, raw = request(
        "GET", f"{registry.rstrip('/')}/api/export" + (f"?{query}" if query else ""), token=token
    )
    if status != 200:
        raise RegistryError(f"{registry}: export refused: {_answer(status, raw).reason}")
    Path(out).write_bytes(raw)
    return raw.count(b"\n")


__all__ = ["Answer", "export", "request", "submit", "submit_bytes"]
