"""The broker records before it answers, fails closed, and hands rules the session's history."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import pytest

from magistrate.broker import (
    Approval,
    ApprovalRecord,
    Broker,
    CallContext,
    Decision,
    DecisionRecord,
    Governor,
    PriorDecision,
    RuleRef,
    RuleSource,
    ToolCall,
    ToolOutcome,
    Trail,
    parse_record,
    verify_trail,
)
from magistrate.broker._immutable import FrozenDict
from magistrate.broker._storage import StoredRecord

pytestmark = pytest.mark.anyio

RULE = RuleRef("r1", "Bash(echo:*)", RuleSource("cli"), "allow")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class EchoPolicy:
    """Allows `echo`, denies the rest; remembers what each call saw."""

    seen: list[CallContext] = field(default_factory=list)
    version: str = "v-test"

    async def decide(self, call: ToolCall, context: CallContext) -> Decision:
        self.seen.append(context)
        if str(call.tool_input.get("command", "")).startswith("echo"):
            return Decision("allow", call.tool_input, rule=RULE, policy_version=self.version)
        return Decision("deny", call.tool_input, message="no", policy_version=self.version)


class RaisingPolicy:
    version = "v-broken"

    async def decide(self, call: ToolCall, context: CallContext) -> Decision:
        raise RuntimeError("rule exploded")


@pytest.fixture
def trail(tmp_path: Path) -> Iterator[Trail]:
    opened = Trail.open(tmp_path / "trail.sqlite3", key_path=tmp_path / "keys" / "trail.key")
    yield opened
    opened.close()


def stored(trail: Trail) -> list[StoredRecord]:
    return trail.records()


def decisions(trail: Trail) -> list[Decision]:
    """The decisions recorded, read back through the record's model."""
    return [r.decision for r in map(parse_record, (s.body for s in stored(trail))) if isinstance(r, DecisionRecord)]


def bash(command: str, tool_use_id: str = "tu") -> ToolCall:
    return ToolCall("Bash", {"command": command}, tool_use_id=tool_use_id)


async def test_a_decision_is_durable_before_it_is_returned(trail: Trail) -> None:
    broker: Governor = Broker(EchoPolicy(), trail)
    with anyio.fail_after(10):
        decision = await broker.decide(bash("echo hi"), CallContext(session_id="s"))
    assert decision.behavior == "allow"
    # a second, independent reader sees the record as soon as decide returned
    records = stored(trail)
    assert len(records) == 1
    [recorded] = decisions(trail)
    assert (recorded.behavior, recorded.rule, recorded.policy_version) == ("allow", RULE, "v-test")
    assert json.loads(records[0].body)["decision"]["rule"] == {
        "id": "r1",
        "text": "Bash(echo:*)",
        "list": "allow",
        "source": {"kind": "cli", "path": None, "line": None},
    }
    trail.close()


async def test_a_raising_policy_is_a_recorded_deny(trail: Trail) -> None:
    broker = Broker(RaisingPolicy(), trail)
    with anyio.fail_after(10):
        decision = await broker.decide(bash("echo hi"), CallContext(session_id="s"))
    assert decision.behavior == "deny"
    assert decision.rule is None
    assert decision.error is not None
    assert "rule exploded" in decision.error
    [recorded] = decisions(trail)
    assert (recorded.behavior, recorded.policy_version) == ("deny", "v-broken")
    assert "rule exploded" in (recorded.error or "")
    trail.close()


async def test_a_trail_that_cannot_be_written_turns_an_allow_into_a_deny(trail: Trail) -> None:
    broker = Broker(EchoPolicy(), trail)
    trail.store.close()  # every write now fails
    with anyio.fail_after(10):
        decision = await broker.decide(bash("echo hi"), CallContext(session_id="s"))
    assert decision.behavior == "deny"
    assert decision.error is not None
    assert "trail" in decision.error
    assert decision.matched == (RULE,)  # the rule that would have allowed it is still named


async def test_an_unencodable_input_is_a_deny_not_a_crash(trail: Trail) -> None:
    broker = Broker(EchoPolicy(), trail)
    with anyio.fail_after(10):
        decision = await broker.decide(ToolCall("Bash", {"command": "echo", "x": object()}), CallContext())
    assert decision.behavior == "deny"
    (record,) = stored(trail)
    recorded = parse_record(record.body)
    assert isinstance(recorded, DecisionRecord)
    assert recorded.decision.behavior == "deny"
    assert recorded.input["x"].startswith("<object object")
    trail.close()


