"""Import published result tables (CSV) as third-party disclosures, driven by a mapping file.

    mapping = load_mapping("ml-energy")                       # standards/importers/ml-energy.toml
    result = import_table("A40_chat_benchmark.csv", mapping, gpu="NVIDIA A40")
    result.docs, result.errors                                # disclosures; rows left out, and why
    for item in TableStream(path, mapping, max_rows=10_000):  # streaming: document or RowError
        ...

A mapping (TOML, standards/importers/README.md) says which column holds the model, the
energy (with its unit, per response or per row), the response length in tokens, throughput,
latency, batch size and hardware. Every document says `provenance: third-party` and carries
a `source` block: the file and its SHA-256, the row, the domains the source measured and
what it did not. A bad row is reported with its row, line and column, and the rest imports.
"""

from __future__ import annotations

import csv
import hashlib
import math
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from greenai import textfile, units
from greenai._resources import standards_dir
from greenai._version import __version__
from greenai.errors import DisclosureError
from greenai.standard import DOMAINS, _toml_loads

ROLES = (
    "model",
    "energy",
    "response_length",
    "responses",
    "throughput",
    "latency",
    "batch_size",
    "gpu",
    "task",
    "parameters",
)
COUNTED_UNITS = ("token", "response")
ENERGY_PER = ("response", "row")
DELEGATES = ("codecarbon",)
MAX_ERRORS_KEPT = 100  # a hostile table may have millions of bad rows: count them, keep a few
_IMPORTER_KEYS = (
    "id",
    "title",
    "publisher",
    "method",
    "domains_measured",
    "missing",
    "task",
    "unit",
    "energy_per",
    "gpu_count",
    "delegate",
    "phase",
)
# A parameter count in a model id, as published models name themselves: "vicuna-7B",
# "dolly-v2-12b", "t5-3b" (not "300bt": a token count). Used only without a parameters column.
_PARAMS_IN_NAME = re.compile(r"(?<![A-Za-z0-9.])(\d+(?:\.\d+)?)[bB](?![A-Za-z0-9])")


class MappingError(DisclosureError):
    """An importer mapping file is malformed."""


@dataclass(frozen=True)
class TableMapping:
    """How the columns of one kind of published table become a disclosure."""

    id: str
    title: str
    columns: Mapping[str, str] = field(default_factory=dict)  # role -> column name
    units: Mapping[str, str] = field(default_factory=dict)  # role -> unit as published
    optional: tuple[str, ...] = ()  # roles whose column may be absent from the file
    publisher: str | None = None
    method: str | None = None
    domains_measured: tuple[str, ...] = ("gpu",)
    missing: tuple[str, ...] = ()
    task: str | None = None
    unit: str = "token"
    energy_per: str = "response"
    gpu_count: int = 1
    delegate: str | None = None  # a built-in importer that reads this format instead
    path: str | None = None
    phase: str | None = None  # training | inference: what the published figures measured

    @property
    def energy_unit(self) -> str:
        """Return the unit of the energy column (J unless the mapping says otherwise)."""
        return self.units.get("energy", "J")

    def required_columns(self) -> tuple[str, ...]:
        """Return the file columns an import cannot do without."""
        return tuple(c for role, c in self.columns.items() if role not in self.optional)


@dataclass(frozen=True)
class RowError:
    """A row left out of an import: where, and what was wrong with it."""

    file: str
    row: int  # data row, 1-based
    line: int  # line in the file
    column: str | None
    problem: str

    def __str__(self) -> str:
        where = f"{self.file}: row {self.row} (line {self.line})"
        column = f", column {self.column!r}" if self.column else ""
        return f"{where}{column}: {self.problem}; row left out"


@dataclass(frozen=True)
class TableImport:
    """The documents a table gave, and the rows it could not give."""

    docs: tuple[dict[str, Any], ...]
    errors: tuple[RowError, ...]
    rows_read: int
    sha256: str


# ----------------------------------------------------------------------- mappings
def mapping_path(name: str) -> Path:
    """Return the shipped mapping file of a format name (standards/importers/NAME.toml)."""
    return standards_dir() / "importers" / f"{name}.toml"


def list_formats() -> list[str]:
    """Return the names of the shipped importer mappings."""
    return sorted(p.stem for p in (standards_dir() / "importers").glob("*.toml"))


