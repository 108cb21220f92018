"""The decision procedure of `RulePolicy`: deny, then ask, then allow, then the default, explained.

Kept apart from the policy's construction so the hot path reads top to bottom. The order is documented in
`_policy`; here each step also gathers the other rules that matched, so a decision can say everything
that had an opinion about the call, not only the rule that won.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, Protocol

from pydantic import ValidationError

from magistrate.broker._call import CallContext, ToolCall
from magistrate.broker._decision import Behavior, Decision, RuleRef
from magistrate.broker._immutable import thawed_mapping
from magistrate.broker._python_rules import Allow, Ask, Deny, PythonRule, RuleOutcome, run_rules
from magistrate.broker._rule_set import CallFacts, RuleSet
from magistrate.broker._tool_inputs import input_error as schema_error


class RuleBook(Protocol):
    """What the decision procedure reads of a policy; `RulePolicy` is the one implementation.

    Written as a protocol so this module needs nothing from `_policy`, which imports it.
    """

    @property
    def version(self) -> str: ...

    @property
    def rule_set(self) -> RuleSet: ...

    def python_rules_for(self, tool_name: str) -> tuple[PythonRule, ...]: ...

    def facts(self, call: ToolCall, context: CallContext) -> CallFacts: ...

    def default_for(self, facts: CallFacts, session_mode: str = "default") -> tuple[Behavior, RuleRef]: ...

    def refused_by_mode(self, facts: CallFacts, session_mode: str) -> RuleRef | None: ...


def _describe(ref: RuleRef) -> str:
    return f"{ref.text} ({ref.source})"


def _first_line(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first.get("loc", ())) or "input"
    return f"{where}: {first.get('msg', 'invalid')}"


async def _python(policy: RuleBook, call: ToolCall, context: CallContext) -> list[RuleOutcome]:
    """Run the Python rules for the call, stopping at the first deny or failure.

    The input was checked against its tool's schema before (`decide`, `_recheck`), so each rule's typed view
    is parsed only when the rule reads it, and cannot fail then."""
    rules = policy.python_rules_for(call.tool_name)
    return await run_rules(rules, call, context) if rules else []


class _Done:
    """Builds the decision: fills the version and time, orders the other matches, applies `dontAsk`."""

    __slots__ = ("call", "context", "started", "version")

    def __init__(self, call: ToolCall, context: CallContext, version: str, started: int) -> None:
        self.call = call
        self.context = context
        self.version = version
        self.started = started

    def __call__(
        self,
        behavior: Behavior,
        rule: RuleRef | None,
        others: list[RuleRef],
        message: str = "",
        *,
        tool_input: Mapping[str, Any] | None = None,
        error: str | None = None,
    ) -> Decision:
        if behavior == "ask" and self.context.permission_mode == "dontAsk":
            behavior, message = "deny", f"{message} (no one can be asked in dontAsk mode)".lstrip()
        if len(others) < 2:  # nothing to take twice: a RuleRef's value hash is dear on every call
            matched = tuple(r for r in others if r is not rule)
        else:
            matched = tuple(r for r in dict.fromkeys(others) if r is not rule)
        return Decision(
            behavior,
            self.call.tool_input if tool_input is None else tool_input,
            message=message,
            rule=rule,
            matched=matched,
            policy_version=self.version,
            elapsed_ns=time.perf_counter_ns() - self.started,
            error=error,
        )


async def decide(policy: RuleBook, call: ToolCall, context: CallContext, started: int) -> Decision:
    """Decide one call by the order documented in `_policy`."""
    done = _Done(call, context, policy.version, started)
    malformed = schema_error(call.tool_name, call.tool_input)
    if malformed is not None:
        return done("deny", None, [], malformed, error=malformed)
    facts = policy.facts(call, context)
    strings = policy.rule_set.evaluate(facts)
    string_refs = [r.ref for r in (*strings.deny, *strings.ask, *strings.allow)]
    if strings.deny:
        ref = strings.deny[0].ref
        return done("deny", ref, string_refs, f"Denied by rule {_describe(ref)}")
    refusal = policy.refused_by_mode(facts, context.permission_mode)
    if refusal is not None:
        return done("deny", refusal, string_refs, "Nothing is edited in plan mode")

    outcomes = await _python(policy, call, context)
    python_refs = [o.rule.ref for o in outcomes if o.result is not None]
    others = [*string_refs, *python_refs]
    for outcome in outcomes:
        if outcome.error is not None:
            return done(
                "deny", outcome.rule.ref, others, "A policy rule failed; denied to be safe", error=outcome.error
            )
        if isinstance(outcome.result, Deny):
            return done("deny", outcome.rule.ref, others, outcome.result.message)

    if strings.ask:
        ref = strings.ask[0].ref
        return done("ask", ref, others, f"Rule {_describe(ref)} asks for approval")
    for outcome in outcomes:
        if isinstance(outcome.result, Ask):
            return done("ask", outcome.rule.ref, others, outcome.result.reason)

    allows = [o for o in outcomes if isinstance(o.result, Allow)]
    rewrite = next((o for o in allows if o.result.updated_input is not None), None)  # type: ignore[union-attr]
    if rewrite is not None:
        assert isinstance(rewrite.result, Allow)
        assert rewrite.result.updated_input is not None
        return await _recheck(
            policy,
            call,
            context,
            rewrite=rewrite,
            new_input=thawed_mapping(rewrite.result.updated_input),  # a copy the rule holds no part of
            others=others,
            done=done,
        )
    if strings.allow:
        return done("allow", strings.allow[0].ref, others)
    if allows:
        result = allows[0].result
        assert isinstance(result, Allow)
        return done("allow", allows[0].rule.ref, others, result.message)

    behavior, ref = policy.default_for(facts, context.permission_mode)
    message = {"deny": "No rule allows this call", "ask": "No rule decides this call", "allow": ""}[behavior]
    return done(behavior, ref, others, message)


async def _recheck(
    policy: RuleBook,
    call: ToolCall,
    context: CallContext,
    *,
    rewrite: RuleOutcome,
    new_input: dict[str, Any],
    others: list[RuleRef],
    done: _Done,
) -> Decision:
    """A rewritten input must fit the tool's model and pass every deny and ask before it is allowed."""
    from magistrate.broker._tool_inputs import parse_input

    ref = rewrite.rule.ref
    try:
        parse_input(call.tool_name, new_input)
    except ValidationError as exc:
        error = f"{ref.text} rewrote the input into one the {call.tool_name} tool rejects ({_first_line(exc)})"
        return done("deny", ref, others, "A policy rule produced an invalid input; denied to be safe", error=error)
    new_call = ToolCall(call.tool_name, new_input, call.tool_use_id)
    strings = policy.rule_set.evaluate(policy.facts(new_call, context))
    refs = [*others, *(r.ref for r in (*strings.deny, *strings.ask))]
    if strings.deny:
        deny = strings.deny[0].ref
        return done("deny", deny, [ref, *refs], f"The rewritten input is denied by rule {_describe(deny)}")
    outcomes = await _python(policy, new_call, context)
    for outcome in outcomes:
        if outcome.error is not None:
            message = "A policy rule failed on the rewritten input; denied to be safe"
            return done("deny", outcome.rule.ref, [ref, *refs], message, error=outcome.error)
        if isinstance(outcome.result, Deny):
            return done("deny", outcome.rule.ref, [ref, *refs], outcome.result.message)
    if strings.ask:
        ask = strings.ask[0].ref
        return done("ask", ask, [ref, *refs], f"Rule {_describe(ask)} asks for approval", tool_input=new_input)
    for outcome in outcomes:
        if isinstance(outcome.result, Ask):
            return done("ask", outcome.rule.ref, [ref, *refs], outcome.result.reason, tool_input=new_input)
    message = rewrite.result.message if isinstance(rewrite.result, Allow) else ""
    return done("allow", ref, refs, message, tool_input=new_input)
