"""Python rules: plain functions that judge a call, for what rule strings cannot say.

A rule is registered for tool names or globs (`"Bash"`, `"mcp__documents__*"`, `"*"`), receives a `CallView`
(the typed input for built-in tools, the raw input for the rest) and the `CallContext` (including the
session's earlier decisions), and returns `Allow(...)`, `Deny(...)`, `Ask(...)` or None for no opinion. It may
be sync or async. What it receives are read-only copies: a rule cannot change what is decided or run except
through the `Allow(updated_input=...)` it returns, which is checked against deny and ask again.

Failing closed: a rule that raises (anything, `SystemExit` included), returns something else, or overruns its
time budget is a deny naming the error, and the deny comes at the deadline, not when the rule finally
returns. An async rule is cancelled at its budget. A sync rule runs in a worker thread, which is abandoned at
the budget (Python cannot stop a thread; it runs on until it returns, and what it returns is ignored).
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
import anyio.to_thread

from magistrate.broker._call import CallContext, ToolCall
from magistrate.broker._decision import RuleRef
from magistrate.broker._immutable import frozen_mapping, thawed_mapping

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
    """The input exactly as the CLI sent it (a read-only copy: changing it is an error, so a deny)."""
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
    is_async: bool = False
    """An `async def` rule runs on the event loop; any other runs in a worker thread it can be abandoned in."""

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
    is_async = inspect.iscoroutinefunction(function)
    return PythonRule(ref, tools, function, timeout, len(params) == 2, regex, is_async)


_RESULT_TYPES = (Allow, Deny, Ask)


class RuleOutcome(NamedTuple):
    """What one rule said about one call (a tuple: built for every rule of every decision)."""

    rule: PythonRule
    result: RuleResult
    error: str | None = None


def start_rule(rule: PythonRule, view: CallView, context: CallContext) -> RuleOutcome | Awaitable[RuleOutcome]:
    """Run one rule, as an awaitable of its outcome (a `RuleOutcome` at once when it fails to start). Never
    raises for the rule: its failure, wrong answer or overrun comes back as `error`."""
    args: tuple[Any, ...] = (view, context) if rule.takes_context else (view,)
    if not rule.is_async:
        return _threaded(rule, args)
    try:
        value = rule.function(*args)
    except BaseException as exc:  # noqa: BLE001 - any failure of user code is a deny, by design
        # Even SystemExit or KeyboardInterrupt: a rule must not end the run. Raised before any await, a
        # CancelledError is the rule's own and is just as much a failure.
        return RuleOutcome(rule, None, _raised(rule, exc))
    return _finish(rule, value, time.perf_counter())


async def run_rule(rule: PythonRule, view: CallView, context: CallContext) -> RuleOutcome:
    """Run one rule to its outcome; never raises for the rule's own failure (that comes back as `error`)."""
    outcome = start_rule(rule, view, context)
    return outcome if isinstance(outcome, RuleOutcome) else await outcome


@dataclass(frozen=True, slots=True)
class _Raised:
    """What a rule raised in its worker thread, carried back as a value (BaseExceptions included)."""

    exc: BaseException


def _call_caught(function: RuleFunction, args: tuple[Any, ...]) -> Any:
    try:
        return function(*args)
    except BaseException as exc:  # noqa: BLE001 - carried back to the event loop, where it becomes a deny
        return _Raised(exc)


def _overran(rule: PythonRule) -> RuleOutcome:
    return RuleOutcome(rule, None, f"rule {rule.ref.text} overran its {rule.timeout:g} s budget")


async def _threaded(rule: PythonRule, args: tuple[Any, ...]) -> RuleOutcome:
    """A sync rule in a worker thread, given up at its budget: the deny comes at the deadline, and the thread,
    which Python cannot stop, runs on unwatched (its answer, when it comes, is thrown away)."""
    started = time.perf_counter()
    try:
        with anyio.fail_after(rule.timeout):
            value = await anyio.to_thread.run_sync(_call_caught, rule.function, args, abandon_on_cancel=True)
            if isinstance(value, _Raised):
                return RuleOutcome(rule, None, _raised(rule, value.exc))
            if value is not None and value.__class__ not in _RESULT_TYPES and inspect.isawaitable(value):
                value = await value  # a plain function that returned a coroutine: awaited within the budget
    except TimeoutError:
        return _overran(rule)
    except anyio.get_cancelled_exc_class():
        raise  # the caller is cancelled: the broker records the deny, then lets the cancellation go on
    except BaseException as exc:  # noqa: BLE001 - any failure of user code is a deny, by design
        return RuleOutcome(rule, None, _raised(rule, exc))
    return _judge(rule, value, started)


async def _finish(rule: PythonRule, pending: Any, started: float) -> RuleOutcome:
    try:
        with anyio.fail_after(rule.timeout):
            value = await pending if inspect.isawaitable(pending) else pending
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
    if time.perf_counter() - started > rule.timeout:  # an async rule that blocked the event loop past its budget
        return _overran(rule)
    if value is not None and not isinstance(value, _RESULT_TYPES):
        return RuleOutcome(rule, None, f"rule {rule.ref.text} returned {type(value).__name__}, not Allow/Deny/Ask/None")
    return RuleOutcome(rule, value)


def view_of(call: ToolCall) -> CallView:
    """The typed view a Python rule receives; raises pydantic's ValidationError for a malformed input.

    Nothing in it is shared with the call: `raw` is a read-only copy (a rule that tries to change it fails,
    which is a deny), and the typed input, itself frozen, is parsed from a copy of its own."""
    from magistrate.broker._tool_inputs import parse_input

    raw = frozen_mapping(call.tool_input)
    typed = parse_input(call.tool_name, thawed_mapping(call.tool_input))
    return CallView(call.tool_name, raw if isinstance(typed, Mapping) else typed, raw, call.tool_use_id)
