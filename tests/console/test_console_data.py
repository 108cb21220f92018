"""What the pages read: keyset pages over a trail larger than one page, a bounded search, the linking of a
decision to its approval and outcome (SQLite and PostgreSQL), and escaping. The records are written with
the broker's own `Trail`, so they are signed and verify like any others."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from magistrate.broker import (
    Approval,
    ApprovalRecord,
    CallContext,
    Decision,
    DecisionRecord,
    OutcomeRecord,
    ToolCall,
    ToolOutcome,
    Trail,
    TrailReader,
)
from magistrate.cli._console_data import DecisionFilters, decision_page, overview, trail_status
from magistrate.cli._console_html import decisions_table
from tests.broker import _old_records as old

CALLS = 1200


def fill(db: str, key: Path, calls: int) -> None:
    """`calls` decisions (every seventh a deny; the first in session `rare`), every fifth with an outcome."""

    async def write() -> None:
        with anyio.fail_after(120):
            async with Trail.open(db, key_path=key) as trail:
                for i in range(calls):
                    call = ToolCall("Bash" if i % 2 else "Read", {"n": i}, tool_use_id=f"tu{i}")
                    context = CallContext(session_id="rare" if i == 0 else f"s{i % 3}")
                    decision = Decision("deny" if i % 7 == 0 else "allow", call.tool_input)
                    await trail.append(DecisionRecord.of(call, context, decision))
                    if i % 5 == 0:
                        outcome = ToolOutcome(f"tu{i}", call.tool_name, context.session_id, "success")
                        await trail.append(OutcomeRecord.of(outcome))

    anyio.run(write)


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    root = tmp_path_factory.mktemp("big")
    db, key = str(root / "trail.sqlite3"), root / "trail.key"
    fill(db, key, CALLS)
    return db, key


def pages(reader: TrailReader, filters: DecisionFilters, **bounds: int) -> list[list[int]]:
    """Every page, following `next_before` as the Older link does."""
    found: list[list[int]] = []
    before: int | None = None
    while True:
        page = decision_page(reader, filters.model_copy(update={"before": before}), **bounds)
        found.append([r.seq for r in page.rows])
        if page.next_before is None:
            return found
        assert before is None or page.next_before < before  # always moves on
        before = page.next_before


def test_keyset_pages_cover_every_decision_once_newest_first(big: tuple[str, Path]) -> None:
    with TrailReader.open(big[0]) as reader:
        decisions = [r.seq for r in reader.scan() if r.kind == "decision"]
        everything = pages(reader, DecisionFilters(), limit=50)
        denied = [seq for page in pages(reader, DecisionFilters(decision="deny"), limit=50) for seq in page]
    assert all(len(page) == 50 for page in everything[:-1])
    assert [seq for page in everything for seq in page] == decisions[::-1]
    assert len(denied) == len(range(0, CALLS, 7))


def test_a_selective_search_is_bounded_per_request_and_continues(big: tuple[str, Path]) -> None:
    with TrailReader.open(big[0]) as reader:
        size = reader.size()
        first = decision_page(reader, DecisionFilters(session="rare"), budget=300)
        assert first.rows == []
        assert first.examined == (size - 300, size)  # stopped at the budget and says where
        assert first.next_before == size - 300
        found = [seq for page in pages(reader, DecisionFilters(session="rare"), budget=300) for seq in page]
    assert found == [0]


@pytest.mark.parametrize("flavor", ["sqlite", "postgres"])
def test_a_decision_row_links_its_approval_and_outcome(
    flavor: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    db = str(tmp_path / "trail.sqlite3") if flavor == "sqlite" else request.getfixturevalue("postgres_database")
    key = tmp_path / "trail.key"

    async def write() -> None:
        async with Trail.open(db, key_path=key) as trail:
            call = ToolCall("Bash", {"command": "<script>alert(1)</script>"}, tool_use_id="tu-ask")
            context = CallContext(session_id="s-1")
            await trail.append(DecisionRecord.of(call, context, Decision("ask", call.tool_input, message="why?")))
            approval = Approval("tu-ask", "Bash", "s-1", "allow", "queue:ana", note="CHG-1 & <b>ok</b>")
            await trail.append(ApprovalRecord.of(approval))
            await trail.append(OutcomeRecord.of(ToolOutcome("tu-ask", "Bash", "s-1", "error", error="exit 1")))

    anyio.run(write)
    with TrailReader.open(db) as reader:
        [row] = decision_page(reader, DecisionFilters()).rows
        status = trail_status(reader, key)
        counts = overview(reader)
    assert (row.approver, row.approval, row.note, row.outcome) == ("queue:ana", "allow", "CHG-1 & <b>ok</b>", "error")
    assert status.ok
    assert status.size == 3
    assert counts.by_decision == {"ask": 1}
    shown = decisions_table([row])
    assert "<script>" not in shown
    assert "<b>" not in shown
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in shown
    assert "CHG-1 &amp; &lt;b&gt;ok&lt;/b&gt;" in shown


def test_a_missing_key_is_a_failed_status_not_an_error(big: tuple[str, Path], tmp_path: Path) -> None:
    with TrailReader.open(big[0]) as reader:
        status = trail_status(reader, tmp_path / "nowhere.key")
    assert not status.ok
    assert "no key to verify with" in status.message


def test_records_of_older_versions_are_shown_as_todays(tmp_path: Path) -> None:
    db, key = str(tmp_path / "old.sqlite3"), tmp_path / "trail.key"
    old.write_old_trail(db, key)
    with TrailReader.open(db) as reader:
        assert trail_status(reader, key).ok
        page = decision_page(reader, DecisionFilters(decision="deny", rule="deny:0"))
        assert [r.seq for r in page.rows] == [2, 1, 0]
        for row in page.rows:  # each version read into the same values
            assert (row.behavior, row.message, row.rule_text, row.rule_where) == (
                "deny",
                "no",
                "Bash(rm:*)",
                "/etc/claude/settings.json:7",
            )
            assert (row.input, row.agent_id) == ({"command": "rm x"}, "ag")
            assert (row.approver, row.note, row.outcome) == ("queue:ana", "ticket OPS-12", "error")
        seen = overview(reader)
        assert seen.by_decision == {"deny": 3}
        assert seen.sessions[0].agents == {"ag"}
