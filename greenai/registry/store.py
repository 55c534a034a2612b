"""The registry's database: SQLite by default, PostgreSQL for a shared deployment.

SQLite is the embedded default: it is in the standard library (nothing to install or start),
one file holds everything, WAL mode lets readers run beside one writer, and its commit is
durable on return (synchronous=FULL), which is what an acknowledged submission needs.
DuckDB would scan columns faster, but it is an extra wheel, and it allows one writing process
per file, which suits a batch tool better than a server taking 50 concurrent uploads.

PostgreSQL gets the same tables. Migrations are a versioned list below, applied in order in a
transaction and recorded in schema_migrations: the schema is a handful of tables written in
plain SQL, so alembic (which brings SQLAlchemy, an ORM the store does not use) would add a
dependency without removing any code. tests/registry/test_store.py runs each migration on both
databases.

A disclosure is kept as the bytes it was submitted as, beside the figures ratings need as
columns (task, unit, units, energy, duration, sampling, idle, repetitions, status, water, and
each domain's provenance packed in one integer), so a re-rating reads numbers, not documents.
What the run did (its `work` block: workload, dataset, model, params, quality, phase) is kept
as canonical JSON in a table of distinct blocks, one code per disclosure, beside the columns
queries filter on: a field the standard adds to the block flows through without a schema
change. Migration 2 re-indexes the stored documents of an older database in place; a row that
has no document (an imported summary) cannot be, and keeps work_id NULL: re-ratings count it
as "not re-indexed" instead of rating it as if it disclosed no work.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import math
import secrets
import sqlite3
import struct
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from greenai.errors import GreenAIError

if TYPE_CHECKING:
    import numpy as np

    from greenai.scoring import Population
    from greenai.work import Work

ROLES = ("submit", "read")
PROVENANCES = ("measured", "modelled", "mixed", "third-party")
FILTERS = (
    "task", "hardware", "model", "site", "since", "until", "provenance", "submitter",
    "workload", "dataset", "phase",
)  # fmt: skip
_CHUNK = 65_536
MAX_IDLE_CONNECTIONS = 32


class RegistryError(GreenAIError):
    """A registry request or database that cannot be served: the reason, an HTTP status."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Submitter:
    """A party with a token: who it is, the Ed25519 key its disclosures must be signed with."""

    id: int
    name: str
    public_key: str  # base64 of the raw 32 bytes
    role: str  # submit | read


def hash_token(token: str) -> str:
    """Return the SHA-256 hex of a token (tokens are 256 random bits: no slow hash needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


def now() -> str:
    """Return the current UTC time as ISO 8601 with milliseconds."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")


# ----------------------------------------------------------------------- dialects
@dataclass(frozen=True)
class _Dialect:
    name: str
    pk: str
    blob: str
    real: str
    append_only: tuple[str, ...]  # statements that make the audit table append-only

    def sql(self, text: str) -> str:
        return text if self.name == "sqlite" else text.replace("?", "%s")

    def contains(self, column: str) -> str:
        fn = "instr" if self.name == "sqlite" else "strpos"
        return f"{fn}(lower({column}), lower(?)) > 0"


SQLITE = _Dialect(
    "sqlite",
    pk="INTEGER PRIMARY KEY AUTOINCREMENT",
    blob="BLOB",
    real="REAL",
    append_only=(
        "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit "
        "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
        "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit "
        "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
    ),
)
POSTGRES = _Dialect(
    "postgresql",
    pk="BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
    blob="BYTEA",
    real="DOUBLE PRECISION",
    append_only=(
        "CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$",
        "CREATE TRIGGER audit_no_change BEFORE UPDATE OR DELETE OR TRUNCATE ON audit "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()",
    ),
)


def _migration_1(d: _Dialect) -> list[str]:
    return [
        f"""CREATE TABLE submitters (
            id {d.pk},
            name TEXT NOT NULL UNIQUE,
            token_sha256 TEXT NOT NULL UNIQUE,
            public_key TEXT NOT NULL,
            role TEXT NOT NULL,
            created_at TEXT NOT NULL)""",
        f"""CREATE TABLE disclosures (
            id {d.pk},
            sha256 TEXT NOT NULL UNIQUE,
            submitter_id BIGINT NOT NULL REFERENCES submitters(id),
            received_at TEXT NOT NULL,
            origin TEXT NOT NULL,
            document {d.blob},
            verification TEXT NOT NULL,
            task TEXT,
            unit TEXT,
            units_done {d.real} NOT NULL,
            energy_j {d.real} NOT NULL,
            duration_s {d.real} NOT NULL,
            sampling_interval_s {d.real},
            idle_baseline INTEGER NOT NULL,
            repetitions INTEGER NOT NULL,
            run_status TEXT NOT NULL,
            water_l {d.real},
            water_reason TEXT,
            domains INTEGER NOT NULL,
            rating_record {d.blob} NOT NULL,
            provenance TEXT,
            model TEXT,
            hardware TEXT,
            site TEXT,
            started_at TEXT)""",
        f"CREATE TABLE labels (id {d.pk}, text TEXT NOT NULL UNIQUE)",
        "CREATE INDEX disclosures_task ON disclosures(task)",
        "CREATE INDEX disclosures_started ON disclosures(started_at)",
        f"""CREATE TABLE audit (
            id {d.pk},
            at TEXT NOT NULL,
            submitter TEXT,
            action TEXT NOT NULL,
            sha256 TEXT,
            detail TEXT NOT NULL)""",
        *d.append_only,
    ]


