"""The decision API's wire format, shared by the shared broker's HTTP service and `RemoteGovernor`.

A run on one machine asks a broker on another; both ends must agree on every field, and a reader of the
trail must still be able to answer "why was this allowed?", so the deciding rule, its source and the policy
version cross the wire intact. The models live in `broker/` (not `servers/`) because the client side is part
of the broker's `Governor` story and must not pull in the servers package.

Each model converts to and from the frozen in-process value it carries (`of` / `value`). Unknown fields are
ignored, so an older client can talk to a newer broker and the other way round; a missing required field is
a validation error, which the service answers with 422 and the client turns into a deny.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from magistrate.broker._call import CallContext, PermissionMode, PriorDecision, ToolCall
from magistrate.broker._decision import Behavior, Decision, RuleRef, RuleSource
from magistrate.broker._interfaces import Approval, ToolOutcome

API_VERSION = "v1"
DECIDE_PATH = f"/{API_VERSION}/decide"
OUTCOME_PATH = f"/{API_VERSION}/outcome"
APPROVAL_PATH = f"/{API_VERSION}/approval"
HEALTH_PATH = f"/{API_VERSION}/health"


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)


class WireRuleSource(_Wire):
    """Where a rule was written."""

    kind: Literal["settings", "python", "option", "default", "broker", "cli"]
    """`settings`, `python`, `option`, `default`, `broker` or `cli`, as in `RuleSource.kind`."""
    path: str | None = None
    """The file the rule came from, when it came from a file."""
    line: int | None = None
    """1-based line in that file, when known."""


class WireRule(_Wire):
    """A rule as a decision names it."""

    id: str
    """The rule's stable id."""
    text: str
    """The rule string, or the Python rule's qualified name."""
    source: WireRuleSource
    """Where the rule was written."""
    list: Literal["allow", "ask", "deny", "python", "default"]
    """Which list the rule sits in."""

    @classmethod
    def of(cls, rule: RuleRef) -> WireRule:
        source = WireRuleSource(kind=rule.source.kind, path=rule.source.path, line=rule.source.line)
        return cls(id=rule.id, text=rule.text, source=source, list=rule.list)

    def value(self) -> RuleRef:
        source = RuleSource(self.source.kind, self.source.path, self.source.line)
        return RuleRef(id=self.id, text=self.text, source=source, list=self.list)


class WireCall(_Wire):
    """One tool call, before it runs."""

    tool_name: str = Field(min_length=1)
    """The CLI's tool name."""
    tool_input: dict[str, Any]
    """The input the model gave, exactly as the CLI sent it."""
    tool_use_id: str | None = None
    """The model's id for this call."""

    @classmethod
    def of(cls, call: ToolCall) -> WireCall:
        return cls(tool_name=call.tool_name, tool_input=dict(call.tool_input), tool_use_id=call.tool_use_id)

    def value(self) -> ToolCall:
        return ToolCall(self.tool_name, self.tool_input, self.tool_use_id)


class WirePriorDecision(_Wire):
    """A decision made earlier in the same session."""

    tool_name: str
    """The earlier call's tool."""
    tool_input: dict[str, Any]
    """The earlier call's input."""
    behavior: Behavior
    """What was decided."""
    rule_id: str | None = None
    """The id of the rule that decided it."""


class WireContext(_Wire):
    """The session around a call."""

    session_id: str = ""
    """The CLI's session id."""
    cwd: str = "."
    """The run's working directory, on the run's machine."""
    additional_directories: tuple[str, ...] = ()
    """Directories the run may use besides `cwd`."""
    permission_mode: PermissionMode = "default"
    """The CLI's permission mode for the call."""
    labels: dict[str, str] = Field(default_factory=dict)
    """Labels the caller set; rules may read them."""
    history: tuple[WirePriorDecision, ...] = ()
    """Decisions made earlier in this session, oldest first. The client keeps them, so rules that read the
    history see the whole session whichever broker process answers."""
    agent_id: str | None = None
    """Set when the call comes from a sub-agent."""

    @classmethod
    def of(cls, context: CallContext) -> WireContext:
        history = tuple(
            WirePriorDecision(
                tool_name=p.tool_name, tool_input=dict(p.tool_input), behavior=p.behavior, rule_id=p.rule_id
            )
            for p in context.history
        )
        return cls(
            session_id=context.session_id,
            cwd=context.cwd,
            additional_directories=context.additional_directories,
            permission_mode=context.permission_mode,
            labels=dict(context.labels),
            history=history,
            agent_id=context.agent_id,
        )

    def value(self) -> CallContext:
        return CallContext(
            session_id=self.session_id,
            cwd=self.cwd,
            additional_directories=self.additional_directories,
            permission_mode=self.permission_mode,
            labels=dict(self.labels),
            history=tuple(PriorDecision(p.tool_name, p.tool_input, p.behavior, p.rule_id) for p in self.history),
            agent_id=self.agent_id,
        )


