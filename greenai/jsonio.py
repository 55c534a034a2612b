"""One strict JSON reader for every document greenai reads from a file.

Python's json module accepts what RFC 8259 leaves open and what other parsers read
differently: a repeated key (json keeps the last copy, many readers the first, so a signed
file could show one figure and verify another), NaN and Infinity (not JSON), lone
surrogates (text that cannot be written back as UTF-8), nesting deep enough to exhaust the
stack, and files of any size. This reader refuses each with one line naming the file.
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path
from typing import Any

from greenai.errors import GreenAIError

DEFAULT_MAX_BYTES = 64 * 1024 * 1024  # a disclosure with a day's 10 Hz timeline is ~10 MB
MAX_ENV = "GREENAI_MAX_JSON_BYTES"

# A \uD800-\uDBFF escape not followed by a \uDC00-\uDFFF one, or such a low one alone.
_LONE_SURROGATE = re.compile(
    r"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
    r"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)


class JSONInputError(GreenAIError, ValueError):
    """A JSON file or text greenai will not read, with the reason."""


def max_bytes() -> int:
    """Return the size bound in bytes: GREENAI_MAX_JSON_BYTES, else 64 MiB."""
    raw = os.environ.get(MAX_ENV)
    if not raw:
        return DEFAULT_MAX_BYTES
    try:
        value = int(raw)
    except ValueError as exc:
        raise JSONInputError(f"{MAX_ENV}={raw!r}: expected a whole number of bytes") from exc
    if value <= 0:
        raise JSONInputError(f"{MAX_ENV}={raw!r}: must be positive")
    return value


def _pairs(source: str):
    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(pairs)
        if len(obj) != len(pairs):
            seen: set[str] = set()
            for key, _ in pairs:
                if key in seen:
                    raise JSONInputError(f"{source}: key {key!r} appears twice in one object")
                seen.add(key)
        return obj

    return hook


def _constant(source: str):
    def refuse(name: str) -> Any:
        raise JSONInputError(f"{source}: {name} is not a JSON number (non-finite values refused)")

    return refuse


def _float(source: str):
    def parse(text: str) -> float:
        value = float(text)
        if not math.isfinite(value):  # 1e400: Python reads it as infinity
            raise JSONInputError(f"{source}: number {text[:40]} is out of range (not finite)")
        return value

    return parse


def loads(text: str, source: str = "<json>") -> Any:
    """Return the value of strict JSON text; JSONInputError naming ``source`` otherwise."""
    limit = max_bytes()
    if len(text) > limit:
        raise JSONInputError(f"{source}: {len(text):,} characters is over the {limit:,} byte bound")
    if "\\u" in text and _LONE_SURROGATE.search(text):
        raise JSONInputError(f"{source}: a lone UTF-16 surrogate escape (not text)")
    try:
        return json.loads(
            text,
            object_pairs_hook=_pairs(source),
            parse_constant=_constant(source),
            parse_float=_float(source),
        )
    except json.JSONDecodeError as exc:
        raise JSONInputError(
            f"{source}: not valid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from exc
    except RecursionError as exc:
        raise JSONInputError(f"{source}: JSON nested too deeply") from exc
    except JSONInputError:
        raise
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise JSONInputError(f"{source}: {' '.join(str(exc).split())[:200]}") from exc


def read(path: str | os.PathLike[str]) -> Any:
    """Return the value of a strict JSON file; JSONInputError if too big or not strict."""
    p = Path(path)
    limit = max_bytes()
    try:
        size = p.stat().st_size
        if size > limit:
            raise JSONInputError(
                f"{p}: {size:,} bytes is over the {limit:,} byte bound "
                f"(set {MAX_ENV} to read larger files)"
            )
        raw = p.read_bytes()
    except OSError as exc:
        raise JSONInputError(f"{p}: cannot read: {exc.strerror or exc}") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise JSONInputError(f"{p}: not UTF-8 text (byte {exc.start})") from exc
    return loads(text, str(p))
