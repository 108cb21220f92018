"""A persistent queue of asks that a person answers from another terminal (`magistrate approvals`).

For agents that run unattended: the run waits (bounded) while the ask sits in a database table, and a
reviewer lists, approves or denies it with a note. The row is the record of the request; the answer is
taken with a conditional update (`WHERE status = 'pending'`), so two reviewers cannot both decide it and
an expired ask cannot be approved late.

The queue lives on the same database handle as the servers' stores and the trail: a SQLite file (one
machine) or a `postgresql://` URL (reviewers anywhere). A queue held by a long run keeps no connection open
between asks: each operation opens the handle and closes it again, except while an ask waits, when the
approver holds one handle for its submission, its polls and its expiry. The schema version is checked on
creation, and a queue of a version this code does not know is refused.
"""

from __future__ import annotations

import copy
import getpass
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import Literal

import anyio
import anyio.to_thread

from magistrate.broker import AskRequest, Environment, Verdict
from magistrate.servers._db import Database, Row, ensure_schema, open_database

Status = Literal["pending", "approved", "denied", "expired"]

SCHEMA_VERSION = "1"
"""The version of the queue's table; a queue of any other version is refused on open."""

_SCHEMA = [
    "CREATE TABLE IF NOT EXISTS approvals ("
    " id TEXT PRIMARY KEY,"
    " created_at TEXT NOT NULL,"
    " session_id TEXT NOT NULL,"
    " tool_use_id TEXT,"
    " tool_name TEXT NOT NULL,"
    " input_json TEXT NOT NULL,"
    " reason TEXT NOT NULL,"
    " rule TEXT,"
    " status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'expired')),"
    " decided_by TEXT,"
    " decided_at TEXT,"
    " note TEXT NOT NULL DEFAULT '')",
    "CREATE INDEX IF NOT EXISTS approvals_status ON approvals (status, created_at)",
]
_COLUMNS = (
    "id, created_at, session_id, tool_use_id, tool_name, input_json, reason, rule, status, decided_by, decided_at, note"
)
_BUSY_TIMEOUT = 30.0


def default_queue_path() -> Path:
    """The per-user queue: `approvals.sqlite3` in the state directory, whatever the environment says."""
    return Path(Environment().queue)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


@dataclass(frozen=True, slots=True)
class QueuedAsk:
    """One row of the queue, as `magistrate approvals list` shows it."""

    id: str
    created_at: str
    session_id: str
    tool_use_id: str | None
    tool_name: str
    input: dict[str, object]
    reason: str
    rule: str | None
    status: Status
    decided_by: str | None
    decided_at: str | None
    note: str