def _migration_2(d: _Dialect) -> list[Any]:
    return [
        f"CREATE TABLE works (id {d.pk}, canonical TEXT NOT NULL UNIQUE)",
        # NULL: not indexed (a summary without its document); a run that discloses no work
        # has the code of {}
        "ALTER TABLE disclosures ADD COLUMN work_id BIGINT REFERENCES works(id)",
        *(f"ALTER TABLE disclosures ADD COLUMN {c} TEXT" for c in ("workload", "dataset", "phase")),
        f"ALTER TABLE disclosures ADD COLUMN params {d.real}",
        f"ALTER TABLE disclosures ADD COLUMN energy_ci_rel {d.real}",
        "CREATE INDEX disclosures_work ON disclosures(work_id)",
        _reindex_documents,
    ]


# (version, what it does, statements of a dialect: SQL text, or a step run on the store in
# the migration's transaction). Append only: a shipped migration never changes, a new one is
# added below it.
MIGRATIONS = (
    (1, "submitters, disclosures with their rating columns and record, labels, audit log",
     _migration_1),
    (2, "the work block (canonical JSON, one code per distinct block) and the energy CI, "
     "indexed; stored documents re-indexed", _migration_2),
    (3, "the sampling interval of runs whose energy is all hardware counters read at edges: 0",
     lambda d: [_reread_edge_intervals]),
)  # fmt: skip

# The rating columns in the order Population needs them (see scoring._ROW_FIELDS).
RATING_COLUMNS = (
    "task",
    "unit",
    "units_done",
    "energy_j",
    "duration_s",
    "sampling_interval_s",
    "idle_baseline",
    "repetitions",
    "run_status",
    "water_l",
    "water_reason",
    "domains",
)
INDEX_COLUMNS = (*RATING_COLUMNS, "provenance", "model", "hardware", "site", "started_at")
# What summarize() gives beyond INDEX_COLUMNS: the work block (canonical JSON; None: unknown)
# and the relative 95 % CI of energy per unit of a bench result (None: not disclosed).
WORK_COLUMNS = ("work", "energy_ci_rel")
# The work block's fields queries filter on, copied out of its JSON.
WORK_KEYS = ("workload", "dataset", "phase", "params")
LIST_COLUMNS = (
    "id", "sha256", "received_at", "origin", "verification", *INDEX_COLUMNS, *WORK_KEYS,
    "energy_ci_rel",
)  # fmt: skip


# The figures rating reads, packed in one fixed-size little-endian record per disclosure:
# a re-rating reads one column and numpy takes the records as they are (np.frombuffer),
# instead of building a Python object for each of 12 values of a million rows. Strings are
# codes into the labels table (-1: none); NaN stands for a figure not disclosed.
RECORD_FORMAT = "<4i5d3q"
RECORD_FIELDS = (
    ("task", "<i4"),
    ("unit", "<i4"),
    ("run_status", "<i4"),
    ("water_reason", "<i4"),
    ("units_done", "<f8"),
    ("energy_j", "<f8"),
    ("duration_s", "<f8"),
    ("sampling_interval_s", "<f8"),
    ("water_l", "<f8"),
    ("repetitions", "<i8"),
    ("domains", "<i8"),
    ("idle_baseline", "<i8"),
)
_RECORD = struct.Struct(RECORD_FORMAT)
_RECORD_INTERVAL = [name for name, _ in RECORD_FIELDS].index("sampling_interval_s")


def _nan(value: float | None) -> float:
    return math.nan if value is None else float(value)


# ----------------------------------------------------------------------- summaries
def pack_domains(domains: Mapping[str, tuple[str, bool]]) -> int:
    """Return each domain's (provenance, complete) packed in one integer, 4 bits a domain."""
    from greenai.scoring import PROVENANCE_CODES
    from greenai.standard import DOMAINS

    packed = 0
    for i, d in enumerate(DOMAINS):
        state = domains.get(d)
        if state is not None:
            packed |= (PROVENANCE_CODES[state[0]] | (0 if state[1] else 8)) << (4 * i)
    return packed


