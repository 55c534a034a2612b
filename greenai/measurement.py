"""The Measurement: what a metered run produced, as frozen values, and its JSON form.

This is the first version of the disclosure document; later layers (site, footprint,
rating, optimisation) add blocks to the same JSON without changing these fields. A loaded
document gives those blocks as the same typed values the Meter gives (``m.footprint``,
``m.rating``...); ``extra`` keeps only blocks this version does not know.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import os
import threading
import types
import typing
from collections.abc import Callable
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from greenai.errors import DisclosureError, GreenAIError

if TYPE_CHECKING:
    from greenai.embodied import Embodied
    from greenai.footprint import Footprint
    from greenai.scoring import Rating
    from greenai.site import Site

SCHEMA_VERSION = "1.0"
DOCUMENT_KIND = "greenai.measurement"
STATUSES = ("ok", "failed", "interrupted")


@dataclass(frozen=True)
class DeviceEnergy:
    """Energy of one probe (a RAPL zone, a GPU, a model) over the measured window."""

    id: str
    domain: str
    method: str  # counter | power | model
    provenance: str  # measured | modelled
    energy_j: float | None  # None: no reading at all in this window (failed before it)
    counts_in_total: bool
    status: str = "ok"  # ok | failed
    failed_at_s: float | None = None  # seconds after the window start
    error: str | None = None
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DomainEnergy:
    """Energy of one domain (cpu, dram, gpu, system): the sum of its non-overlapping probes."""

    energy_j: float
    provenance: str  # measured | modelled | mixed
    complete: bool  # False when a probe of the domain failed during the window


@dataclass(frozen=True)
class PhaseEnergy:
    """Energy spent inside ``with meter.phase(name):`` blocks of one name."""

    name: str
    duration_s: float
    energy_j: float
    by_domain: dict[str, float]
    units: float = 0.0


@dataclass(frozen=True)
class IdleBaseline:
    """Idle power measured before the run, and the run's energy net of it."""

    duration_s: float
    power_w: float
    power_by_domain_w: dict[str, float]
    net_energy_j: float
    net_by_domain_j: dict[str, float]


@dataclass(frozen=True)
class Timeline:
    """Mean power (W) per device over time slots; slot k ends at t_s[k] (s after start)."""

    resolution_s: float
    t_s: tuple[float, ...]
    power_w: dict[str, tuple[float, ...]]


@dataclass(frozen=True)
class Gap:
    """A stretch a probe did not measure (from failed_at_s to the end of the window)."""

    probe: str
    from_s: float
    error: str
    fatal: bool = True


_FILLING = threading.RLock()  # held while a deferred field is computed (re-entrant: a fill
# may read another group's field)


class _Deferred:
    """A Measurement field that may be computed on its first read (then kept).

    A live meter's result leaves what few callers read (per-device energy, the assessment:
    site, footprint, rating, embodied) to be filled in when first read: ``m.result`` costs
    only the window's accounting. Whoever reads the field, a reporter, ``to_dict``, ``==``,
    ``dataclasses.replace`` or pickle, gets the value the eager path gives. Set by
    ``__init__`` like any field (a data descriptor: the value lives in the instance dict).
    """

    def __init__(self, default: Any = MISSING):
        self.default = default

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        if obj is None:  # the class attribute: the field's default, as dataclasses asks
            if self.default is MISSING:
                raise AttributeError(self.name)
            return self.default
        try:
            return obj.__dict__[self.name]
        except KeyError:
            return obj._fill(self.name)

    def __set__(self, obj: Any, value: Any) -> None:
        obj.__dict__[self.name] = value