class ApprovalQueue:
    """The queue in one database: a SQLite path (default: per user) or a `postgresql://` URL."""

    def __init__(self, location: str | Path | None = None) -> None:
        self.location = str(location) if location is not None else str(default_queue_path())
        self._held: Database | None = None
        with self._open() as db:
            ensure_schema(db, "approvals", SCHEMA_VERSION, _SCHEMA)

    @property
    def path(self) -> Path:
        """The SQLite file of the queue (for a PostgreSQL queue, its URL as a path: use `location`)."""
        return Path(self.location)

    def holding(self) -> ApprovalQueue:
        """This queue on one handle held open until `close()`, for a series of operations (an ask's wait):
        polling for an answer then costs a query, not a connection. Blocking."""
        held = copy.copy(self)
        held._held = open_database(self.location, busy_timeout=_BUSY_TIMEOUT)
        return held

    def close(self) -> None:
        """Close the held handle, if this queue holds one (see `holding`); idempotent."""
        if self._held is not None:
            self._held.close()

    def __enter__(self) -> ApprovalQueue:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @contextmanager
    def _open(self) -> Iterator[Database]:
        if self._held is not None:
            yield self._held
            return
        db = open_database(self.location, busy_timeout=_BUSY_TIMEOUT)
        try:
            yield db
        finally:
            db.close()

    def submit(self, ask: AskRequest) -> str:
        ask_id = uuid.uuid4().hex[:12]
        with self._open() as db:
            db.write(
                "INSERT INTO approvals (id, created_at, session_id, tool_use_id, tool_name, input_json, reason, rule,"
                " status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending')",
                (
                    ask_id,
                    _now(),
                    ask.session_id,
                    ask.tool_use_id,
                    ask.tool_name,
                    json.dumps(dict(ask.input), ensure_ascii=False),
                    ask.reason,
                    ask.rule,
                ),
            )
        return ask_id

    def decide(self, ask_id: str, *, approve: bool, by: str | None = None, note: str = "") -> QueuedAsk:
        """Answer a pending ask; raises LookupError if there is none by that id or it is already answered."""
        status: Status = "approved" if approve else "denied"
        with self._open() as db, db.transaction():
            changed = db.write(
                "UPDATE approvals SET status = ?, decided_by = ?, decided_at = ?, note = ?"
                " WHERE id = ? AND status = 'pending' RETURNING id",
                (status, by or getpass.getuser(), _now(), note, ask_id),
            )
            found = self._get(db, ask_id)
        if found is None:
            raise LookupError(f"no ask with id {ask_id!r}")
        if not changed:
            raise LookupError(f"ask {ask_id} is already {found.status}")
        return found

    def expire(self, ask_id: str) -> bool:
        """Mark a pending ask expired (no one may answer it any more); False when it was no longer pending."""
        with self._open() as db:
            changed = db.write(
                "UPDATE approvals SET status = 'expired', decided_at = ? WHERE id = ? AND status = 'pending'"
                " RETURNING id",
                (_now(), ask_id),
            )
        return bool(changed)

    def get(self, ask_id: str) -> QueuedAsk | None:
        with self._open() as db:
            return self._get(db, ask_id)

    @staticmethod
    def _get(db: Database, ask_id: str) -> QueuedAsk | None:
        row = db.read_one(f"SELECT {_COLUMNS} FROM approvals WHERE id = ?", (ask_id,))  # noqa: S608
        return None if row is None else _row(row)

    def list(self, status: Status | None = "pending") -> list[QueuedAsk]:
        with self._open() as db:
            if status is None:
                rows = db.read(f"SELECT {_COLUMNS} FROM approvals ORDER BY created_at")  # noqa: S608
            else:
                rows = db.read(
                    f"SELECT {_COLUMNS} FROM approvals WHERE status = ? ORDER BY created_at",  # noqa: S608
                    (status,),
                )
        return [_row(row) for row in rows]


def _row(row: Row) -> QueuedAsk:
    (ask_id, created, session, tool_use_id, tool, input_json, reason, rule, status, by, at, note) = row
    return QueuedAsk(
        id=str(ask_id),
        created_at=str(created),
        session_id=str(session),
        tool_use_id=None if tool_use_id is None else str(tool_use_id),
        tool_name=str(tool),
        input=json.loads(str(input_json)),
        reason=str(reason),
        rule=None if rule is None else str(rule),
        status=status,
        decided_by=None if by is None else str(by),
        decided_at=None if at is None else str(at),
        note=str(note),
    )


@dataclass
class QueueApprover:
    """Puts the ask in the queue and waits for a person to answer it; on timeout the ask expires."""

    queue: ApprovalQueue
    poll_interval: float = 0.25
    timeout: float | None = None
    """Seconds to wait for an answer before denying (the ask then expires); None leaves the bound to the
    caller, as the approval prompt's own timeout does."""

    async def approve(self, ask: AskRequest) -> Verdict:
        queue = await anyio.to_thread.run_sync(self.queue.holding)
        ask_id: str | None = None
        try:
            ask_id = await anyio.to_thread.run_sync(queue.submit, ask)
            with anyio.move_on_after(self.timeout):
                while True:
                    row = await anyio.to_thread.run_sync(queue.get, ask_id)
                    if row is not None and row.status != "pending":
                        return _verdict(row)
                    await anyio.sleep(self.poll_interval)
            if not await anyio.to_thread.run_sync(queue.expire, ask_id):
                # Answered between the last look and the deadline: the queue holds that answer, so it stands.
                row = await anyio.to_thread.run_sync(queue.get, ask_id)
                if row is not None and row.status in ("approved", "denied"):
                    return _verdict(row)
            return Verdict(approved=False, approver="queue:timeout", note=f"no answer within {self.timeout:g} s")
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(_finish, queue, ask_id)


def _verdict(row: QueuedAsk) -> Verdict:
    return Verdict(approved=row.status == "approved", approver=f"queue:{row.decided_by or 'unknown'}", note=row.note)


def _finish(queue: ApprovalQueue, ask_id: str | None) -> None:
    """An ask no one waits for any more can no longer be answered (expired unless it was); then the handle closes."""
    try:
        if ask_id is not None:
            queue.expire(ask_id)
    finally:
        queue.close()
