"""Replay: re-decide the calls a trail recorded under a candidate policy, to see what a change would change.

Each recorded decision is decided again with the context recorded for it (cwd, permission mode, session,
labels, agent, additional directories) and the session's history. The history is the one that really
happened: the session's earlier decisions as recorded, not as the candidate would have made them. A
candidate that denies a call early cannot know what the model would have done next, so the honest question
replay answers is "given exactly these sessions, which decisions would differ?".

Inputs are the recorded ones, so a value the trail redacted is replayed as its keyed hash. The trail is
only read (a reader's store, one snapshot) and is verified first, and only the records the verification
covered are replayed; a trail that fails verification (or that no key is at hand for) is replayed only when
the caller says so (`unverified=True`), and the report says it was not verified.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from magistrate.broker._call import CallContext, PriorDecision, ToolCall
from magistrate.broker._decision import Behavior, Decision
from magistrate.broker._defaults import HISTORY_LIMIT
from magistrate.broker._interfaces import Policy
from magistrate.broker._trail_errors import AuditError, TrailVerificationError

if TYPE_CHECKING:
    from magistrate.broker._audit_records import DecisionRecord

CHANGE_KINDS = tuple(f"{a}-to-{b}" for a in ("allow", "deny", "ask") for b in ("allow", "deny", "ask") if a != b)


@dataclass(frozen=True, slots=True)
class RecordedCall:
    """A decision record as replay needs it."""

    seq: int
    time: str
    session_id: str
    tool_name: str
    input: Mapping[str, Any]
    behavior: Behavior
    rule_id: str | None
    rule_text: str | None
    context: CallContext
    tool_use_id: str | None


@dataclass(frozen=True, slots=True)
class ReplayChange:
    """One recorded call the candidate decides differently."""

    seq: int
    time: str
    session_id: str
    tool: str
    input: Mapping[str, Any]
    old: Behavior
    new: Behavior
    old_rule: str | None
    new_rule: str | None
    new_message: str = ""

    @property
    def kind(self) -> str:
        return f"{self.old}-to-{self.new}"

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "time": self.time,
            "session": self.session_id,
            "tool": self.tool,
            "input": dict(self.input),
            "old": self.old,
            "new": self.new,
            "kind": self.kind,
            "old_rule": self.old_rule,
            "new_rule": self.new_rule,
            "message": self.new_message,
        }


@dataclass(frozen=True, slots=True)
class ReplayReport:
    """What replaying a trail under a candidate policy found."""

    calls: int
    """How many recorded calls were re-decided (after the filters)."""
    changes: tuple[ReplayChange, ...]
    verified: bool
    """False when the trail was replayed with `unverified=True` and did not verify (or could not be)."""
    verify_problem: str | None = None
    policy_version: str = ""
    by_kind: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The summary as one object (the changes themselves are `change_lines`)."""
        return {
            "calls": self.calls,
            "changed": len(self.changes),
            "by_kind": {kind: self.by_kind.get(kind, 0) for kind in CHANGE_KINDS},
            "verified": self.verified,
            "verify_problem": self.verify_problem,
            "policy_version": self.policy_version,
        }

    def failing(self, kinds: Iterable[str] | None = None) -> tuple[ReplayChange, ...]:
        """The changes of the given kinds (`allow-to-deny`, ...); every change when `kinds` is None."""
        wanted = None if kinds is None else set(kinds)
        return tuple(c for c in self.changes if wanted is None or c.kind in wanted)


def parse_when(text: str, *, now: datetime | None = None) -> datetime:
    """A time bound: RFC 3339 / ISO 8601 (`2026-11-25`, `2026-11-25T09:00:00Z`) or an age (`7d`, `12h`, `30m`)."""
    now = now or datetime.now(timezone.utc)
    units = {"d": "days", "h": "hours", "m": "minutes", "w": "weeks"}
    text = text.strip()
    if text[-1:] in units and text[:-1].isdigit():
        return now - timedelta(**{units[text[-1]]: int(text[:-1])})
    try:
        when = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1:] in {"Z", "z"} else text)
    except ValueError:
        raise ValueError(f"not a time: {text!r} (write 2026-11-25, 2026-11-25T09:00:00Z, 7d or 12h)") from None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _recorded(seq: int, record: DecisionRecord) -> RecordedCall:
    rule = record.decision.rule
    return RecordedCall(
        seq=seq,
        time=record.time,
        session_id=record.session_id,
        tool_name=record.tool_name,
        input=dict(record.input),
        behavior=record.decision.behavior,
        rule_id=None if rule is None else rule.id,
        rule_text=None if rule is None else rule.text,
        context=record.context,
        tool_use_id=record.tool_use_id,
    )


def default_public_keys() -> list[Ed25519PublicKey]:
    """The keys `magistrate audit verify` trusts by default: this user's trail key (`MAGISTRATE_TRAIL_KEY` or
    the configuration directory's `trail.key`) and `MAGISTRATE_TRAIL_TRUSTED_KEYS`, those that exist."""
    from magistrate.broker._config import Environment
    from magistrate.broker._signing import load_public_key

    env = Environment.read()
    paths = [env.key_path, *(Path(p).expanduser() for p in env.trusted_keys)]
    return [load_public_key(p) for p in paths if p.is_file()]


