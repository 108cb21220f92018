"""Python rules: plain functions that judge a call, for what rule strings cannot say.

A rule is registered for tool names or globs (`"Bash"`, `"mcp__documents__*"`, `"*"`), receives a `CallView`
(the typed input for built-in tools, the raw input for the rest) and the `CallContext` (including the
session's earlier decisions), and returns `Allow(...)`, `Deny(...)`, `Ask(...)` or None for no opinion. It may
be sync or async. What it receives are read-only copies: a rule cannot change what is decided or run except
through the `Allow(updated_input=...)` it returns, which is checked against deny and ask again. Each rule gets
copies of its own, made when it first reads `call.raw` or `call.input`, so a rule that reads neither costs
no copy and no parse.

Failing closed: a rule that raises (anything, `SystemExit` included), returns something else, or overruns its
time budget is a deny naming the error, and the deny comes at the deadline, not when the rule finally
returns. An async rule is cancelled at its budget. A sync rule runs in one of two ways:

- **Inline, under an alarm**, when the decision runs on the main thread and no one else has a handler for
  `SIGALRM` (it is at its default) or a timer running. The rules run one after another on the calling thread,
  and one interval timer (`setitimer(ITIMER_REAL)`) guards the whole run of consecutive sync rules: armed
  once for the first deadline, moved on only when a later rule's deadline comes earlier, and disarmed (the
  default handler put back) before anything else may run on the event loop. At a rule's deadline the handler
  raises a private `BaseException` into it; waits on locks, sleeps and reads are interrupted by signals on
  POSIX, so a rule blocked in `threading.Event().wait()` is stopped there and its deny comes at the deadline.
- **In a worker thread**, otherwise (another thread, a platform without `setitimer`, `SIGALRM` in use, or a
  rule that has swallowed the alarm before): one hop runs the whole run of consecutive sync rules, and a
  watcher on the event loop gives the thread up at the deadline of the rule it is in. Python cannot stop a
  thread; it runs on unwatched, runs no further rule, and what it returns is thrown away.

Limits of the inline way, by decision: a rule that catches the alarm (`except BaseException:`, a bare
`except:`) and carries on is raised into again every 50 ms, so one that goes on to wait, sleep or work outside
that `try` (a retry loop's back-off) is stopped by the next raise, and is still a deny that names the overrun;
it is then moved to the worker thread for every later call. A rule that swallows every raise and never
returns (a loop whose whole body sits inside `try: ... except: pass`) holds the decision, as does one spinning
inside C code that never checks for signals (a catastrophic regex, an extension holding the GIL), which
would starve the event loop from a worker thread too, as both need the GIL. A `Ctrl-C` that lands while a
sync rule runs inline is that rule's `KeyboardInterrupt`, so its deny; under `asyncio.run`, which turns the
first `Ctrl-C` into a cancellation, the run is still cancelled.
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
import signal
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import translate
from types import FrameType
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
_UNSET: Any = object()


class CallView:
    """A tool call as a Python rule sees it (read-only; the broker builds one for each rule it runs)."""

    __slots__ = ("_call", "_input", "_raw", "tool_name", "tool_use_id")
    tool_name: str
    tool_use_id: str | None
    _call: ToolCall | None
    _input: Any
    _raw: Any

    def __init__(
        self,
        tool_name: str,
        input: ToolInput | Mapping[str, Any],
        raw: Mapping[str, Any],
        tool_use_id: str | None = None,
    ) -> None:
        for name, value in (("tool_name", tool_name), ("_input", input), ("_raw", raw), ("tool_use_id", tool_use_id)):
            object.__setattr__(self, name, value)
        object.__setattr__(self, "_call", None)

    @staticmethod
    def of(call: ToolCall) -> CallView:
        """The view of a call whose copies are made when the rule first reads them (built for every rule run)."""
        view = _new_view(CallView)
        _set_call(view, call)
        _set_tool_name(view, call.tool_name)
        _set_input(view, _UNSET)
        _set_raw(view, _UNSET)
        _set_tool_use_id(view, call.tool_use_id)
        return view

    @property
    def input(self) -> ToolInput | Mapping[str, Any]:
        """A pydantic model for built-in tools (`call.input.command`), the raw mapping for MCP and other tools."""
        if self._input is _UNSET:
            from magistrate.broker._tool_inputs import parse_input

            assert self._call is not None  # a view made with its values has no call behind it
            typed = parse_input(self.tool_name, thawed_mapping(self._call.tool_input))
            object.__setattr__(self, "_input", self.raw if isinstance(typed, Mapping) else typed)
        return self._input  # type: ignore[no-any-return]

    @property
    def raw(self) -> Mapping[str, Any]:
        """The input exactly as the CLI sent it (a read-only copy: changing it is an error, so a deny)."""
        if self._raw is _UNSET:
            assert self._call is not None
            object.__setattr__(self, "_raw", frozen_mapping(self._call.tool_input))
        return self._raw  # type: ignore[no-any-return]

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"a rule's view of the call is read-only; cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"a rule's view of the call is read-only; cannot delete {name!r}")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CallView):
            return NotImplemented
        mine = (self.tool_name, self.input, self.raw, self.tool_use_id)
        return mine == (other.tool_name, other.input, other.raw, other.tool_use_id)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"CallView(tool_name={self.tool_name!r}, input={self.input!r}, tool_use_id={self.tool_use_id!r})"

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


_new_view = object.__new__
_SLOTS: Any = vars(CallView)
# The slots' own setters, which `CallView.__setattr__` (refusing every change) does not stand in front of.
_set_call = _SLOTS["_call"].__set__
_set_tool_name = _SLOTS["tool_name"].__set__
_set_input = _SLOTS["_input"].__set__
_set_raw = _SLOTS["_raw"].__set__
_set_tool_use_id = _SLOTS["tool_use_id"].__set__

RuleFunction = Callable[..., Union[RuleResult, Awaitable[RuleResult]]]  # noqa: UP007


@dataclass(slots=True)
class _Conduct:
    """What the broker learnt about a rule while running it (the one mutable part of a `PythonRule`)."""

    swallowed_alarm: bool = False
    """It once carried on past the alarm raised into it: from then on it runs in a worker thread."""


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
    """An `async def` rule runs on the event loop; any other runs inline under an alarm, or in a worker thread."""
    _conduct: _Conduct = field(repr=False, compare=False, default_factory=_Conduct)

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


def _stops(outcome: RuleOutcome) -> bool:
    return outcome.error is not None or outcome.result.__class__ is Deny


def view_of(call: ToolCall) -> CallView:
    """The view a Python rule receives; nothing in it is shared with the call or with another rule's view.

    `raw` is a read-only copy (a rule that tries to change it fails, which is a deny), and the typed input,
    itself frozen, is parsed from a copy of its own; both are made when the rule first reads them. The input
    was checked against its schema before any rule runs, so the parse cannot fail."""
    return CallView.of(call)


async def run_rules(rules: Sequence[PythonRule], call: ToolCall, context: CallContext) -> list[RuleOutcome]:
    """Run the rules in order, each on a view of its own, up to the first deny or failure; never raises for a
    rule's own failure, wrong answer or overrun (that comes back as `error`)."""
    outcomes: list[RuleOutcome] = []
    index, count = 0, len(rules)
    while index < count:
        rule = rules[index]
        if rule.is_async:
            outcomes.append(await _run_async(rule, call, context))
            index += 1
        else:
            end = index + 1
            while end < count and not rules[end].is_async:
                end += 1
            batch = rules[index:end]
            ran = _inline(batch, call, context) if _alarm_usable(batch) else None
            done, pending = ran if ran is not None else await _threaded(batch, call, context)
            outcomes.extend(done)
            index += len(done)
            if pending is not None:
                outcomes.append(await _finish(pending.rule, pending.value, pending.started))
                index += 1
        if outcomes and _stops(outcomes[-1]):
            break
    return outcomes


