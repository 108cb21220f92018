"""Records as older versions of magistrate wrote them (record versions 1 to 3), and the values they hold.

Their bytes were hashed and signed, so a trail keeps them as they are; today's reader must read them into the
same models as the records it writes itself. Version 3 wrote every value's field flat beside the envelope;
version 2 had no `previous`; version 1 also wrote a rule's source flat (`source_kind`, ...) beside its id.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import rfc8785

from magistrate.broker import (
    Approval,
    CallContext,
    Decision,
    RuleRef,
    RuleSource,
    ToolCall,
    ToolOutcome,
    Trail,
    leaf_hash,
)
from magistrate.broker._storage import NewRecord

RULE = RuleRef("deny:0", "Bash(rm:*)", RuleSource("settings", "/etc/claude/settings.json", 7), "deny")
OTHER = RuleRef("python:m.f", "m.f", RuleSource("python", "/srv/policy.py"), "python")
CALL = ToolCall("Bash", {"command": "rm x"}, "tu1")
CONTEXT = CallContext(session_id="s", cwd="/w", permission_mode="plan", labels={"team": "legal"}, agent_id="ag")
DECISION = Decision("deny", {"command": "rm -i x"}, "no", RULE, (OTHER,), "v1:abc", 5)
"""The decision each old decision record holds: a rewrite (its input is not the one asked for)."""
OUTCOME = ToolOutcome("tu1", "Bash", "s", "error", 12, "ab12", "exit 1")
APPROVAL = Approval("tu1", "Bash", "s", "allow", "queue:ana", "ticket OPS-12", {"command": "rm -i x"})

_ENVELOPE = {"session_id": "s", "tool_use_id": "tu1", "tool_name": "Bash"}
_RULE_NESTED = {
    "id": "deny:0",
    "text": "Bash(rm:*)",
    "list": "deny",
    "source": {"kind": "settings", "path": "/etc/claude/settings.json", "line": 7},
}
_OTHER_NESTED = {
    "id": "python:m.f",
    "text": "m.f",
    "list": "python",
    "source": {"kind": "python", "path": "/srv/policy.py", "line": None},
}


def _flat_source(rule: dict[str, Any]) -> dict[str, Any]:
    source = rule["source"]
    head = {k: v for k, v in rule.items() if k != "source"}
    return {**head, "source_kind": source["kind"], "source_path": source["path"], "source_line": source["line"]}


def _decision(v: int) -> dict[str, Any]:
    rule, other = (_flat_source(_RULE_NESTED), _flat_source(_OTHER_NESTED)) if v == 1 else (_RULE_NESTED, _OTHER_NESTED)
    body: dict[str, Any] = {
        "v": v,
        "kind": "decision",
        "time": "2026-01-01T00:00:00.000000Z",
        **_ENVELOPE,
        "agent_id": "ag",
        "input": {"command": "rm x"},
        "updated_input": {"command": "rm -i x"},
        "cwd": "/w",
        "permission_mode": "plan",
        "labels": {"team": "legal"},
        "behavior": "deny",
        "message": "no",
        "rule": rule,
        "matched": [other],
        "policy_version": "v1:abc",
        "elapsed_ns": 5,
        "error": None,
    }
    if v == 3:
        body["previous"] = 1  # the version-2 decision, where the trail test stores them in order
    return body


V1_DECISION = rfc8785.dumps(_decision(1))
V2_DECISION = rfc8785.dumps(_decision(2))
V3_DECISION = rfc8785.dumps(_decision(3))
V3_OUTCOME = rfc8785.dumps(
    {
        "v": 3,
        "kind": "outcome",
        "time": "2026-01-01T00:00:01.000000Z",
        **_ENVELOPE,
        "status": "error",
        "result_size": 12,
        "result_sha256": "ab12",
        "error": "exit 1",
    }
)
V3_APPROVAL = rfc8785.dumps(
    {
        "v": 3,
        "kind": "approval",
        "time": "2026-01-01T00:00:02.000000Z",
        **_ENVELOPE,
        "behavior": "allow",
        "approver": "queue:ana",
        "note": "ticket OPS-12",
        "updated_input": {"command": "rm -i x"},
    }
)
OLD_DECISIONS = {1: V1_DECISION, 2: V2_DECISION, 3: V3_DECISION}
OLD_RECORDS = [V1_DECISION, V2_DECISION, V3_DECISION, V3_APPROVAL, V3_OUTCOME]
"""One call's records as a trail of older versions holds them: three decisions, then the approval and outcome."""


def write_old_trail(db: str | Path, key_path: Path | None = None) -> None:
    """A trail at `db` holding `OLD_RECORDS` as they were written: their bytes signed by the trail's key, as the
    version that wrote them signed them (the lookup columns copied from each record)."""
    trail = Trail.open(db, key_path=key_path)
    try:
        rows = []
        for body in OLD_RECORDS:
            signed = json.loads(body)
            columns = (signed["kind"], signed["time"], signed["session_id"], signed["tool_use_id"], signed["tool_name"])
            rows.append(NewRecord(*columns, body, leaf_hash(body)))
        trail._write(rows)
    finally:
        trail.close()
