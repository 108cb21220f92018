"""Where the trail lives: one schema and one append algorithm, over the database handle (SQLite or PostgreSQL).

Appending is the one delicate operation: several processes (or machines) may append at once, and each
new leaf must extend exactly the tree the last writer left. So the whole append (read the head, extend the
frontier, sign the new checkpoint, insert the record and its checkpoint, move the head) is one transaction
under one lock: a file lock and `BEGIN IMMEDIATE` in SQLite, a row lock on the head in PostgreSQL. The commit
is durable (SQLite WAL with `synchronous=FULL`) before the append returns.

The lookup columns (`kind`, `time`, `session_id`, `tool_use_id`, `tool_name`) copy values of the signed body, so
queries can use an index; they are not hashed themselves, so every row read is checked against its body
(`column_problem`): a relabelled row is an `AuditError` for the reader, and `relabelled` for verification.

Reads go through a `TrailView` of one snapshot; no cursor leaves this module. Opening checks the schema
version in `trail_meta` and refuses one it does not know. Calls here block; the trail runs them in a worker
thread. A store is safe to share between threads.

Schema (the same in both)::

    trail_meta(key PRIMARY KEY, value)              schema version, log id
    trail_records(seq PRIMARY KEY, kind, time, session_id, tool_use_id, tool_name, body, leaf)
    trail_checkpoints(tree_size PRIMARY KEY, root, time, key_id, signature)   one per append
    trail_head(id = 1, tree_size, frontier)         where the next writer continues
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import rfc8785

from magistrate.broker._config import Environment
from magistrate.broker._database import Database, Flavor, Row, SchemaVersionError
from magistrate.broker._database_open import open_database
from magistrate.broker._merkle import Frontier
from magistrate.broker._signing import Checkpoint
from magistrate.broker._trail_errors import AuditError

SCHEMA_VERSION = "1"


class TrailSchemaError(SchemaVersionError, AuditError):
    """The trail's `schema_version` is not the one this magistrate writes: refused before anything is read."""


_FLAVOR = Flavor(AuditError, TrailSchemaError, "the trail")


def default_db(env: Environment | None = None) -> str:
    """The trail `env` (default: this process's environment) names: `$MAGISTRATE_AUDIT`, else
    `trail.sqlite3` in the per-user state directory (`$XDG_STATE_HOME/magistrate/` on Linux)."""
    return (env or Environment.read()).trail


@dataclass(frozen=True, slots=True)
class NewRecord:
    """A record ready to append: its canonical bytes, their leaf hash, and columns for lookups."""

    kind: str
    time: str
    session_id: str
    tool_use_id: str | None
    tool_name: str
    body: bytes
    leaf: bytes


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """A record as stored: its position, lookup columns, and the signed canonical bytes with their leaf hash."""

    seq: int
    """Position in the trail, 0-based."""
    kind: str
    time: str
    session_id: str
    tool_use_id: str | None
    tool_name: str
    body: bytes
    """The canonical JSON that was hashed and signed (`parse_record` turns it back into a record)."""
    leaf: bytes
    """The record's Merkle leaf hash."""


Sealer = Callable[[str, int, bytes], Checkpoint]
"""Signs a checkpoint: (log id, tree size, root) -> Checkpoint. Called inside the append transaction."""

Voucher = Callable[["TrailView", Frontier], None]
"""Raises `AuditError` unless the head (frontier) is what the latest checkpoint signed (and, for a writer with
a witness, what the witness saw); reads what it needs through the view of the append's own transaction."""

_RECORD_COLUMNS = "seq, kind, time, session_id, tool_use_id, tool_name, body, leaf"
_INSERT_RECORD = f"INSERT INTO trail_records ({_RECORD_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"  # noqa: S608
_INSERT_CHECKPOINT = "INSERT INTO trail_checkpoints (tree_size, root, time, key_id, signature) VALUES (?, ?, ?, ?, ?)"
_HEAD = "SELECT tree_size, frontier FROM trail_head WHERE id = 1"
_HEAD_FOR_UPDATE = _HEAD + " FOR UPDATE"  # the append lock on PostgreSQL; SQLite's is BEGIN IMMEDIATE
_CHECKPOINT_COLUMNS = "tree_size, root, time, key_id, signature"