async def _run_async(rule: PythonRule, call: ToolCall, context: CallContext) -> RuleOutcome:
    view = CallView.of(call)
    args: tuple[Any, ...] = (view, context) if rule.takes_context else (view,)
    try:
        value = rule.function(*args)
    except BaseException as exc:  # noqa: BLE001 - any failure of user code is a deny, by design
        # Even SystemExit or KeyboardInterrupt: a rule must not end the run. Raised before any await, a
        # CancelledError is the rule's own and is just as much a failure.
        return RuleOutcome(rule, None, _raised(rule, exc))
    return await _finish(rule, value, time.perf_counter())


class _Pending(NamedTuple):
    """A sync rule that returned an awaitable: awaited on the event loop within what is left of its budget."""

    rule: PythonRule
    value: Any
    started: float


# -- inline, under an alarm ---------------------------------------------------------------------------------

_REPEAT = 0.05
"""Seconds between raises into a rule that swallowed the first one."""
_HAS_ITIMER = hasattr(signal, "setitimer") and hasattr(signal, "SIGALRM")
_C_SIGNAL: Any = importlib.import_module("_signal")
"""The C module `signal` wraps: its functions take and return plain ints, where `signal.signal`'s enum
conversions cost more than the system calls (about 5 µs a pair on the development machine)."""
_SIGALRM = int(getattr(signal, "SIGALRM", 14))
_ITIMER_REAL = int(getattr(signal, "ITIMER_REAL", 0))
_SIG_DFL = int(signal.SIG_DFL)


