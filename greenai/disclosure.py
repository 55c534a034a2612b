"""The disclosure: a result document with a schema, a canonical form, a hash and a signature.

Canonical form is RFC 8785 (JSON Canonicalization Scheme): keys sorted by UTF-16 code
units, no whitespace, numbers in ECMAScript's shortest round-trip form, strings UTF-8.
Any JCS implementation (JavaScript, Go, Java, Rust) reproduces the bytes, so another
party can check the SHA-256 and the Ed25519 signature without greenai.

The ``integrity`` block is not part of what it certifies:
``{"canonicalization": "JCS (RFC 8785)", "sha256": HEX, "signature": {"algorithm":
"ed25519", "public_key": BASE64 (raw 32 bytes), "value": BASE64}}``; the signature signs
the canonical bytes of the document without ``integrity``.
"""

from __future__ import annotations

import base64
import decimal
import hashlib
import json
import math
import os
import re
import warnings
from collections.abc import Sequence
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

from greenai.errors import DisclosureError, GreenAIWarning
from greenai.jsonio import BIG_FLOAT, JSONInputError, colons, orjson_module, read, read_fast

SCHEMA_VERSION = "1.0"
READABLE_VERSIONS = ("0.1", "1.0")  # a reader of version N reads N-1
CANONICALIZATION = "JCS (RFC 8785)"
MAX_SAFE_INTEGER = 2**53


# ----------------------------------------------------------------------- canonical JSON
def _number(value: float | int) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        if abs(value) < MAX_SAFE_INTEGER:
            return str(value)
        value = float(value)
    if not math.isfinite(value):
        raise DisclosureError(f"{value!r} cannot be written in canonical JSON (not finite)")
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    digits_t = decimal.Decimal(repr(abs(value))).normalize().as_tuple()
    digits = "".join(map(str, digits_t.digits))
    k = len(digits)
    n = k + int(digits_t.exponent)  # value = 0.digits x 10^n
    return sign + _placed_digits(digits, k, n)


def _placed_digits(digits: str, k: int, n: int) -> str:
    """Return the ECMAScript (RFC 8785) text of 0.digits x 10^n, k = len(digits)."""
    if k <= n <= 21:
        return digits + "0" * (n - k)
    if 0 < n <= 21:
        return digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return "0." + "0" * (-n) + digits
    exp = n - 1
    mantissa = digits[0] + ("." + digits[1:] if k > 1 else "")
    return f"{mantissa}e{'+' if exp >= 0 else '-'}{abs(exp)}"


def _number_fast(value: float | int) -> str:
    """Return _number(value) for a finite float from its repr's digits, without Decimal.

    repr gives the shortest digits that read back as the float, as Decimal(repr) does in
    _number: the same digits and exponent, so the same text (tests/test_canonical.py).
    """
    if type(value) is not float or value == 0 or not math.isfinite(value):
        return _number(value)
    text = repr(value)
    mantissa, _, exponent = text.partition("e")
    if exponent and not -7 < int(exponent) < 21:  # an exponent in both, digits as repr's
        return f"{mantissa}e{exponent[0]}{exponent[1:].lstrip('0')}"
    sign = ""
    if text[0] == "-":
        sign, text = "-", text[1:]
        mantissa = mantissa[1:]
    whole, _, fraction = mantissa.partition(".")
    digits = (whole + fraction).lstrip("0")
    n = len(digits) - len(fraction) + int(exponent or 0)  # value = 0.digits x 10^n
    digits = digits.rstrip("0")
    k = len(digits)
    return sign + _placed_digits(digits, k, n)