def summarize(doc: Mapping[str, Any], source: str = "disclosure") -> dict[str, Any]:
    """Return the index columns of a disclosure; DisclosureError names a field it cannot rate."""
    from greenai.report.table import hardware
    from greenai.scoring import _read_disclosure

    inputs = _read_disclosure(doc, source)
    row = dict(
        zip(
            (
                "task",
                "unit",
                "units_done",
                "energy_j",
                "duration_s",
                "domains",
                "sampling_interval_s",
                "idle_baseline",
                "repetitions",
                "run_status",
                "water_l",
                "water_reason",
            ),
            inputs[:12],
            strict=True,
        )
    )
    row["domains"] = pack_domains(row["domains"])
    row["idle_baseline"] = int(row["idle_baseline"])
    site = doc.get("site")
    src = doc.get("source")
    bench = doc.get("benchmark")
    description = bench.get("description") if isinstance(bench, Mapping) else None
    model = doc.get("model")
    if not isinstance(model, str) and isinstance(src, Mapping):
        model = src.get("model")
    if not isinstance(model, str):
        model = inputs[12].model  # what the work block names
    if not isinstance(model, str) and isinstance(description, Mapping):
        model = description.get("model") or description.get("workload")
    provenance = doc.get("provenance")
    if isinstance(src, Mapping) and src.get("kind") == "third-party":
        provenance = "third-party"
    started = doc.get("started_at")
    row.update(work_row(inputs[12]), energy_ci_rel=inputs[13])
    row.update(
        provenance=provenance if provenance in PROVENANCES else None,
        model=model if isinstance(model, str) else None,
        hardware=hardware(doc),
        site=site.get("name") if isinstance(site, Mapping) else None,
        started_at=started if isinstance(started, str) else None,
    )
    return row


def work_row(work: Work) -> dict[str, Any]:
    """Return the work columns of a run's Work: its block as canonical JSON, and WORK_KEYS."""
    from greenai.disclosure import canonical_bytes

    return {
        "work": canonical_bytes(work.to_dict()).decode("utf-8"),
        **{k: getattr(work, k) for k in WORK_KEYS},
    }


def _stored_documents(store: Store, columns: str = "", where: str = "") -> Iterator[Any]:
    """Yield (id, document[, columns]) of every row with a stored document (and where), in
    id order, 256 rows a query: a migration's step may update the rows it has been given."""
    last = 0
    while True:
        rows = store.execute(
            f"SELECT id, document{columns} FROM disclosures WHERE id > ? "
            f"AND document IS NOT NULL{where} ORDER BY id LIMIT 256",
            (last,),
        ).fetchall()
        if not rows:
            return
        for row in rows:
            last = int(row[0])
            yield row


def _reindex_documents(store: Store) -> None:
    """Index the work block and energy CI of every stored document (migration 2, in place).

    Runs in the migration's transaction. A row without a document (an imported summary)
    keeps work_id NULL; how many there are goes to the audit log with the outcome.
    """
    from greenai import disclosure
    from greenai.jsonio import loads

    done = failed = 0
    for row_id, raw in _stored_documents(store):
        try:
            doc = disclosure.upgrade(loads(bytes(raw).decode("utf-8"), f"#{row_id}"))
            row = summarize(doc, f"#{row_id}")
        except (GreenAIError, UnicodeDecodeError, AttributeError):
            failed += 1  # stored before a check it now fails: left unindexed, counted
            continue
        store.set_work(int(row_id), row, in_transaction=True)
        done += 1
    missing = int(
        store.execute("SELECT count(*) FROM disclosures WHERE document IS NULL").fetchone()[0]
    )
    if not done + missing + failed:
        return  # a new database: nothing to say
    detail = f"work block indexed: {done} re-indexed, {missing + failed} not re-indexed"
    if missing:
        detail += f" ({missing} without a stored document)"
    if failed:
        detail += f" ({failed} whose document no longer reads)"
    store.audit(None, "migrate", None, detail)
    store.notes.append(f"migration 2: {detail}")


