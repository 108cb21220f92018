"""What the trail stores: decisions, outcomes and approvals, as canonical JSON that hashes the same anywhere.

Records are a wire format (they outlive the process, are exported, and are read back by other versions),
so they are pydantic models; unknown fields are kept, so an older reader still shows a newer record. The
bytes that are hashed are RFC 8785 canonical JSON of the redacted record: re-serialising an exported record
canonically gives back exactly the bytes the Merkle leaf was computed over.

A record embeds the values it records, as their own `TypeAdapter`s write them: a decision record holds the
`Decision` (`record.decision`) and the `CallContext` (`record.context`), an outcome record the `ToolOutcome`,
an approval record the `Approval`. Beside them every record has its envelope (`time`, `session_id`,
`tool_use_id`, `tool_name`), which the trail's lookup columns copy and check. A value's field that the
envelope already holds is stored once, in the envelope, and put back into the value when it is read: the
call's name and id, the session id, and the decision's input when it is the input asked for. So a fact
cannot be signed twice with two values, and `DecisionRecord.call` is the envelope and `input`.

Records of an older `RECORD_VERSION` (1 to 3 wrote every field flat beside the envelope) are read into
today's shape; their stored bytes, which were hashed and signed, stay as they are.

A record does not contain its own position: the leaf index in the tree is its position, so a record can be
built, redacted and hashed before the writer takes the trail's lock.
"""

from __future__ import annotations

import dataclasses
import json
import math
import typing
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Annotated, Any, Literal

import rfc8785
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    TypeAdapter,
    model_serializer,
    model_validator,
)
from pydantic_core import PydanticSerializationError

from magistrate.broker._call import CallContext, ToolCall
from magistrate.broker._canonical import canonical_json
from magistrate.broker._decision import Decision
from magistrate.broker._interfaces import Approval, ToolOutcome
from magistrate.broker._redact import Redactor
from magistrate.broker._trail_errors import AuditError

RECORD_VERSION = 4
"""4: a record embeds its value (`decision` and `context`, `outcome`, `approval`) beside the envelope;
3: a decision names the session's previous decision (`previous`); 2: a rule's source is nested
(`rule.source.kind`, `.path`, `.line`), as in `RuleRef`; 1 wrote it flat."""
_MAX_SAFE_INT = 2**53 - 1


