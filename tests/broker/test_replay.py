"""Replay: a candidate policy re-decides a real trail's calls, with their context and history, and only reads it."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import anyio
import pytest

from magistrate.broker import (
    CHANGE_KINDS,
    AuditError,
    Broker,
    CallContext,
    CallView,
    Decision,
    DecisionRecord,
    Deny,
    ReplayReport,
    RulePolicy,
    ToolCall,
    Trail,
    TrailReader,
    load_public_key,
    parse_when,
    replay_trail,
)

OLD = {"allow": ["Bash(ls:*)", "Bash(cat:*)"], "ask": ["Bash(git push:*)"], "deny": ["Bash(curl:*)"]}
# (session, day, command, labels); the old policy's decision follows from OLD.
CALLS = [
    ("s1", 1, "ls", {}),
    ("s1", 2, "curl https://example.com", {}),
    ("s1", 2, "git push", {}),
    ("s1", 3, "cat notes.txt", {}),
    ("s2", 4, "ls", {"env": "prod"}),
]


@dataclass
class Recorded:
    db: Path
    key: Path

    def replay(self, policy: Any, **kwargs: Any) -> ReplayReport:
        keys = kwargs.pop("public_keys", [load_public_key(self.key)])
        return anyio.run(lambda: replay_trail(policy, self.db, public_keys=keys, **kwargs))

    def rows(self) -> list[tuple[Any, ...]]:
        with closing(sqlite3.connect(self.db)) as conn, conn:
            return list(conn.execute("SELECT * FROM trail_records ORDER BY seq"))


def at(day: int) -> str:
    return f"2026-11-{day:02d}T09:00:00.000000Z"


@pytest.fixture
def recorded(tmp_path: Path) -> Recorded:
    """A trail of the calls above, decided by the old policy; times one day apart, cwd per session."""
    db, key = tmp_path / "trail.sqlite3", tmp_path / "keys" / "trail.key"
    old = candidate()

    async def record() -> None:
        trail = await Trail.aopen(db, key_path=key)
        async with trail:
            for session, day, command, labels in CALLS:
                call = ToolCall("Bash", {"command": command}, f"{session}-{day}-{command[:4]}")
                context = CallContext(session_id=session, cwd=str(tmp_path / session), labels=labels)
                decision = await old.decide(call, context)
                await trail.append(DecisionRecord.of(call, context, decision, time=at(day)))

    anyio.run(record)
    return Recorded(db, key)


def candidate(
    *, allow: list[str] | None = None, ask: list[str] | None = None, deny: list[str] | None = None
) -> RulePolicy:
    """The old policy with some lists replaced."""
    return RulePolicy(
        default="deny",
        allow=OLD["allow"] if allow is None else allow,
        ask=OLD["ask"] if ask is None else ask,
        deny=OLD["deny"] if deny is None else deny,
    )


def kinds(report: ReplayReport) -> dict[str, tuple[str, str | None, str | None]]:
    return {c.input["command"]: (c.kind, c.old_rule, c.new_rule) for c in report.changes}


def test_the_same_policy_changes_nothing(recorded: Recorded) -> None:
    report = recorded.replay(candidate())
    assert (report.calls, report.changes, report.verified) == (5, (), True)


def test_tightening_and_loosening_give_allow_to_deny_deny_to_allow_and_ask_to_allow(recorded: Recorded) -> None:
    report = recorded.replay(
        candidate(allow=["Bash(cat:*)", "Bash(curl:*)", "Bash(git push:*)"], ask=[], deny=["Bash(ls:*)"])
    )
    assert kinds(report) == {
        "ls": ("allow-to-deny", "Bash(ls:*)", "Bash(ls:*)"),
        "curl https://example.com": ("deny-to-allow", "Bash(curl:*)", "Bash(curl:*)"),
        "git push": ("ask-to-allow", "Bash(git push:*)", "Bash(git push:*)"),
    }
    assert report.by_kind == {"allow-to-deny": 2, "deny-to-allow": 1, "ask-to-allow": 1}
    assert [c.seq for c in report.changes] == [0, 1, 2, 4]


def test_asking_instead_gives_allow_to_ask_deny_to_ask_and_ask_to_deny(recorded: Recorded) -> None:
    report = recorded.replay(
        candidate(allow=["Bash(cat:*)"], ask=["Bash(ls:*)", "Bash(curl:*)"], deny=["Bash(git push:*)"])
    )
    assert {k: v[0] for k, v in kinds(report).items()} == {
        "ls": "allow-to-ask",
        "curl https://example.com": "deny-to-ask",
        "git push": "ask-to-deny",
    }
    assert report.by_kind == {"allow-to-ask": 2, "deny-to-ask": 1, "ask-to-deny": 1}


def test_every_kind_of_change_is_named_and_failing_narrows_to_the_kinds_asked_for(recorded: Recorded) -> None:
    assert set(CHANGE_KINDS) == {f"{a}-to-{b}" for a in ("allow", "deny", "ask") for b in ("allow", "deny", "ask")} - {
        "allow-to-allow",
        "deny-to-deny",
        "ask-to-ask",
    }
    report = recorded.replay(candidate(allow=["Bash(cat:*)", "Bash(curl:*)"], deny=["Bash(ls:*)"]))
    assert {c.kind for c in report.failing(["deny-to-allow"])} == {"deny-to-allow"}
    assert report.failing(["ask-to-deny"]) == ()
    assert len(report.failing()) == 3


def test_each_call_is_decided_with_its_recorded_context(recorded: Recorded, tmp_path: Path) -> None:
    policy = candidate()

    @policy.rule("Bash")
    def production_is_read_only(call: CallView, context: CallContext) -> Deny | None:
        if context.labels.get("env") == "prod" and context.cwd == str(tmp_path / "s2") and context.session_id == "s2":
            return Deny("prod")
        return None

    [change] = recorded.replay(policy).changes
    assert (change.session_id, change.seq, change.kind) == ("s2", 4, "allow-to-deny")
    assert str(change.new_rule).endswith("production_is_read_only")


def test_each_call_sees_its_sessions_history_as_it_was_recorded(recorded: Recorded) -> None:
    policy = candidate()
    seen: list[tuple[str, int]] = []

    @policy.rule("Bash")
    def nothing_after_a_denied_call(call: CallView, context: CallContext) -> Deny | None:
        seen.append((call.raw["command"], len(context.history)))
        if any(prior.behavior == "deny" for prior in context.history):
            return Deny("this session was denied something already")
        return None

    report = recorded.replay(policy)
    assert seen == [("ls", 0), ("git push", 2), ("cat notes.txt", 3), ("ls", 0)]
    # After the recorded curl deny, a Python deny (which beats the ask rule) stops the rest of s1; s2 is clean.
    changed = [(c.input["command"], c.kind) for c in report.changes]
    assert changed == [("git push", "ask-to-deny"), ("cat notes.txt", "allow-to-deny")]


def test_filters_choose_which_calls_are_decided_but_not_the_history(recorded: Recorded) -> None:
    tighter = candidate(allow=[], deny=["Bash(ls:*)", "Bash(cat:*)", "Bash(curl:*)"])
    assert recorded.replay(tighter, session="s2").calls == 1
    assert [c.seq for c in recorded.replay(tighter, since="2026-11-03").changes] == [3, 4]
    assert [c.seq for c in recorded.replay(tighter, until="2026-11-02T00:00:00Z").changes] == [0]
    assert recorded.replay(tighter, since=datetime(2026, 11, 2), until="2026-11-03").calls == 2
    assert recorded.replay(tighter, tools=["Ba*"]).calls == 5
    assert recorded.replay(tighter, tools=["Read"]).calls == 0
    assert recorded.replay(tighter, since="0d").calls == 0


def test_replay_only_reads_the_trail(recorded: Recorded) -> None:
    before = recorded.rows()
    with TrailReader.open(recorded.db) as reader:
        size = reader.size()
    recorded.replay(candidate(allow=[], deny=["Bash(ls:*)"]))
    assert recorded.rows() == before
    with TrailReader.open(recorded.db) as trail:
        assert trail.size() == size
        trail.verify([load_public_key(recorded.key)])


def test_a_trail_that_does_not_verify_is_replayed_only_when_asked_and_says_so(recorded: Recorded) -> None:
    with closing(sqlite3.connect(recorded.db)) as conn, conn:
        (body,) = conn.execute("SELECT body FROM trail_records WHERE seq = 1").fetchone()
        conn.execute("UPDATE trail_records SET body = ? WHERE seq = 1", (bytes(body).replace(b"deny", b"ask"),))
    with pytest.raises(AuditError, match=r"does not verify.*--unverified"):
        recorded.replay(candidate())
    report = recorded.replay(candidate(), unverified=True)
    assert report.verified is False
    assert report.verify_problem is not None
    assert "the trail does not verify" in report.verify_problem
    assert report.calls == 5


def test_with_no_key_the_trail_cannot_be_verified(recorded: Recorded) -> None:
    with pytest.raises(AuditError, match="no public key"):
        recorded.replay(candidate(), public_keys=[])
    assert recorded.replay(candidate(), public_keys=[], unverified=True).verified is False


def test_the_default_keys_are_the_users_own(recorded: Recorded, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAGISTRATE_TRAIL_KEY", str(recorded.key))
    report = anyio.run(lambda: replay_trail(candidate(), recorded.db))
    assert report.verified is True


def test_a_policy_path_is_loaded_and_a_missing_trail_is_an_error(recorded: Recorded, tmp_path: Path) -> None:
    policy_file = tmp_path / "candidate.py"
    policy_file.write_text('from magistrate.broker import RulePolicy\npolicy = RulePolicy(allow=["Bash(ls:*)"])\n')
    assert {c.input["command"] for c in recorded.replay(policy_file).changes} == {"git push", "cat notes.txt"}
    with pytest.raises(AuditError):
        anyio.run(lambda: replay_trail(policy_file, tmp_path / "none.sqlite3", public_keys=[]))


def test_a_policy_that_raises_is_a_deny_as_the_broker_would_make_it(recorded: Recorded) -> None:
    class Broken:
        version = "broken"

        async def decide(self, call: ToolCall, context: CallContext) -> Decision:
            raise RuntimeError("no")

    report = recorded.replay(Broken())
    assert {c.kind for c in report.changes} == {"allow-to-deny", "ask-to-deny"}


def test_a_broker_made_trail_replays_like_its_own_decisions(tmp_path: Path) -> None:
    # The trail a real broker writes: its own history bookkeeping gives replay the same inputs.
    db, key = tmp_path / "trail.sqlite3", tmp_path / "trail.key"
    policy = RulePolicy(default="deny", allow=["Bash(ls:*)"], deny=["Bash(rm:*)"])

    async def run() -> None:
        trail = await Trail.aopen(db, key_path=key)
        async with trail:
            broker = Broker(policy, trail)
            for command in ("ls", "rm -rf x", "make"):
                await broker.decide(ToolCall("Bash", {"command": command}), CallContext(session_id="s", cwd="/w"))

    anyio.run(run)
    report = anyio.run(lambda: replay_trail(policy, db, public_keys=[load_public_key(key)]))
    assert (report.calls, report.changes) == (3, ())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-25", datetime(2026, 11, 25, tzinfo=timezone.utc)),
        ("2026-11-25T09:30:00Z", datetime(2026, 11, 25, 9, 30, tzinfo=timezone.utc)),
        ("7d", datetime(2026, 11, 23, tzinfo=timezone.utc)),
        ("12h", datetime(2026, 11, 29, 12, tzinfo=timezone.utc)),
        ("2w", datetime(2026, 11, 16, tzinfo=timezone.utc)),
    ],
)
def test_times_are_dates_instants_or_ages(text: str, expected: datetime) -> None:
    assert parse_when(text, now=datetime(2026, 11, 30, tzinfo=timezone.utc)) == expected


@pytest.mark.parametrize("text", ["last week", "7 days", ""])
def test_a_time_that_cannot_be_read_says_how_to_write_one(text: str) -> None:
    with pytest.raises(ValueError, match="write 2026-11-25"):
        parse_when(text)
