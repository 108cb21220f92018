"""Python rules: plain functions that judge a call, for what rule strings cannot say.

A rule is registered for tool names or globs (`"Bash"`, `"mcp__documents__*"`, `"*"`), receives a `CallView`
(the typed input for built-in tools, the raw input for the rest) and the `CallContext` (including the
session's earlier decisions), and returns `Allow(...)`, `Deny(...)`, `Ask(...)` or None for no opinion. It may
be sync or async. Failing closed: a rule that raises, returns something else, or overruns its time budget is
a deny naming the error. An async rule is cancelled at the budget; a sync one cannot be interrupted, so one
that overruns is a deny once it returns.
"""

from __future__ import annotations

import inspect
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from fnmatch import translate
from typing import TYPE_CHECKING, Any, NamedTuple, Union

import anyio

from magistrate.broker._call import CallContext, ToolCall
from magistrate.broker._decision import RuleRef

if TYPE_CHECKING:  # pydantic loads with the first typed view, not with the policy
    from magistrate.broker._tool_inputs import ToolInput


@dataclass(frozen=True, slots=True)
class Allow:
    """Allow the call, optionally running `updated_input` instead (it is validated and checked again)."""

    updated_input: Mapping[str, Any] | None = None
    message: str = ""


@dataclass(frozen=True, slots=True)
class Deny:
    """Deny the call; `message` is what the model is told."""

    message: str


@dataclass(frozen=True, slots=True)
class Ask:
    """Ask an approver; `reason` is shown to them."""

    reason: str


RuleResult = Union[Allow, Deny, Ask, None]  # noqa: UP007 - a runtime alias must work on Python 3.10


@dataclass(frozen=True, slots=True)
class CallView:
    """A tool call as a Python rule sees it."""

    tool_name: str
    input: ToolInput | Mapping[str, Any]
    """A pydantic model for built-in tools (`call.input.command`), the raw mapping for MCP and other tools."""
    raw: Mapping[str, Any]
    """The input exactly as the CLI sent it."""
    tool_use_id: str | None = None

    @property
    def mcp_server(self) -> str | None:
        """`documents` for `mcp__documents__get`, None for a built-in tool."""
        if not self.tool_name.startswith("mcp__"):
            return None
        return self.tool_name[5:].split("__", 1)[0]

    @property
    def mcp_tool(self) -> str | None:
        """`get` for `mcp__documents__get`, None for a built-in tool."""
        if not self.tool_name.startswith("mcp__"):
            return None
        parts = self.tool_name[5:].split("__", 1)
        return parts[1] if len(parts) == 2 else None


RuleFunction = Callable[..., Union[RuleResult, Awaitable[RuleResult]]]  # noqa: UP007


@dataclass(frozen=True, slots=True)
class PythonRule:
    """A registered rule function and what it applies to."""

    ref: RuleRef
    tools: tuple[str, ...]
    function: RuleFunction
    timeout: float
    takes_context: bool
    _regex: re.Pattern[str] = field(repr=False, compare=False, default=re.compile(""))

    def applies_to(self, tool_name: str) -> bool:
        return self._regex.match(tool_name) is not None


def make_rule(ref: RuleRef, tools: tuple[str, ...], function: RuleFunction, timeout: float) -> PythonRule:
    """Build a rule; raises TypeError when the function cannot take a call (and a context)."""
    params = [
        p
        for p in inspect.signature(function).parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
    ]
    if len(params) not in (1, 2):
        raise TypeError("a rule takes (call) or (call, context)")
    regex = re.compile("|".join(f"(?:{translate(t)})" for t in tools))
    return PythonRule(ref, tools, function, timeout, len(params) == 2, regex)


_RESULT_TYPES = (Allow, Deny, Ask)


class RuleOutcome(NamedTuple):
    """What one rule said about one call (a tuple: built for every rule of every decision)."""

    rule: PythonRule
    result: RuleResult
    error: str | None = None


def start_rule(rule: PythonRule, view: CallView, context: CallContext) -> RuleOutcome | Awaitable[RuleOutcome]:
    """Run one rule: a sync rule's outcome at once, an async rule's as an awaitable. Never raises for the rule."""
    args: tuple[Any, ...] = (view, context) if rule.takes_context else (view,)
    started = time.perf_counter()
    try:
        value = rule.function(*args)
    except BaseException as exc:  # noqa: BLE001 - any failure of user code is a deny, by design
        # Even SystemExit or KeyboardInterrupt: a rule must not end the run. A sync rule cannot be cancelled,
        # so a CancelledError here is the rule's own and is just as much a failure.
        return RuleOutcome(rule, None, _raised(rule, exc))
    if value is not None and value.__class__ not in _RESULT_TYPES and inspect.isawaitable(value):
        return _finish(rule, value, started)
    return _judge(rule, value, started)


async def run_rule(rule: PythonRule, view: CallView, context: CallContext) -> RuleOutcome:
    """Run one rule to its outcome; never raises for the rule's own failure (that comes back as `error`)."""
    outcome = start_rule(rule, view, context)
    return outcome if isinstance(outcome, RuleOutcome) else await outcome


async def _finish(rule: PythonRule, pending: Awaitable[Any], started: float) -> RuleOutcome:
    try:
        with anyio.fail_after(rule.timeout):
            value = await pending
    except TimeoutError:
        return RuleOutcome(rule, None, f"rule {rule.ref.text} timed out after {rule.timeout:g} s")
    except anyio.get_cancelled_exc_class():
        raise  # the caller is cancelled: the broker records the deny, then lets the cancellation go on
    except BaseException as exc:  # noqa: BLE001 - any failure of user code is a deny, by design
        return RuleOutcome(rule, None, _raised(rule, exc))
    return _judge(rule, value, started)


def _raised(rule: PythonRule, exc: BaseException) -> str:
    return f"rule {rule.ref.text} raised {type(exc).__name__}: {exc}"


def _judge(rule: PythonRule, value: Any, started: float) -> RuleOutcome:
    if time.perf_counter() - started > rule.timeout:
        return RuleOutcome(rule, None, f"rule {rule.ref.text} overran its {rule.timeout:g} s budget")
    if value is not None and not isinstance(value, _RESULT_TYPES):
        return RuleOutcome(rule, None, f"rule {rule.ref.text} returned {type(value).__name__}, not Allow/Deny/Ask/None")
    return RuleOutcome(rule, value)


def view_of(call: ToolCall) -> CallView:
    """The typed view a Python rule receives; raises pydantic's ValidationError for a malformed input."""
    from magistrate.broker._tool_inputs import parse_input

    return CallView(call.tool_name, parse_input(call.tool_name, call.tool_input), call.tool_input, call.tool_use_id)