def load_mapping(name_or_path: str | os.PathLike[str]) -> TableMapping:
    """Return a mapping: a shipped format name (ml-energy, codecarbon) or a .toml file."""
    text = str(name_or_path)
    path = Path(text) if text.endswith(".toml") or os.sep in text else mapping_path(text)
    if not path.is_file():
        known = ", ".join(list_formats())
        raise MappingError(f"{text}: no such mapping file or format (shipped formats: {known})")
    try:
        data = _toml_loads(textfile.read_text(path))
    except (OSError, UnicodeDecodeError, ValueError) as exc:  # TOMLDecodeError is one
        raise MappingError(f"{path}: not a readable TOML mapping: {exc}") from None
    return parse_mapping(data, str(path))


def parse_mapping(data: Mapping[str, Any], source: str = "<mapping>") -> TableMapping:
    """Return the TableMapping of a parsed TOML document; MappingError names the bad key."""

    def fail(key: str, problem: str) -> MappingError:
        return MappingError(f"{source}: {key}: {problem} (see standards/importers/README.md)")

    head = data.get("importer")
    if not isinstance(head, dict):
        raise fail("[importer]", "missing table")
    for key in head:
        if key not in _IMPORTER_KEYS:
            raise fail(f"importer.{key}", f"unknown key (known: {', '.join(_IMPORTER_KEYS)})")
    for key in ("id", "title"):
        if not isinstance(head.get(key), str) or not head[key].strip():
            raise fail(f"importer.{key}", "missing (a string is required)")
    from greenai.safepath import UnsafeNameError, check_name

    try:
        check_name(head["id"], "importer.id", source)  # it names the files written
    except UnsafeNameError as exc:
        raise MappingError(str(exc)) from None
    delegate = head.get("delegate")
    if delegate is not None:
        if delegate not in DELEGATES:
            raise fail("importer.delegate", f"{delegate!r} is not one of {DELEGATES}")
        return TableMapping(
            id=head["id"], title=head["title"], delegate=delegate, path=source, domains_measured=()
        )
    columns = _strings(data.get("columns"), "columns", fail)
    for role in columns:
        if role not in ROLES:
            raise fail(f"columns.{role}", f"unknown role (roles: {', '.join(ROLES)})")
    unit = head.get("unit", "token")
    if unit not in COUNTED_UNITS:
        raise fail("importer.unit", f"{unit!r} is not one of {COUNTED_UNITS}")
    needed = ["model", "energy"] + (["response_length"] if unit == "token" else [])
    for role in needed:
        if role not in columns:
            raise fail(f"columns.{role}", "missing (required)")
    units_ = _strings(data.get("units", {}), "units", fail)
    if units_.get("energy", "J") not in units.ENERGY_UNITS_J:
        raise fail(
            "units.energy", f"{units_['energy']!r} is not one of {list(units.ENERGY_UNITS_J)}"
        )
    optional = tuple((data.get("optional") or {}).get("columns", ()))
    for role in optional:
        if role in needed:
            raise fail("optional.columns", f"{role!r} is required and cannot be optional")
    measured = tuple(head.get("domains_measured", ()))
    if not measured or any(d not in DOMAINS for d in measured):
        raise fail("importer.domains_measured", f"give one or more of {DOMAINS}")
    energy_per = head.get("energy_per", "response")
    if energy_per not in ENERGY_PER:
        raise fail("importer.energy_per", f"{energy_per!r} is not one of {ENERGY_PER}")
    gpu_count = head.get("gpu_count", 1)
    if isinstance(gpu_count, bool) or not isinstance(gpu_count, int) or gpu_count < 0:
        raise fail("importer.gpu_count", "expected a whole number >= 0")
    return TableMapping(
        id=head["id"],
        title=head["title"],
        columns=columns,
        units=units_,
        optional=optional,
        publisher=head.get("publisher"),
        method=head.get("method"),
        domains_measured=measured,
        missing=tuple(head.get("missing", ())),
        task=head.get("task"),
        unit=unit,
        energy_per=energy_per,
        gpu_count=gpu_count,
        path=source,
        phase=_phase(head.get("phase"), fail),
    )


def _phase(value: Any, fail: Any) -> str | None:
    from greenai.work import PHASES

    if value is not None and value not in PHASES:
        raise fail("importer.phase", f"{value!r} is not one of {PHASES}")
    return value


def model_params(model: str, published_b: float | None = None) -> tuple[float | None, str]:
    """Return (parameter count, how it was obtained) of a model: a published column (in
    billions) first, else the size its id states ('vicuna-7B' -> 7e9), else (None, why)."""
    if published_b is not None:
        return published_b * 1e9, "published (parameters column, billions)"
    found = _PARAMS_IN_NAME.findall(model.rsplit("/", 1)[-1])
    if len(found) == 1:
        return float(found[0]) * 1e9, f"read from the model id {model!r}"
    return None, f"not published, and the model id {model!r} does not state one size"