class DecideRequest(_Wire):
    """`POST /v1/decide`: decide one call and record the decision before answering."""

    call: WireCall
    """The call to decide."""
    context: WireContext = Field(default_factory=WireContext)
    """The session around it."""


class WireDecision(_Wire):
    """`POST /v1/decide`'s answer: the broker's decision, durably recorded."""

    behavior: Behavior
    """allow, deny or ask."""
    input: dict[str, Any]
    """The input to run: the original, or the policy's rewrite."""
    message: str = ""
    """For deny, what the model is told; for ask, the reason shown to the approver."""
    rule: WireRule | None = None
    """The deciding rule; None only when the broker itself decided (failing closed)."""
    matched: tuple[WireRule, ...] = ()
    """Every other rule that matched, in precedence order."""
    policy_version: str = ""
    """A hash of the broker's policy sources."""
    elapsed_ns: int = 0
    """How long the decision took on the broker, trail append excluded."""
    error: str | None = None
    """Set when the decision is a deny because something failed."""

    @classmethod
    def of(cls, decision: Decision) -> WireDecision:
        return cls(
            behavior=decision.behavior,
            input=dict(decision.input),
            message=decision.message,
            rule=WireRule.of(decision.rule) if decision.rule else None,
            matched=tuple(WireRule.of(r) for r in decision.matched),
            policy_version=decision.policy_version,
            elapsed_ns=decision.elapsed_ns,
            error=decision.error,
        )

    def value(self) -> Decision:
        return Decision(
            behavior=self.behavior,
            input=self.input,
            message=self.message,
            rule=self.rule.value() if self.rule else None,
            matched=tuple(r.value() for r in self.matched),
            policy_version=self.policy_version,
            elapsed_ns=self.elapsed_ns,
            error=self.error,
        )


class OutcomeRequest(_Wire):
    """`POST /v1/outcome`: what became of an allowed call."""

    tool_use_id: str
    """Links the outcome to its decision."""
    tool_name: str
    """The call's tool."""
    session_id: str
    """The CLI's session id."""
    status: Literal["success", "error", "not_run"]
    """Whether the tool ran, and how it ended."""
    result_size: int = 0
    """Bytes of the tool's result."""
    result_sha256: str = ""
    """SHA-256 of the tool's result, hex."""
    error: str | None = None
    """The tool's error, when it failed."""

    @classmethod
    def of(cls, outcome: ToolOutcome) -> OutcomeRequest:
        return cls(
            tool_use_id=outcome.tool_use_id,
            tool_name=outcome.tool_name,
            session_id=outcome.session_id,
            status=outcome.status,
            result_size=outcome.result_size,
            result_sha256=outcome.result_sha256,
            error=outcome.error,
        )

    def value(self) -> ToolOutcome:
        return ToolOutcome(
            self.tool_use_id,
            self.tool_name,
            self.session_id,
            self.status,
            self.result_size,
            self.result_sha256,
            self.error,
        )


class ApprovalRequest(_Wire):
    """`POST /v1/approval`: how an ask was answered, and by whom."""

    tool_use_id: str | None = None
    """Links the approval to its decision."""
    tool_name: str
    """The call's tool."""
    session_id: str
    """The CLI's session id."""
    behavior: Literal["allow", "deny"]
    """The approver's answer."""
    approver: str
    """Who answered (`callback:<name>`, `terminal:<user>`, `queue:<user>`, `timeout`, `none`)."""
    note: str = ""
    """The approver's note."""
    updated_input: dict[str, Any] | None = None
    """The input the approver let run, when it changed it."""

    @classmethod
    def of(cls, approval: Approval) -> ApprovalRequest:
        updated = dict(approval.updated_input) if approval.updated_input is not None else None
        return cls(
            tool_use_id=approval.tool_use_id,
            tool_name=approval.tool_name,
            session_id=approval.session_id,
            behavior=approval.behavior,
            approver=approval.approver,
            note=approval.note,
            updated_input=updated,
        )

    def value(self) -> Approval:
        return Approval(
            tool_use_id=self.tool_use_id,
            tool_name=self.tool_name,
            session_id=self.session_id,
            behavior=self.behavior,
            approver=self.approver,
            note=self.note,
            updated_input=self.updated_input,
        )


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
    """Any error answer: 401 (no valid token), 413 (too large), 422 (invalid request), 503 (trail failed)."""

    error: str
    """A short machine-readable name: `unauthorized`, `too_large`, `invalid_request`, `audit`, ..."""
    detail: str = ""
    """What went wrong, for a person."""