@dataclass(frozen=True)
class Measurement:
    """A metered run: energy per domain and device, units, phases, status, inventory."""

    status: str
    task: str | None
    unit: str | None
    units_done: float
    started_at: str  # ISO 8601, UTC
    duration_s: float
    domains: dict[str, DomainEnergy]
    devices: tuple[DeviceEnergy, ...] = _Deferred()  # type: ignore[assignment]
    phases: tuple[PhaseEnergy, ...] = ()
    idle: IdleBaseline | None = None
    gaps: tuple[Gap, ...] = ()
    probes_unavailable: tuple[dict[str, str], ...] = ()
    host: dict[str, Any] = field(default_factory=dict)
    sampling: dict[str, Any] = field(default_factory=dict)
    timeline: Timeline | None = _Deferred(None)  # type: ignore[assignment]
    error: dict[str, str] | None = None
    command: tuple[str, ...] | None = None
    exit_code: int | None = None
    # the assessment (greenai/assessment.py), filled in on first read for a live result
    site: Site | None = _Deferred(None)  # type: ignore[assignment]  # energy -> water, carbon
    footprint: Footprint | None = _Deferred(None)  # type: ignore[assignment]  # facility
    rating: Rating | None = _Deferred(None)  # type: ignore[assignment]  # under a standard
    embodied: Embodied | None = _Deferred(None)  # type: ignore[assignment]  # hardware, SCI
    optimisation: Any = None  # greenai.optimize.Optimisation: settings tried and chosen
    extra: dict[str, Any] = field(default_factory=dict)  # blocks of later greenai versions
    schema_version: str = SCHEMA_VERSION
    greenai_version: str = ""

    # ---------------------------------------------------------------- deferred fields
    def _defer(self, names: tuple[str, ...], fill: Callable[[Measurement], dict[str, Any]]) -> None:
        """Leave fields `names` to ``fill(self)`` (their values), called on the first read of
        any of them. Only for a Measurement just built, before anyone has read it."""
        d = self.__dict__
        pending = d.setdefault("_pending", {})
        for name in names:
            d.pop(name, None)
            pending[name] = (names, fill)

    def _fill(self, name: str) -> Any:
        with _FILLING:  # two threads reading at once: one computes, the other finds it
            d = self.__dict__
            if name in d:
                return d[name]
            pending = d.get("_pending")
            if not pending or name not in pending:
                raise AttributeError(name)
            names, fill = pending[name]
            for n in names:  # taken first: a fill that reads its own group fails loud
                pending.pop(n, None)
            try:
                values = fill(self)
            except BaseException:
                pending.update(dict.fromkeys(names, (names, fill)))  # the next read retries
                raise
            for n in names:
                d[n] = values[n]
            return values[name]

    def __getstate__(self) -> dict[str, Any]:
        """Return the state to pickle or copy: every deferred field filled in first."""
        for name in list(self.__dict__.get("_pending", ())):
            getattr(self, name)
        return {k: v for k, v in self.__dict__.items() if k != "_pending"}

    # ---------------------------------------------------------------- energy
    @property
    def energy_j(self) -> float:
        """Return the run's IT energy in J: the sum over domains (no overlap counted)."""
        return math.fsum(d.energy_j for d in self.domains.values())

    @property
    def by_domain(self) -> dict[str, float]:
        """Return energy (J) per domain."""
        return {name: d.energy_j for name, d in self.domains.items()}

    @property
    def by_device(self) -> dict[str, float | None]:
        """Return energy (J) per probe/device, including zones that do not count in the total."""
        return {d.id: d.energy_j for d in self.devices}

    @property
    def energy_per_unit_j(self) -> float | None:
        """Return J per functional unit, None when no units were counted."""
        return self.energy_j / self.units_done if self.units_done > 0 else None

    @property
    def provenance(self) -> str:
        """Return 'measured' or 'modelled' when all domains agree, else 'mixed'."""
        kinds = {d.provenance for d in self.domains.values()}
        return kinds.pop() if len(kinds) == 1 else "mixed"

    @property
    def power_w(self) -> float:
        """Return the mean power (W) over the run."""
        return self.energy_j / self.duration_s if self.duration_s > 0 else 0.0

    # ---------------------------------------------------------------- JSON
    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready document."""
        doc: dict[str, Any] = {
            "kind": DOCUMENT_KIND,
            "schema_version": self.schema_version,
            "greenai_version": self.greenai_version,
            "status": self.status,
            "task": self.task,
            "unit": self.unit,
            "units_done": self.units_done,
            "started_at": self.started_at,
            "duration_s": self.duration_s,
            "energy_j": self.energy_j,
            "energy_per_unit_j": self.energy_per_unit_j,
            "provenance": self.provenance,
            "domains": {k: _plain(v) for k, v in self.domains.items()},
            "devices": [_plain(d) for d in self.devices],
            "phases": [_plain(p) for p in self.phases],
            "idle": _plain(self.idle) if self.idle else None,
            "gaps": [_plain(g) for g in self.gaps],
            "probes_unavailable": list(self.probes_unavailable),
            "host": self.host,
            "sampling": self.sampling,
            "timeline": _timeline_dict(self.timeline),
            "error": self.error,
            "command": list(self.command) if self.command is not None else None,
            "exit_code": self.exit_code,
        }
        doc.update(self.extra)
        if self.footprint is not None or self.site is not None or self.rating is not None:
            # the three come together: a footprint not computed has site null, a run that
            # could not be rated has rating null
            doc["site"] = self.site.to_dict() if self.site is not None else None
            doc["footprint"] = self.footprint.to_dict() if self.footprint is not None else None
            doc["rating"] = self.rating.to_dict() if self.rating is not None else None
        if self.embodied is not None:
            doc["embodied"] = _block_dict(self.embodied)
        if self.optimisation is not None:
            doc["optimisation"] = _block_dict(self.optimisation)
        return doc

    @classmethod
    def from_dict(cls, doc: dict[str, Any], source: str = "<dict>") -> Measurement:
        """Return a Measurement from its JSON form; DisclosureError names the bad field."""
        if not isinstance(doc, dict):
            raise DisclosureError(f"{source}: expected a JSON object, got {type(doc).__name__}")
        from greenai.disclosure import upgrade

        doc = upgrade(doc, source)
        reader = _Reader(doc, source)
        known = _known_keys(cls)
        status = reader.get("status", str)
        if status not in STATUSES:
            raise DisclosureError(f"{source}: status: {status!r} is not one of {STATUSES}")
        timeline = doc.get("timeline")
        reader.check("probes_unavailable", _UNAVAILABLE_HINT)
        reader.check("error", _ERROR_HINT)
        return cls(
            status=status,
            task=reader.get("task", str, optional=True),
            unit=reader.get("unit", str, optional=True),
            units_done=reader.get("units_done", (int, float)),
            started_at=reader.get("started_at", str),
            duration_s=reader.get("duration_s", (int, float)),
            domains={
                k: reader.build(DomainEnergy, v, f"domains.{k}")
                for k, v in reader.get("domains", dict).items()
            },
            devices=tuple(
                reader.build(DeviceEnergy, d, f"devices[{i}]")
                for i, d in enumerate(reader.get("devices", list))
            ),
            phases=tuple(
                reader.build(PhaseEnergy, p, f"phases[{i}]")
                for i, p in enumerate(reader.get("phases", list, optional=True) or [])
            ),
            idle=reader.build(IdleBaseline, doc["idle"], "idle") if doc.get("idle") else None,
            gaps=tuple(
                reader.build(Gap, g, f"gaps[{i}]")
                for i, g in enumerate(reader.get("gaps", list, optional=True) or [])
            ),
            probes_unavailable=tuple(reader.get("probes_unavailable", list, optional=True) or []),
            host=reader.get("host", dict, optional=True) or {},
            sampling=reader.get("sampling", dict, optional=True) or {},
            timeline=_timeline_from(reader, timeline) if timeline is not None else None,
            error=reader.get("error", dict, optional=True),
            command=_command_from(reader),
            exit_code=reader.get("exit_code", int, optional=True),
            **{name: _typed_block(doc, name, source) for name in TYPED_BLOCKS},
            extra={k: v for k, v in doc.items() if k not in known},
            schema_version=reader.get("schema_version", str),
            greenai_version=reader.get("greenai_version", str, optional=True) or "",
        )

    def to_json(self, indent: int | None = 2) -> str:
        """Return the document, sealed with its SHA-256 content hash, as JSON text."""
        from greenai.disclosure import seal

        return json.dumps(seal(self.to_dict()), indent=indent, allow_nan=False) + "\n"

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the sealed document atomically (temp file, fsync, rename); return the path."""
        return write_atomic(Path(path), self.to_json())