class _Source(Protocol):
    """Where a view reads from: a snapshot, or the handle inside a write transaction."""

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None: ...
    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]: ...
    def stream(self, sql: str, params: Sequence[Any] = (), batch: int = 4096) -> Iterator[Row]: ...


TAIL_SEARCH = 10_000
"""How many of the newest records a history read searches by content for decisions filed under another session."""


class TrailView:
    """The trail's queries over one consistent state: every value parsed from rows, no cursor handed out."""

    def __init__(self, source: _Source, url: str, dialect: str = "sqlite") -> None:
        self._source = source
        self._url = url
        self._log_id: str | None = None
        self._dialect = dialect

    def log_id(self) -> str:
        if self._log_id is None:
            row = self._source.one("SELECT value FROM trail_meta WHERE key = ?", ("log_id",))
            if row is None:
                raise AuditError(f"{self._url} has no trail log id (not a magistrate trail, or its meta was deleted)")
            self._log_id = str(row[0])
        return self._log_id

    def count(self) -> int:
        row = self._source.one("SELECT count(*) FROM trail_records")
        return int(row[0]) if row else 0

    def latest_checkpoint(self) -> Checkpoint | None:
        row = self._source.one(
            f"SELECT {_CHECKPOINT_COLUMNS} FROM trail_checkpoints ORDER BY tree_size DESC LIMIT 1"  # noqa: S608
        )
        return _checkpoint(self.log_id(), row) if row else None

    def checkpoint(self, size: int) -> Checkpoint | None:
        row = self._source.one(
            f"SELECT {_CHECKPOINT_COLUMNS} FROM trail_checkpoints WHERE tree_size = ?",  # noqa: S608
            (size,),
        )
        return _checkpoint(self.log_id(), row) if row else None

    def checkpoint_sizes(self) -> list[int]:
        return [int(r[0]) for r in self._source.all("SELECT tree_size FROM trail_checkpoints ORDER BY tree_size")]

    def scan(self, *, start: int = 0, batch: int = 4096) -> Iterator[tuple[int, bytes, bytes]]:
        """(seq, body, leaf) in seq order from `start`, fetched in batches."""
        rows = self._source.stream(
            "SELECT seq, body, leaf FROM trail_records WHERE seq >= ? ORDER BY seq", (start,), batch
        )
        for seq, body, leaf in rows:
            yield int(seq), bytes(body), bytes(leaf)

    def stream(self, *, start: int = 0, batch: int = 4096) -> Iterator[StoredRecord]:
        """Every record from `start` in seq order, fetched in batches (each checked against its body)."""
        rows = self._source.stream(
            f"SELECT {_RECORD_COLUMNS} FROM trail_records WHERE seq >= ? ORDER BY seq",  # noqa: S608
            (start,),
            batch,
        )
        try:
            for r in rows:
                yield _stored(r)
        finally:  # a bad row ends the stream: its cursor is closed now, not when the snapshot is long gone
            close = getattr(rows, "close", None)
            if close is not None:
                close()

    def session_decisions(self, session_id: str, limit: int) -> list[StoredRecord]:
        """A session's last `limit` decision records, oldest first, each checked against its body.

        A decision taken out of the session by editing its `session_id` column is an `AuditError`, not a
        shorter history: a later decision of the session that links to it (`previous`) shows it, and the
        newest records after the session's last one are searched for decisions of the session by their
        signed content (bounded to the last `TAIL_SEARCH` records)."""
        rows = self._source.all(
            f"SELECT {_RECORD_COLUMNS} FROM trail_records WHERE session_id = ? AND kind = 'decision'"  # noqa: S608
            " ORDER BY seq DESC LIMIT ?",
            (session_id, limit),
        )
        found = [_stored(r) for r in reversed(rows)]
        seqs = {r.seq for r in found}
        complete = len(found) < limit  # the window holds the whole session: every link must land in it
        oldest = found[0].seq if found else 0
        for record in found:
            previous = json.loads(record.body).get("previous")
            if isinstance(previous, int) and previous not in seqs and (complete or previous >= oldest):
                raise AuditError(
                    f"the trail was tampered with: decision {record.seq} of session {session_id!r} follows decision"
                    f" {previous}, which is no longer recorded as one of the session's; run `magistrate audit verify`"
                )
        self._search_tail(session_id, found[-1].seq if found else -1)
        return found

    def _search_tail(self, session_id: str, after: int) -> None:
        """Raise if a decision of `session_id` (by its signed content) is stored after `after` under another
        session id; only the last `TAIL_SEARCH` records are searched, with a byte search the database runs."""
        size = self.count()
        start = max(after + 1, size - TAIL_SEARCH)
        if start >= size:
            return
        needle = b'"session_id":' + rfc8785.dumps(session_id)
        match = "instr(body, ?) > 0" if self._dialect == "sqlite" else "position(? in body) > 0"
        rows = self._source.all(
            f"SELECT seq, kind, session_id, body FROM trail_records WHERE seq >= ? AND {match}",  # noqa: S608
            (start, needle),
        )
        for seq, kind, column, body in rows:
            data = json.loads(bytes(body))
            if (
                isinstance(data, dict)
                and data.get("session_id") == session_id
                and data.get("kind") == "decision"
                and (column != session_id or kind != "decision")
            ):
                raise AuditError(
                    f"the trail was tampered with: decision {int(seq)} of session {session_id!r} is filed under"
                    f" session {column!r}; run `magistrate audit verify`"
                )

    def decision_for(self, tool_use_id: str) -> StoredRecord | None:
        """The latest decision record for a tool call, if the trail holds one (checked against its body)."""
        row = self._source.one(
            f"SELECT {_RECORD_COLUMNS} FROM trail_records WHERE tool_use_id = ? AND kind = 'decision'"  # noqa: S608
            " ORDER BY seq DESC LIMIT 1",
            (tool_use_id,),
        )
        return None if row is None else _stored(row)

    def rows(self, *, batch: int = 4096) -> Iterator[tuple[int, tuple[Any, ...], bytes, bytes]]:
        """(seq, lookup columns, body, leaf) in seq order, unchecked: for verification, which names faults."""
        stream = self._source.stream(
            f"SELECT {_RECORD_COLUMNS} FROM trail_records ORDER BY seq",  # noqa: S608
            (),
            batch,
        )
        for r in stream:
            yield int(r[0]), tuple(r[1:6]), bytes(r[6]), bytes(r[7])

    def of_calls(self, tool_use_ids: Sequence[str]) -> list[StoredRecord]:
        """Every record of these tool calls (decisions, approvals, outcomes), in seq order, through the index."""
        if not tool_use_ids:
            return []
        marks = ", ".join("?" for _ in tool_use_ids)
        sql = f"SELECT {_RECORD_COLUMNS} FROM trail_records WHERE tool_use_id IN ({marks}) ORDER BY seq"  # noqa: S608
        return [_stored(r) for r in self._source.all(sql, tuple(tool_use_ids))]

    def records(self, *, start: int = 0, limit: int | None = None, session_id: str | None = None) -> list[StoredRecord]:
        where, params = ["seq >= ?"], [start]
        if session_id is not None:
            where.append("session_id = ?")
            params.append(session_id)  # type: ignore[arg-type]  # mixed int/str parameters
        # Only fixed column names and placeholders are interpolated; values travel as parameters.
        sql = f"SELECT {_RECORD_COLUMNS} FROM trail_records WHERE {' AND '.join(where)} ORDER BY seq"  # noqa: S608
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [_stored(r) for r in self._source.all(sql, tuple(params))]


