"""The frozen values are the wire format: pydantic round-trips them, skips unknown fields, refuses bad ones."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from magistrate.broker import (
    Approval,
    CallContext,
    Decision,
    PriorDecision,
    RuleRef,
    RuleSource,
    ToolCall,
    ToolOutcome,
)
from magistrate.broker._audit_records import DecisionRecord, parse_record
from magistrate.broker._decision_wire import DecideRequest

RULE = RuleRef("deny:0", "Bash(rm:*)", RuleSource("settings", "/etc/claude/settings.json", 7), "deny")
OTHER = RuleRef("python:m.f", "m.f", RuleSource("python", "/srv/policy.py"), "python")
CONTEXT = CallContext(
    session_id="s",
    cwd="/w",
    additional_directories=("/x",),
    permission_mode="acceptEdits",
    labels={"team": "legal"},
    history=(PriorDecision("Read", {"file_path": "/w/a"}, "allow", "allow:0"),),
    agent_id="sub-1",
)
VALUES: list[Any] = [
    RULE.source,
    RULE,
    Decision("deny", {"command": "rm -rf /"}, "no", RULE, (OTHER,), "v1:abc", 1234),
    ToolCall("Bash", {"command": "ls"}, "tu1"),
    CONTEXT,
    CONTEXT.history[0],
    ToolOutcome("tu1", "Bash", "s", "error", 12, "ab" * 32, "boom"),
    Approval("tu2", "Bash", "s", "allow", "callback:ok", "ticket 7", {"command": "touch a"}),
]


@pytest.mark.parametrize("value", VALUES, ids=lambda v: type(v).__name__)
def test_every_value_round_trips_through_json(value: Any) -> None:
    adapter: TypeAdapter[Any] = TypeAdapter(type(value))
    assert adapter.validate_json(adapter.dump_json(value)) == value


def test_unknown_fields_are_ignored_and_bad_or_missing_ones_are_errors() -> None:
    decisions = TypeAdapter(Decision)
    newer = (
        b'{"behavior":"allow","input":{},"shiny":1,'
        b'"rule":{"id":"x","text":"t","list":"allow","source":{"kind":"cli","q":2}}}'
    )
    assert decisions.validate_json(newer).rule == RuleRef("x", "t", RuleSource("cli"), "allow")
    with pytest.raises(ValidationError, match="behavior"):
        decisions.validate_json(b'{"behavior":"maybe","input":{}}')
    with pytest.raises(ValidationError, match="behavior"):
        decisions.validate_json(b'{"input":{}}')
    with pytest.raises(ValidationError, match="list"):
        TypeAdapter(RuleRef).validate_json(b'{"id":"x","text":"t","list":"nope","source":{"kind":"cli"}}')


def test_a_decide_request_carries_the_values_and_refuses_a_nameless_call() -> None:
    newer = {"call": {"tool_name": "Bash", "tool_input": {}, "shiny": 1}, "context": {"future": True}, "x": 2}
    assert DecideRequest.model_validate(newer).call == ToolCall("Bash", {})
    request = DecideRequest(call=ToolCall("Bash", {"command": "ls"}, "tu"), context=CONTEXT)
    assert DecideRequest.model_validate_json(request.model_dump_json()) == request
    with pytest.raises(ValidationError, match="tool_input"):
        DecideRequest.model_validate({"call": {"tool_name": "Bash"}})
    with pytest.raises(ValidationError, match="tool name is empty"):
        DecideRequest.model_validate({"call": {"tool_name": "", "tool_input": {}}})


def test_a_decision_record_gives_its_values_back() -> None:
    call = ToolCall("Bash", {"command": "rm -rf /"}, "tu")
    context = CallContext(session_id="s", cwd="/w", permission_mode="plan", labels={"a": "b"}, agent_id="ag")
    decision = Decision("deny", call.tool_input, "no", RULE, (OTHER,), "v1:abc", 1234, error=None)
    record = DecisionRecord.of(call, context, decision)
    assert (record.call(), record.context(), record.decision()) == (call, context, decision)
    assert record.v == 3


V1_BODY = (
    b'{"agent_id":null,"behavior":"deny","cwd":"/w","elapsed_ns":5,"error":null,"input":{"command":"rm x"},'
    b'"kind":"decision","labels":{},"matched":[{"id":"python:m.f","list":"python","source_kind":"python",'
    b'"source_line":null,"source_path":"/srv/policy.py","text":"m.f"}],"message":"no","permission_mode":"default",'
    b'"policy_version":"v1:abc","rule":{"id":"deny:0","list":"deny","source_kind":"settings","source_line":7,'
    b'"source_path":"/etc/claude/settings.json","text":"Bash(rm:*)"},"session_id":"s","time":"2026-01-01T00:00:00Z",'
    b'"tool_name":"Bash","tool_use_id":"tu","updated_input":null,"v":1}'
)


def test_a_version_1_record_with_flat_rule_sources_still_parses() -> None:
    record = parse_record(V1_BODY)
    assert isinstance(record, DecisionRecord)
    assert record.v == 1
    assert record.rule == RULE
    assert record.matched == (OTHER,)
    assert record.decision().rule == RULE
