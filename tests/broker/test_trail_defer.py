"""A deferred record shares the next append's commit, or the close's; it is never committed twice or lost on a
clean close, and a crash before then loses the deferred records only, never an appended decision."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from magistrate.broker import (
    CallContext,
    Decision,
    DecisionRecord,
    OutcomeRecord,
    ToolCall,
    ToolOutcome,
    Trail,
    TrailReader,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def decision(i: int) -> DecisionRecord:
    call = ToolCall("Bash", {"command": f"echo {i}"}, tool_use_id=f"tu{i}")
    return DecisionRecord.of(call, CallContext(session_id="s1"), Decision("allow", call.tool_input))


def outcome(i: int) -> OutcomeRecord:
    return OutcomeRecord.of(ToolOutcome(f"tu{i}", "Bash", "s1", "success", result_size=i))


def kinds(db: Path) -> list[tuple[str, str | None]]:
    with TrailReader.open(db) as reader:
        return [(r.kind, r.tool_use_id) for r in reader.records()]


async def test_a_deferred_record_rides_in_the_next_appends_commit(tmp_path: Path) -> None:
    db = tmp_path / "trail.sqlite3"
    with anyio.fail_after(30):
        trail = Trail.open(db, key_path=tmp_path / "trail.key")
        try:
            await trail.append(decision(0))
            trail.defer(outcome(0))
            assert kinds(db) == [("decision", "tu0")]  # not committed yet
            receipt = await trail.append(decision(1))
            assert receipt.seq == 2  # the outcome took the seat before it
            assert kinds(db) == [("decision", "tu0"), ("outcome", "tu0"), ("decision", "tu1")]
            assert trail.verify([trail.public_key]).size == 3
        finally:
            await trail.aclose()
    assert len(kinds(db)) == 3  # nothing written twice


async def test_flush_and_close_commit_what_is_still_deferred(tmp_path: Path) -> None:
    db = tmp_path / "trail.sqlite3"
    with anyio.fail_after(30):
        trail = Trail.open(db, key_path=tmp_path / "trail.key")
        await trail.append(decision(0))
        trail.defer(outcome(0))
        await trail.flush()
        assert kinds(db)[-1] == ("outcome", "tu0")
        await trail.flush()  # nothing left: no empty commit
        trail.defer(outcome(1))
        await trail.aclose()
    assert kinds(db) == [("decision", "tu0"), ("outcome", "tu0"), ("outcome", "tu1")]
    synchronous = Trail.open(db, key_path=tmp_path / "trail.key")
    synchronous.defer(outcome(2))
    synchronous.close()
    assert kinds(db)[-1] == ("outcome", "tu2")


async def test_a_crash_loses_deferred_records_only(tmp_path: Path) -> None:
    db = tmp_path / "trail.sqlite3"
    with anyio.fail_after(30):
        trail = Trail.open(db, key_path=tmp_path / "trail.key")
        await trail.append(decision(0))
        trail.defer(outcome(0))
        # The process dies here: the trail is never closed. What another reader sees is what survives.
        assert kinds(db) == [("decision", "tu0")]
        with TrailReader.open(db) as reader:
            assert reader.verify([trail.public_key]).size == 1
        trail.store.close()
