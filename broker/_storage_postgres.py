"""The trail in PostgreSQL, for many brokers on many machines writing one trail.

Same schema and algorithm as SQLite; the append lock is a row lock on `trail_head` (`SELECT ... FOR UPDATE`),
so writers on any number of machines queue behind each other and each extends the tree the last one left.
Schema creation takes a transaction-level advisory lock, because concurrent `CREATE TABLE IF NOT EXISTS`
can still collide in PostgreSQL. psycopg is imported here only, so nothing else pays for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from magistrate.broker._storage import Store
from magistrate.broker._trail_errors import AuditError

_SCHEMA_LOCK = 0x6D61_6769_7374  # "magist": any constant shared by every magistrate process


class PostgresStore(Store):
    """A trail in a PostgreSQL database given by a `postgresql://` URL."""

    blob = "BYTEA"

    def __init__(self, url: str, *, create: bool = True) -> None:
        super().__init__()
        try:
            import psycopg
        except ImportError as exc:
            raise AuditError("a PostgreSQL trail needs psycopg: pip install 'magistrate[postgres]'") from exc
        self._psycopg = psycopg
        self.url = url
        try:
            self._connection = psycopg.connect(url, autocommit=True)
            if create:
                self._initialize()
        except psycopg.Error as exc:
            raise AuditError(f"cannot open the trail at {_redact_url(url)}: {exc}") from exc

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s")

    def _head_for_update(self, cur: Any) -> tuple[int, bytes]:
        cur.execute("SELECT tree_size, frontier FROM trail_head WHERE id = 1 FOR UPDATE")
        row = cur.fetchone()
        return int(row[0]), bytes(row[1])

    @contextmanager
    def _write(self) -> Iterator[Any]:
        psycopg = self._psycopg
        with self._lock:
            try:
                if self._connection.closed or self._connection.broken:  # the server restarted, or the network
                    self._connection = psycopg.connect(self.url, autocommit=True)
                with self._connection.transaction(), self._connection.cursor() as cur:
                    cur.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                    yield cur
            except psycopg.Error as exc:
                raise AuditError(f"trail write failed ({_redact_url(self.url)}): {exc}") from exc

    @contextmanager
    def snapshot(self) -> Iterator[Any]:
        psycopg = self._psycopg
        try:
            with psycopg.connect(self.url) as conn:
                # One snapshot for every query of the read; the connection commits (ends it) on exit.
                conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
                conn.read_only = True
                # A named (server-side) cursor streams a million records instead of loading them at once.
                with conn.cursor(name="trail_scan") as cur:
                    yield _Reader(conn, cur)
        except psycopg.Error as exc:
            raise AuditError(f"trail read failed ({_redact_url(self.url)}): {exc}") from exc

    def close(self) -> None:
        with self._lock:
            self._connection.close()


class _Reader:
    """Routes the bulk scan through a server-side cursor and every small query through a plain one."""

    def __init__(self, conn: Any, named: Any) -> None:
        self._conn = conn
        self._named = named
        self._current: Any = None

    def execute(self, sql: str, params: Any = None) -> None:
        if sql.startswith("SELECT seq, body, leaf"):
            self._named.execute(sql, params)
            self._current = self._named
        else:
            self._current = self._conn.execute(sql, params)

    def fetchone(self) -> Any:
        return self._current.fetchone()

    def fetchall(self) -> Any:
        return self._current.fetchall()

    def fetchmany(self, size: int) -> Any:
        return self._current.fetchmany(size)


def _redact_url(url: str) -> str:
    head, sep, tail = url.partition("@")
    if not sep or ":" not in head.split("//", 1)[-1]:
        return url
    scheme, _, userinfo = head.partition("//")
    return f"{scheme}//{userinfo.split(':', 1)[0]}:***@{tail}"