# Blocks of the document read into typed values: name -> (module, class); each class has
# from_dict(data, where) and to_dict(). Imported only when a document has the block.
TYPED_BLOCKS = {
    "site": ("greenai.site", "Site"),
    "footprint": ("greenai.footprint", "Footprint"),
    "rating": ("greenai.scoring", "Rating"),
    "optimisation": ("greenai.optimize", "Optimisation"),
    "embodied": ("greenai.embodied", "Embodied"),
}


@functools.cache
def _known_keys(cls: type) -> frozenset[str]:
    """Return the document keys a Measurement reads (the rest go to ``extra``)."""
    derived = {"integrity", "kind", "energy_j", "energy_per_unit_j", "provenance"}
    return frozenset({f.name for f in fields(cls)} | derived)


@functools.cache
def _block_class(name: str) -> Any:
    """Return the class a typed block is read into (None where it cannot be imported)."""
    import importlib

    module, cls = TYPED_BLOCKS[name]
    try:
        return getattr(importlib.import_module(module), cls)
    except (ImportError, AttributeError):
        return None


def _typed_block(doc: dict[str, Any], name: str, source: str) -> Any:
    """Return block `name` of doc as its typed value (None when absent or null)."""
    data = doc.get(name)
    if data is None:
        return None
    if not isinstance(data, dict):
        raise DisclosureError(f"{source}: {name}: expected an object, got {type(data).__name__}")
    kind = _block_class(name)
    if kind is None:
        return data  # a block of a later greenai: kept as it was written
    try:
        return kind.from_dict(data, where=f"{source}: {name}")
    except (GreenAIError, AttributeError, KeyError, TypeError, ValueError) as exc:
        text = str(exc) or type(exc).__name__
        raise DisclosureError(text if source in text else f"{source}: {name}: {text}") from None