def utc_now() -> str:
    """RFC 3339 UTC with microseconds, the trail's one time format."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")

    v: int = RECORD_VERSION
    """Record format version: the version the record was written in (an older one is read as today's)."""
    time: str = Field(default_factory=utc_now)
    """When the record was made (RFC 3339, UTC)."""
    session_id: str = ""
    tool_use_id: str | None = None
    """Links a call's decision, approval and outcome."""
    tool_name: str = ""


def _flat(data: dict[str, Any]) -> bool:
    """Whether `data` is a record of version 1 to 3, which wrote its value's fields beside the envelope."""
    v = data.get("v", RECORD_VERSION)
    return isinstance(v, int) and not isinstance(v, bool) and v < 4


def _taken(data: dict[str, Any], names: tuple[str, ...]) -> tuple[dict[str, Any], dict[str, Any]]:
    """`data` without `names`, and the fields of `names` it had."""
    rest = dict(data)
    return rest, {name: rest.pop(name) for name in names if name in rest}


def _with_envelope(value: Any, shared: Mapping[str, Any]) -> Any:
    """A value (its JSON or itself) holding the envelope's `shared` fields, which the envelope alone stores."""
    if isinstance(value, dict):
        return {**value, **shared}
    stale = dataclasses.is_dataclass(value) and any(getattr(value, name) != v for name, v in shared.items())
    return dataclasses.replace(value, **shared) if stale and not isinstance(value, type) else value


def _without(data: Any, *names: str) -> None:
    if isinstance(data, dict):
        for name in names:
            data.pop(name, None)


def _session(data: dict[str, Any]) -> dict[str, Any]:
    return {"session_id": data.get("session_id", "")}


def _nested_rule(rule: Any) -> Any:
    """A version-1 rule (`source_kind`, `source_path`, `source_line` beside the id) in today's shape; the
    stored bytes of such a record stay as they were hashed, only the value read from them changes."""
    if not isinstance(rule, dict) or "source_kind" not in rule:
        return rule
    flat = dict(rule)
    source = {"kind": flat.pop("source_kind"), "path": flat.pop("source_path", None)}
    source["line"] = flat.pop("source_line", None)
    return {**flat, "source": source}


_DECISION_FIELDS = ("behavior", "message", "rule", "matched", "policy_version", "elapsed_ns", "error")
_CONTEXT_FIELDS = ("cwd", "additional_directories", "permission_mode", "labels", "agent_id")


def _nested_decision(data: dict[str, Any]) -> dict[str, Any]:
    """A decision record of version 1 to 3 in today's shape: the flat fields gathered into the values."""
    rest, decision = _taken(data, _DECISION_FIELDS)
    rest, context = _taken(rest, _CONTEXT_FIELDS)
    updated = rest.pop("updated_input", None)
    if updated is not None:
        decision["input"] = updated
    decision["rule"] = _nested_rule(decision.get("rule"))
    matched = decision.get("matched")
    if isinstance(matched, list):
        decision["matched"] = [_nested_rule(r) for r in matched]
    return {**rest, "decision": decision, "context": context}


class DecisionRecord(_Record):
    """A decision on one tool call: the call's input, its context and the decision, as those values.

    Stored as `{"v": 4, "kind": "decision", <envelope>, "input", "context", "decision", "previous"}`: the
    context without its session id (the envelope's) and history (the trail itself), the decision without its
    input when that is the input asked for (it differs only when a rule rewrote the call)."""

    kind: Literal["decision"] = "decision"
    input: dict[str, Any] = Field(default_factory=dict)
    """The input the model asked for (redacted, when read back from the trail)."""
    context: CallContext = Field(default_factory=CallContext)
    """The session around the call, as recorded; its history is what the trail holds before the record."""
    decision: Decision
    """The decision as it was returned: its input is the one to run (the rewritten one, when a rule rewrote it)."""
    previous: int | None = None
    """The position in the trail of the session's previous decision, as the recording broker knew it (None for
    its first, and in records before version 3): a reader of the session's history can tell that a decision
    it links to was taken out of the session (its `session_id` column edited, or the record deleted)."""

    @model_validator(mode="before")
    @classmethod
    def _read(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        if _flat(data) and "decision" not in data:
            data = _nested_decision(data)
        context = _with_envelope(data.get("context", {}), {**_session(data), "history": ()})
        decision = data.get("decision")
        if isinstance(decision, dict) and "input" not in decision:
            decision = {**decision, "input": data.get("input", {})}
        return {**data, "context": context, "decision": decision}

    @model_serializer(mode="wrap")
    def _write(self, handler: SerializerFunctionWrapHandler) -> Any:
        data = handler(self)
        if isinstance(data, dict):
            _without(data.get("context"), "session_id", "history")
            decision = data.get("decision")
            if isinstance(decision, dict) and decision.get("input") == data.get("input"):
                del decision["input"]
        return data

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
        return cls(
            time=time or utc_now(),
            session_id=context.session_id,
            tool_use_id=call.tool_use_id,
            tool_name=call.tool_name,
            input=dict(call.tool_input),
            context=context,
            decision=decision,
            previous=previous,
        )

    @property
    def call(self) -> ToolCall:
        """The call as it was asked for (its input redacted, when read back from the trail)."""
        return ToolCall(self.tool_name, self.input, self.tool_use_id)


_ENVELOPE = ("tool_use_id", "tool_name", "session_id")


class _OneValue(_Record):
    """A record of one value whose call id, tool name and session id are the envelope's."""

    # typing.ClassVar, not a bare ClassVar: the values' `ClassVar[ConfigDict]` must not evaluate in this module
    _value: typing.ClassVar[str]
    """The field that holds the value."""
    _flat: typing.ClassVar[tuple[str, ...]]
    """The value's other fields, which records before version 4 wrote beside the envelope."""

    @classmethod
    def _shared(cls, data: dict[str, Any]) -> dict[str, Any]:
        return {"tool_use_id": data.get("tool_use_id"), "tool_name": data.get("tool_name", ""), **_session(data)}

    @model_validator(mode="before")
    @classmethod
    def _read(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        if _flat(data) and cls._value not in data:
            data, value = _taken(data, cls._flat)
            data[cls._value] = value
        return {**data, cls._value: _with_envelope(data.get(cls._value), cls._shared(data))}

    @model_serializer(mode="wrap")
    def _write(self, handler: SerializerFunctionWrapHandler) -> Any:
        data = handler(self)
        if isinstance(data, dict):
            _without(data.get(self._value), *_ENVELOPE)
        return data

    @classmethod
    def _fields_of(cls, value: ToolOutcome | Approval, time: str | None) -> dict[str, Any]:
        """The record's fields for `value`: the envelope from its call id, tool name and session id."""
        envelope = {name: getattr(value, name) for name in _ENVELOPE}
        return {"time": time or utc_now(), **envelope, cls._value: value}


class OutcomeRecord(_OneValue):
    """What became of an allowed call; linked to its decision by `tool_use_id`.

    Stored as `{"v": 4, "kind": "outcome", <envelope>, "outcome"}`, the outcome without the call's id, the
    tool's name and the session id (the envelope's)."""

    _value = "outcome"
    _flat = ("status", "result_size", "result_sha256", "error")
    kind: Literal["outcome"] = "outcome"
    outcome: ToolOutcome

    @classmethod
    def _shared(cls, data: dict[str, Any]) -> dict[str, Any]:
        return {**super()._shared(data), "tool_use_id": data.get("tool_use_id") or ""}

    @classmethod
    def of(cls, outcome: ToolOutcome, *, time: str | None = None) -> OutcomeRecord:
        return cls(**cls._fields_of(outcome, time))


class ApprovalRecord(_OneValue):
    """Who answered an `ask`, how, and why.

    Stored as `{"v": 4, "kind": "approval", <envelope>, "approval"}`, the approval without the call's id, the
    tool's name and the session id (the envelope's)."""

    _value = "approval"
    _flat = ("behavior", "approver", "note", "updated_input")
    kind: Literal["approval"] = "approval"
    approval: Approval
    """The answer as it was recorded (the input the approver allowed redacted, when read back)."""

    @classmethod
    def of(cls, approval: Approval, *, time: str | None = None) -> ApprovalRecord:
        return cls(**cls._fields_of(approval, time))


TrailRecord = Annotated[DecisionRecord | OutcomeRecord | ApprovalRecord, Field(discriminator="kind")]
"""Any record of the trail, told apart by its `kind`."""
_ADAPTER: TypeAdapter[DecisionRecord | OutcomeRecord | ApprovalRecord] = TypeAdapter(TrailRecord)


def parse_record(body: bytes) -> DecisionRecord | OutcomeRecord | ApprovalRecord:
    """A stored record back as a model, of whichever version it was written in (raises pydantic's
    ValidationError, a ValueError, on a malformed body)."""
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