class _Writing:
    """The handle inside a write transaction, read like a snapshot."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        return self._db.read_one(sql, params)

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return self._db.read(sql, params)

    def stream(self, sql: str, params: Sequence[Any] = (), batch: int = 4096) -> Iterator[Row]:
        return iter(self._db.read(sql, params))


class Store:
    """The trail's tables on one database handle."""

    def __init__(self, db: Database, *, create: bool = True) -> None:
        self.db = db
        self.url = db.shown
        self._log_id: str | None = None
        self._head = _HEAD_FOR_UPDATE if db.dialect == "postgres" else _HEAD
        try:
            if not self._read_meta(required=not create):
                self._initialize()
        except BaseException:
            db.close()
            raise

    # -- schema --------------------------------------------------------------------------------------------
    def _schema(self) -> list[str]:
        b = "BYTEA" if self.db.dialect == "postgres" else "BLOB"
        return [
            "CREATE TABLE IF NOT EXISTS trail_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS trail_records (seq BIGINT PRIMARY KEY, kind TEXT NOT NULL,"
            " time TEXT NOT NULL, session_id TEXT NOT NULL, tool_use_id TEXT, tool_name TEXT NOT NULL,"
            f" body {b} NOT NULL, leaf {b} NOT NULL)",
            "CREATE INDEX IF NOT EXISTS trail_records_session ON trail_records (session_id, seq)",
            "CREATE INDEX IF NOT EXISTS trail_records_tool_use ON trail_records (tool_use_id)",
            f"CREATE TABLE IF NOT EXISTS trail_checkpoints (tree_size BIGINT PRIMARY KEY, root {b} NOT NULL,"
            f" time TEXT NOT NULL, key_id TEXT NOT NULL, signature {b} NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS trail_head (id INTEGER PRIMARY KEY, tree_size BIGINT NOT NULL,"
            f" frontier {b} NOT NULL)",
        ]

    def _read_meta(self, *, required: bool) -> bool:
        """True when the trail is set up (and of a known version), so opening it (once per hook call) needs
        no write; one query. A reader (`required`) of a database without a trail gets an error."""
        try:
            rows = self.db.read("SELECT key, value FROM trail_meta WHERE key IN ('log_id', 'schema_version')")
        except AuditError:
            if required:
                raise AuditError(f"{self.url} is not a magistrate trail (it has no trail_meta table)") from None
            return False  # no such table yet
        meta = {str(k): str(v) for k, v in rows}
        self._check_version(meta.get("schema_version"))
        if "log_id" not in meta:
            if required:
                raise AuditError(f"{self.url} has no trail log id (not a magistrate trail, or its meta was deleted)")
            return False
        self._log_id = meta["log_id"]
        return True

    def _check_version(self, found: str | None) -> None:
        if found is not None and found != SCHEMA_VERSION:
            raise TrailSchemaError("the trail", self.url, found, SCHEMA_VERSION)

    def _initialize(self) -> None:
        db = self.db
        with db.transaction():
            db.lock_schema()
            for statement in self._schema():
                db.write(statement)
            for key, value in (("schema_version", SCHEMA_VERSION), ("log_id", uuid.uuid4().hex)):
                db.write("INSERT INTO trail_meta (key, value) VALUES (?, ?) ON CONFLICT DO NOTHING", (key, value))
            db.write("INSERT INTO trail_head (id, tree_size, frontier) VALUES (1, 0, ?) ON CONFLICT DO NOTHING", (b"",))
            rows = db.read("SELECT key, value FROM trail_meta WHERE key IN ('log_id', 'schema_version')")
        meta = {str(k): str(v) for k, v in rows}
        self._check_version(meta.get("schema_version"))
        self._log_id = meta["log_id"]

    def log_id(self) -> str:
        """The trail's random id, bound into every checkpoint so checkpoints cannot be moved between trails."""
        if self._log_id is None:
            with self.snapshot() as view:
                self._log_id = view.log_id()
        return self._log_id

    # -- writing -------------------------------------------------------------------------------------------
    def append(
        self, records: Sequence[NewRecord], seal: Sealer, vouch: Voucher | None = None
    ) -> list[tuple[int, Checkpoint]]:
        """Append records in order, each with its own signed checkpoint; returns (seq, checkpoint) for each.

        `vouch` first checks the head against the latest checkpoint, so a writer never signs over a tree
        that someone rewrote without the key."""
        log_id = self.log_id()
        db = self.db
        with db.transaction():
            row = db.read_one(self._head)
            if row is None:
                raise AuditError(f"the trail's head is missing ({self.url})")
            try:
                frontier = Frontier.decode(int(row[0]), bytes(row[1]))
            except ValueError as exc:
                raise AuditError(f"the trail's head is corrupt: {exc}") from exc
            view = TrailView(_Writing(db), self.url, db.dialect)
            if view.log_id() != log_id:  # the tables were dropped and made anew under this open store
                raise AuditError(
                    f"the trail at {self.url} was replaced while open: it was trail {log_id}, it is now trail"
                    f" {view.log_id()}; run `magistrate audit verify`"
                )
            if vouch is not None:
                vouch(view, frontier)
            out: list[tuple[int, Checkpoint]] = []
            rows, checkpoints = [], []
            for rec in records:
                frontier = frontier.append(rec.leaf)
                cp = seal(log_id, frontier.size, frontier.root())
                seq = frontier.size - 1
                rows.append(
                    (seq, rec.kind, rec.time, rec.session_id, rec.tool_use_id, rec.tool_name, rec.body, rec.leaf)
                )
                checkpoints.append((cp.size, cp.root, cp.time, cp.key_id, cp.signature))
                out.append((seq, cp))
            db.write_many(_INSERT_RECORD, rows)
            db.write_many(_INSERT_CHECKPOINT, checkpoints)
            db.write(
                "UPDATE trail_head SET tree_size = ?, frontier = ? WHERE id = 1", (frontier.size, frontier.encode())
            )
        return out

    # -- reading -------------------------------------------------------------------------------------------
    @contextmanager
    def snapshot(self) -> Iterator[TrailView]:
        """The trail's queries over one consistent state (a read transaction on its own connection)."""
        with self.db.snapshot() as snap:
            view = TrailView(snap, self.url, self.db.dialect)
            view._log_id = self._log_id
            yield view

    def close(self) -> None:
        self.db.close()


