"""Where the trail lives: one schema and one append algorithm, over SQLite (default) or PostgreSQL.

Appending is the one delicate operation: several processes (or machines) may append at once, and each
new leaf must extend exactly the tree the last writer left. So the whole append (read the head, extend the
frontier, sign the new checkpoint, insert the record and its checkpoint, move the head) is one transaction
under one lock: `BEGIN IMMEDIATE` in SQLite, a row lock on the head in PostgreSQL. The commit is durable
(SQLite WAL with `synchronous=FULL`) before the append returns.

Calls here block; the trail runs them in a worker thread. A store is safe to share between threads.

Schema (the same in both)::

    trail_meta(key PRIMARY KEY, value)              schema version, log id
    trail_records(seq PRIMARY KEY, kind, time, session_id, tool_use_id, tool_name, body, leaf)
    trail_checkpoints(tree_size PRIMARY KEY, root, time, key_id, signature)   one per append
    trail_head(id = 1, tree_size, frontier)         where the next writer continues
"""

from __future__ import annotations

import abc
import os
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from magistrate.broker._merkle import Frontier
from magistrate.broker._signing import Checkpoint
from magistrate.broker._trail_errors import AuditError

DB_ENV = "MAGISTRATE_AUDIT"
SCHEMA_VERSION = "1"


def default_db() -> str:
    """`$MAGISTRATE_AUDIT`, else `$XDG_STATE_HOME/magistrate/trail.sqlite3`."""
    override = os.environ.get(DB_ENV)
    if override:
        return override
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return str(Path(base) / "magistrate" / "trail.sqlite3")


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
    seq: int
    kind: str
    time: str
    session_id: str
    tool_use_id: str | None
    tool_name: str
    body: bytes
    leaf: bytes


Sealer = Callable[[str, int, bytes], Checkpoint]
"""Signs a checkpoint: (log id, tree size, root) -> Checkpoint. Called inside the append transaction."""

Voucher = Callable[[Checkpoint | None, Frontier], None]
"""Raises `AuditError` unless the head (frontier) is what the latest checkpoint signed."""

_RECORD_COLUMNS = "seq, kind, time, session_id, tool_use_id, tool_name, body, leaf"
_INSERT_RECORD = f"INSERT INTO trail_records ({_RECORD_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"  # noqa: S608