def read_recorded_calls(
    db: str | Path, public_keys: Iterable[Ed25519PublicKey], *, unverified: bool = False
) -> tuple[list[RecordedCall], str | None]:
    """Every decision record of the trail at `db`, oldest first, and why it is not verified (None: verified).

    The one place replay reads the trail. With no key the trail cannot be verified, which is an error unless
    `unverified`. A verified trail is read up to the size that verified. Raises AuditError when the trail
    cannot be read.
    """
    from magistrate.broker._audit_records import DecisionRecord, parse_record
    from magistrate.broker._trail_reader import TrailReader

    keys = list(public_keys)
    with TrailReader.open(db) as trail:
        problem: str | None = None
        size: int | None = None
        if not keys:
            problem = "no public key to verify the trail with"
        else:
            try:
                size = trail.verify(keys).size
            except TrailVerificationError as exc:
                problem = f"the trail does not verify: {exc}"
        if problem is not None and not unverified:
            raise AuditError(f"{problem}; replay it anyway with --unverified (unverified=True)")
        calls: list[RecordedCall] = []
        for stored in trail.scan():
            if size is not None and stored.seq >= size:
                break
            try:
                record = parse_record(stored.body)
            except ValueError as exc:
                raise AuditError(f"record {stored.seq} is unreadable: {exc}") from None
            if isinstance(record, DecisionRecord):
                calls.append(_recorded(stored.seq, record))
        return calls, problem


def _aware(when: datetime | None) -> datetime | None:
    """A time without a zone is UTC, as the trail's times are."""
    return when.replace(tzinfo=timezone.utc) if when is not None and when.tzinfo is None else when


def _in_range(call: RecordedCall, since: datetime | None, until: datetime | None) -> bool:
    if since is None and until is None:
        return True
    when = parse_when(call.time)
    return (since is None or when >= since) and (until is None or when < until)


async def _decide(policy: Policy, call: ToolCall, context: CallContext) -> Decision:
    """As the broker decides: a policy that raises gives a deny."""
    try:
        return await policy.decide(call, context)
    except Exception as exc:  # noqa: BLE001 - fail closed, as the broker would
        return Decision("deny", call.tool_input, message="the policy failed", error=f"{type(exc).__name__}: {exc}")


async def replay_calls(
    policy: Policy,
    calls: Iterable[RecordedCall],
    *,
    session: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    tools: Iterable[str] = (),
) -> tuple[int, list[ReplayChange]]:
    """Re-decide recorded calls (oldest first) under `policy`; returns how many were decided and the changes."""
    import fnmatch

    patterns = tuple(tools)
    histories: dict[str, deque[PriorDecision]] = {}
    count = 0
    changes: list[ReplayChange] = []
    for call in calls:
        past = histories.get(call.session_id)
        if past is None:
            past = histories[call.session_id] = deque(maxlen=HISTORY_LIMIT)
        wanted = (
            (session is None or call.session_id == session)
            and (not patterns or any(fnmatch.fnmatchcase(call.tool_name, p) for p in patterns))
            and _in_range(call, since, until)
        )
        if wanted:
            context = CallContext(
                session_id=call.context.session_id,
                cwd=call.context.cwd,
                additional_directories=call.context.additional_directories,
                permission_mode=call.context.permission_mode,
                labels=call.context.labels,
                history=tuple(past),
                agent_id=call.context.agent_id,
            )
            decision = await _decide(policy, ToolCall(call.tool_name, call.input, call.tool_use_id), context)
            count += 1
            if decision.behavior != call.behavior:
                new_rule = None if decision.rule is None else decision.rule.text
                changes.append(
                    ReplayChange(
                        call.seq,
                        call.time,
                        call.session_id,
                        call.tool_name,
                        call.input,
                        call.behavior,
                        decision.behavior,
                        call.rule_text,
                        new_rule,
                        decision.message,
                    )
                )
        if call.session_id:
            past.append(PriorDecision(call.tool_name, call.input, call.behavior, call.rule_id))
    return count, changes


async def replay_trail(
    policy: Policy | str | Path,
    db: str | Path,
    *,
    public_keys: Iterable[Ed25519PublicKey] | None = None,
    unverified: bool = False,
    session: str | None = None,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
    tools: Iterable[str] = (),
) -> ReplayReport:
    """Replay the trail at `db` under `policy` (a policy, or the path of one), read-only; for notebooks and CI.

    `public_keys` verify the trail (default: `default_public_keys()`). `session`, `since`, `until` (a
    datetime, an ISO time or an age such as `7d`; `until` is exclusive) and `tools` (names or globs) choose
    which calls are re-decided; every earlier call of a session still counts as its history. Raises
    AuditError when the trail cannot be read or does not verify (unless `unverified`), PolicyLoadError when
    the policy does not load, and ValueError for a time it cannot read.
    """
    import anyio.to_thread

    if isinstance(policy, (str, Path)):
        from magistrate.broker._policy_sources import load_policy

        policy = load_policy(policy)
    start, end = (_aware(parse_when(t) if isinstance(t, str) else t) for t in (since, until))
    keys = default_public_keys() if public_keys is None else list(public_keys)
    calls, problem = await anyio.to_thread.run_sync(lambda: read_recorded_calls(db, keys, unverified=unverified))
    count, changes = await replay_calls(policy, calls, session=session, since=start, until=end, tools=tools)
    by_kind = {kind: n for kind in CHANGE_KINDS if (n := sum(c.kind == kind for c in changes))}
    version = str(getattr(policy, "version", ""))
    return ReplayReport(count, tuple(changes), problem is None, problem, version, by_kind)


def change_lines(report: ReplayReport) -> list[str]:
    """The changes as JSON lines, one object a line (`--json`)."""
    return [json.dumps(c.to_json(), ensure_ascii=False, sort_keys=True) for c in report.changes]