def _reread_edge_intervals(store: Store) -> None:
    """Set sampling_interval_s to 0 where the stored document read every energy figure from
    counters at window edges (migration 3): the rating's sampling limit bounds sampled power,
    and these rows were indexed with the wrap guard's interval, which it refused."""
    from greenai.jsonio import loads
    from greenai.scoring import counters_at_edges

    fixed = 0
    for row_id, raw, record in _stored_documents(
        store, ", rating_record", " AND sampling_interval_s > 0"
    ):
        if b'"energy_reads"' not in bytes(raw):
            continue  # most rows: sampled power, no document to parse
        try:
            doc = loads(bytes(raw).decode("utf-8"), f"#{row_id}")
            edges = counters_at_edges(doc)
        except (GreenAIError, UnicodeDecodeError, AttributeError):
            continue  # a document that no longer reads keeps its row as it was
        if edges:
            fields = list(_RECORD.unpack(bytes(record)))
            fields[_RECORD_INTERVAL] = 0.0  # the record the populations are rated from
            store.execute(
                "UPDATE disclosures SET sampling_interval_s = 0, rating_record = ? WHERE id = ?",
                (_RECORD.pack(*fields), row_id),
            )
            fixed += 1
    if fixed:
        detail = f"sampling interval 0 (counters read at window edges): {fixed} row(s)"
        store.audit(None, "migrate", None, detail)
        store.notes.append(f"migration 3: {detail}")


# ----------------------------------------------------------------------- the store
def open_store(url: str | Path) -> Store:
    """Return the store at a SQLite path (or sqlite:///PATH) or a postgresql:// URL, migrated."""
    text = str(url)
    if text.startswith(("postgresql://", "postgres://")) or text.startswith("host="):
        store = Store(POSTGRES, text)
    else:
        path = text.removeprefix("sqlite:///").removeprefix("sqlite://")
        if not path:
            raise RegistryError(f"{url!r}: no database path (try registry.db)")
        store = Store(SQLITE, path)
    store.migrate()
    return store


