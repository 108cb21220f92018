"""The default trail store: one SQLite file, WAL, fully synchronous commits.

Durability: `synchronous=FULL` syncs the WAL at every commit, so an append that returned survives a power
cut. Several processes append safely: each takes an advisory file lock beside the database (the kernel hands
it straight to the next writer, where SQLite's busy handler would sleep and poll), then `BEGIN IMMEDIATE`,
which still guards the chain against any writer that does not take the file lock.

WAL checkpoints stay SQLite's own (every 1000 pages, in the committing connection). Moving them to a
background thread was measured and did not help: a passive checkpoint racing continuous appends never
completes, so the WAL only grew, and the latency spikes seen here came from CPU contention, not checkpoints.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from magistrate.broker._storage import Store
from magistrate.broker._trail_errors import AuditError


class SQLiteStore(Store):
    """The default store: one file, WAL, fully synchronous commits, `BEGIN IMMEDIATE` for appends."""

    def __init__(self, path: str | Path, *, create: bool = True) -> None:
        super().__init__()
        self.path = Path(path).expanduser().resolve()
        self.url = str(self.path)
        if not create and not self.path.exists():
            raise AuditError(f"no trail at {self.path}")
        self._lock_fd: int | None = None
        self._closed = False
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._connection = self._connect()
            if create and not self._has_schema():
                self._initialize()
        except sqlite3.Error as exc:
            raise AuditError(f"cannot open the trail {self.path}: {exc}") from exc

    def _has_schema(self) -> bool:
        """True when the trail is already set up, so opening it (once per hook call) needs no write."""
        try:
            row = self._connection.execute("SELECT value FROM trail_meta WHERE key = 'log_id'").fetchone()
        except sqlite3.OperationalError:  # no such table yet
            return False
        if row is None:
            return False
        self._log_id = str(row[0])
        return True

    def _lock_file(self) -> int:
        if self._lock_fd is None:
            self._lock_fd = os.open(self.path.with_name(self.path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        return self._lock_fd

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=60.0)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA busy_timeout=60000")
        return conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Cursor]:
        # Writers from other processes queue on an advisory file lock first: the kernel wakes the next one
        # the moment the lock is free, where SQLite's busy handler would sleep and poll (tens of ms).
        # BEGIN IMMEDIATE still guards the chain against any writer that does not take the file lock.
        with self._lock:
            if self._closed:
                raise AuditError(f"the trail {self.path} is closed")
            fd = self._lock_file()
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                conn = self._connection
                try:
                    cur = conn.cursor()
                    cur.execute("BEGIN IMMEDIATE")
                except sqlite3.Error as exc:
                    raise AuditError(f"trail write failed ({self.path}): {exc}") from exc
                try:
                    yield cur
                    cur.execute("COMMIT")
                except BaseException as exc:
                    with contextlib.suppress(sqlite3.Error):
                        if conn.in_transaction:
                            conn.execute("ROLLBACK")
                    if isinstance(exc, sqlite3.Error):
                        raise AuditError(f"trail write failed ({self.path}): {exc}") from exc
                    raise
                finally:
                    cur.close()
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)

    @contextmanager
    def snapshot(self) -> Iterator[sqlite3.Cursor]:
        # A separate connection, so a long read (verify) never holds up writers; WAL gives it one snapshot.
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=60.0)
        try:
            conn.execute("BEGIN")
            cur = conn.cursor()
            yield cur
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise AuditError(f"trail read failed ({self.path}): {exc}") from exc
        finally:
            conn.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._connection.close()
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None
