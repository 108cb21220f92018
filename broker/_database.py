"""One database handle for everything magistrate stores: the trail, the servers' repositories, the approval queue.

A location is a SQLite path or a `postgresql://` URL; callers write SQL with `?` placeholders and get rows
back as tuples, so only schema and full-text statements differ by dialect. A handle holds one connection
behind a lock: callers run on worker threads, and a transaction must not interleave with another thread's
statements. Reads that must see one consistent state take a `snapshot()`, on a connection of their own, so a
long read (verifying a million records) never holds up writers.

Callers say what a statement is: `read` (changes nothing) or `write` (changes data). The handle never guesses
from the SQL, because the difference decides what happens when a PostgreSQL connection breaks (a server
restart, an idle timeout): the connection is reopened, and a read outside a transaction is run once more,
while a write is never replayed (the server may have applied it before the connection went), it fails and
rolls back. A write outside a transaction is a transaction of its own, so the reopening happens at its
`BEGIN`, before anything was sent. Every driver error leaves as the caller's own error class (`AuditError`
for the trail, `DatabaseError` for the servers), and a schema version this code does not know is refused on
open. psycopg is imported only when a `postgresql://` URL is opened.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from magistrate.broker._errors import MagistrateError

Dialect = Literal["sqlite", "postgres"]
Row = tuple[Any, ...]
SCHEMA_LOCK = 0x6D61_6769_7374  # "magist": any constant shared by every magistrate process


class SchemaVersionError(MagistrateError):
    """A database's schema version is not the one this magistrate reads and writes (newer, or not ours)."""

    def __init__(self, what: str, location: str, found: str, supported: str) -> None:
        super().__init__(
            f"{what} at {location} has schema version {found!r}, but this magistrate supports version"
            f" {supported!r} only: it was written by a newer magistrate (upgrade magistrate to read it) or it is"
            f" not a magistrate {what} (point to another location)"
        )
        self.location = location
        """Where the database is (a PostgreSQL URL with its password masked)."""
        self.found = found
        """The version the database records."""
        self.supported = supported
        """The version this code reads and writes."""


@dataclass(frozen=True, slots=True)
class Flavor:
    """How a caller's failures read: its error classes and the name it gives its database in messages."""

    error: type[MagistrateError]
    """Raised for every driver error (opening, reading, writing)."""
    schema_error: type[SchemaVersionError]
    """Raised for an unknown schema version; a subclass of `error` too, so one `except` catches both."""
    name: str | None = None
    """`the trail` reads as `trail write failed (LOCATION): ...`; None as `sqlite error: ...`."""