def _checkpoint(log_id: str, row: Sequence[Any]) -> Checkpoint:
    return Checkpoint(log_id, int(row[0]), bytes(row[1]), str(row[2]), str(row[3]), bytes(row[4]))


BOUND_COLUMNS = ("kind", "time", "session_id", "tool_use_id", "tool_name")
"""The lookup columns, each a copy of the body's top-level field of the same name."""


def column_problem(seq: int, columns: Sequence[Any], body: bytes) -> str | None:
    """Why a row's lookup columns differ from the signed body they copy, or None when they agree.

    A body value that redaction replaced (`[hmac:...]`) may stand beside the raw value in a column that an
    older magistrate wrote before columns were taken from the redacted body; that difference is tolerated."""
    try:
        data = json.loads(body)
    except ValueError:
        return f"record {seq}'s content is not JSON"
    if not isinstance(data, dict):
        return f"record {seq}'s content is not a JSON object"
    for name, value in zip(BOUND_COLUMNS, columns, strict=True):
        signed = data.get(name, None if name == "tool_use_id" else "")
        if value != signed and not (isinstance(signed, str) and "[hmac:" in signed):
            return f"record {seq}'s {name} column says {value!r}, but its signed content says {signed!r}"
    return None


def _checked(seq: int, columns: Sequence[Any], body: bytes) -> None:
    problem = column_problem(seq, columns, body)
    if problem is not None:
        raise AuditError(f"the trail was tampered with: {problem}; run `magistrate audit verify`")