def _block_dict(value: Any) -> Any:
    """Return the JSON form of a typed block (a dict kept as read stays a dict)."""
    return value if isinstance(value, dict) else value.to_dict()


def write_atomic(path: Path, text: str, fsync: bool = True) -> Path:
    """Write text to path via a temp file in the same directory, fsync and rename.

    fsync=False leaves the flush to the caller (one os.sync() after a batch of files).
    The file gets the mode a plain open() would give (0o666 less the umask: 0644 under
    umask 022), not mkstemp's private 0600, so colleagues can read a shared results folder.
    """
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        from greenai.runtime import file_mode

        os.fchmod(fd, file_mode())
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            if fsync:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load(path: str | os.PathLike[str], *, site: Any = None, standard: Any = None) -> Measurement:
    """Return the Measurement stored in a result JSON file, its blocks typed.

    A file from before footprints and ratings (schema 0.1) is completed as the Meter would
    have done it: footprint at `site` (None: the default site, whose factors say they are
    defaults) and rating under `standard` (None: the default standard). The file is not
    changed.
    """
    from greenai.disclosure import read_document

    m = Measurement.from_dict(read_document(path), source=str(path))
    if m.footprint is None:
        from greenai.assessment import assess

        m = assess(m, site, standard, stacklevel=3)
    elif m.embodied is None:  # a file from before embodied impacts: computed as the Meter would
        from greenai.embodied import attach

        m = attach(m, site)
    return m


def _timeline_from(reader: _Reader, data: Any) -> Timeline:
    tl = reader.build(Timeline, data, "timeline")
    return Timeline(tl.resolution_s, tuple(tl.t_s), {k: tuple(v) for k, v in tl.power_w.items()})


def _command_from(reader: _Reader) -> tuple[str, ...] | None:
    reader.check("command", _COMMAND_HINT)
    command = reader.doc.get("command")
    return tuple(command) if command is not None else None


def _plain(obj: Any) -> dict[str, Any]:
    return {f.name: getattr(obj, f.name) for f in fields(obj)}


def _timeline_dict(tl: Timeline | None) -> dict[str, Any] | None:
    if tl is None:
        return None
    return {
        "resolution_s": tl.resolution_s,
        "t_s": list(tl.t_s),
        "power_w": {k: list(v) for k, v in tl.power_w.items()},
    }


def _type_ok(value: Any, hint: Any) -> bool:
    """Return whether a JSON value fits a (simple) type hint: str, float, int, bool, dict, tuple,
    unions with None, Any."""
    return _checker(hint)(value)


def _is_number(value: Any) -> bool:
    kind = type(value)
    if kind is float:
        return value - value == 0.0  # False for NaN and the infinities
    if kind is int:
        return True
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _numbers_ok(values: Any) -> bool:
    """Return whether every item is a finite number, checked per block, not per float."""
    if not isinstance(values, list | tuple):
        return False
    if not set(map(type, values)) <= {float, int}:  # bool is its own type: refused here
        return False
    try:
        if math.isfinite(sum(values)):  # NaN or an infinity anywhere makes the sum one too
            return True
    except OverflowError:
        pass
    return all(math.isfinite(v) for v in values)  # a finite overflow: look at each


def _all_str(keys: Any) -> bool:
    """Return whether every key is a str (a loop in C, not a generator)."""
    return all(map(isinstance, keys, itertools.repeat(str)))