def _encode(value: Any, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True or value is False:
        out.append("true" if value else "false")
    elif isinstance(value, int | float):
        out.append(_number(value))
    elif isinstance(value, str):
        out.append(json.dumps(value, ensure_ascii=False))
    elif isinstance(value, list | tuple):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _encode(item, out)
        out.append("]")
    elif isinstance(value, dict):
        out.append("{")
        for i, key in enumerate(sorted(value, key=lambda k: str(k).encode("utf-16-be"))):
            if not isinstance(key, str):
                raise DisclosureError(f"object key {key!r} is not a string")
            if i:
                out.append(",")
            out.append(json.dumps(key, ensure_ascii=False))
            out.append(":")
            _encode(value[key], out)
        out.append("}")
    else:
        raise DisclosureError(f"{type(value).__name__} is not a JSON value")


def _canonical_slow(value: Any) -> str:
    out: list[str] = []
    _encode(value, out)
    return "".join(out)


# The fast path: Python's C json encoder writes what RFC 8785 writes for strings (same
# escapes, UTF-8), for ints below 2**53 and for floats whose repr is positional
# (1e-4 <= |x| < 1e16, not integral). A walk turns integral floats below 2**53 into ints
# and every other number into a placeholder whose text _number() writes afterwards; keys
# are sorted by code point, which is UTF-16 order unless a key holds a character above
# U+FFFF. Documents the walk cannot vouch for (such a key, a NUL in a string, a value that
# is not JSON) go the slow way, so the bytes are the same either way (tests/test_canonical.py).
class _NotFast(Exception):
    """The document needs the slow encoder."""


_SAFE = float(MAX_SAFE_INTEGER)
_PLACEHOLDER = re.compile(r'"\\u0000(\d+)\\u0000"')


def _walk(value: Any, specials: list[Any], long_lists: list[Any] | None = None) -> Any:
    """Return value with each number canonical JSON cannot take from json as a placeholder.

    long_lists, if given, gets (list, [first, min, max, last]) for each list of 64 floats or
    more: what the schema check stands in for it (see _skeleton).
    """
    kind = type(value)
    if kind is float:
        if value.is_integer():
            if -_SAFE < value < _SAFE:
                return int(value)
        elif 1e-4 <= abs(value) < 1e16:
            return value
        specials.append(value)
        return f"\0{len(specials) - 1}\0"
    if kind is str:
        if "\0" in value:
            raise _NotFast
        return value
    if kind is int:
        if -MAX_SAFE_INTEGER < value < MAX_SAFE_INTEGER:
            return value
        specials.append(value)
        return f"\0{len(specials) - 1}\0"
    if kind is dict:
        out = {}
        for key, item in value.items():
            if type(key) is not str or not (key.isascii() or max(key) <= "\uffff"):
                raise _NotFast
            if "\0" in key:
                raise _NotFast
            # the common leaves are taken here, without a call: None, bools, plain strings,
            # positional floats and safe integers
            item_kind = type(item)
            if (
                item is None
                or item is True
                or item is False
                or (item_kind is str and "\0" not in item)
                or (item_kind is int and -MAX_SAFE_INTEGER < item < MAX_SAFE_INTEGER)
                or (
                    item_kind is float
                    and (1e-4 <= item < 1e16 or -1e16 < item <= -1e-4)
                    and not item.is_integer()
                )
            ):
                out[key] = item
            else:
                out[key] = _walk(item, specials, long_lists)
        return out
    if kind is list or kind is tuple:
        if len(value) >= 64:  # timelines: thousands of floats
            fast = _float_list(value, specials, long_lists if kind is list else None)
            if fast is not None:
                return fast
        return [_walk(item, specials, long_lists) for item in value]
    if value is None or value is True or value is False:
        return value
    raise _NotFast


def _dumps_sorted(walked: Any) -> str:
    """Return walked values as compact JSON, keys sorted: orjson when it may, else json.

    For what the walk leaves (str keys of the BMP, str, bool, None, ints below 2**53,
    positional floats, int64 arrays) orjson writes json's bytes (tests/test_canonical.py
    checks both); what it will not write (a lone surrogate, nesting past its limit) goes to
    json.
    """
    orjson = orjson_module()
    if orjson is not None:
        try:
            options = orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY
            return orjson.dumps(walked, option=options).decode("utf-8")
        except (orjson.JSONEncodeError, TypeError):
            pass
    return json.dumps(
        walked, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=_array_items
    )


def _array_items(value: Any) -> list[Any]:
    """Return the items of a numpy array the walk left (json's default= hook)."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _canonical_fast(value: Any) -> str:
    specials: list[Any] = []
    try:
        walked = _walk(value, specials)
    except (_NotFast, RecursionError):
        return _canonical_slow(value)
    return _placed(_dumps_sorted(walked), specials)


def _placed(text: str, specials: list[Any]) -> str:
    """Return walked JSON text with each placeholder replaced by its number's canonical text."""
    if not specials:
        return text
    return _PLACEHOLDER.sub(lambda m: _number_fast(specials[int(m.group(1))]), text)


def sealed_text(doc: dict[str, Any], pieces: dict[str, str] | None = None) -> str:
    """Return the document sealed (as seal() does) as JSON text, one line per block.

    Each block is written in its canonical form, and the content hash is taken over the
    same pieces, so the document is encoded once, not once to hash and once to write.
    Numbers read back as canonical JSON writes them (250.0 as 250): the hash is the same.
    pieces: the canonical text of blocks already encoded (read_valid's), not encoded again;
    the caller leaves out those it changed since.
    """
    body = {k: v for k, v in doc.items() if k != "integrity"}
    known = pieces or {}
    pieces = {k: known[k] if k in known else _canonical_fast(v) for k, v in body.items()}
    keys = {k: _key_text(k) for k in body}
    integrity = {
        "canonicalization": CANONICALIZATION,
        "sha256": hashlib.sha256(_joined(pieces, keys).encode("utf-8")).hexdigest(),
    }
    lines = [f"  {keys[k]}: {pieces[k]}" for k in body]
    lines.append(f'  "integrity": {json.dumps(integrity)}')
    return "{\n" + ",\n".join(lines) + "\n}\n"


def _joined(pieces: dict[str, str], keys: dict[str, str]) -> str:
    """Return the canonical text of an object from its members' (key text, canonical text)."""
    if all(type(k) is str and k.isascii() for k in pieces):  # code points sort as UTF-16 does
        ordered = sorted(pieces)
    else:
        ordered = sorted(pieces, key=lambda k: str(k).encode("utf-16-be"))
    return "{" + ",".join(f"{keys[k]}:{pieces[k]}" for k in ordered) + "}"


@lru_cache(maxsize=1024)
def _key_text(key: str) -> str:
    """Return a key as JSON text (the same few dozen keys head every disclosure)."""
    return json.dumps(key, ensure_ascii=False)


def _float_list(value: Any, specials: list[Any], long_lists: list[Any] | None = None) -> Any:
    """Return a long list of floats walked at numpy speed, None if it holds anything else.

    The walked list is a new list, or an int64 array when every value is integral.
    """
    if list(map(type, value)).count(float) != len(value):  # faster than a set of the types
        return None
    import numpy as np

    a = np.fromiter(value, dtype=np.float64, count=len(value))
    low, high = float(a.min()), float(a.max())  # NaN if there is one
    if long_lists is not None:
        long_lists.append((value, [value[0], low, high, value[-1]]))
    if not -_SAFE < low <= high < _SAFE:
        return None  # NaN, infinity, huge values: the element-wise walk writes them
    integral = a == np.floor(a)
    if float(np.abs(a).min()) < 1e-4 and ((np.abs(a) < 1e-4) & ~integral).any():
        return None  # tiny values: the element-wise walk writes them
    ints = int(np.count_nonzero(integral))
    if ints == 0:
        return list(value)
    if ints == len(value):  # an array: orjson writes it ~5 times faster than a list of ints
        return a.astype(np.int64)
    out = list(value)
    for i in np.flatnonzero(integral).tolist():
        out[i] = int(out[i])
    return out


def canonical_bytes(doc: dict[str, Any]) -> bytes:
    """Return the RFC 8785 canonical UTF-8 bytes of a document, without its integrity block."""
    body = {k: v for k, v in doc.items() if k != "integrity"}
    return _canonical_fast(body).encode("utf-8")


def content_hash(doc: dict[str, Any]) -> str:
    """Return the hex SHA-256 of the document's canonical form."""
    return hashlib.sha256(canonical_bytes(doc)).hexdigest()


# ----------------------------------------------------------------------- schema
@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    """Return the disclosure JSON Schema shipped in the package."""
    text = (
        resources.files("greenai") / "schemas" / f"disclosure-{SCHEMA_VERSION}.json"
    ).read_text()
    return json.loads(text)


@lru_cache(maxsize=1)
def _validator() -> Any:
    """Return the schema's validator, built once (building one costs more than validating)."""
    import jsonschema

    return jsonschema.Draft202012Validator(schema())


@lru_cache(maxsize=1)
def _compiled() -> Any:
    """Return is_valid of the schema compiled by jsonschema-rs, or None without it.

    jsonschema (Python) walks every timeline sample: ~25 ms for a 10 Hz minute. The Rust
    validator answers valid/invalid in ~0.05 ms; the Python one still words the errors.
    """
    try:
        import jsonschema_rs
    except ImportError:
        return None
    return jsonschema_rs.Draft202012Validator(schema()).is_valid


@lru_cache(maxsize=1)
def _fast_check() -> Any:
    """Return is_valid of the compiled schema over a document's skeleton, or None."""
    is_valid = _compiled()
    if is_valid is not None and _schema_skeleton_is_exact():
        return lambda doc: is_valid(_skeleton(doc))
    return is_valid


# Converting a timeline to Rust values costs more than checking it (~1.5 ms for 4,500
# samples). A long list of plain numbers stands in as [first, min, max, last]: the same
# item types and bounds for "type"/"minimum"/"maximum", and still more items than any
# maxItems below 4 allows, so it is valid exactly when the list is. Other array keywords
# (uniqueItems, contains, a larger maxItems) would break that: then the whole list is sent.
_SKELETON_MIN_LENGTH = 64
_ARRAY_KEYWORDS_UNSAFE = ("uniqueItems", "contains", "prefixItems", "maxContains", "enum")


@lru_cache(maxsize=1)
def _schema_skeleton_is_exact() -> bool:
    """Return whether the shipped schema judges a skeleton as it judges the document."""
    return _skeleton_is_exact(schema())


def _skeleton_is_exact(node: Any) -> bool:
    if isinstance(node, dict):
        if any(k in node for k in _ARRAY_KEYWORDS_UNSAFE if k != "enum") or (
            isinstance(node.get("maxItems"), int) and node["maxItems"] >= 4
        ):
            return False
        items = node.get("items")
        if isinstance(items, dict) and ("enum" in items or "const" in items):
            return False
        return all(_skeleton_is_exact(v) for v in node.values())
    if isinstance(node, list):
        return all(_skeleton_is_exact(v) for v in node)
    return True


def _skeleton(node: Any) -> Any:
    kind = type(node)
    if kind is dict:  # only containers are walked into: scalars are kept as they are
        return {
            k: _skeleton(v) if type(v) is dict or type(v) is list else v for k, v in node.items()
        }
    if kind is list:
        if len(node) >= _SKELETON_MIN_LENGTH and set(map(type, node)) <= {float, int}:
            return [node[0], min(node), max(node), node[-1]]
        return [_skeleton(v) if type(v) is dict or type(v) is list else v for v in node]
    return node


def validation_errors(doc: Any, strict_json: bool = False) -> list[str]:
    """Return every schema violation as 'JSON path: message' (empty when valid).

    strict_json: the document was read by jsonio, which refuses NaN and infinity, so it is
    not searched for them again (a document built in Python is).
    """
    fast = _fast_check()
    if fast is not None:
        try:
            if fast(doc) and (strict_json or not _any_non_finite(doc)):
                return []
        except (ValueError, TypeError, OverflowError):
            pass  # a value the Rust side cannot convert: let the Python validator word it
    errors = _non_finite(doc, "$", [])
    for err in sorted(_validator().iter_errors(doc), key=lambda e: list(map(str, e.absolute_path))):
        errors.append(f"{err.json_path}: {err.message}")
    return errors


def _any_non_finite(node: Any) -> bool:
    """Return True if a NaN or infinity is anywhere in the document (timelines via numpy)."""
    kind = type(node)
    if kind is float:
        return not math.isfinite(node)
    if kind is dict:
        return any(_any_non_finite(v) for v in node.values())
    if kind is list or kind is tuple:
        if len(node) >= 64 and set(map(type, node)) <= {float, int}:
            import numpy as np

            return not bool(np.isfinite(np.array(node, dtype=np.float64)).all())
        return any(_any_non_finite(v) for v in node)
    return isinstance(node, float) and not math.isfinite(node)  # a float subclass


def _non_finite(node: Any, where: str, found: list[str]) -> list[str]:
    """Append 'path: message' for every NaN or infinity in a document built in Python."""
    if isinstance(node, float) and not math.isfinite(node):
        found.append(f"{where}: {node!r} is not a finite number")
    elif isinstance(node, dict):
        for key, value in node.items():
            _non_finite(value, f"{where}.{key}", found)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            _non_finite(value, f"{where}[{i}]", found)
    return found


def upgrade(doc: dict[str, Any], source: str = "<document>") -> dict[str, Any]:
    """Return a document of the current schema version from one of a readable older version."""
    version = doc.get("schema_version")
    if version not in READABLE_VERSIONS:
        raise DisclosureError(
            f"{source}: schema_version {version!r} is not readable by greenai "
            f"(reads {', '.join(READABLE_VERSIONS)}); upgrade greenai or re-export the file"
        )
    if version == "0.1":  # 0.1 had no site, footprint or rating blocks
        doc = {**doc, "schema_version": SCHEMA_VERSION}
        for block in ("site", "footprint", "rating"):
            doc.setdefault(block, None)
    return doc


def validate(doc: Any, source: str = "<document>", strict_json: bool = False) -> dict[str, Any]:
    """Return the (upgraded) document if it is valid; DisclosureError listing every problem.

    strict_json: doc was read by jsonio (see validation_errors).
    """
    if not isinstance(doc, dict):
        raise DisclosureError(f"{source}: $: expected a JSON object")
    doc = upgrade(doc, source)
    errors = validation_errors(doc, strict_json)
    if errors:
        raise DisclosureError(f"{source}: {len(errors)} problem(s):\n  " + "\n  ".join(errors))
    return doc


def read_document(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Return the JSON object in a file; DisclosureError if it cannot be read or parsed."""
    try:
        doc = read(path)  # makes its own Path: one per file is enough
    except JSONInputError as exc:
        raise DisclosureError(str(exc)) from exc
    if not isinstance(doc, dict):
        raise DisclosureError(f"{Path(path)}: expected a JSON object, got {type(doc).__name__}")
    return doc


class ValidFile(NamedTuple):
    """A valid disclosure read from a file, with its canonical text where the read had it."""

    doc: dict[str, Any]
    pieces: dict[str, str] | None  # each block's canonical text, integrity left out
    canonical: bytes | None  # the canonical bytes the content hash is taken over


def read_valid(path: str | os.PathLike[str]) -> ValidFile:
    """Return a valid disclosure file, upgraded; DisclosureError naming the file and fields.

    The same as validate(read_document(path), str(path), strict_json=True), in one pass
    where try_read_valid vouches for the file (about half the cost).
    """
    valid = try_read_valid(path)
    if valid is None:
        valid = ValidFile(validate(read_document(path), str(path), strict_json=True), None, None)
    return valid


def try_read_valid(path: str | os.PathLike[str]) -> ValidFile | None:
    """Return a disclosure file if it is valid and one pass can vouch for every check.

    None otherwise (not valid, not version SCHEMA_VERSION, a check that needs the json
    module): read it the reference way then, which words what is wrong. One walk of the
    document gives its canonical form and the long lists the schema check stands in for;
    orjson's dump of that form proves no key was repeated (jsonio.read_fast).
    """
    read = read_fast(path)
    if read is None:
        return None
    doc, raw = read
    if type(doc) is not dict or doc.get("schema_version") != SCHEMA_VERSION:
        return None
    specials: list[Any] = []
    long_lists: list[Any] = []
    pieces = {}
    try:
        for key, value in doc.items():  # each block as sealed_text encodes it
            if key != "integrity":
                known = len(specials)
                text = _dumps_sorted(_walk(value, specials, long_lists))
                pieces[key] = text if len(specials) == known else _placed(text, specials)
    except (_NotFast, RecursionError):
        return None
    if any(type(v) is float and not -BIG_FLOAT < v < BIG_FLOAT for v in specials):
        return None  # maybe an integer beyond 64 bits, which orjson reads as a float
    canonical = _joined(pieces, {k: _key_text(k) for k in pieces}).encode("utf-8")
    count = colons(canonical)
    if "integrity" in doc:
        orjson = orjson_module()  # there: read_fast parsed with it
        try:
            integrity = orjson.dumps(doc["integrity"])
        except orjson.JSONEncodeError:
            return None
        if b"e+" in integrity:  # a float of 1e16 or more: maybe an integer beyond 64 bits
            return None
        count += 1 + integrity.count(b":")
    if count != colons(raw) or not _valid_standing_in(doc, long_lists):
        return None
    return ValidFile(doc, pieces, canonical)


def _valid_standing_in(doc: dict[str, Any], long_lists: list[Any]) -> bool:
    """Return whether the compiled schema finds doc valid, its long lists stood in for.

    Each long list's items are swapped for its stand-in while the schema is checked and
    put back after: converting thousands of samples to Rust values costs more than a walk.
    """
    is_valid = _compiled()
    if is_valid is None:
        return False
    swapped = []
    try:
        if _schema_skeleton_is_exact():
            for items, stand_in in long_lists:
                swapped.append((items, items[:]))
                items[:] = stand_in
        return bool(is_valid(doc))
    except (ValueError, TypeError, OverflowError):
        return False  # a value the Rust side cannot convert: the Python validator words it
    finally:
        for items, saved in reversed(swapped):
            items[:] = saved


# ----------------------------------------------------------------------- integrity
def seal(doc: dict[str, Any]) -> dict[str, Any]:
    """Return the document with an integrity block holding its content hash (no signature)."""
    body = {k: v for k, v in doc.items() if k != "integrity"}
    return _sealed(body, canonical_bytes(body))


def _sealed(body: dict[str, Any], canonical: bytes) -> dict[str, Any]:
    """Return body with the integrity block of its canonical bytes."""
    sha256 = hashlib.sha256(canonical).hexdigest()
    return {**body, "integrity": {"canonicalization": CANONICALIZATION, "sha256": sha256}}


def _crypto() -> Any:
    try:
        from cryptography.hazmat.primitives.asymmetric import ed25519
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise DisclosureError(
            "signing needs the cryptography package: pip install 'greenai[sign]'"
        ) from exc
    return ed25519


def generate_key(private_path: str | os.PathLike[str], public_path: str | os.PathLike[str]) -> str:
    """Write a new Ed25519 key pair (PEM); return the public key as base64 of its raw bytes."""
    from cryptography.hazmat.primitives import serialization

    ed25519 = _crypto()
    key = ed25519.Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    Path(private_path).write_bytes(pem)
    os.chmod(private_path, 0o600)
    pub = key.public_key()
    Path(public_path).write_bytes(
        pub.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def _load_private(path: str | os.PathLike[str]) -> Any:
    from cryptography.hazmat.primitives import serialization

    ed25519 = _crypto()
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise DisclosureError(f"{path}: not an unencrypted PEM private key: {exc}") from exc
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise DisclosureError(f"{path}: not an Ed25519 key (greenai signs with Ed25519)")
    return key


def load_public_key(path: str | os.PathLike[str]) -> str:
    """Return the base64 raw Ed25519 public key stored in a PEM file."""
    from cryptography.hazmat.primitives import serialization

    ed25519 = _crypto()
    try:
        key = serialization.load_pem_public_key(Path(path).read_bytes())
    except (OSError, ValueError, TypeError) as exc:
        raise DisclosureError(f"{path}: not a PEM public key: {exc}") from exc
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise DisclosureError(f"{path}: not an Ed25519 public key")
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def sign(doc: dict[str, Any], private_key_path: str | os.PathLike[str]) -> dict[str, Any]:
    """Return the document sealed and signed with an Ed25519 private key (PEM file)."""
    from cryptography.hazmat.primitives import serialization

    key = _load_private(private_key_path)
    body = {k: v for k, v in doc.items() if k != "integrity"}
    canonical = canonical_bytes(body)  # once: hashed for the seal, and signed
    sealed = _sealed(body, canonical)
    signature = key.sign(canonical)
    raw_pub = key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    sealed["integrity"]["signature"] = {
        "algorithm": "ed25519",
        "public_key": base64.b64encode(raw_pub).decode(),
        "value": base64.b64encode(signature).decode(),
    }
    return sealed


_INTEGRITY_KEYS = frozenset({"canonicalization", "sha256", "signature"})
_SIGNATURE_KEYS = frozenset({"algorithm", "public_key", "value"})


def verify(
    doc: dict[str, Any], public_keys: tuple[str, ...] = (), canonical: bytes | None = None
) -> tuple[str, list[str]]:
    """Return (status, problems): 'verified', 'hash-only' or 'unverified', and why.

    verified: the hash matches and the signature is valid for one of ``public_keys``
    (base64 raw keys); hash-only: the hash matches but there is no signature, or no trusted
    key to check it with; unverified: no integrity block, or anything does not match.
    canonical: the document's canonical bytes where the caller has them (read_valid's).
    """
    integrity = doc.get("integrity")
    if not isinstance(integrity, dict):
        return "unverified", ["no integrity block"]
    unknown = sorted(set(integrity) - _INTEGRITY_KEYS)
    if unknown:
        return "unverified", [f"integrity block has keys greenai does not write: {unknown}"]
    if integrity.get("canonicalization") != CANONICALIZATION:
        return "unverified", [
            f"integrity.canonicalization is {integrity.get('canonicalization')!r}, "
            f"expected {CANONICALIZATION!r}"
        ]
    signature = integrity.get("signature")
    if signature is not None:
        if not isinstance(signature, dict):
            return "unverified", ["integrity.signature is not an object"]
        unknown = sorted(set(signature) - _SIGNATURE_KEYS)
        if unknown or signature.get("algorithm") != "ed25519":
            return "unverified", [
                f"integrity.signature: unknown keys {unknown} or algorithm "
                f"{signature.get('algorithm')!r} (greenai signs with ed25519)"
            ]
    problems = []
    expected = integrity.get("sha256")
    try:  # once: hashed here, and what the signature signs
        canonical = canonical_bytes(doc) if canonical is None else canonical
    except DisclosureError as exc:
        return "unverified", [str(exc)]
    actual = hashlib.sha256(canonical).hexdigest()
    if expected != actual:
        return "unverified", [f"content hash differs: file says {expected}, content is {actual}"]
    signature = integrity.get("signature")
    if not isinstance(signature, dict):
        return "hash-only", ["hash matches; not signed"]
    ed25519 = _crypto()
    from cryptography.exceptions import InvalidSignature

    try:
        signer = base64.b64decode(str(signature.get("public_key")), validate=True)
        value = base64.b64decode(str(signature.get("value")), validate=True)
    except ValueError:
        return "unverified", ["signature or public key is not base64"]
    try:
        ed25519.Ed25519PublicKey.from_public_bytes(signer).verify(value, canonical)
    except (InvalidSignature, ValueError):
        return "unverified", ["signature does not match the content"]
    trusted = {base64.b64decode(k) for k in public_keys}
    if signer not in trusted:
        problems.append("signature is valid but made with a key you did not give as trusted")
        return "hash-only", problems
    return "verified", []


def integrity_status(doc: dict[str, Any], public_keys: tuple[str, ...] = ()) -> str:
    """Return 'verified', 'hash-only' or 'unverified' for a document."""
    return verify(doc, public_keys)[0]


def drop_duplicates(
    docs: Sequence[Any], labels: Sequence[str]
) -> tuple[list[Any], list[str], list[str]]:
    """Return (docs, labels, notes) with each sealed result kept once.

    Two documents sealed with the same SHA-256 are the same result (a file copied into two
    folders, a folder given twice): the first is kept and each repeat is named in a note,
    never dropped silently. Documents without a seal are all kept. A seal is only a claim:
    a repeat whose content differs from the first's (a copy altered after sealing) is not
    the same result, so it is kept and named, and cannot hide the result whose seal it took.
    """
    kept: list[Any] = []
    names: list[str] = []
    notes: list[str] = []
    first: dict[str, tuple[str, Any]] = {}  # seal -> (label, document) of its first holder
    for doc, label in zip(docs, labels, strict=True):
        integrity = doc.get("integrity") if isinstance(doc, dict) else None
        digest = integrity.get("sha256") if isinstance(integrity, dict) else None
        if isinstance(digest, str) and digest:
            if digest in first:
                held_by, held = first[digest]
                if held is doc or canonical_bytes(held) == canonical_bytes(doc):
                    notes.append(
                        f"{label}: the same sealed result (SHA-256 {digest[:12]}...) as "
                        f"{held_by}: counted once"
                    )
                    continue
                warnings.warn(
                    f"{label} and {held_by} carry one seal (SHA-256 {digest[:12]}...) but "
                    "differ: one was altered after sealing; both kept, as two results "
                    "(greenai verify says which matches the seal)",
                    GreenAIWarning,
                    stacklevel=2,
                )
            else:
                first[digest] = (label, doc)
        kept.append(doc)
        names.append(label)
    return kept, names, notes
