"""The broker: a policy and a trail behind the one seam the SDK calls, keeping the governance promises.

- No decision leaves before its record is durable: `decide` appends, then returns.
- Any failure is a deny, and the deny is recorded: a policy that raises (any `BaseException`: `SystemExit`,
  `KeyboardInterrupt`, `GeneratorExit` and `CancelledError` included) or returns anything but a `Decision`
  gives a deny naming what went wrong; a trail that cannot be written turns even an allow into a deny (and
  the broker tries to record that too). A cancellation of the caller is re-raised once its deny is recorded,
  so cancelling still cancels, but never leaves a call undecided in the trail.
- Rules cannot change what they were not given: the policy decides over a copy of the call, its context's
  labels and history are read-only, and the input that is recorded and run is the broker's own copy, taken
  before the policy saw anything. A policy that changes its input in place changes nothing; only the input
  of the decision it returns can differ (and `RulePolicy` checks a rewrite against deny and ask again).
- Rules see the session's history: the broker remembers, per session id, the decisions it made (oldest
  first) and hands them to the policy in `CallContext.history`, so "after reading secrets, no network" works
  without the caller keeping state. A caller that passes its own history keeps it. The memory is bounded:
  the last `history_limit` decisions of the `session_limit` most recently active sessions.
- A session the broker has not seen yet (a resumed session, another broker process, a session forgotten to
  the bound) gets its history from the trail, so restarting cannot wash a session clean. Those inputs are
  the recorded ones, secrets already replaced by keyed hashes. If that history cannot be read, the call is a
  recorded deny.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections import OrderedDict, deque
from collections.abc import Iterable, Mapping

import anyio
import anyio.to_thread

from magistrate.broker._audit_records import ApprovalRecord, DecisionRecord, OutcomeRecord, jsonable
from magistrate.broker._call import CallContext, PriorDecision, ToolCall
from magistrate.broker._cli_decisions import require_cli_source
from magistrate.broker._decision import Decision
from magistrate.broker._defaults import HISTORY_LIMIT
from magistrate.broker._immutable import FrozenDict, frozen_mapping, thawed_mapping
from magistrate.broker._interfaces import Approval, Policy, ToolOutcome
from magistrate.broker._log import get_logger
from magistrate.broker._trail import Trail

_log = get_logger("magistrate.broker")


class Broker:
    """Decides tool calls with `policy` and records every decision, outcome and approval in `trail`."""

    def __init__(
        self,
        policy: Policy,
        trail: Trail,
        *,
        history_limit: int = HISTORY_LIMIT,
        session_limit: int = 1024,
        resume_history: bool = True,
    ) -> None:
        self.policy = policy
        self.trail = trail
        self._history_limit = history_limit
        self._session_limit = session_limit
        self._resume = resume_history
        self._sessions: OrderedDict[str, deque[PriorDecision]] = OrderedDict()
        self._last_seq: dict[str, int] = {}
        """Where each remembered session's latest decision sits in the trail; the next one links to it."""

    def history(self, session_id: str) -> tuple[PriorDecision, ...]:
        """The decisions made so far in a session, oldest first, as rules see them."""
        return tuple(self._sessions.get(session_id, ()))

    def _session(self, session_id: str, loaded: Iterable[PriorDecision] = ()) -> deque[PriorDecision]:
        past = self._sessions.get(session_id)
        if past is None:
            past = self._sessions[session_id] = deque(loaded, maxlen=self._history_limit)
            while len(self._sessions) > self._session_limit:
                forgotten, _ = self._sessions.popitem(last=False)
                self._last_seq.pop(forgotten, None)
        self._sessions.move_to_end(session_id)
        return past

    async def _history_of(self, session_id: str) -> tuple[PriorDecision, ...]:
        if session_id in self._sessions or not session_id or not self._resume:
            return self.history(session_id)
        loaded = await anyio.to_thread.run_sync(self._load_history, session_id)
        return tuple(self._session(session_id, loaded))

    def _load_history(self, session_id: str) -> list[PriorDecision]:
        log = self.trail.session_log(session_id, self._history_limit)
        if log:
            self._last_seq[session_id] = max(log[-1][0], self._last_seq.get(session_id, -1))
        return [
            PriorDecision(r.tool_name, frozen_mapping(r.input), r.decision.behavior, _rule_id(r.decision))
            for _, r in log
        ]

    def _remember(self, session_id: str, call: ToolCall, decision: Decision) -> None:
        prior = PriorDecision(call.tool_name, frozen_mapping(call.tool_input), decision.behavior, _rule_id(decision))
        self._session(session_id).append(prior)

    async def decide(self, call: ToolCall, context: CallContext) -> Decision:
        """Decide `call` and durably record the decision; on any failure, a recorded deny."""
        started = time.perf_counter_ns()
        decision: Decision | None = None
        call = ToolCall(call.tool_name, thawed_mapping(call.tool_input), call.tool_use_id)  # the broker's own copy
        history = _frozen_history(context.history, self._sessions.get(context.session_id, ()))
        context = dataclasses.replace(context, labels=dict(context.labels), history=history)
        cancelled: BaseException | None = None
        if not context.history:
            try:
                context = dataclasses.replace(context, history=await self._history_of(context.session_id))
            except BaseException as exc:  # without its history, a session's rules cannot judge
                if not isinstance(exc, Exception) and not _is_cancellation(exc):
                    raise  # SystemExit or KeyboardInterrupt of this process, not of a rule: it goes on
                cancelled = None if isinstance(exc, Exception) else exc
                _log.error("history_unreadable", session=context.session_id, error=repr(exc))
                message = "the session's history could not be read, so the call is denied"
                decision = self._deny(call, message, f"history: {exc}", time.perf_counter_ns() - started)
        if decision is None:
            asked = ToolCall(call.tool_name, thawed_mapping(call.tool_input), call.tool_use_id)
            shown = dataclasses.replace(context, labels=frozen_mapping(context.labels))
            try:
                decided: object = await self.policy.decide(asked, shown)
            except BaseException as exc:  # noqa: BLE001 - fail closed on anything a policy raises, by design
                cancelled = exc if _is_cancellation(exc) else None
                _log.error("policy_failed", tool=call.tool_name, error=repr(exc))
                message = "the policy failed, so the call is denied"
                decision = self._deny(call, message, f"policy raised {exc!r}", time.perf_counter_ns() - started)
            else:
                decision = self._checked(call, decided, started)
                # The input to run: the broker's copy unless the decision names another (a rewrite), never
                # the policy's copy, which its rules may have changed in place.
                chosen = call.tool_input if decision.input is asked.tool_input else thawed_mapping(decision.input)
                decision = dataclasses.replace(decision, input=chosen)
        if cancelled is not None:
            # The caller is being cancelled: record the deny where cancellation cannot reach, then let it go on.
            with anyio.CancelScope(shield=True):
                await self._record(call, context, decision)
            raise cancelled
        return await self._record(call, context, decision)

    def _checked(self, call: ToolCall, decided: object, started: int) -> Decision:
        """The policy's answer if it is a well-formed `Decision`; else a deny saying what came back instead."""
        if (
            isinstance(decided, Decision)
            and decided.behavior in ("allow", "deny", "ask")
            and isinstance(decided.input, Mapping)
        ):
            return decided
        what = type(decided).__name__
        if isinstance(decided, Decision):
            what = f"a Decision with behavior {decided.behavior!r} and input {type(decided.input).__name__}"
        _log.error("policy_returned_no_decision", tool=call.tool_name, returned=what)
        message = "the policy did not return a decision, so the call is denied"
        return self._deny(call, message, f"policy returned {what}, not a Decision", time.perf_counter_ns() - started)

    async def _record(self, call: ToolCall, context: CallContext, decision: Decision) -> Decision:
        """Append the decision (a deny instead when that fails), remember it for the session, return it."""
        try:
            await self._append_decision(call, context, decision)
        except Exception as exc:  # noqa: BLE001 - an unrecorded decision must not be an allow
            _log.error("trail_append_failed", tool=call.tool_name, error=repr(exc))
            failed = self._deny(
                call,
                "the audit trail could not record the decision, so the call is denied",
                f"trail append failed: {exc}",
                decision.elapsed_ns,
            )
            kept = (decision.rule, *decision.matched) if decision.rule else decision.matched
            failed = dataclasses.replace(failed, matched=kept)
            # Record the deny even when the input itself was what could not be encoded.
            plain = dataclasses.replace(call, tool_input=jsonable(call.tool_input))
            try:
                await self._append_decision(plain, context, dataclasses.replace(failed, input=plain.tool_input))
            except Exception as again:  # noqa: BLE001 - nothing more to do than say so
                _log.error("trail_append_failed_again", tool=call.tool_name, error=repr(again))
            decision = failed
        self._remember(context.session_id, call, decision)
        return decision

    def _deny(self, call: ToolCall, message: str, error: str, elapsed_ns: int) -> Decision:
        version = ""
        with contextlib.suppress(Exception):  # the version is informative; failing closed matters more
            version = self.policy.version
        return Decision(
            behavior="deny",
            input=call.tool_input,
            message=f"magistrate: {message}",
            rule=None,
            policy_version=version,
            elapsed_ns=elapsed_ns,
            error=error,
        )

    async def record_outcome(self, outcome: ToolOutcome) -> None:
        """Append a call's outcome, linked to its decision by `tool_use_id`; raises `AuditError` on failure."""
        await self.trail.append(OutcomeRecord.of(outcome))

    async def record_approval(self, approval: Approval) -> None:
        """Append who answered an ask, and how; raises `AuditError` on failure."""
        await self.trail.append(ApprovalRecord.of(approval))

    async def record_cli_decision(self, call: ToolCall, context: CallContext, decision: Decision) -> None:
        """Append a decision the CLI made alone; raises `AuditError` on failure, `ValueError` for a decision
        that does not name the CLI as its source (the policy's decisions are only ever made by `decide`)."""
        require_cli_source(decision)
        await self._append_decision(call, context, decision)
        self._remember(context.session_id, call, decision)

    async def _append_decision(self, call: ToolCall, context: CallContext, decision: Decision) -> None:
        """Append a decision record linked to the session's previous decision, and remember where it went."""
        session = context.session_id
        previous = self._last_seq.get(session) if session else None
        receipt = await self.trail.append(DecisionRecord.of(call, context, decision, previous=previous))
        seq = getattr(receipt, "seq", None)
        if session and isinstance(seq, int):
            self._last_seq[session] = max(seq, self._last_seq.get(session, -1))


