"""The frozen values are the wire format: pydantic round-trips them, skips unknown fields, refuses bad ones."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from magistrate.broker import (
    RECORD_VERSION,
    Approval,
    ApprovalRecord,
    CallContext,
    Decision,
    DecisionRecord,
    OutcomeRecord,
    PriorDecision,
    RuleRef,
    RuleSource,
    ToolCall,
    ToolOutcome,
    TrailRecord,
    parse_record,
)
from magistrate.broker._decision_wire import DecideRequest
from tests.broker import _old_records as old
from tests.broker._old_records import OLD_DECISIONS, OTHER, RULE

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
    assert (record.call, record.context, record.decision) == (call, context, decision)
    assert record.v == RECORD_VERSION == 4
    assert parse_record(record.model_dump_json().encode()) == record


def test_a_version_4_record_embeds_the_values_and_stores_each_fact_once() -> None:
    call = ToolCall("Bash", {"command": "ls"}, "tu")
    context = dataclasses.replace(CONTEXT, session_id="s")
    record = DecisionRecord.of(call, context, Decision("allow", {"command": "ls -a"}, rule=RULE), time="t", previous=3)
    stored = record.model_dump(mode="json")
    assert stored == {
        "v": 4,
        "kind": "decision",
        "time": "t",
        "session_id": "s",
        "tool_use_id": "tu",
        "tool_name": "Bash",
        "input": {"command": "ls"},
        "context": {
            k: v
            for k, v in TypeAdapter(CallContext).dump_python(context, mode="json").items()
            if k not in ("session_id", "history")
        },
        "decision": TypeAdapter(Decision).dump_python(record.decision, mode="json"),
        "previous": 3,
    }
    assert record.context.history == ()  # the history is the trail itself, not a copy in each record
    unchanged = DecisionRecord.of(call, context, Decision("allow", call.tool_input))
    assert "input" not in unchanged.model_dump(mode="json")["decision"]  # the input asked for is stored once
    assert DecisionRecord.model_validate_json(unchanged.model_dump_json()).decision.input == call.tool_input
    outcome = OutcomeRecord.of(ToolOutcome("tu", "Bash", "s", "success", 3, "ab"), time="t")
    assert outcome.model_dump(mode="json")["outcome"] == {
        "status": "success",
        "result_size": 3,
        "result_sha256": "ab",
        "error": None,
    }
    approval = ApprovalRecord.of(Approval("tu", "Bash", "s", "deny", "timeout"), time="t")
    assert approval.model_dump(mode="json")["approval"] == {
        "behavior": "deny",
        "approver": "timeout",
        "note": "",
        "updated_input": None,
    }


@pytest.mark.parametrize(
    "record",
    [
        DecisionRecord.of(
            ToolCall("Bash", {"command": "ls"}, "tu"), CONTEXT, Decision("ask", {"command": "ls"}, rule=RULE)
        ),
        OutcomeRecord.of(ToolOutcome("tu", "Bash", "s", "not_run")),
        ApprovalRecord.of(Approval(None, "Bash", "s", "allow", "callback:f", updated_input={"command": "ls"})),
    ],
    ids=lambda r: r.kind,
)
def test_records_round_trip_keep_unknown_fields_and_refuse_bad_literals(record: Any) -> None:
    records: TypeAdapter[Any] = TypeAdapter(TrailRecord)
    dumped = records.dump_python(record, mode="json")
    assert records.validate_python(dumped) == record
    assert records.validate_json(records.dump_json(record)) == record
    value = {"decision": "decision", "outcome": "outcome", "approval": "approval"}[record.kind]
    newer = {**dumped, "shiny": 1, value: {**dumped[value], "future": True}}
    again = records.validate_python(newer)
    assert getattr(again, value) == getattr(record, value)  # a value ignores a field it does not know
    assert again.model_extra == {"shiny": 1}  # the record keeps it, so an older reader still shows it
    literal = {"decision": "behavior", "outcome": "status", "approval": "behavior"}[record.kind]
    with pytest.raises(ValidationError, match=literal):
        records.validate_python({**dumped, value: {**dumped[value], literal: "maybe"}})
    with pytest.raises(ValidationError, match="kind"):
        records.validate_python({**dumped, "kind": "verdict"})


def test_a_decision_record_refuses_a_bad_permission_mode() -> None:
    dumped = DecisionRecord.of(ToolCall("Bash", {}), CONTEXT, Decision("allow", {})).model_dump(mode="json")
    with pytest.raises(ValidationError, match="permission_mode"):
        parse_record(json.dumps({**dumped, "context": {**dumped["context"], "permission_mode": "yolo"}}).encode())


@pytest.mark.parametrize("version", sorted(OLD_DECISIONS))
def test_decision_records_of_versions_1_to_3_read_as_todays_values(version: int) -> None:
    record = parse_record(OLD_DECISIONS[version])
    assert isinstance(record, DecisionRecord)
    assert record.v == version  # the version it was written in
    assert (record.call, record.context, record.decision) == (old.CALL, old.CONTEXT, old.DECISION)
    assert record.previous == (1 if version == 3 else None)
    assert record.model_extra == {}  # no flat field is left over beside the values


def test_outcome_and_approval_records_of_version_3_read_as_todays_values() -> None:
    outcome, approval = parse_record(old.V3_OUTCOME), parse_record(old.V3_APPROVAL)
    assert isinstance(outcome, OutcomeRecord)
    assert isinstance(approval, ApprovalRecord)
    assert (outcome.outcome, approval.approval) == (old.OUTCOME, old.APPROVAL)
    assert outcome.model_extra == approval.model_extra == {}