@functools.cache
def _checker(hint: Any) -> Callable[[Any], bool]:
    """Return a function that checks a JSON value against ``hint`` (built once per hint)."""
    if hint is Any:
        return lambda v: True
    if hint is type(None):
        return lambda v: v is None
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if len(args) == 2 and type(None) in args:  # X | None: the common case, no loop
            other = _checker(args[1] if args[0] is type(None) else args[0])
            return lambda v: v is None or other(v)
        checks = tuple(_checker(h) for h in args)
        return lambda v: any(c(v) for c in checks)
    if hint is float:
        return _is_number
    if hint is int:
        return lambda v: isinstance(v, int) and not isinstance(v, bool)
    if hint in (str, bool):
        return lambda v: isinstance(v, hint)
    if origin is dict or hint is dict:
        if not args:
            return lambda v: isinstance(v, dict)
        if args[1] is Any:
            return lambda v: isinstance(v, dict) and _all_str(v)
        if args[1] is float:
            return lambda v: isinstance(v, dict) and _all_str(v) and _numbers_ok(list(v.values()))
        inner = _checker(args[1])
        return lambda v: isinstance(v, dict) and _all_str(v) and all(map(inner, v.values()))
    if origin is tuple:
        if args[0] is float:
            return _numbers_ok
        item = _checker(args[0])
        return lambda v: isinstance(v, list | tuple) and all(map(item, v))
    return lambda v: False


@functools.cache
def _fields_of(
    cls: type,
) -> tuple[frozenset[str], tuple[tuple[str, bool, Callable[[Any], bool], Any], ...]]:
    """Return a dataclass's field names and its check plan, once per class: per field
    (name, required, checker, resolved type hint)."""
    hints = typing.get_type_hints(cls)
    plan = []
    for f in fields(cls):
        required = f.default is MISSING and f.default_factory is MISSING
        plan.append((f.name, required, _checker(hints[f.name]), hints[f.name]))
    return frozenset(hints), tuple(plan)


_READER_HINTS: dict[Any, Any] = {
    str: str,
    dict: dict[str, Any],
    list: tuple[Any, ...],
    int: int,
    (int, float): float,
}
# made once, not per file: a generic alias costs a construction and a hash per look-up
_UNAVAILABLE_HINT = tuple[dict[str, str], ...]
_ERROR_HINT = dict[str, str] | None
_COMMAND_HINT = tuple[str, ...] | None


_GET_CHECKS = {kind: _checker(hint) for kind, hint in _READER_HINTS.items()}


class _Reader:
    """Typed access to a JSON object that names the field when it is wrong."""

    def __init__(self, doc: dict[str, Any], source: str):
        self.doc = doc
        self.source = source

    def get(self, key: str, kind: Any, optional: bool = False) -> Any:
        value = self.doc.get(key)
        if value is None:
            if optional:
                return None
            raise DisclosureError(f"{self.source}: {key}: missing (required field)")
        hint = _READER_HINTS.get(kind, kind)
        if not (_GET_CHECKS.get(kind) or _checker(hint))(value):
            want = {float: "a finite number", int: "an integer", str: "a string"}.get(
                hint, "an object" if kind is dict else "a list" if kind is list else str(kind)
            )
            raise DisclosureError(
                f"{self.source}: {key}: expected {want}, got {type(value).__name__} {value!r:.60}"
            )
        return value

    def check(self, key: str, hint: Any) -> None:
        if key in self.doc and not _type_ok(self.doc[key], hint):
            raise DisclosureError(
                f"{self.source}: {key}: {self.doc[key]!r:.60} is not of type {hint}"
            )

    def build(self, cls: type, data: Any, where: str) -> Any:
        if not isinstance(data, dict):
            raise DisclosureError(f"{self.source}: {where}: expected an object")
        names, plan = _fields_of(cls)
        if not names.issuperset(data):
            unknown = sorted(set(data) - names)
            raise DisclosureError(f"{self.source}: {where}: unknown field(s) {unknown}")
        values = {}
        for name, required, ok, hint in plan:
            if name not in data:
                if required:
                    raise DisclosureError(f"{self.source}: {where}.{name}: missing")
                continue
            value = data[name]
            if not ok(value):
                raise DisclosureError(
                    f"{self.source}: {where}.{name}: {value!r:.60} is not of type {hint}"
                )
            values[name] = tuple(value) if isinstance(value, list) else value
        return cls(**values)