def _rule_id(decision: Decision) -> str | None:
    return decision.rule.id if decision.rule is not None else None


def _is_cancellation(exc: BaseException) -> bool:
    """True when `exc` is the event loop cancelling the caller, not a rule raising `CancelledError` itself.

    Only the first must travel on (after its deny is recorded); a rule's own `CancelledError`, with no
    cancellation requested, is just one more way for a rule to fail, and ends as a plain recorded deny."""
    if not isinstance(exc, anyio.get_cancelled_exc_class()):
        return False
    try:
        task = asyncio.current_task()
    except RuntimeError:  # not asyncio (trio): its cancellation cannot be raised by user code
        return True
    cancelling = getattr(task, "cancelling", None)  # Python 3.11+
    return task is None or cancelling is None or cancelling() > 0


_ALIGN = 8
"""How many of its latest remembered decisions the broker looks back over to find a caller's latest one."""


def _frozen_history(
    history: tuple[PriorDecision, ...], known: Iterable[PriorDecision] = ()
) -> tuple[PriorDecision, ...]:
    """A caller's history with read-only inputs (the broker's own memory already holds them so).

    A remote client sends its session's history (up to a thousand decisions) with every call, and most of
    it is what this broker remembers of the session already (`known`, frozen): an entry equal to the one
    remembered at the same place is taken from memory instead of being copied once more."""
    if all(type(p.tool_input) is FrozenDict for p in history):
        return history
    mine = tuple(known)
    shared = 0
    if mine and history:
        # The caller's latest decision is among the broker's latest (a call of the session may be in flight).
        for back in range(min(_ALIGN, len(mine))):
            if mine[len(mine) - 1 - back] == history[-1]:
                mine = mine[: len(mine) - back]
                shared = min(len(mine), len(history))
                break
    start = len(history) - shared
    offset = len(mine) - shared
    return tuple(
        p
        if type(p.tool_input) is FrozenDict
        else mine[offset + i - start]
        if i >= start and mine[offset + i - start] == p
        else PriorDecision(p.tool_name, frozen_mapping(p.tool_input), p.behavior, p.rule_id)
        for i, p in enumerate(history)
    )
