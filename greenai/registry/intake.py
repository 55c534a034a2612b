"""What the registry accepts: a strict-JSON disclosure, valid, sealed and signed by its submitter.

Every refusal is a Refused with an HTTP status and one line saying what was wrong, so the
server answers hostile uploads with a reason instead of a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from greenai import disclosure
from greenai.errors import DisclosureError
from greenai.jsonio import JSONInputError, loads
from greenai.registry.store import Submitter, summarize

DEFAULT_MAX_UPLOAD_BYTES = 16 * 1024 * 1024
_MAX_PROBLEMS = 5


class Refused(Exception):
    """An upload the registry will not store: HTTP status and the reason."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class Accepted:
    """A disclosure that passed every check: its hash, index columns and verification."""

    sha256: str
    summary: dict[str, Any]
    verification: str


def check(body: bytes, submitter: Submitter, max_bytes: int = DEFAULT_MAX_UPLOAD_BYTES) -> Accepted:
    """Return the accepted upload; Refused naming the first check it fails."""
    if len(body) > max_bytes:
        raise Refused(413, f"upload of {len(body):,} bytes is over the {max_bytes:,} byte limit")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Refused(400, f"upload is not UTF-8 text (byte {exc.start})") from exc
    try:
        doc = loads(text, "upload")
    except JSONInputError as exc:
        raise Refused(400, str(exc)) from exc
    if not isinstance(doc, dict):
        raise Refused(
            400, f"upload: expected a disclosure (a JSON object), got {type(doc).__name__}"
        )
    try:
        current = disclosure.validate(doc, "upload", strict_json=True)
    except DisclosureError as exc:
        lines = str(exc).splitlines()
        more = len(lines) - 1 - _MAX_PROBLEMS
        shown = "; ".join(line.strip() for line in lines[: _MAX_PROBLEMS + 1])
        raise Refused(422, shown + (f"; and {more} more" if more > 0 else "")) from exc
    status, problems = disclosure.verify(doc, (submitter.public_key,))
    if status != "verified":
        why = "; ".join(problems)
        if status == "hash-only" and "not signed" in why:
            why = "not signed: sign it with your registered key (greenai sign FILE --key KEY.pem)"
        elif status == "hash-only":
            why = f"signed with a key that is not the one registered for {submitter.name}"
        raise Refused(422, f"upload: {status}: {why}")
    try:
        summary = summarize(current, "upload")
    except DisclosureError as exc:
        raise Refused(422, str(exc)) from exc
    return Accepted(doc["integrity"]["sha256"], summary, status)


__all__ = ["DEFAULT_MAX_UPLOAD_BYTES", "Accepted", "Refused", "check"]
