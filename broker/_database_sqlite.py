"""SQLite under the database handle: one file, WAL, fully synchronous commits.

Durability: `synchronous=FULL` syncs the WAL at every commit, so a write that returned survives a power cut.
Writers take `BEGIN IMMEDIATE`. With `write_lock_file` (the trail), several processes append safely and
quickly: each first takes an advisory file lock beside the database (the kernel hands it straight to the next
writer, where SQLite's busy handler would sleep and poll), and `BEGIN IMMEDIATE` still guards against any
writer that does not take the file lock.

WAL checkpoints stay SQLite's own (every 1000 pages, in the committing connection). Moving them to a
background thread was measured and did not help: a passive checkpoint racing continuous appends never
completes, so the WAL only grew, and the latency spikes seen came from CPU contention, not checkpoints.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from magistrate.broker._database import Database, Flavor, Row, Snapshot

_ERRORS: tuple[type[Exception], ...] = (sqlite3.Error,)


def _wal(conn: sqlite3.Connection, busy_timeout: float) -> None:
    """Switch to WAL. On a new file, another process's first transaction can make the switch fail at once
    with "database is locked" (the busy handler is not called for it), so it is retried, bounded."""
    deadline = time.monotonic() + busy_timeout
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                conn.close()
                raise
            time.sleep(0.005)


def _flock(fd: int, path: Path, timeout: float) -> None:
    """`flock(LOCK_EX)` with a deadline: tried at once, then polled with a short, growing sleep."""
    deadline = time.monotonic() + timeout
    pause = 0.0005
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise sqlite3.OperationalError(
                    f"database is locked: another writer has held {path} for over {timeout:g} s"
                ) from None
            time.sleep(pause)
            pause = min(pause * 2, 0.01)


class _FileLock:
    """An advisory lock on `PATH.lock`, opened on first use and released when the handle closes."""

    def __init__(self, path: Path, timeout: float) -> None:
        self._path = path.with_name(path.name + ".lock")
        self._fd: int | None = None
        self._guard = threading.Lock()
        self._timeout = timeout

    @contextmanager
    def held(self) -> Iterator[None]:
        """Hold the lock; waits at most the busy timeout, so a writer that hangs holding it (or anyone else
        who took it) makes this writer fail in seconds instead of waiting for ever."""
        with self._guard:
            if self._fd is None:
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
            fd = self._fd
        _flock(fd, self._path, self._timeout)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def close(self) -> None:
        with self._guard:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


class _SQLiteDatabase(Database):
    lock_file: _FileLock | None = None

    def close(self) -> None:
        with self._lock:
            super().close()
            if self.lock_file is not None:
                self.lock_file.close()


def open_sqlite(location: str, flavor: Flavor, *, busy_timeout: float, write_lock_file: bool, create: bool) -> Database:
    path = Path(location).expanduser()
    if not create and not path.exists():
        what = flavor.name or "SQLite database"
        raise flavor.error(f"no {what.removeprefix('the ')} at {path.resolve()}")
    if write_lock_file:
        path = path.resolve()

    def connect() -> sqlite3.Connection:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=busy_timeout)
        try:
            _wal(conn, busy_timeout)
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
            conn.execute("PRAGMA foreign_keys=ON")
        except BaseException:
            conn.close()  # not a database, or unreadable: the refusal leaves no connection behind
            raise
        return conn

    @contextmanager
    def snapshot(db: Database) -> Iterator[Snapshot]:
        # A separate connection, so a long read never holds up writers; WAL gives it one snapshot.
        conn = sqlite3.connect(path, isolation_level=None, timeout=busy_timeout)
        try:
            conn.execute("BEGIN")

            def stream(sql: str, params: Row, batch: int) -> Iterator[Row]:
                cursor = conn.execute(sql, params)
                try:
                    while rows := cursor.fetchmany(batch):
                        yield from rows
                finally:
                    cursor.close()

            yield Snapshot(db, conn, stream)
            conn.execute("COMMIT")
        finally:
            conn.close()

    lock = _FileLock(path, busy_timeout) if write_lock_file else None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = _SQLiteDatabase(
            dialect="sqlite",
            location=str(path),
            shown=str(path),
            flavor=flavor,
            errors=_ERRORS,
            connect=connect,
            snapshot=snapshot,
            write_lock=None if lock is None else lock.held,
        )
    except (OSError, sqlite3.Error) as exc:
        if flavor.name is None:
            raise flavor.error(f"cannot open SQLite database {path}: {exc}") from exc
        raise flavor.error(f"cannot open {flavor.name} {path}: {exc}") from exc
    db.lock_file = lock
    return db