@functools.lru_cache(maxsize=256)
def _pyformat(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")


class Snapshot:
    """Reads that all see one consistent state of the database (a read transaction of its own)."""

    def __init__(self, db: Database, connection: Any, streamer: Callable[[str, Row, int], Iterator[Row]]) -> None:
        self._db = db
        self._conn = connection
        self._streamer = streamer

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        cursor = self._conn.execute(self._db.sql(sql), tuple(params))
        return [tuple(row) for row in cursor.fetchall()]

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        row = self._conn.execute(self._db.sql(sql), tuple(params)).fetchone()
        return None if row is None else tuple(row)

    def stream(self, sql: str, params: Sequence[Any] = (), batch: int = 4096) -> Iterator[Row]:
        """The rows of a large result, fetched `batch` at a time (a server-side cursor on PostgreSQL)."""
        return self._streamer(self._db.sql(sql), tuple(params), batch)


class Database:
    """A connection, its dialect, and a lock that makes each statement or transaction atomic across threads.

    Drivers supply `connect` (a connection in autocommit mode), `snapshot` (a read transaction on a new
    connection) and, for SQLite, `write_lock` (held around every write transaction)."""

    def __init__(
        self,
        *,
        dialect: Dialect,
        location: str,
        shown: str,
        flavor: Flavor,
        errors: tuple[type[Exception], ...],
        connect: Callable[[], Any],
        snapshot: Callable[[Database], contextlib.AbstractContextManager[Snapshot]],
        write_lock: Callable[[], contextlib.AbstractContextManager[None]] | None = None,
    ) -> None:
        self.dialect: Dialect = dialect
        self.location = location
        """The path or URL as given (a URL keeps its password: use `shown` in messages)."""
        self.shown = shown
        self.flavor = flavor
        self.errors = errors
        """The driver's error classes, translated into `flavor.error`."""
        self._connect = connect
        self._snapshot = snapshot
        self._write_lock = write_lock
        self._lock = threading.RLock()
        self._depth = 0
        self._closed = False
        self._conn = connect()

    # -- messages ------------------------------------------------------------------------------------------
    def failure(self, action: str, exc: BaseException) -> MagistrateError:
        """The caller's error for a driver error during `action` (`read`, `write`); the SQL is left out."""
        if self.flavor.name is None:
            return self.flavor.error(f"{self.dialect} error: {exc}")
        return self.flavor.error(f"{self.flavor.name} {action} failed ({self.shown}): {exc}")

    def sql(self, sql: str) -> str:
        """`?` placeholders in the driver's own style."""
        return _pyformat(sql) if self.dialect == "postgres" else sql

    # -- statements ----------------------------------------------------------------------------------------
    def _broken(self) -> bool:
        return self.dialect == "postgres" and bool(
            getattr(self._conn, "closed", False) or getattr(self._conn, "broken", False)
        )

    def _run(self, sql: str, params: Sequence[Any]) -> list[Row]:
        cursor = self._conn.execute(self.sql(sql), tuple(params))
        if cursor.description is None:
            return []
        return [tuple(row) for row in cursor.fetchall()]

    def read(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """The rows of a query that changes nothing.

        Outside a transaction a query is safe to run again, so on a PostgreSQL connection that turns out to be
        broken it is run once more on a reopened one; inside a transaction it fails with the transaction."""
        with self._lock:
            self._check_open()
            try:
                return self._run(sql, params)
            except self.errors as exc:
                if self._depth or not self._broken():
                    raise self.failure("write" if self._depth else "read", exc) from exc
                self._reopen(exc)
            try:
                return self._run(sql, params)
            except self.errors as exc:
                raise self.failure("read", exc) from exc

    def read_one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        """The first row of a query that changes nothing (see `read`), or None."""
        rows = self.read(sql, params)
        return rows[0] if rows else None

    def write(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run a statement that changes data (or the schema); returns its rows (`RETURNING`), else none.

        Never replayed: inside a transaction it is part of it, outside one it is a transaction of its own."""
        with self._lock:
            if not self._depth:
                with self.transaction():
                    return self.write(sql, params)
            try:
                return self._run(sql, params)
            except self.errors as exc:
                raise self.failure("write", exc) from exc

    def write_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """One statement for many parameter rows, in one transaction (the trail's batched append)."""
        with self.transaction():
            cursor = self._conn.cursor()
            try:
                cursor.executemany(self.sql(sql), rows)
            except self.errors as exc:
                raise self.failure("write", exc) from exc
            finally:
                cursor.close()

    def script(self, statements: Sequence[str]) -> None:
        """Run schema statements in one transaction.

        On PostgreSQL an advisory lock serialises it: two processes starting together would otherwise race
        in `CREATE TABLE IF NOT EXISTS` and one would fail on the catalog's unique index."""
        with self.transaction():
            self.lock_schema()
            for statement in statements:
                self.write(statement)

    def lock_schema(self) -> None:
        """Inside a transaction: wait for any other process creating the schema (PostgreSQL)."""
        if self.dialect == "postgres":
            self.read("SELECT pg_advisory_xact_lock(?)", (SCHEMA_LOCK,))

    def ensure_schema(self, component: str, version: str, statements: Sequence[str], *, what: str) -> None:
        """Create `component`'s tables unless they exist, and refuse a database of another schema version.

        The version lives in `magistrate_schema`, one row per component, so several stores can share one
        PostgreSQL database. A database from before the table existed is taken to be version 1."""
        with self.transaction():
            self.lock_schema()
            self.write(
                "CREATE TABLE IF NOT EXISTS magistrate_schema (component TEXT PRIMARY KEY, version TEXT NOT NULL)"
            )
            row = self.read_one("SELECT version FROM magistrate_schema WHERE component = ?", (component,))
            if row is not None and str(row[0]) != version:
                raise self.flavor.schema_error(what, self.shown, str(row[0]), version)
            for statement in statements:
                self.write(statement)
            if row is None:
                self.write("INSERT INTO magistrate_schema (component, version) VALUES (?, ?)", (component, version))

    # -- transactions --------------------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All or nothing, holding the write lock until commit; nested uses join the outer transaction."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self._check_open()
            with self._write_lock() if self._write_lock is not None else contextlib.nullcontext():
                self._begin()
                self._depth = 1
                try:
                    yield
                    self._conn.execute("COMMIT")
                except BaseException as exc:
                    with contextlib.suppress(*self.errors):  # a broken connection has rolled back already
                        self._conn.execute("ROLLBACK")
                    if isinstance(exc, self.errors):
                        raise self.failure("write", exc) from exc
                    raise
                finally:
                    self._depth = 0

    def _begin(self) -> None:
        """Start a transaction. Nothing has been sent yet, so a PostgreSQL connection that is (or turns out at
        this `BEGIN` to be) broken is reopened and the `BEGIN` tried once more."""
        begin = "BEGIN IMMEDIATE" if self.dialect == "sqlite" else "BEGIN"
        try:
            if self._broken():
                self._reopen(None)
            self._conn.execute(begin)
            return
        except self.errors as exc:
            if not self._broken():
                raise self.failure("write", exc) from exc
            self._reopen(exc)
        try:
            self._conn.execute(begin)
        except self.errors as exc:
            raise self.failure("write", exc) from exc

    @contextmanager
    def snapshot(self) -> Iterator[Snapshot]:
        """A read transaction that sees one consistent state; driver errors inside it are translated."""
        try:
            with self._snapshot(self) as snap:
                yield snap
        except self.errors as exc:
            raise self.failure("read", exc) from exc

    # -- lifetime ------------------------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            if self.flavor.name is None:
                raise self.flavor.error(f"{self.dialect} error: the database {self.shown} is closed")
            raise self.flavor.error(f"{self.flavor.name} {self.shown} is closed")

    def _reopen(self, exc: BaseException | None) -> None:
        from magistrate.broker._log import get_logger

        get_logger("magistrate.db").warning("database_reconnect", location=self.shown, error=str(exc))
        with contextlib.suppress(*self.errors):
            self._conn.close()
        try:
            self._conn = self._connect()
        except self.errors as again:
            raise self.failure("read", again) from again

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._conn.close()


def is_postgres_url(location: str) -> bool:
    return location.startswith(("postgresql://", "postgres://"))
