"""What the trail stores: decisions, outcomes and approvals, as canonical JSON that hashes the same anywhere.

Records are a wire format (they outlive the process, are exported, and are read back by other versions),
so they are pydantic models; unknown fields are kept, so an older reader still shows a newer record. The
bytes that are hashed are RFC 8785 canonical JSON of the redacted record: re-serialising an exported record
canonically gives back exactly the bytes the Merkle leaf was computed over.

A record embeds the values it records: a decision record's rules are `RuleRef`s, its behavior and permission
mode the same literals as the `Decision`'s and the `CallContext`'s, and each record gives its value back
(`DecisionRecord.decision()`, `.call()`, `.context()`, `OutcomeRecord.outcome()`, `ApprovalRecord.approval()`).
Records of an older `RECORD_VERSION` are read into today's shape; their stored bytes, which were hashed, stay.

A record does not contain its own position: the leaf index in the tree is its position, so a record can be
built, redacted and hashed before the writer takes the trail's lock.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Annotated, Any, Literal

import rfc8785
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator
from pydantic_core import PydanticSerializationError

from magistrate.broker._call import CallContext, PermissionMode, ToolCall
from magistrate.broker._canonical import canonical_json
from magistrate.broker._decision import Behavior, Decision, RuleRef
from magistrate.broker._interfaces import Approval, ToolOutcome
from magistrate.broker._redact import Redactor
from magistrate.broker._trail_errors import AuditError

RECORD_VERSION = 3
"""3: a decision names the session's previous decision (`previous`); 2: a rule's source is nested
(`rule.source.kind`, `.path`, `.line`), as in `RuleRef`; 1 wrote it flat."""
_MAX_SAFE_INT = 2**53 - 1


def utc_now() -> str:
    """RFC 3339 UTC with microseconds, the trail's one time format."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")

    v: int = RECORD_VERSION
    """Record format version."""
    time: str = Field(default_factory=utc_now)
    """When the record was made (RFC 3339, UTC)."""
    session_id: str = ""
    tool_use_id: str | None = None
    """Links a call's decision, approval and outcome."""
    tool_name: str = ""


def _nested_rule(rule: Any) -> Any:
    """A version-1 rule (`source_kind`, `source_path`, `source_line` beside the id) in today's shape; the
    stored bytes of such a record stay as they were hashed, only the value read from them changes."""
    if not isinstance(rule, dict) or "source_kind" not in rule:
        return rule
    flat = dict(rule)
    source = {"kind": flat.pop("source_kind"), "path": flat.pop("source_path", None)}
    source["line"] = flat.pop("source_line", None)
    return {**flat, "source": source}


class DecisionRecord(_Record):
    """A decision on one tool call, with the call, its context and the rule that decided.

    The fields are the `Decision`'s, the `ToolCall`'s and the `CallContext`'s (without the history, which is
    the trail itself), typed as they are, so `decision()`, `call()` and `context()` give the values back."""

    kind: Literal["decision"] = "decision"
    agent_id: str | None = None
    input: dict[str, Any] = Field(default_factory=dict)
    """The input the model asked for (redacted)."""
    updated_input: dict[str, Any] | None = None
    """The input to run, when the decision rewrote it (redacted); None when unchanged."""
    cwd: str = "."
    permission_mode: PermissionMode = "default"
    labels: dict[str, str] = Field(default_factory=dict)
    behavior: Behavior
    message: str = ""
    rule: RuleRef | None = None
    """The deciding rule; None when magistrate itself decided (failing closed)."""
    matched: tuple[RuleRef, ...] = ()
    policy_version: str = ""
    elapsed_ns: int = 0
    error: str | None = None
    previous: int | None = None
    """The position in the trail of the session's previous decision, as the recording broker knew it (None for
    its first, and in records before version 3): a reader of the session's history can tell that a decision
    it links to was taken out of the session (its `session_id` column edited, or the record deleted)."""

    @field_validator("rule", mode="before")
    @classmethod
    def _rule_v1(cls, rule: Any) -> Any:
        return _nested_rule(rule)

    @field_validator("matched", mode="before")
    @classmethod
    def _matched_v1(cls, matched: Any) -> Any:
        return [_nested_rule(r) for r in matched] if isinstance(matched, list) else matched

    @classmethod
    def of(
        cls,
        call: ToolCall,
        context: CallContext,
        decision: Decision,
        *,
        time: str | None = None,
        previous: int | None = None,
    ) -> DecisionRecord:
        requested = dict(call.tool_input)
        to_run = dict(decision.input)
        return cls(
            time=time or utc_now(),
            session_id=context.session_id,
            agent_id=context.agent_id,
            tool_use_id=call.tool_use_id,
            tool_name=call.tool_name,
            input=requested,
            updated_input=None if to_run == requested else to_run,
            cwd=context.cwd,
            permission_mode=context.permission_mode,
            labels=dict(context.labels),
            behavior=decision.behavior,
            message=decision.message,
            rule=decision.rule,
            matched=decision.matched,
            policy_version=decision.policy_version,
            elapsed_ns=decision.elapsed_ns,
            error=decision.error,
            previous=previous,
        )

    def call(self) -> ToolCall:
        """The call as it was asked for (its input redacted, when read back from the trail)."""
        return ToolCall(self.tool_name, self.input, self.tool_use_id)

    def context(self) -> CallContext:
        """The session around the call, as recorded; the history is what the trail holds before it."""
        return CallContext(
            session_id=self.session_id,
            cwd=self.cwd,
            permission_mode=self.permission_mode,
            labels=self.labels,
            agent_id=self.agent_id,
        )

    def decision(self) -> Decision:
        """The decision as it was returned: the input to run is the rewritten one, when there is one."""
        return Decision(
            behavior=self.behavior,
            input=self.input if self.updated_input is None else self.updated_input,
            message=self.message,
            rule=self.rule,
            matched=self.matched,
            policy_version=self.policy_version,
            elapsed_ns=self.elapsed_ns,
            error=self.error,
        )