def _stored(r: Row) -> StoredRecord:
    record = StoredRecord(int(r[0]), str(r[1]), str(r[2]), str(r[3]), r[4], str(r[5]), bytes(r[6]), bytes(r[7]))
    _checked(record.seq, r[1:6], record.body)
    return record


LOCK_TIMEOUT = 10.0
"""Seconds an append waits for a database another writer holds locked (`MAGISTRATE_TRAIL_TIMEOUT`)."""


def lock_timeout(env: Environment | None = None) -> float:
    """`MAGISTRATE_TRAIL_TIMEOUT` from `env` (this process's environment by default), else `LOCK_TIMEOUT`;
    an `AuditError` for a value that is not a positive number of seconds."""
    text = (env or Environment.read()).trail_timeout
    if text is None:
        return LOCK_TIMEOUT
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (0 < value <= 3600):
        raise AuditError(f"MAGISTRATE_TRAIL_TIMEOUT must be a number of seconds between 0 and 3600, not {text!r}")
    return value


def open_store(url: str | Path | None = None, *, create: bool = True, timeout: float | None = None) -> Store:
    """A store for a path (SQLite) or a `postgresql://` URL; the per-user SQLite trail when None.

    With `create=False` (readers), a missing trail is an error instead of a new empty one, and so is a
    database without one. A trail of an unknown schema version is refused (`TrailSchemaError`). `timeout`:
    how long a write waits for a lock another writer holds before it fails (default `lock_timeout()`), so
    a locked database turns into a deny within seconds."""
    target = str(url) if url is not None else default_db()
    wait = lock_timeout() if timeout is None else timeout
    db = open_database(target, _FLAVOR, busy_timeout=wait, write_lock_file=True, create=create, lock_timeout=wait)
    try:
        return Store(db, create=create)
    except BaseException:
        db.close()  # a refused trail (unknown version, not a trail) leaves no connection behind
        raise