async def test_rules_see_the_sessions_history(trail: Trail) -> None:
    policy = EchoPolicy()
    broker = Broker(policy, trail)
    with anyio.fail_after(10):
        await broker.decide(bash("echo 1"), CallContext(session_id="a"))
        await broker.decide(bash("rm x"), CallContext(session_id="a"))
        await broker.decide(bash("echo other"), CallContext(session_id="b"))
        await broker.decide(bash("echo 3"), CallContext(session_id="a"))
    assert policy.seen[0].history == ()
    assert policy.seen[2].history == ()
    assert policy.seen[3].history == (
        PriorDecision("Bash", {"command": "echo 1"}, "allow", "r1"),
        PriorDecision("Bash", {"command": "rm x"}, "deny", None),
    )
    mine = (PriorDecision("Read", {}, "allow", None),)
    with anyio.fail_after(10):
        await broker.decide(bash("echo 4"), CallContext(session_id="a", history=mine))
    assert policy.seen[4].history == mine  # a caller's own history is kept
    trail.close()


async def test_a_callers_history_is_kept_as_sent_and_read_only_whatever_the_broker_remembers(trail: Trail) -> None:
    """A remote client sends the whole history with every call; the entries the broker remembers itself are
    taken from its memory, the others are copied, and the rules see exactly what was sent, read-only."""
    policy = EchoPolicy()
    broker = Broker(policy, trail)
    with anyio.fail_after(10):
        for command in ("echo 1", "rm x", "echo 3"):
            await broker.decide(bash(command), CallContext(session_id="a"))
    remembered = broker.history("a")
    other = PriorDecision("Read", {"file_path": "/elsewhere"}, "allow", None)  # decided by another broker
    sent = (other, *(PriorDecision(p.tool_name, dict(p.tool_input), p.behavior, p.rule_id) for p in remembered))
    for history in (sent, sent[:2], (*sent, other), sent[1:]):
        with anyio.fail_after(10):
            await broker.decide(bash("echo 4"), CallContext(session_id="a", history=history))
        seen = policy.seen[-1].history
        assert seen == history
        assert all(type(p.tool_input) is FrozenDict for p in seen)
    trail.close()


async def test_history_memory_is_bounded(trail: Trail) -> None:
    broker = Broker(EchoPolicy(), trail, history_limit=2, session_limit=2)
    with anyio.fail_after(10):
        for i in range(3):
            await broker.decide(bash(f"echo {i}"), CallContext(session_id="a"))
        await broker.decide(bash("echo"), CallContext(session_id="b"))
        await broker.decide(bash("echo"), CallContext(session_id="c"))
    assert broker.history("a") == ()
    assert [p.tool_input["command"] for p in broker.history("b")] == ["echo"]
    trail.close()


async def test_outcomes_and_approvals_are_linked_by_tool_use_id(trail: Trail) -> None:
    broker = Broker(EchoPolicy(), trail)
    with anyio.fail_after(10):
        await broker.decide(bash("echo hi", "tu-9"), CallContext(session_id="s"))
        await broker.record_approval(Approval("tu-9", "Bash", "s", "allow", "terminal:alice", note="fine"))
        await broker.record_outcome(ToolOutcome("tu-9", "Bash", "s", "success", result_size=3, result_sha256="ab"))
    records = stored(trail)
    assert [(r.kind, r.tool_use_id) for r in records] == [
        ("decision", "tu-9"),
        ("approval", "tu-9"),
        ("outcome", "tu-9"),
    ]
    approval = parse_record(records[1].body)
    assert isinstance(approval, ApprovalRecord)
    assert approval.approval == Approval("tu-9", "Bash", "s", "allow", "terminal:alice", note="fine")
    assert verify_trail(trail.store, [trail.public_key]).size == 3
    trail.close()


async def test_concurrent_decisions_are_all_recorded(trail: Trail) -> None:
    broker = Broker(EchoPolicy(), trail)
    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            for i in range(40):
                tg.start_soon(broker.decide, bash(f"echo {i}", f"tu{i}"), CallContext(session_id=f"s{i % 3}"))
    assert sorted(r.tool_use_id or "" for r in stored(trail)) == sorted(f"tu{i}" for i in range(40))
    assert verify_trail(trail.store, [trail.public_key]).size == 40
    trail.close()


