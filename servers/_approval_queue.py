"""A persistent queue of asks that a person answers from another terminal (`magistrate approvals`).

For agents that run unattended: the run waits (bounded) while the ask sits in a database table, and a
reviewer lists, approves or denies it with a note. The row is the record of the request; the answer is
taken with a conditional update (`WHERE status = 'pending'`), so two reviewers cannot both decide it and
an expired ask cannot be approved late.
"""

from __future__ import annotations

import getpass
import json
import os
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

import anyio
import anyio.to_thread

from magistrate.servers._approval import AskRequest, Verdict

Status = Literal["pending", "approved", "denied", "expired"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS approvals (
    id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    session_id TEXT NOT NULL,
    tool_use_id TEXT,
    tool_name TEXT NOT NULL,
    input_json TEXT NOT NULL,
    reason TEXT NOT NULL,
    rule TEXT,
    status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'expired')),
    decided_by TEXT,
    decided_at TEXT,
    note TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS approvals_status ON approvals (status, created_at);
"""


def default_queue_path() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "magistrate" / "approvals.sqlite3"


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
    """The queue in one SQLite file."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_queue_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.executescript(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            yield db
        finally:
            db.close()

    def submit(self, ask: AskRequest) -> str:
        ask_id = uuid.uuid4().hex[:12]
        with self._connect() as db:
            db.execute(
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
        with self._connect() as db:
            changed = db.execute(
                "UPDATE approvals SET status = ?, decided_by = ?, decided_at = ?, note = ?"
                " WHERE id = ? AND status = 'pending'",
                (status, by or getpass.getuser(), _now(), note, ask_id),
            ).rowcount
        found = self.get(ask_id)
        if found is None:
            raise LookupError(f"no ask with id {ask_id!r}")
        if not changed:
            raise LookupError(f"ask {ask_id} is already {found.status}")
        return found

    def expire(self, ask_id: str) -> bool:
        with self._connect() as db:
            changed = db.execute(
                "UPDATE approvals SET status = 'expired', decided_at = ? WHERE id = ? AND status = 'pending'",
                (_now(), ask_id),
            ).rowcount
        return bool(changed)

    def get(self, ask_id: str) -> QueuedAsk | None:
        with self._connect() as db:
            row = db.execute("SELECT * FROM approvals WHERE id = ?", (ask_id,)).fetchone()
        return None if row is None else _row(row)

    def list(self, status: Status | None = "pending") -> list[QueuedAsk]:
        with self._connect() as db:
            if status is None:
                rows = db.execute("SELECT * FROM approvals ORDER BY created_at").fetchall()
            else:
                rows = db.execute("SELECT * FROM approvals WHERE status = ? ORDER BY created_at", (status,)).fetchall()
        return [_row(row) for row in rows]


def _row(row: tuple[object, ...]) -> QueuedAsk:
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
        status=status,  # type: ignore[arg-type]
        decided_by=None if by is None else str(by),
        decided_at=None if at is None else str(at),
        note=str(note),
    )


@dataclass
class QueueApprover:
    """Puts the ask in the queue and waits for a person to answer it; on timeout the ask expires."""

    queue: ApprovalQueue
    poll_interval: float = 0.25

    async def approve(self, ask: AskRequest) -> Verdict:
        ask_id = await anyio.to_thread.run_sync(self.queue.submit, ask)
        try:
            while True:
                row = await anyio.to_thread.run_sync(self.queue.get, ask_id)
                if row is not None and row.status != "pending":
                    return Verdict(
                        approved=row.status == "approved",
                        approver=f"queue:{row.decided_by or 'unknown'}",
                        note=row.note,
                    )
                await anyio.sleep(self.poll_interval)
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(self.queue.expire, ask_id)
