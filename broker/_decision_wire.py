"""The decision API's wire format, shared by the shared broker's HTTP service and `RemoteGovernor`.

A run on one machine asks a broker on another; both ends must agree on every field, and a reader of the
trail must still be able to answer "why was this allowed?", so the deciding rule, its source and the policy
version cross the wire intact. The module lives in `broker/` (not `servers/`) because the client side is part
of the broker's `Governor` story and must not pull in the servers package.

The values are the in-process frozen dataclasses themselves (`Decision`, `ToolCall`, `CallContext`,
`ToolOutcome`, `Approval`): a pydantic `TypeAdapter` over each reads and writes its JSON, so there is no second
copy of their fields to keep in step. Only the envelopes (the decide requests, a history delta, health, errors)
are models. Unknown fields are ignored, so an older client can talk to a newer broker and the other way
round; a bad literal or a missing required field is a validation error, which the service answers with 422
and the client turns into a deny.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator, model_validator

from magistrate.broker._call import CallContext, PriorDecision, ToolCall
from magistrate.broker._cli_decisions import require_cli_source
from magistrate.broker._decision import Decision
from magistrate.broker._interfaces import Approval, ToolOutcome

API_VERSION = "v1"
DECIDE_PATH = f"/{API_VERSION}/decide"
DECIDE_DELTA_PATH = f"/{API_VERSION}/decide-delta"
"""`POST`: decide with the session's history sent as what the broker has not seen yet (`DecideDeltaRequest`).
A broker too old to know it answers 404, and the client falls back to `DECIDE_PATH`."""
HISTORY_HEADER = "Magistrate-History"
"""The header of a `DECIDE_DELTA_PATH` answer: `<count>:<fingerprint>`, the broker's fingerprint of the
session's first `count` history entries (the request's base and entries), for the next request to build on."""
OUTCOME_PATH = f"/{API_VERSION}/outcome"
APPROVAL_PATH = f"/{API_VERSION}/approval"
HEALTH_PATH = f"/{API_VERSION}/health"
CLI_DECISION_PATH = f"/{API_VERSION}/cli-decision"

DECISION_ADAPTER: TypeAdapter[Decision] = TypeAdapter(Decision)
"""`POST /v1/decide`'s answer: the broker's decision, durably recorded."""
OUTCOME_ADAPTER: TypeAdapter[ToolOutcome] = TypeAdapter(ToolOutcome)
"""`POST /v1/outcome`'s body: what became of an allowed call."""
APPROVAL_ADAPTER: TypeAdapter[Approval] = TypeAdapter(Approval)
"""`POST /v1/approval`'s body: how an ask was answered, and by whom."""
PRIOR_ADAPTER: TypeAdapter[PriorDecision] = TypeAdapter(PriorDecision)
"""One entry of a decide request's history (`context.history`)."""


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)


def _named_call(call: ToolCall) -> ToolCall:
    """The check both decide requests make of their call: a tool name to judge it by."""
    if not call.tool_name:
        raise ValueError("the tool name is empty")
    return call


class DecideRequest(_Wire):
    """`POST /v1/decide`: decide one call and record the decision before answering."""

    call: ToolCall
    """The call to decide."""
    context: CallContext = Field(default_factory=CallContext)
    """The session around it. Its history is the client's: rules that read the history then see the whole
    session whichever broker process answers."""

    _named = field_validator("call")(_named_call)


class HistoryDelta(_Wire):
    """A session's history as the entries a broker has not seen yet, on top of what it holds already.

    The entries are numbered from the session's first; `fingerprint` names the broker's copy of the
    history through entry `base`, as that broker answered it (`HISTORY_HEADER`). A broker that does not
    hold that copy (restarted, another broker, forgotten) answers 409 without deciding: send it in full."""

    base: int = Field(ge=0)
    """The number of entries before `entries`; with no `fingerprint`, the number of the first one sent."""
    fingerprint: str | None = None
    """The broker's fingerprint of the history through entry `base`; None when `entries` is the whole history
    the rules see (a full send)."""
    length: int = Field(ge=0)
    """How many of the latest entries (through the last one sent) the rules see: the client's whole history."""
    entries: tuple[PriorDecision, ...] = ()
    """The entries after `base`, oldest first. The last field, so a client can join in entries it keeps as
    JSON."""

    @model_validator(mode="after")
    def _consistent(self) -> HistoryDelta:
        if len(self.entries) > self.length:
            raise ValueError("more entries than the history's length")
        if self.fingerprint is None and len(self.entries) != self.length:
            raise ValueError("a history sent in full must hold all of its length")
        return self


class DecideDeltaRequest(_Wire):
    """`POST /v1/decide-delta`: `DecideRequest` with the history sent as a `HistoryDelta`, not in the context."""

    call: ToolCall
    """The call to decide."""
    context: CallContext
    """The session around it; its `history` must be empty (the history is `history`) and its `session_id` set."""
    history: HistoryDelta
    """The session's history, as the entries this broker has not seen. The last field (see `entries`)."""

    _named = field_validator("call")(_named_call)

    @field_validator("context")
    @classmethod
    def _of_a_session(cls, context: CallContext) -> CallContext:
        if not context.session_id:
            raise ValueError("a history delta needs a session id")
        if context.history:
            raise ValueError("the history goes in `history`, not in the context")
        return context


class CliDecisionRequest(_Wire):
    """`POST /v1/cli-decision`: record a decision the CLI made alone, before any hook. The broker refuses one
    whose rule does not name the CLI (`claude_code`) as its source: a client cannot write a policy's allow."""

    call: ToolCall
    context: CallContext = Field(default_factory=CallContext)
    decision: Decision

    @field_validator("decision")
    @classmethod
    def _by_the_cli(cls, decision: Decision) -> Decision:
        require_cli_source(decision)
        return decision


class Recorded(_Wire):
    """The answer to `POST /v1/outcome` and `POST /v1/approval`: the record is durable."""

    recorded: bool = True
    """Always true; a record that could not be written is an error answer instead."""


class Health(_Wire):
    """`GET /v1/health`: the broker is up, and which policy it decides with."""

    status: Literal["ok"] = "ok"
    """Always `ok` when the broker answers."""
    policy_version: str
    """A hash of the broker's policy sources; every broker of one deployment should report the same."""
    log_id: str
    """The id of the trail the broker writes."""
    api: str = API_VERSION
    """The decision API's version."""


class ErrorBody(_Wire):
    """Any error answer: 401 (no valid token), 409 (history unknown: send it in full), 413 (too large), 422
    (invalid request), 503 (trail failed)."""

    error: str
    """A short machine-readable name: `unauthorized`, `history_unknown`, `too_large`, `invalid_request`,
    `audit`, ..."""
    detail: str = ""
    """What went wrong, for a person."""