class _Overran(BaseException):
    """Raised into a sync rule at its deadline; a BaseException, so `except Exception` lets it through."""


class _Alarm:
    """The state the SIGALRM handler reads: which deadline holds now, and when the timer fires."""

    __slots__ = ("deadline", "expires", "raised", "running")

    def __init__(self) -> None:
        self.running = False
        """A rule is running: the handler may raise into it. False between rules, where it never raises."""
        self.deadline = 0.0
        self.expires = 0.0
        """`perf_counter` time the timer fires at; 0 when it is not armed."""
        self.raised = 0


_ALARM = _Alarm()


def _on_alarm(signum: int, frame: FrameType | None) -> None:
    alarm = _ALARM
    alarm.expires = 0.0
    if not alarm.running:
        return  # between two rules: the next one arms the timer again
    now = time.perf_counter()
    if now < alarm.deadline:  # armed for an earlier rule's deadline: wait for this one's
        _C_SIGNAL.setitimer(_ITIMER_REAL, alarm.deadline - now)
        alarm.expires = alarm.deadline
        return
    alarm.raised += 1
    _C_SIGNAL.setitimer(_ITIMER_REAL, _REPEAT)  # again, should the rule swallow this one
    alarm.expires = now + _REPEAT
    raise _Overran


def _main_thread_ident() -> int | None:
    return threading.main_thread().ident


_MAIN_THREAD = [_main_thread_ident()]
"""The main thread's id (a child forked from another thread has that one as its main thread)."""
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=lambda: _MAIN_THREAD.__setitem__(0, _main_thread_ident()))


def _alarm_usable(batch: Sequence[PythonRule]) -> bool:
    if not _HAS_ITIMER or threading.get_ident() != _MAIN_THREAD[0]:
        return False
    if _C_SIGNAL.getsignal(_SIGALRM) != _SIG_DFL:
        return False  # someone else's handler (or ours, re-entered): theirs stays untouched
    return not any(rule._conduct.swallowed_alarm for rule in batch)


def _inline(
    batch: Sequence[PythonRule], call: ToolCall, context: CallContext
) -> tuple[list[RuleOutcome], _Pending | None] | None:
    """Run consecutive sync rules on this (the main) thread, one timer guarding them all, up to the first
    deny, failure or awaitable; None, having run nothing, when someone else's timer is running. Synchronous
    from end to end: no other task runs while the handler is set."""
    alarm = _ALARM
    previous = _C_SIGNAL.signal(_SIGALRM, _on_alarm)
    first = batch[0].timeout
    before = _C_SIGNAL.setitimer(_ITIMER_REAL, first)
    if before[0] > 0:  # a timer someone set, with the default handler: leave both as they were
        _C_SIGNAL.setitimer(_ITIMER_REAL, *before)
        _C_SIGNAL.signal(_SIGALRM, previous)
        return None
    alarm.expires = time.perf_counter() + first
    outcomes: list[RuleOutcome] = []
    try:
        for rule in batch:
            outcome = _one_inline(rule, call, context, alarm)
            if isinstance(outcome, _Pending):
                return outcomes, outcome
            outcomes.append(outcome)
            if _stops(outcome):
                break
        return outcomes, None
    finally:
        alarm.running = False
        _C_SIGNAL.setitimer(_ITIMER_REAL, 0)
        _C_SIGNAL.signal(_SIGALRM, previous)
        alarm.expires = 0.0


def _one_inline(rule: PythonRule, call: ToolCall, context: CallContext, alarm: _Alarm) -> RuleOutcome | _Pending:
    view = CallView.of(call)
    args: tuple[Any, ...] = (view, context) if rule.takes_context else (view,)
    started = time.perf_counter()
    deadline = started + rule.timeout
    if not alarm.expires or alarm.expires > deadline:  # not armed, or armed for later than this rule may take
        _C_SIGNAL.setitimer(_ITIMER_REAL, rule.timeout)
        alarm.expires = deadline
    alarm.deadline = deadline
    alarm.raised = 0
    try:
        try:
            alarm.running = True
            value = rule.function(*args)
        finally:
            alarm.running = False
    except _Overran:
        if alarm.raised > 1:
            rule._conduct.swallowed_alarm = True
        return _overran(rule)
    except BaseException as exc:  # noqa: BLE001 - any failure of user code is a deny, by design
        if alarm.raised:
            rule._conduct.swallowed_alarm = True  # it turned the alarm into something else, late
            return _overran(rule)
        return RuleOutcome(rule, None, _raised(rule, exc))
    if alarm.raised:
        rule._conduct.swallowed_alarm = True  # it caught the alarm and returned anyway, past its budget
        return _overran(rule)
    if value is not None and value.__class__ not in _RESULT_TYPES and inspect.isawaitable(value):
        return _Pending(rule, value, started)
    return _judge(rule, value, started)