class Store:
    """The registry database: one connection per thread, transactions explicit."""

    def __init__(self, dialect: _Dialect, target: str):
        self.dialect = dialect
        self.target = target
        self._local = threading.local()
        self._write_lock = threading.Lock()  # SQLite takes one writer: queue here, not on BUSY
        self._connections: list[Any] = []
        self._idle: list[Any] = []  # pooled connections no session holds
        self._pool_lock = threading.Lock()
        self._labels: dict[str, int] = {}  # labels never change: a cache needs no expiry
        self._works: dict[str, int] = {}  # nor do work blocks
        self.notes: list[str] = []  # what migrations did, for the CLI to say

    # -- connections
    def _connect(self) -> Any:
        if self.dialect is SQLITE:
            try:
                conn = sqlite3.connect(
                    self.target, timeout=60, isolation_level=None, check_same_thread=False
                )
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=FULL")
                conn.execute("PRAGMA foreign_keys=ON")
            except sqlite3.Error as exc:
                raise RegistryError(f"{self.target}: cannot open the database: {exc}") from exc
            return conn
        try:
            import psycopg
        except ImportError as exc:
            raise RegistryError(
                "PostgreSQL needs psycopg: pip install 'greenai[registry]'"
            ) from exc
        try:
            return psycopg.connect(self.target, autocommit=True)
        except psycopg.Error as exc:
            raise RegistryError(f"cannot connect to PostgreSQL: {exc}".splitlines()[0]) from exc

    @property
    def conn(self) -> Any:
        """Return this thread's connection: the session's, else one kept for the thread."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
            with self._pool_lock:
                self._connections.append(conn)
        return conn

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        """Lend this thread a pooled connection for the block (one HTTP request).

        The server starts a thread per request: connections kept per thread would pile up
        until PostgreSQL refuses more clients. A session returns its connection to the pool.
        """
        with self._pool_lock:
            conn = self._idle.pop() if self._idle else None
        if conn is None:
            conn = self._connect()
            with self._pool_lock:
                self._connections.append(conn)
        previous = getattr(self._local, "conn", None)
        self._local.conn = conn
        try:
            yield
        finally:
            self._local.conn = previous
            with self._pool_lock:
                if len(self._idle) < MAX_IDLE_CONNECTIONS:
                    self._idle.append(conn)
                    conn = None
                else:
                    self._connections.remove(conn)
            if conn is not None:
                conn.close()

    def close(self) -> None:
        """Close every connection this store opened."""
        with self._pool_lock:
            connections, self._connections, self._idle = self._connections, [], []
        for conn in connections:
            with contextlib.suppress(Exception):
                conn.close()
        self._local = threading.local()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Return the cursor of one statement (? placeholders in either dialect)."""
        return self.conn.execute(self.dialect.sql(sql), tuple(params))

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Run the block in one transaction: all of it commits, or none of it."""
        if self.dialect is SQLITE:
            with self._write_lock:
                self.conn.execute("BEGIN IMMEDIATE")
                try:
                    yield
                except BaseException:
                    self.conn.execute("ROLLBACK")
                    raise
                self.conn.execute("COMMIT")
        else:
            with self.conn.transaction():
                yield

    # -- schema
    def schema_version(self) -> int:
        """Return the highest migration applied (0 on an empty database)."""
        try:
            row = self.execute("SELECT max(version) FROM schema_migrations").fetchone()
        except Exception:  # noqa: BLE001 - the table does not exist yet; the dialects differ
            if self.dialect is POSTGRES:
                self.conn.rollback()
            return 0
        return int(row[0] or 0)

    def migrate(self) -> list[int]:
        """Apply the migrations this database lacks, in order; return the versions applied."""
        with self.transaction():
            if self.dialect is POSTGRES:  # two servers starting at once migrate one at a time
                self.execute("SELECT pg_advisory_xact_lock(8750)")
            self.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
            )
            done = {int(r[0]) for r in self.execute("SELECT version FROM schema_migrations")}
            applied = []
            for version, name, statements in MIGRATIONS:
                if version in done:
                    continue
                for statement in statements(self.dialect):
                    if callable(statement):
                        statement(self)
                    else:
                        self.execute(statement)
                self.execute(
                    "INSERT INTO schema_migrations VALUES (?, ?, ?)", (version, name, now())
                )
                applied.append(version)
        return applied

    # -- submitters
    def add_submitter(self, name: str, public_key: str, role: str = "submit") -> str:
        """Register a party; return its API token (shown once: only its hash is kept)."""
        import base64

        if role not in ROLES:
            raise RegistryError(f"role {role!r}: expected one of {ROLES}")
        try:
            raw = base64.b64decode(public_key, validate=True)
        except ValueError as exc:
            raise RegistryError(f"public key of {name!r}: not base64") from exc
        if len(raw) != 32:
            raise RegistryError(f"public key of {name!r}: {len(raw)} bytes, an Ed25519 key has 32")
        token = f"gai_{secrets.token_urlsafe(32)}"
        with self.transaction():
            if self.execute("SELECT 1 FROM submitters WHERE name = ?", (name,)).fetchone():
                raise RegistryError(f"submitter {name!r} already exists", 409)
            self.execute(
                "INSERT INTO submitters (name, token_sha256, public_key, role, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (name, hash_token(token), public_key, role, now()),
            )
            self.audit(name, "add-submitter", None, f"role {role}, key {public_key}")
        return token

    def authenticate(self, token: str | None) -> Submitter | None:
        """Return the submitter a token belongs to, None if it is no one's."""
        if not token:
            return None
        row = self.execute(
            "SELECT id, name, public_key, role FROM submitters WHERE token_sha256 = ?",
            (hash_token(token),),
        ).fetchone()
        return None if row is None else Submitter(int(row[0]), row[1], row[2], row[3])

    # -- audit
    def audit(self, who: str | None, action: str, sha256: str | None, detail: str) -> None:
        """Append one entry to the audit log (inside the caller's transaction)."""
        self.execute(
            "INSERT INTO audit (at, submitter, action, sha256, detail) VALUES (?, ?, ?, ?, ?)",
            (now(), who, action, sha256, detail),
        )

    def audit_log(self, limit: int = 1000) -> list[dict[str, Any]]:
        """Return the latest audit entries, newest first."""
        rows = self.execute(
            "SELECT id, at, submitter, action, sha256, detail FROM audit ORDER BY id DESC LIMIT ?",
            (int(limit),),
        ).fetchall()
        keys = ("id", "at", "submitter", "action", "sha256", "detail")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    # -- labels and records
    def _label(self, text: str | None) -> int:
        """Return the code of a label, adding it (in its own transaction) when new."""
        if text is None:
            return -1
        code = self._labels.get(text)
        if code is None:
            with self.transaction():
                self.execute("INSERT INTO labels (text) VALUES (?) ON CONFLICT DO NOTHING", (text,))
                row = self.execute("SELECT id FROM labels WHERE text = ?", (text,)).fetchone()
            code = self._labels[text] = int(row[0])
        return code

    def record(self, summary: Mapping[str, Any]) -> bytes:
        """Return the packed rating record of a summary (see RECORD_FIELDS)."""
        return _RECORD.pack(
            self._label(summary["task"]),
            self._label(summary["unit"]),
            self._label(summary["run_status"]),
            self._label(summary["water_reason"]),
            float(summary["units_done"]),
            float(summary["energy_j"]),
            float(summary["duration_s"]),
            _nan(summary["sampling_interval_s"]),
            _nan(summary["water_l"]),
            int(summary["repetitions"]),
            int(summary["domains"]),
            int(summary["idle_baseline"]),
        )

    def _work_code(self, canonical: str | None, in_transaction: bool = False) -> int | None:
        """Return the code of a canonical work block (None: not indexed), adding it when new.

        Outside a transaction it is added in its own (as labels are); in_transaction: in the
        caller's, and not cached, since the caller's may still roll back.
        """
        if canonical is None:
            return None
        code = self._works.get(canonical)
        if code is not None:
            return code

        def find() -> int:
            self.execute(
                "INSERT INTO works (canonical) VALUES (?) ON CONFLICT DO NOTHING", (canonical,)
            )
            return int(
                self.execute("SELECT id FROM works WHERE canonical = ?", (canonical,)).fetchone()[0]
            )

        if in_transaction:
            return find()
        with self.transaction():
            code = find()
        self._works[canonical] = code
        return code

    def set_work(
        self, row_id: int, summary: Mapping[str, Any], in_transaction: bool = False
    ) -> None:
        """Index the work columns (WORK_COLUMNS, WORK_KEYS) of one stored disclosure, and its
        model where the row has none (a row indexed before the work block named it)."""
        code = self._work_code(summary["work"], in_transaction)
        values = (
            code, *(summary[k] for k in WORK_KEYS), summary["energy_ci_rel"],
            summary.get("model"), row_id,
        )  # fmt: skip
        sql = (
            f"UPDATE disclosures SET work_id = ?, {', '.join(f'{k} = ?' for k in WORK_KEYS)}, "
            "energy_ci_rel = ?, model = COALESCE(model, ?) WHERE id = ?"
        )
        if in_transaction:
            self.execute(sql, values)
        else:
            with self.transaction():
                self.execute(sql, values)

    def not_indexed(self, filters: Mapping[str, Any] | None = None) -> int:
        """Return how many matching disclosures have no indexed work block (no document)."""
        where, params = self._where(filters or {})
        clause = "work_id IS NULL"
        where = f"{where} AND {clause}" if where else f" WHERE {clause}"
        return int(self.execute(f"SELECT count(*) FROM disclosures{where}", params).fetchone()[0])

    # -- disclosures
    def add(
        self,
        submitter: Submitter,
        sha256: str,
        document: bytes | None,
        summary: Mapping[str, Any],
        verification: str,
        origin: str = "submitted",
    ) -> tuple[str, int]:
        """Store one disclosure; return ('stored' | 'already stored', id).

        RegistryError (409) when another submitter already stored the same content. The
        same content sent twice by its submitter (a retry) is stored once.
        """
        names = (
            "sha256", "submitter_id", "received_at", "origin", "document", "verification",
            "rating_record", "work_id", *INDEX_COLUMNS, *WORK_KEYS, "energy_ci_rel",
        )  # fmt: skip
        record = self.record(summary)  # before the transaction: labels commit on their own
        work = self._work_code(summary.get("work"))  # likewise
        values = (
            sha256, submitter.id, now(), origin, document, verification, record, work,
            *(summary[c] for c in INDEX_COLUMNS), *(summary.get(k) for k in WORK_KEYS),
            summary.get("energy_ci_rel"),
        )  # fmt: skip
        with self.transaction():
            # ON CONFLICT: of two uploads of one document at once, the second finds the first.
            row = self.execute(
                f"INSERT INTO disclosures ({', '.join(names)}) "
                f"VALUES ({', '.join('?' * len(names))}) "
                "ON CONFLICT (sha256) DO NOTHING RETURNING id",
                values,
            ).fetchone()
            if row is not None:
                self.audit(submitter.name, "submit", sha256, f"{verification}, {origin}")
                return "stored", int(row[0])
            owner_id, row_id = self.execute(
                "SELECT submitter_id, id FROM disclosures WHERE sha256 = ?", (sha256,)
            ).fetchone()
        if int(owner_id) == submitter.id:
            return "already stored", int(row_id)
        self.refuse(submitter, sha256, "stored by another submitter")
        raise RegistryError(f"{sha256}: already submitted by another party", 409)

    def refuse(self, submitter: Submitter, sha256: str | None, why: str) -> None:
        """Append a refused change of a submitter to the audit log (its own transaction)."""
        with self.transaction():
            self.audit(submitter.name, "refused", sha256, why[:500])

    def delete(self, submitter: Submitter, sha256: str) -> None:
        """Delete a disclosure of this submitter; RegistryError if it is not theirs."""
        with self.transaction():
            row = self.execute(
                "SELECT submitter_id FROM disclosures WHERE sha256 = ?", (sha256,)
            ).fetchone()
            if row is None:
                raise RegistryError(f"{sha256}: no such disclosure", 404)
            if int(row[0]) == submitter.id:
                self.execute("DELETE FROM disclosures WHERE sha256 = ?", (sha256,))
                self.audit(submitter.name, "delete", sha256, "deleted by its submitter")
                return
        self.refuse(submitter, sha256, "delete of another's disclosure")
        raise RegistryError(f"{sha256}: not yours to delete", 403)

    def import_summaries(self, submitter: Submitter, rows: Iterator[Sequence[Any]]) -> int:
        """Bulk-insert index rows without documents (a published table); return how many.

        Each row holds sha256 then INDEX_COLUMNS, and optionally the work block (a mapping,
        or None: not known, so not re-indexed) and the energy CI; origin 'imported',
        verification 'summary'.
        """
        from greenai.work import Work

        names = (
            "sha256", "submitter_id", "received_at", "origin", "verification", "rating_record",
            "work_id", *INDEX_COLUMNS, *WORK_KEYS, "energy_ci_rel",
        )  # fmt: skip
        sql = self.dialect.sql(
            f"INSERT INTO disclosures ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
        )
        n_index = 1 + len(INDEX_COLUMNS)
        unknown = (None, *(None for _ in WORK_KEYS))
        works: dict[Any, tuple[Any, ...]] = {}

        def work_of(block: Mapping[str, Any] | None) -> tuple[Any, ...]:
            if block is None:
                return unknown
            key = tuple(sorted(block.items()))
            if key not in works:
                row = work_row(Work.from_dict(block, "imported summary"))
                works[key] = (self._work_code(row["work"]), *(row[k] for k in WORK_KEYS))
            return works[key]

        stamp = now()
        total = 0
        batch: list[tuple[Any, ...]] = []

        def flush() -> None:
            nonlocal total
            with self.transaction():
                cur = self.conn.cursor()
                cur.executemany(sql, batch)
                self.audit(submitter.name, "import", None, f"{len(batch)} summaries")
            total += len(batch)
            batch.clear()

        for row in rows:
            index = row[1:n_index]
            record = self.record(dict(zip(INDEX_COLUMNS, index, strict=True)))
            block = row[n_index] if len(row) > n_index else None
            ci = row[n_index + 1] if len(row) > n_index + 1 else None
            code, *keys = work_of(block)
            batch.append(
                (
                    row[0],
                    submitter.id,
                    stamp,
                    "imported",
                    "summary",
                    record,
                    code,
                    *index,
                    *keys,
                    ci,
                )
            )
            if len(batch) >= _CHUNK:
                flush()
        if batch:
            flush()
        return total

    def document(self, sha256: str) -> bytes | None:
        """Return the stored bytes of a disclosure (None if unknown or a summary only)."""
        row = self.execute(
            "SELECT document FROM disclosures WHERE sha256 = ?", (sha256,)
        ).fetchone()
        return None if row is None or row[0] is None else bytes(row[0])

    def _where(self, filters: Mapping[str, Any]) -> tuple[str, list[Any]]:
        clauses, params = [], []
        for key, value in filters.items():
            if value in (None, ""):
                continue
            if key not in FILTERS:
                raise RegistryError(f"unknown filter {key!r}: expected one of {FILTERS}")
            if key in ("hardware", "model"):
                clauses.append(self.dialect.contains(key))
            elif key == "since":
                clauses.append("started_at >= ?")
            elif key == "until":
                clauses.append("started_at <= ?")
            elif key == "submitter":
                clauses.append("submitter_id = (SELECT id FROM submitters WHERE name = ?)")
            else:
                if key == "provenance" and value not in PROVENANCES:
                    raise RegistryError(f"provenance {value!r}: expected one of {PROVENANCES}")
                clauses.append(f"{key} = ?")
            params.append(str(value))
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params

    def count(self, filters: Mapping[str, Any] | None = None) -> int:
        """Return how many disclosures match the filters."""
        where, params = self._where(filters or {})
        return int(self.execute(f"SELECT count(*) FROM disclosures{where}", params).fetchone()[0])

    def query(
        self,
        filters: Mapping[str, Any] | None = None,
        limit: int = 100,
        offset: int = 0,
        tasks: Sequence[str] | None = None,
        best_first: bool = False,
    ) -> list[dict[str, Any]]:
        """Return the index rows of matching disclosures (with submitter), oldest first.

        tasks: only rows whose task is one of these (a class id and its aliases);
        best_first: least energy per counted unit first (rows that counted none last).
        """
        where, params = self._where(filters or {})
        if tasks:
            clause = f"task IN ({', '.join('?' * len(tasks))})"
            where = f"{where} AND {clause}" if where else f" WHERE {clause}"
            params = [*params, *tasks]
        order = "d.id"
        if best_first:
            order = (
                "(d.units_done <= 0), "
                "d.energy_j / CASE WHEN d.units_done > 0 THEN d.units_done END, d.id"
            )
        cols = ", ".join(f"d.{c}" for c in LIST_COLUMNS)
        rows = self.execute(
            f"SELECT {cols}, s.name, w.canonical FROM disclosures d "
            "JOIN submitters s ON s.id = d.submitter_id LEFT JOIN works w ON w.id = d.work_id"
            f"{where} ORDER BY {order} LIMIT ? OFFSET ?",
            (*params, int(limit), int(offset)),
        ).fetchall()
        out = []
        for r in rows:
            row = dict(zip((*LIST_COLUMNS, "submitter"), r[:-1], strict=True))
            row["work"] = None if r[-1] is None else json.loads(r[-1])  # None: not indexed
            out.append(row)
        return out

    def documents(self, filters: Mapping[str, Any] | None = None) -> Iterator[tuple[str, bytes]]:
        """Yield (sha256, stored bytes) of matching disclosures that have a document."""
        where, params = self._where(filters or {})
        where = f"{where} AND document IS NOT NULL" if where else " WHERE document IS NOT NULL"
        cur = self.execute(f"SELECT sha256, document FROM disclosures{where} ORDER BY id", params)
        while rows := cur.fetchmany(256):
            for sha, doc in rows:
                yield sha, bytes(doc)

    def population(self, filters: Mapping[str, Any] | None = None) -> tuple[Population, np.ndarray]:
        """Return the matching disclosures as a scoring.Population and their ids.

        Reads the packed rating records only, a chunk at a time: a million rows are ~80 MB
        of records, whatever the size of the documents.
        """
        import numpy as np

        from greenai.scoring import Population
        from greenai.standard import DOMAINS
        from greenai.work import Work

        where, params = self._where(filters or {})
        dtype = np.dtype(list(RECORD_FIELDS))
        cur = self.execute(
            f"SELECT id, rating_record, work_id, energy_ci_rel FROM disclosures{where} ORDER BY id",
            params,
        )
        id_parts, record_parts, work_parts, ci_parts = [], [], [], []
        while rows := cur.fetchmany(_CHUNK):
            ids, records, work_ids, cis = zip(*rows, strict=True)
            id_parts.append(np.array(ids, dtype=np.int64))
            record_parts.append(np.frombuffer(b"".join(records), dtype=dtype))
            work_parts.append(np.array([-1 if w is None else w for w in work_ids], np.int64))
            ci_parts.append(np.array(cis, dtype=np.float64))  # None -> NaN: no CI
        ids = np.concatenate(id_parts) if id_parts else np.zeros(0, np.int64)
        rec = np.concatenate(record_parts) if record_parts else np.zeros(0, dtype)
        work_codes = np.concatenate(work_parts) if work_parts else np.zeros(0, np.int64)
        ci = np.concatenate(ci_parts) if ci_parts else np.zeros(0, np.float64)
        del record_parts, work_parts, ci_parts
        blocks = dict(self.execute("SELECT id, canonical FROM works").fetchall())
        works = np.empty(max(blocks, default=0) + 2, dtype=object)
        works[-1] = Work()  # not indexed: rated as disclosing no work (not_indexed() counts it)
        for code, text in blocks.items():
            works[code] = Work.from_dict(json.loads(text), f"registry work block {code}")
        labels = dict(self.execute("SELECT id, text FROM labels").fetchall())
        table = np.empty(max(labels, default=0) + 2, dtype=object)  # table[-1] stays None
        for code, text in labels.items():
            table[code] = text
        packed = rec["domains"]
        population = Population(
            task=table[rec["task"]],
            unit=table[rec["unit"]],
            units_done=rec["units_done"].copy(),
            energy_j=rec["energy_j"].copy(),
            duration_s=rec["duration_s"].copy(),
            sampling_interval_s=rec["sampling_interval_s"].copy(),
            idle_baseline=rec["idle_baseline"] != 0,
            repetitions=rec["repetitions"].copy(),
            status=table[rec["run_status"]],
            water_l=rec["water_l"].copy(),
            provenance={
                d: ((packed >> (4 * i)) & 7).astype(np.int8) for i, d in enumerate(DOMAINS)
            },
            complete={d: ((packed >> (4 * i)) & 8) == 0 for i, d in enumerate(DOMAINS)},
            water_reason=_Lookup(table, rec["water_reason"].copy()),
            work=tuple(works[work_codes].tolist()),
            energy_ci_rel=ci,
        )
        return population, ids


class _Lookup(Sequence):
    """A read-only sequence of repeated values: one table of distinct values and codes."""

    def __init__(self, table: Sequence[Any], codes: np.ndarray):
        self._table = table
        self._codes = codes

    def __len__(self) -> int:
        return len(self._codes)

    def __bool__(self) -> bool:
        return len(self._codes) > 0

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self._table[c] for c in self._codes[i].tolist()]
        return self._table[int(self._codes[i])]


__all__ = [
    "FILTERS",
    "MIGRATIONS",
    "RegistryError",
    "Store",
    "Submitter",
    "hash_token",
    "open_store",
    "pack_domains",
    "summarize",
    "work_row",
]
