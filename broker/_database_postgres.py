"""PostgreSQL under the database handle, for many brokers on many machines sharing one database.

The handle's connection runs in autocommit mode, and transactions are explicit (`BEGIN` ... `COMMIT`); a
writer that must extend what the last one left takes a row lock (`SELECT ... FOR UPDATE`). A snapshot is a
read-only REPEATABLE READ transaction on a connection of its own, and its `stream` goes through a named
(server-side) cursor, so a million records are streamed instead of loaded at once. psycopg is imported here
only, so nothing else pays for it.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from magistrate.broker._database import Database, Flavor, Row, Snapshot

_cursor_ids = itertools.count()


def redact_url(url: str) -> str:
    """The URL with its password masked, for messages and logs."""
    head, sep, tail = url.partition("@")
    if not sep or ":" not in head.split("//", 1)[-1]:
        return url
    scheme, _, userinfo = head.partition("//")
    return f"{scheme}//{userinfo.split(':', 1)[0]}:***@{tail}"


def open_postgres(url: str, flavor: Flavor, *, lock_timeout: float | None = None) -> Database:
    """A handle on the database at `url`. `lock_timeout`: how long a statement waits for a lock another
    transaction holds (a writer's `FOR UPDATE` on the trail's head) before it fails; None waits as long as
    the server's own setting says."""
    shown = redact_url(url)
    try:
        import psycopg
    except ImportError as exc:
        what = flavor.name or "the database"
        raise flavor.error(f"{what} on PostgreSQL needs psycopg: pip install 'magistrate[postgres]'") from exc

    def connect() -> Any:
        connection = psycopg.connect(url, autocommit=True)
        connection.execute("SET client_min_messages TO warning")
        if lock_timeout is not None:
            connection.execute(f"SET lock_timeout = {max(1, int(lock_timeout * 1000))}")
        return connection

    @contextmanager
    def snapshot(db: Database) -> Iterator[Snapshot]:
        with psycopg.connect(url) as conn:
            # One snapshot for every query of the read; the connection commits (ends it) on exit.
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            conn.read_only = True

            def stream(sql: str, params: Row, batch: int) -> Iterator[Row]:
                with conn.cursor(name=f"magistrate_stream_{next(_cursor_ids)}") as cursor:
                    cursor.execute(sql, params)
                    while rows := cursor.fetchmany(batch):
                        yield from (tuple(row) for row in rows)

            yield Snapshot(db, conn, stream)

    try:
        return Database(
            dialect="postgres",
            location=url,
            shown=shown,
            flavor=flavor,
            errors=(psycopg.Error,),
            connect=connect,
            snapshot=snapshot,
        )
    except psycopg.Error as exc:
        raise flavor.error(
            f"cannot connect to PostgreSQL for {flavor.name or 'the database'} at {shown}: {exc}"
        ) from exc