async def test_the_real_policy_uses_history_and_the_trail_says_why(trail: Trail, tmp_path: Path) -> None:
    from magistrate.broker import Deny, RulePolicy

    policy = RulePolicy(default="allow", deny=["Bash(rm:*)"], additional_directories=[str(tmp_path)])

    @policy.rule("WebFetch")
    def no_network_after_secrets(call: object, context: CallContext) -> Deny | None:
        if any(p.tool_name == "Read" and "secret" in str(p.tool_input.get("file_path")) for p in context.history):
            return Deny("no network after reading secrets")
        return None

    broker = Broker(policy, trail)
    context = CallContext(session_id="s", cwd=str(tmp_path))
    fetch = ToolCall("WebFetch", {"url": "https://example.com", "prompt": "x"}, tool_use_id="f1")
    with anyio.fail_after(10):
        assert (await broker.decide(fetch, context)).behavior == "allow"
        read = ToolCall("Read", {"file_path": str(tmp_path / "secret.txt")}, tool_use_id="r1")
        assert (await broker.decide(read, context)).behavior == "allow"
        denied = await broker.decide(fetch, context)
        assert denied.behavior == "deny"
        assert (await broker.decide(bash("rm -rf x"), context)).behavior == "deny"
    records = decisions(trail)
    rule = records[2].rule
    assert rule is not None
    name = "test_the_real_policy_uses_history_and_the_trail_says_why.<locals>.no_network_after_secrets"
    assert rule.id == f"python:{name}"
    assert (rule.source.kind, rule.source.path) == ("python", __file__)
    assert records[2].message == "no network after reading secrets"
    assert records[3].rule is not None
    assert (records[3].rule.text, records[3].rule.list) == ("Bash(rm:*)", "deny")
    assert records[0].policy_version == policy.version
    trail.close()


async def test_a_new_broker_resumes_a_sessions_history_from_the_trail(trail: Trail) -> None:
    with anyio.fail_after(10):
        first = Broker(EchoPolicy(), trail)
        await first.decide(bash("echo 1"), CallContext(session_id="a"))
        await first.decide(bash("rm x"), CallContext(session_id="a"))
        await first.decide(bash("echo 2"), CallContext(session_id="b"))
        policy = EchoPolicy()
        second = Broker(policy, trail)
        await second.decide(bash("echo 3"), CallContext(session_id="a"))
        await second.decide(bash("echo 4"), CallContext(session_id="a"))
        forgetful = EchoPolicy()
        await Broker(forgetful, trail, resume_history=False).decide(bash("echo"), CallContext(session_id="a"))
    assert policy.seen[0].history == (
        PriorDecision("Bash", {"command": "echo 1"}, "allow", "r1"),
        PriorDecision("Bash", {"command": "rm x"}, "deny", None),
    )
    assert [p.tool_input["command"] for p in policy.seen[1].history] == ["echo 1", "rm x", "echo 3"]
    assert forgetful.seen[0].history == ()
    trail.close()


async def test_an_unreadable_history_is_a_recorded_deny(trail: Trail, tmp_path: Path) -> None:
    import sqlite3

    broker = Broker(EchoPolicy(), trail)
    with anyio.fail_after(10):
        await broker.decide(bash("echo 1"), CallContext(session_id="z"))
    db = sqlite3.connect(tmp_path / "trail.sqlite3", isolation_level=None)
    db.execute("UPDATE trail_records SET body = ? WHERE session_id = 'z'", (b"not json",))
    db.close()
    with anyio.fail_after(10):
        decision = await Broker(EchoPolicy(), trail).decide(bash("echo 2"), CallContext(session_id="z"))
    assert decision.behavior == "deny"
    assert decision.error is not None
    assert decision.error.startswith("history:")
    db = sqlite3.connect(tmp_path / "trail.sqlite3", isolation_level=None)
    [(last,)] = db.execute("SELECT body FROM trail_records ORDER BY seq DESC LIMIT 1").fetchall()
    db.close()
    denied = parse_record(last)
    assert isinstance(denied, DecisionRecord)
    assert denied.decision.behavior == "deny"
    trail.close()