def _strings(table: Any, name: str, fail: Any) -> dict[str, str]:
    if not isinstance(table, dict):
        raise fail(f"[{name}]", "missing table")
    for key, value in table.items():
        if not isinstance(value, str) or not value:
            raise fail(f"{name}.{key}", "expected a column name in quotes")
    return dict(table)


# ----------------------------------------------------------------------- importing
def file_sha256(path: str | os.PathLike[str]) -> str:
    """Return the SHA-256 (hex) of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def import_table(
    path: str | os.PathLike[str],
    mapping: TableMapping,
    *,
    gpu: str | None = None,
    task: str | None = None,
    max_rows: int | None = None,
) -> TableImport:
    """Return every document of a table and every row left out (a small table: in memory)."""
    if mapping.delegate == "codecarbon":
        from greenai.interop.codecarbon import from_codecarbon_csv

        docs = from_codecarbon_csv(path, task=task)
        return TableImport(tuple(docs[:max_rows]), (), len(docs), file_sha256(path))
    docs, errors = [], []
    stream = TableStream(path, mapping, gpu=gpu, task=task, max_rows=max_rows)
    for item in stream:
        (errors if isinstance(item, RowError) else docs).append(item)
    return TableImport(tuple(docs), tuple(errors), stream.rows_read, stream.sha256)


class TableStream:
    """One pass over a table: iterate for documents and RowErrors; then rows_read, truncated."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        mapping: TableMapping,
        *,
        gpu: str | None = None,
        task: str | None = None,
        max_rows: int | None = None,
    ):
        if mapping.delegate is not None:
            raise MappingError(
                f"{mapping.path}: delegates to the {mapping.delegate} importer: use import_table"
            )
        if max_rows is not None and max_rows < 1:
            raise ValueError(f"max_rows must be >= 1, not {max_rows}")
        self.path = Path(path)
        self.mapping = mapping
        self.gpu = gpu
        self.task = task
        self.max_rows = max_rows
        self.rows_read = 0
        self.truncated = False  # True when max_rows stopped the import before the end
        try:
            self.sha256 = file_sha256(self.path)
        except OSError as exc:
            raise DisclosureError(f"{self.path}: cannot read: {exc.strerror or exc}") from None

    def __iter__(self) -> Iterator[dict[str, Any] | RowError]:
        try:
            with self.path.open(newline="", encoding="utf-8-sig") as fh:
                reader = csv.DictReader(fh)
                header = reader.fieldnames
                self._check_header(header)
                assert header is not None
                for row in reader:
                    if self.max_rows is not None and self.rows_read >= self.max_rows:
                        self.truncated = True
                        return
                    self.rows_read += 1
                    try:
                        yield self._document(row, reader.line_num, len(header))
                    except _BadCell as bad:
                        yield RowError(
                            str(self.path), self.rows_read, reader.line_num, bad.column, bad.problem
                        )
        except UnicodeDecodeError as exc:
            raise DisclosureError(f"{self.path}: not UTF-8 text (byte {exc.start})") from None
        except csv.Error as exc:
            raise DisclosureError(
                f"{self.path}: line {reader.line_num}: not valid CSV: {exc}"
            ) from None

    def _check_header(self, header: Any) -> None:
        m = self.mapping
        if not header:
            raise DisclosureError(f"{self.path}: empty file: no header row")
        missing = [
            f"{c!r} ({role})"
            for role, c in m.columns.items()
            if role not in m.optional and c not in header
        ]
        if missing:
            raise DisclosureError(
                f"{self.path}: line 1: missing column(s) {', '.join(missing)}: the {m.id} mapping "
                f"({m.path}) needs {', '.join(map(repr, m.required_columns()))}; the file has "
                f"{', '.join(map(repr, header))}. Use --mapping with a mapping for this table"
            )

    def _document(self, row: Mapping[str | None, Any], line: int, width: int) -> dict[str, Any]:
        from greenai.footprint import Footprint
        from greenai.measurement import DeviceEnergy, DomainEnergy, Measurement

        m = self.mapping
        if None in row:
            raise _BadCell(None, f"{width + len(row[None])} fields, the header has {width}")
        if any(v is None for v in row.values()):
            short = sum(v is not None for v in row.values())
            raise _BadCell(None, f"{short} fields, the header has {width}")
        cells = _Cells(row, m)
        model = cells.text("model", required=True)
        task = self.task or cells.text("task") or m.task
        responses = cells.number("responses", positive=True)
        responses = 1.0 if responses is None else responses
        energy = cells.number("energy", required=True, positive=True)
        energy_j = units.energy_to_j(energy, m.energy_unit)
        if m.energy_per == "response":
            energy_j *= responses
        if m.unit == "token":
            tokens = cells.number("response_length", required=True, positive=True)
            units_done = tokens * responses
        else:
            units_done = responses
        latency_s = cells.number("latency")
        throughput = cells.number("throughput")
        batch_size = cells.number("batch_size", positive=True)
        gpu = cells.text("gpu") or self.gpu
        method = m.method or "as published"
        domain = m.domains_measured[0]  # one figure: it goes to the first domain measured
        device_info = {"source": m.id, "provenance_reason": f"{m.publisher or m.title}: {method}"}
        devices = (
            DeviceEnergy(
                id=f"third-party:{domain}",
                domain=domain,
                method="counter",
                provenance="third-party",
                energy_j=energy_j,
                counts_in_total=True,
                info=device_info,
            ),
        )
        params, params_how = model_params(model, cells.number("parameters", positive=True))
        published = {m.columns[r]: row[m.columns[r]] for r in m.columns if m.columns[r] in row}
        source = {
            "kind": "third-party",
            "format": m.id,
            "publisher": m.publisher,
            "file": str(self.path),
            "sha256": self.sha256,
            "row": self.rows_read,
            "line": line,
            "model": model,
            "domains_measured": list(m.domains_measured),
            "missing": list(m.missing),
            "method": m.method,
            "responses": responses,
            "energy_per_response_j": energy_j / responses,
            "throughput": throughput,
            "batch_size": None if batch_size is None else int(batch_size),
            "published": published,
            "params_source": params_how,
        }
        work = {"model": model, "params": params, "phase": m.phase}
        gpus = [
            {"name": gpu, "uuid": None, "power_limit_w": None, "driver_version": None}
            for _ in range(m.gpu_count if gpu else 0)
        ]
        return Measurement(
            status="ok",
            task=task,
            unit=m.unit,
            units_done=units_done,
            started_at="",
            duration_s=0.0 if latency_s is None else latency_s * responses,
            domains={
                domain: DomainEnergy(energy_j=energy_j, provenance="third-party", complete=True)
            },
            devices=devices,
            host={"hostname": None, "os": None, "cpu": None, "gpus": gpus},
            sampling={"interval_s": None, "note": f"not published by {m.publisher or m.title}"},
            extra={
                "site": None,
                "footprint": Footprint.not_computed(
                    f"third-party figure ({m.title}): {domain} energy only, no site",
                    it_energy_j=energy_j,
                ).to_dict(),
                "rating": None,
                "source": source,
                "work": {k: v for k, v in work.items() if v is not None},
            },
            greenai_version=__version__,
        ).to_dict()