class Store(abc.ABC):
    """The trail's tables over a DB-API connection; subclasses supply the dialect."""

    blob = "BLOB"
    url: str

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._log_id: str | None = None

    # -- dialect -------------------------------------------------------------------------------------------
    @abc.abstractmethod
    def _write(self) -> AbstractContextManager[Any]:
        """A transaction that holds the trail's append lock until commit; yields a cursor."""

    @abc.abstractmethod
    def snapshot(self) -> AbstractContextManager[Any]:
        """A read transaction that sees one consistent state; yields a cursor-like object."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the connection (and any lock file)."""

    def _sql(self, sql: str) -> str:
        return sql

    def _head_for_update(self, cur: Any) -> tuple[int, bytes]:
        cur.execute(self._sql("SELECT tree_size, frontier FROM trail_head WHERE id = 1"))
        row = cur.fetchone()
        return int(row[0]), bytes(row[1])

    # -- schema --------------------------------------------------------------------------------------------
    def _schema(self) -> list[str]:
        b = self.blob
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

    def _initialize(self) -> None:
        with self._write() as cur:
            for statement in self._schema():
                cur.execute(statement)
            cur.execute(
                self._sql("INSERT INTO trail_meta (key, value) VALUES (?, ?) ON CONFLICT DO NOTHING"),
                ("schema_version", SCHEMA_VERSION),
            )
            cur.execute(
                self._sql("INSERT INTO trail_meta (key, value) VALUES (?, ?) ON CONFLICT DO NOTHING"),
                ("log_id", uuid.uuid4().hex),
            )
            cur.execute(
                self._sql("INSERT INTO trail_head (id, tree_size, frontier) VALUES (1, 0, ?) ON CONFLICT DO NOTHING"),
                (b"",),
            )

    def log_id(self) -> str:
        """The trail's random id, bound into every checkpoint so checkpoints cannot be moved between trails."""
        if self._log_id is None:
            with self.snapshot() as cur:
                self._log_id = self.read_log_id(cur)
        return self._log_id

    def read_log_id(self, cur: Any) -> str:
        cur.execute(self._sql("SELECT value FROM trail_meta WHERE key = ?"), ("log_id",))
        row = cur.fetchone()
        if row is None:
            raise AuditError(f"{self.url} has no trail log id (not a magistrate trail, or its meta was deleted)")
        return str(row[0])

    # -- writing -------------------------------------------------------------------------------------------
    def append(
        self, records: Sequence[NewRecord], seal: Sealer, vouch: Voucher | None = None
    ) -> list[tuple[int, Checkpoint]]:
        """Append records in order, each with its own signed checkpoint; returns (seq, checkpoint) for each.

        `vouch` first checks the head against the latest checkpoint, so a writer never signs over a tree
        that someone rewrote without the key."""
        log_id = self.log_id()
        with self._write() as cur:
            size, encoded = self._head_for_update(cur)
            try:
                frontier = Frontier.decode(size, encoded)
            except ValueError as exc:
                raise AuditError(f"the trail's head is corrupt: {exc}") from exc
            if vouch is not None:
                vouch(self.latest_checkpoint(cur, log_id), frontier)
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
            cur.executemany(self._sql(_INSERT_RECORD), rows)
            cur.executemany(
                self._sql(
                    "INSERT INTO trail_checkpoints (tree_size, root, time, key_id, signature) VALUES (?, ?, ?, ?, ?)"
                ),
                checkpoints,
            )
            cur.execute(
                self._sql("UPDATE trail_head SET tree_size = ?, frontier = ? WHERE id = 1"),
                (frontier.size, frontier.encode()),
            )
        return out

    # -- reading (each takes a cursor from `snapshot()`) ---------------------------------------------------
    def count(self, cur: Any) -> int:
        cur.execute("SELECT count(*) FROM trail_records")
        return int(cur.fetchone()[0])

    def latest_checkpoint(self, cur: Any, log_id: str) -> Checkpoint | None:
        cur.execute(
            "SELECT tree_size, root, time, key_id, signature FROM trail_checkpoints ORDER BY tree_size DESC LIMIT 1"
        )
        row = cur.fetchone()
        return _checkpoint(log_id, row) if row else None

    def checkpoint(self, cur: Any, log_id: str, size: int) -> Checkpoint | None:
        cur.execute(
            self._sql("SELECT tree_size, root, time, key_id, signature FROM trail_checkpoints WHERE tree_size = ?"),
            (size,),
        )
        row = cur.fetchone()
        return _checkpoint(log_id, row) if row else None

    def checkpoint_sizes(self, cur: Any) -> list[int]:
        cur.execute("SELECT tree_size FROM trail_checkpoints ORDER BY tree_size")
        return [int(r[0]) for r in cur.fetchall()]

    def scan(self, cur: Any, *, start: int = 0, batch: int = 4096) -> Iterator[tuple[int, bytes, bytes]]:
        """(seq, body, leaf) in seq order from `start`, fetched in batches."""
        cur.execute(self._sql("SELECT seq, body, leaf FROM trail_records WHERE seq >= ? ORDER BY seq"), (start,))
        while True:
            rows = cur.fetchmany(batch)
            if not rows:
                return
            for seq, body, leaf in rows:
                yield seq, bytes(body), bytes(leaf)

    def session_decisions(self, cur: Any, session_id: str, limit: int) -> list[bytes]:
        """The bodies of a session's last `limit` decision records, oldest first."""
        cur.execute(
            self._sql(
                "SELECT body FROM trail_records WHERE session_id = ? AND kind = 'decision' ORDER BY seq DESC LIMIT ?"
            ),
            (session_id, limit),
        )
        return [bytes(r[0]) for r in reversed(cur.fetchall())]

    def decision_for(self, cur: Any, tool_use_id: str) -> bytes | None:
        """The body of the latest decision record for a tool call, if the trail holds one."""
        cur.execute(
            self._sql(
                "SELECT body FROM trail_records WHERE tool_use_id = ? AND kind = 'decision' ORDER BY seq DESC LIMIT 1"
            ),
            (tool_use_id,),
        )
        row = cur.fetchone()
        return None if row is None else bytes(row[0])

    def records(
        self, cur: Any, *, start: int = 0, limit: int | None = None, session_id: str | None = None
    ) -> list[StoredRecord]:
        where, params = ["seq >= ?"], [start]
        if session_id is not None:
            where.append("session_id = ?")
            params.append(session_id)  # type: ignore[arg-type]  # mixed int/str parameters
        # Only fixed column names and placeholders are interpolated; values travel as parameters.
        sql = f"SELECT {_RECORD_COLUMNS} FROM trail_records WHERE {' AND '.join(where)} ORDER BY seq"  # noqa: S608
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        cur.execute(self._sql(sql), tuple(params))
        return [StoredRecord(int(r[0]), r[1], r[2], r[3], r[4], r[5], bytes(r[6]), bytes(r[7])) for r in cur.fetchall()]


def _checkpoint(log_id: str, row: Sequence[Any]) -> Checkpoint:
    return Checkpoint(log_id, int(row[0]), bytes(row[1]), str(row[2]), str(row[3]), bytes(row[4]))


def open_store(url: str | Path | None = None, *, create: bool = True) -> Store:
    """A store for a path (SQLite) or a `postgresql://` URL; the per-user SQLite trail when None.

    With `create=False` (readers), a missing trail is an error instead of a new empty one."""
    target = str(url) if url is not None else default_db()
    if target.startswith(("postgresql://", "postgres://")):
        from magistrate.broker._storage_postgres import PostgresStore

        return PostgresStore(target, create=create)
    if target.startswith("sqlite:///"):
        target = target[len("sqlite:///") :]
    from magistrate.broker._storage_sqlite import SQLiteStore

    return SQLiteStore(target, create=create)
