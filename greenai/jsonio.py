"""One strict JSON reader for every document greenai reads from a file.

Python's json module accepts what RFC 8259 leaves open and what other parsers read
differently: a repeated key (json keeps the last copy, many readers the first, so a signed
file could show one figure and verify another), NaN and Infinity (not JSON), lone
surrogates (text that cannot be written back as UTF-8), nesting deep enough to exhaust the
stack, and files of any size. This reader refuses each with one line naming the file.

With the `fast` extra (orjson >= 3.11.6) a document is parsed by orjson, ~10 times faster
than the json module, and kept only when a count proves the stdlib reader would return the
same value: orjson refuses NaN, Infinity and out-of-range numbers itself, but keeps the last
of repeated keys and reads an integer beyond 64 bits as a float. Every other case, and every
error, goes to the json module, so values and messages are the same either way
(tests/test_jsonio.py runs both). GREENAI_JSON=stdlib turns the fast path off.
read_fast hands orjson's value and the file's bytes to a caller that dumps the value anyway
(disclosure.try_read_valid): it counts the colons of that dump instead of walking the value.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
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


ORJSON_MIN = (3, 11, 6)
FAST_ENV = "GREENAI_JSON"
BIG_FLOAT = 2.0**63  # orjson reads an integer beyond 64 bits as a float at least this large
_orjson: Any = False  # False: not looked for yet; None: not installed, too old, or turned off


def orjson_module() -> Any:
    """Return orjson if the fast path may use it (installed, >= 3.11.6, not turned off)."""
    global _orjson
    if _orjson is False:
        _orjson = None
        if os.environ.get(FAST_ENV, "").lower() != "stdlib":
            try:
                import orjson
            except ImportError:
                pass
            else:
                version = tuple(int(p) for p in re.findall(r"\d+", orjson.__version__)[:3])
                _orjson = orjson if version >= ORJSON_MIN else None
    return _orjson


def _tally(node: Any, counts: list[Any], bound: float) -> None:
    """Add to counts [keys, colons inside strings, a number at or beyond bound] over a value."""
    if type(node) is dict:
        counts[0] += len(node)
        items: Any = node.values()
        for key in node:
            if ":" in key:
                counts[1] += key.count(":")
    else:  # a list: one of plain numbers is checked at C speed, by its least and greatest
        if len(node) >= 16:
            try:
                if -bound < min(node) and max(node) < bound:
                    return  # numbers (else '<' raised), none at or beyond bound
                counts[2] = True
                return
            except TypeError:
                pass  # strings, objects, lists or null among them: item by item
        items = node
    for value in items:
        kind = type(value)
        if kind is str:
            if ":" in value:
                counts[1] += value.count(":")
        elif kind is float:
            if not -bound < value < bound:
                counts[2] = True
        elif kind is dict or kind is list:
            _tally(value, counts, bound)


_ASK_JSON = object()  # the fast reader's answer when the json module must read the text


def _checked(value: Any, bound: float, text: str | None) -> Any:
    """Return value if no float is at or beyond bound (and, given text, no key was repeated)."""
    kind = type(value)
    if kind is dict or kind is list:
        counts = [0, 0, False]
        try:
            _tally(value, counts, bound)
        except RecursionError:
            return _ASK_JSON
        if counts[2] or (text is not None and counts[0] != text.count(":") - counts[1]):
            return _ASK_JSON
    elif kind is float and not -bound < value < bound:
        return _ASK_JSON
    return value


def _has_exponent(data: bytes) -> bool:
    """Return whether data holds "e+" (found by its '+': a one-byte search is a memchr)."""
    at = data.find(b"+")
    while at != -1:
        if at and data[at - 1] == 0x65:  # "e"
            return True
        at = data.find(b"+", at + 1)
    return False


def _orjson_loads(orjson: Any, text: str, escapes: bool = True, colons: int | None = None) -> Any:
    """Return what orjson reads of text when it is what json would read, else _ASK_JSON.

    Every ':' outside a string separates a key from its value, so with no ':' written as an
    escape, text.count(':') minus the colons in the strings read is the number of keys
    written: it equals the number of keys read exactly when no key was repeated. A float of
    2**63 or more may have been an integer beyond 64 bits: json reads that one. escapes:
    whether text holds a \\u escape at all (False: no ':' can be escaped); colons: the
    text's count of ':' when the caller has it (counted in its UTF-8 bytes, where it is
    the same).
    """
    if escapes and "\\u003" in text:  # a ':' may be escaped (\u003a): the count would fail
        return _ASK_JSON
    try:
        value = orjson.loads(text)
    except (orjson.JSONDecodeError, RecursionError):
        return _ASK_JSON
    if type(value) is dict or type(value) is list:
        # The same proof at C speed: orjson writes each key read back with one ':' and each
        # string as read (':' unescaped), so the ':' of its output are those of the keys and
        # strings read; a float of 2**63 or more it writes with an exponent ("9.3e+18"), and
        # only output with an "e+" anywhere needs the walk over every value.
        try:
            back = orjson.dumps(value)
        except (orjson.JSONEncodeError, RecursionError):
            return _checked(value, BIG_FLOAT, text)
        if not _has_exponent(back):
            written = text.count(":") if colons is None else colons
            return value if back.count(b":") == written else _ASK_JSON
    return _checked(value, BIG_FLOAT, text)


def loads(text: str, source: str = "<json>") -> Any:
    """Return the value of strict JSON text; JSONInputError naming ``source`` otherwise."""
    return _loads(text, source, None, None)


def _loads(text: str, source: str, escapes: bool | None, colons: int | None) -> Any:
    """Return loads(text, source); escapes and colons: what read() found in the file's bytes
    (None: look in the text). In UTF-8 an ASCII byte is never part of another character,
    and a search of bytes skips the wide-character text search (~5x slower on 17 KiB)."""
    limit = max_bytes()
    if len(text) > limit:
        raise JSONInputError(f"{source}: {len(text):,} characters is over the {limit:,} byte bound")
    if escapes is None:
        escapes = "\\u" in text
    if escapes and _LONE_SURROGATE.search(text):
        raise JSONInputError(f"{source}: a lone UTF-16 surrogate escape (not text)")
    orjson = orjson_module()
    if orjson is not None:
        value = _orjson_loads(orjson, text, escapes, colons)
        if value is not _ASK_JSON:
            return value
    # Without a parse_float hook the json module parses numbers in C (a Python call per float
    # costs ~0.25 us): kept when it succeeds and no number overflowed; anything else is read
    # again below, where the hooks word the first problem as they always have.
    try:
        value = json.loads(text, object_pairs_hook=_pairs(source), parse_constant=_constant(source))
    except (ValueError, RecursionError):
        pass
    else:
        if _checked(value, math.inf, None) is not _ASK_JSON:
            return value
    return _loads_with_hooks(text, source)


def _loads_with_hooks(text: str, source: str) -> Any:
    """Return the value of text read by json with every hook: the reference reader."""
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


def colons(data: bytes) -> int:
    """Return how many ':' bytes data holds (with numpy, ~4 times bytes.count's speed)."""
    import numpy as np

    return int(np.count_nonzero(np.frombuffer(data, dtype=np.uint8) == ord(":")))


def read_fast(path: str | os.PathLike[str]) -> tuple[Any, bytes] | None:
    """Return (value, the file's bytes) read by orjson, or None: then read() it.

    None where any check needs the json module or a message: no orjson, a file over the
    bound or unreadable, a \\u escape (a lone surrogate, an escaped ':'), text orjson
    refuses. The caller still owes what _orjson_loads checks after parsing: that no key
    was repeated (every ':' of the bytes is in orjson's compact dump of the value) and
    that no float is 2**63 or more (an integer beyond 64 bits: json reads that one).
    """
    orjson = orjson_module()
    if orjson is None:
        return None
    try:
        raw = _read_bounded(Path(path), max_bytes())
    except (OSError, JSONInputError):
        return None
    if b"\\" in raw and b"\\u" in raw:  # the first test is a memchr: most files have none
        return None
    try:
        return orjson.loads(raw), raw
    except (orjson.JSONDecodeError, RecursionError):
        return None


def _read_bounded(p: Path, limit: int) -> bytes:
    """Return the bytes of the regular file p; JSONInputError past limit bytes or for
    anything else (a FIFO named run.json would block a plain open; a file that grows
    after its size was looked at is still read only up to the bound)."""
    fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise JSONInputError(f"{p}: not a regular file")
        if st.st_size > limit:
            raise JSONInputError(
                f"{p}: {st.st_size:,} bytes is over the {limit:,} byte bound "
                f"(set {MAX_ENV} to read larger files)"
            )
        chunks, left = [], limit + 1
        while left > 0:
            chunk = os.read(fd, min(left, max(st.st_size + 1, 1 << 16)))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    finally:
        os.close(fd)
    raw = b"".join(chunks)
    if len(raw) > limit:
        raise JSONInputError(
            f"{p}: over the {limit:,} byte bound (set {MAX_ENV} to read larger files)"
        )
    return raw


def read(path: str | os.PathLike[str]) -> Any:
    """Return the value of a strict JSON file; JSONInputError if too big or not strict."""
    p = Path(path)
    try:
        raw = _read_bounded(p, max_bytes())
    except OSError as exc:
        raise JSONInputError(f"{p}: cannot read: {exc.strerror or exc}") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise JSONInputError(f"{p}: not UTF-8 text (byte {exc.start})") from exc
    escapes = b"\\" in raw and b"\\u" in raw  # one byte first: most files hold no backslash
    return _loads(text, str(p), escapes, raw.count(b":"))