class _BadCell(Exception):
    """A cell that cannot be read; becomes a RowError (internal)."""

    def __init__(self, column: str | None, problem: str):
        super().__init__(problem)
        self.column = column
        self.problem = problem


class _Cells:
    """The cells of one row, read by role, with errors that name the column."""

    def __init__(self, row: Mapping[str | None, Any], mapping: TableMapping):
        self.row = row
        self.columns = mapping.columns

    def text(self, role: str, required: bool = False) -> str | None:
        column = self.columns.get(role)
        value = (self.row.get(column) or "").strip() if column else ""
        if not value and required:
            raise _BadCell(column, "empty (a value is required)")
        return value or None

    def number(self, role: str, required: bool = False, positive: bool = False) -> float | None:
        value = self.text(role, required)
        if value is None:
            return None
        column = self.columns[role]
        try:
            number = float(value)
        except ValueError:
            raise _BadCell(column, f"{value[:40]!r} is not a number") from None
        if not math.isfinite(number):
            raise _BadCell(column, f"{value!r} is not finite")
        if number < 0:
            raise _BadCell(column, f"{value!r} is negative")
        if positive and number == 0:
            raise _BadCell(column, f"{value!r}: must be > 0")
        return number


__all__ = [
    "MappingError",
    "RowError",
    "TableImport",
    "TableMapping",
    "TableStream",
    "import_table",
    "list_formats",
    "load_mapping",
    "parse_mapping",
]