class OutcomeRecord(_Record):
    """What became of an allowed call; linked to its decision by `tool_use_id`."""

    kind: Literal["outcome"] = "outcome"
    status: Literal["success", "error", "not_run"]
    result_size: int = 0
    result_sha256: str = ""
    error: str | None = None

    @classmethod
    def of(cls, outcome: ToolOutcome, *, time: str | None = None) -> OutcomeRecord:
        return cls(
            time=time or utc_now(),
            session_id=outcome.session_id,
            tool_use_id=outcome.tool_use_id,
            tool_name=outcome.tool_name,
            status=outcome.status,
            result_size=outcome.result_size,
            result_sha256=outcome.result_sha256,
            error=outcome.error,
        )

    def outcome(self) -> ToolOutcome:
        """The outcome as it was recorded."""
        return ToolOutcome(
            tool_use_id=self.tool_use_id or "",
            tool_name=self.tool_name,
            session_id=self.session_id,
            status=self.status,
            result_size=self.result_size,
            result_sha256=self.result_sha256,
            error=self.error,
        )


class ApprovalRecord(_Record):
    """Who answered an `ask`, how, and why."""

    kind: Literal["approval"] = "approval"
    behavior: Literal["allow", "deny"]
    approver: str
    """Who decided: a user name, an approval queue's reviewer, `callback`, or `timeout`."""
    note: str = ""
    updated_input: dict[str, Any] | None = None
    """The input the approver allowed, when they changed it (redacted)."""

    @classmethod
    def of(cls, approval: Approval, *, time: str | None = None) -> ApprovalRecord:
        return cls(
            time=time or utc_now(),
            session_id=approval.session_id,
            tool_use_id=approval.tool_use_id,
            tool_name=approval.tool_name,
            behavior=approval.behavior,
            approver=approval.approver,
            note=approval.note,
            updated_input=dict(approval.updated_input) if approval.updated_input is not None else None,
        )

    def approval(self) -> Approval:
        """The answer as it was recorded (the input the approver allowed redacted)."""
        return Approval(
            tool_use_id=self.tool_use_id,
            tool_name=self.tool_name,
            session_id=self.session_id,
            behavior=self.behavior,
            approver=self.approver,
            note=self.note,
            updated_input=self.updated_input,
        )


TrailRecord = Annotated[DecisionRecord | OutcomeRecord | ApprovalRecord, Field(discriminator="kind")]
_ADAPTER: TypeAdapter[DecisionRecord | OutcomeRecord | ApprovalRecord] = TypeAdapter(TrailRecord)


def parse_record(body: bytes) -> DecisionRecord | OutcomeRecord | ApprovalRecord:
    """A stored record back as a model (raises pydantic's ValidationError on a malformed body)."""
    return _ADAPTER.validate_json(body)


def _json_safe(value: Any) -> Any:
    # RFC 8785 only has IEEE doubles: larger integers and non-finite floats are kept as their text.
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > _MAX_SAFE_INT:
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def jsonable(value: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON-only copy of a mapping, anything else written as its repr (for recording a failure)."""
    result: dict[str, Any] = json.loads(json.dumps(dict(value), default=repr))
    return result


def encode_record(record: DecisionRecord | OutcomeRecord | ApprovalRecord, redactor: Redactor) -> bytes:
    """The canonical bytes of a redacted record: what the trail stores and hashes."""
    return redacted_record(record, redactor)[1]


def redacted_record(
    record: DecisionRecord | OutcomeRecord | ApprovalRecord, redactor: Redactor
) -> tuple[dict[str, Any], bytes]:
    """The redacted record as a JSON object, and its canonical bytes (`encode_record`)."""
    try:
        data = redactor.value(record.model_dump(mode="json"))
    except PydanticSerializationError as exc:
        raise AuditError(f"the {record.kind} record holds a value that is not JSON: {exc}") from exc
    try:
        return data, canonical_json(data)
    except rfc8785.CanonicalizationError:
        pass
    try:
        return data, rfc8785.dumps(_json_safe(data))
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise AuditError(f"cannot encode the {record.kind} record as canonical JSON: {exc}") from exc