# -- in a worker thread -----------------------------------------------------------------------------------


class _Progress:
    """What the worker thread has done, read by the watcher on the event loop (single assignments only)."""

    __slots__ = ("abandoned", "at", "outcomes", "pending")

    def __init__(self) -> None:
        self.at: tuple[int, float] = (0, time.perf_counter())
        """The index of the rule running and when it started."""
        self.outcomes: list[RuleOutcome] = []
        self.pending: _Pending | None = None
        self.abandoned = False


@dataclass(frozen=True, slots=True)
class _Raised:
    """What a rule raised in its worker thread, carried back as a value (BaseExceptions included)."""

    exc: BaseException


def _call_caught(function: RuleFunction, args: tuple[Any, ...]) -> Any:
    try:
        return function(*args)
    except BaseException as exc:  # noqa: BLE001 - carried back to the event loop, where it becomes a deny
        return _Raised(exc)


def _run_in_worker(batch: Sequence[PythonRule], call: ToolCall, context: CallContext, progress: _Progress) -> None:
    for index, rule in enumerate(batch):
        if progress.abandoned:
            return
        view = CallView.of(call)
        args: tuple[Any, ...] = (view, context) if rule.takes_context else (view,)
        started = time.perf_counter()
        progress.at = (index, started)
        value = _call_caught(rule.function, args)
        if progress.abandoned:
            return
        if isinstance(value, _Raised):
            outcome = RuleOutcome(rule, None, _raised(rule, value.exc))
        elif value is not None and value.__class__ not in _RESULT_TYPES and inspect.isawaitable(value):
            progress.pending = _Pending(rule, value, started)
            return
        else:
            outcome = _judge(rule, value, started)
        progress.outcomes.append(outcome)
        if _stops(outcome):
            return


async def _threaded(
    batch: Sequence[PythonRule], call: ToolCall, context: CallContext
) -> tuple[list[RuleOutcome], _Pending | None]:
    """Consecutive sync rules in one worker thread, given up at the deadline of the rule it is in: the deny
    comes at the deadline, and the thread, which Python cannot stop, runs on unwatched and runs no more rules
    (its answer, when it comes, is thrown away)."""
    progress = _Progress()
    overran: int | None = None

    async def watch(waiting: anyio.CancelScope) -> None:
        nonlocal overran
        while True:
            index, started = progress.at
            left = started + batch[index].timeout - time.perf_counter()
            if left <= 0 and progress.at == (index, started):
                overran = index
                progress.abandoned = True
                waiting.cancel()
                return
            await anyio.sleep(max(left, 0.001))

    async with anyio.create_task_group() as group:
        with anyio.CancelScope() as waiting:
            group.start_soon(watch, waiting)
            await anyio.to_thread.run_sync(_run_in_worker, batch, call, context, progress, abandon_on_cancel=True)
        group.cancel_scope.cancel()
    if overran is not None:
        return [*progress.outcomes[:overran], _overran(batch[overran])], None
    return list(progress.outcomes), progress.pending


# -- judging what came back ---------------------------------------------------------------------------------


def _overran(rule: PythonRule) -> RuleOutcome:
    return RuleOutcome(rule, None, f"rule {rule.ref.text} overran its {rule.timeout:g} s budget")


async def _finish(rule: PythonRule, pending: Any, started: float) -> RuleOutcome:
    try:
        left = max(started + rule.timeout - time.perf_counter(), 0.0)
        with anyio.fail_after(left):
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
    if time.perf_counter() - started > rule.timeout:  # a rule that blocked past its budget (the event loop too)
        return _overran(rule)
    if value is not None and not isinstance(value, _RESULT_TYPES):
        return RuleOutcome(rule, None, f"rule {rule.ref.text} returned {type(value).__name__}, not Allow/Deny/Ask/None")
    return RuleOutcome(rule, value)
