"""One small database handle for both stores, so SQLite (one user) and PostgreSQL (shared) run the same tools.

The repositories write SQL with `?` placeholders and keep dialect-specific statements (schema, full-text
search) side by side; everything else is common. A handle holds one connection behind a lock: the tools run
on worker threads, and a transaction must not interleave with another thread's statements. psycopg is only
imported when a `postgresql://` URL is opened.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Literal, Protocol

from magistrate.broker._log import get_logger
from magistrate.servers._errors import DatabaseError

_log = get_logger("magistrate.servers.db")

Dialect = Literal["sqlite", "postgres"]
Row = tuple[Any, ...]
_SCHEMA_LOCK = 0x6D61_6769_7374  # any fixed 64-bit key; "magist"


class _Connection(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ...) -> Any: ...
    def close(self) -> None: ...


def data_dir() -> Path:
    """Per-user data directory: `$XDG_DATA_HOME/magistrate`, else `~/.local/share/magistrate`."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "magistrate"


def default_location(store: str) -> str:
    """Where a store lives when no `--db` is given, e.g. `.../magistrate/compliance.sqlite3`."""
    return str(data_dir() / f"{store}.sqlite3")


def is_postgres_url(location: str) -> bool:
    return location.startswith(("postgresql://", "postgres://"))


class Database:
    """A connection, its dialect, and a lock that makes each statement or transaction atomic across threads.

    A PostgreSQL connection that breaks (a server restart, an idle timeout) is reopened once, but only for a
    statement outside a transaction: a write inside one is never replayed, it fails and rolls back.
    """

    def __init__(
        self,
        connection: _Connection,
        dialect: Dialect,
        location: str,
        errors: tuple[type[Exception], ...] = (sqlite3.Error,),
        reconnect: Callable[[], _Connection] | None = None,
    ) -> None:
        self._conn = connection
        self.dialect: Dialect = dialect
        self.location = location
        self._errors = errors
        self._reconnect = reconnect
        self._lock = threading.RLock()
        self._depth = 0

    def _sql(self, sql: str) -> str:
        return sql.replace("%", "%%").replace("?", "%s") if self.dialect == "postgres" else sql

    def _run(self, sql: str, params: Sequence[Any]) -> list[Row]:
        cursor = self._conn.execute(self._sql(sql), tuple(params))
        if cursor.description is None:
            return []
        return [tuple(row) for row in cursor.fetchall()]

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run one statement; returns its rows (empty for statements without a result)."""
        with self._lock:
            try:
                return self._run(sql, params)
            except self._errors as exc:
                if not (self._depth == 0 and self._reconnect is not None and getattr(self._conn, "closed", False)):
                    # The driver's own error names the table or constraint; the statement itself is left out.
                    raise DatabaseError(f"{self.dialect} error: {exc}") from exc
                _log.warning("database_reconnect", location=self.location, error=str(exc))
            try:
                self._conn = self._reconnect()
                return self._run(sql, params)
            except self._errors as exc:
                raise DatabaseError(f"{self.dialect} error: {exc}") from exc

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        rows = self.execute(sql, params)
        return rows[0] if rows else None

    def script(self, statements: Sequence[str]) -> None:
        """Run schema statements in one transaction.

        On PostgreSQL an advisory lock serialises it: two processes starting together would otherwise race
        in `CREATE TABLE IF NOT EXISTS` and one would fail on the catalog's unique index.
        """
        with self.transaction():
            if self.dialect == "postgres":
                self.execute("SELECT pg_advisory_xact_lock(?)", (_SCHEMA_LOCK,))
            for statement in statements:
                self.execute(statement)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All or nothing; nested uses join the outer transaction."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self.execute("BEGIN IMMEDIATE" if self.dialect == "sqlite" else "BEGIN")
            self._depth = 1
            try:
                yield
            except BaseException:
                self._depth = 0
                with suppress(DatabaseError):  # a broken connection has rolled back already
                    self.execute("ROLLBACK")
                raise
            self._depth = 0
            self.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def open_database(location: str) -> Database:
    """Open a SQLite file (created with its directory) or a `postgresql://` URL."""
    if is_postgres_url(location):
        try:
            import psycopg
        except ImportError as exc:
            raise DatabaseError("PostgreSQL needs psycopg: pip install 'magistrate[postgres]'") from exc

        def connect() -> _Connection:
            connection = psycopg.connect(location, autocommit=True)
            connection.execute("SET client_min_messages TO warning")
            return connection

        try:
            pg = connect()
        except psycopg.Error as exc:
            raise DatabaseError(f"cannot connect to PostgreSQL: {exc}") from exc
        return Database(pg, "postgres", location, (psycopg.Error,), connect)
    path = Path(location).expanduser()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA busy_timeout=5000")
        conn.execute("PRAGMA foreign_keys=ON")
    except (OSError, sqlite3.Error) as exc:
        raise DatabaseError(f"cannot open SQLite database {path}: {exc}") from exc
    return Database(conn, "sqlite", str(path))
