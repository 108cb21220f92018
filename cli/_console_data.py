"""What the console and the HTML report show, read from the trail as values; no HTML here.

Everything is read through `TrailReader`'s public questions, so the pages see the same trail `magistrate audit`
does. A page of decisions is found by keyset pagination: newest first from an exclusive `before` position,
reading the trail backwards in batches by its primary key and filtering each record, so a trail of a million
records is never loaded whole. A selective filter could otherwise read the whole trail for one page, so one
request examines at most `SCAN_BUDGET` records and hands back where it stopped; the next page continues there.
"""

from __future__ import annotations

import fnmatch
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from magistrate.broker import (
    ApprovalRecord,
    DecisionRecord,
    MagistrateError,
    OutcomeRecord,
    RuleRef,
    StoredRecord,
    TrailReader,
    TrailVerificationError,
    key_id,
    leaf_hash,
    load_public_key,
    parse_when,
    verify_inclusion,
)
from magistrate.cli._audit_filter import record_of

if TYPE_CHECKING:
    from magistrate.broker import TrailRecord

SCAN_BUDGET = 20_000
"""Records one request may examine for a page of decisions before it stops and offers to continue."""
_BATCH = 1_000
PAGE_SIZE = 50


def record_time(text: str) -> str:
    """A user's time bound (`2026-11-25`, `...T09:00Z`, `7d`) in the trail's own time format, so it compares
    with a record's time as text; ValueError names what is wrong."""
    when = parse_when(text).astimezone(timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class DecisionFilters(BaseModel):
    """The Decisions page's query string: every filter, and where the page starts. Parsed at the boundary."""

    model_config = ConfigDict(frozen=True, extra="ignore", str_strip_whitespace=True)

    session: str = ""
    """A session id or a prefix of one."""
    tool: str = ""
    """A tool name, or a glob of names (`mcp__*`)."""
    decision: Literal["", "allow", "deny", "ask"] = ""
    rule: str = ""
    """The deciding rule's id, or part of its text."""
    since: str = ""
    """Records at or after this time (RFC 3339, a date, or an age such as `7d`)."""
    until: str = ""
    """Records before this time."""
    q: str = ""
    """Free text, searched in the whole record (case-insensitive)."""
    before: int | None = Field(default=None, ge=0)
    """Keyset: only records with a position below this one (the next page's start)."""

    @field_validator("since", "until")
    @classmethod
    def _a_time(cls, value: str) -> str:
        if value:
            record_time(value)  # raises ValueError with the accepted forms
        return value

    def query(self, **changes: Any) -> dict[str, str]:
        """The filters as query parameters (the empty ones left out), with `changes` applied."""
        values = {**self.model_dump(), **changes}
        return {k: str(v) for k, v in values.items() if v not in ("", None)}


@dataclass(frozen=True, slots=True)
class TrailStatus:
    """The trail's verification, done when the page was asked for."""

    ok: bool
    size: int = 0
    checkpoint_size: int | None = None
    checkpoint_time: str | None = None
    root: str = ""
    seq: int | None = None
    """The first bad record, when one is to blame."""
    problem: str = ""
    message: str = ""


def trail_status(reader: TrailReader, key_path: Path) -> TrailStatus:
    """Verify the whole trail with the key at `key_path` (and the witness beside it); any fault is `ok=False`."""
    if not key_path.exists():
        return TrailStatus(ok=False, problem="no-key", message=f"no key to verify with: {key_path} does not exist")
    try:
        keys = [load_public_key(key_path)]
        report = reader.verify(keys, witness=reader.witness_checkpoint(key_path))
    except TrailVerificationError as exc:
        return TrailStatus(ok=False, seq=exc.seq, problem=exc.problem or "failed", message=str(exc))
    except MagistrateError as exc:
        return TrailStatus(ok=False, problem="unreadable", message=str(exc))
    if getattr(report, "ok", True) is not True:  # a report that names a fault without raising is a failure too
        return TrailStatus(ok=False, problem="failed", message=str(getattr(report, "message", report)))
    latest = report.checkpoint
    return TrailStatus(
        ok=True,
        size=report.size,
        checkpoint_size=latest.size if latest else None,
        checkpoint_time=latest.time if latest else None,
        root=report.root.hex(),
    )


def _body(record: StoredRecord) -> dict[str, Any]:
    """The stored record's fields as they were signed, for the page that shows them all."""
    try:
        body = json.loads(record.body)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _decision_of(record: StoredRecord) -> DecisionRecord | None:
    parsed = record_of(record)
    return parsed if isinstance(parsed, DecisionRecord) else None


def rule_where(rule: RuleRef | None) -> str:
    """Where a recorded rule was written (`policy.py:12`, `settings`)."""
    return "" if rule is None else str(rule.source)


@dataclass(frozen=True, slots=True)
class DecisionRow:
    """One decision as the table shows it, with its approval and outcome when the trail holds them."""

    seq: int
    time: str
    session_id: str
    agent_id: str
    tool_name: str
    tool_use_id: str
    input: dict[str, Any]
    behavior: str
    message: str
    rule_id: str
    rule_text: str
    rule_where: str
    approver: str = ""
    approval: str = ""
    note: str = ""
    outcome: str = ""


def _row(record: StoredRecord, parsed: DecisionRecord | None, linked: list[TrailRecord]) -> DecisionRow:
    decision = None if parsed is None else parsed.decision
    rule = None if decision is None else decision.rule
    approver = approval = note = outcome = ""
    for other in linked:
        if isinstance(other, ApprovalRecord) and not approver:
            approver, approval, note = other.approval.approver, other.approval.behavior, other.approval.note
        elif isinstance(other, OutcomeRecord) and not outcome:
            outcome = other.outcome.status
    return DecisionRow(
        seq=record.seq,
        time=record.time,
        session_id=record.session_id,
        agent_id=(parsed.context.agent_id or "") if parsed is not None else "",
        tool_name=record.tool_name,
        tool_use_id=record.tool_use_id or "",
        input=dict(parsed.input) if parsed is not None else {},
        behavior=decision.behavior if decision is not None else "",
        message=decision.message if decision is not None else "",
        rule_id=rule.id if rule is not None else "",
        rule_text=rule.text if rule is not None else "",
        rule_where=rule_where(rule),
        approver=approver,
        approval=approval,
        note=note,
        outcome=outcome,
    )


def _columns_match(record: StoredRecord, f: DecisionFilters, since: str, until: str) -> bool:
    """The filters the lookup columns answer (cheap: no record is parsed)."""
    if record.kind != "decision":
        return False
    if f.session and not record.session_id.startswith(f.session):
        return False
    if f.tool and not fnmatch.fnmatchcase(record.tool_name, f.tool):
        return False
    return not ((since and record.time < since) or (until and record.time >= until))


def _record_matches(record: StoredRecord, parsed: DecisionRecord | None, f: DecisionFilters) -> bool:
    """The filters that need the record itself."""
    decision = None if parsed is None else parsed.decision
    if f.decision and (decision is None or decision.behavior != f.decision):
        return False
    if f.rule:
        rule = None if decision is None else decision.rule
        if rule is None or (f.rule != rule.id and f.rule not in rule.text):
            return False
    return not (f.q and f.q.lower() not in record.body.decode("utf-8", "replace").lower())


def _first_at_or_after(reader: TrailReader, time: str, size: int) -> int:
    """The first position whose record is at or after `time` (records are appended in time order)."""
    lo, hi = 0, size
    while lo < hi:
        mid = (lo + hi) // 2
        found = reader.record(mid)
        if found is None or found.time >= time:
            hi = mid
        else:
            lo = mid + 1
    return lo


@dataclass(frozen=True, slots=True)
class DecisionPage:
    """A page of decisions, newest first, and where the next (older) page starts."""

    rows: list[DecisionRow]
    next_before: int | None
    """Pass as `before` for the next page; None when nothing older is left."""
    examined: tuple[int, int]
    """The positions this request looked through, `[low, high)`."""
    total: int
    """The trail's size when the page was read."""


def decision_page(
    reader: TrailReader, filters: DecisionFilters, *, limit: int = PAGE_SIZE, budget: int | None = SCAN_BUDGET
) -> DecisionPage:
    """Up to `limit` decisions matching `filters`, newest first from `filters.before`, examining at most
    `budget` records (None: no bound, for a report)."""
    since = record_time(filters.since) if filters.since else ""
    until = record_time(filters.until) if filters.until else ""
    size = reader.size()
    high = size if filters.before is None else min(filters.before, size)
    if until:
        high = min(high, _first_at_or_after(reader, until, high))
    low = _first_at_or_after(reader, since, high) if since else 0
    found: list[tuple[StoredRecord, DecisionRecord | None]] = []
    cursor, examined = high, 0
    while cursor > low and len(found) < limit and (budget is None or examined < budget):
        step = _BATCH if budget is None else min(_BATCH, budget - examined)
        start = max(low, cursor - step)
        batch = reader.records(start=start, limit=cursor - start)
        for record in reversed(batch):
            cursor = record.seq
            examined += 1
            if _columns_match(record, filters, since, until):
                parsed = _decision_of(record)
                if _record_matches(record, parsed, filters):
                    found.append((record, parsed))
                    if len(found) == limit:
                        break
        else:
            cursor = start
    linked: dict[str, list[tuple[int, TrailRecord]]] = {}
    for other in reader.of_calls(r.tool_use_id for r, _ in found if r.tool_use_id):
        if other.kind != "decision" and other.tool_use_id and (parsed_other := record_of(other)) is not None:
            linked.setdefault(other.tool_use_id, []).append((other.seq, parsed_other))
    rows = [
        _row(r, parsed, [o for seq, o in linked.get(r.tool_use_id or "", []) if seq > r.seq]) for r, parsed in found
    ]
    return DecisionPage(rows, cursor if cursor > low else None, (cursor, high), size)


@dataclass
class SessionSummary:
    """One session as the overview lists it."""

    session_id: str
    first: str
    last: str
    decisions: int = 0
    denied: int = 0
    agents: set[str] = field(default_factory=set)


@dataclass
class Overview:
    """Counts over the trail (or the part of it selected), and its sessions, newest first."""

    records: int = 0
    by_decision: Counter[str] = field(default_factory=Counter)
    by_tool: Counter[str] = field(default_factory=Counter)
    by_kind: Counter[str] = field(default_factory=Counter)
    sessions: list[SessionSummary] = field(default_factory=list)


def overview(reader: TrailReader, *, session: str = "", since: str = "") -> Overview:
    """One streaming pass over the trail: counts by decision, tool and kind, and the sessions."""
    bound = record_time(since) if since else ""
    out = Overview()
    sessions: dict[str, SessionSummary] = {}
    for record in reader.scan():
        if (session and not record.session_id.startswith(session)) or (bound and record.time < bound):
            continue
        out.records += 1
        out.by_kind[record.kind] += 1
        summary = sessions.get(record.session_id)
        if summary is None:
            summary = sessions[record.session_id] = SessionSummary(record.session_id, record.time, record.time)
        summary.last = max(summary.last, record.time)
        if record.kind != "decision":
            continue
        parsed = _decision_of(record)
        behavior = "" if parsed is None else parsed.decision.behavior
        out.by_decision[behavior] += 1
        out.by_tool[record.tool_name] += 1
        summary.decisions += 1
        summary.denied += behavior == "deny"
        if parsed is not None and parsed.context.agent_id:
            summary.agents.add(parsed.context.agent_id)
    out.sessions = sorted(sessions.values(), key=lambda s: s.last, reverse=True)
    return out


@dataclass(frozen=True, slots=True)
class ProofCheck:
    """The record's inclusion proof against the latest signed checkpoint, checked here."""

    ok: bool
    message: str
    path: tuple[str, ...] = ()
    checkpoint_size: int | None = None
    checkpoint_time: str = ""
    root: str = ""
    key_id: str = ""


@dataclass(frozen=True, slots=True)
class RecordDetail:
    """One record in full, its hashes, its proof, and the other records of the same call."""

    record: StoredRecord
    body: dict[str, Any]
    """The fields as they were stored and signed, in the shape of the record's version."""
    parsed: TrailRecord | None
    """The record as its model (None when the body does not read as one)."""
    content_matches: bool
    """The stored bytes still hash to the stored leaf."""
    proof: ProofCheck
    linked: list[StoredRecord]


def check_proof(reader: TrailReader, record: StoredRecord, key_path: Path) -> ProofCheck:
    """Build the record's inclusion proof and check it: the path leads from its leaf to the root of the latest
    checkpoint, whose signature holds under the trail's key."""
    try:
        proof = reader.inclusion_proof(record.seq)
    except MagistrateError as exc:
        return ProofCheck(False, str(exc))
    cp = proof.checkpoint

    def result(ok: bool, message: str) -> ProofCheck:
        path = tuple(h.hex() for h in proof.proof)
        return ProofCheck(ok, message, path, cp.size, cp.time, cp.root.hex(), cp.key_id)

    if proof.leaf != record.leaf:
        return result(False, "the proof's leaf is not this record's stored leaf")
    if not verify_inclusion(proof.leaf, record.seq, cp.size, proof.proof, cp.root):
        return result(False, "the audit path does not lead to the checkpoint's root")
    try:
        public = load_public_key(key_path)
    except (MagistrateError, OSError) as exc:
        return result(False, f"the path holds, but the checkpoint cannot be checked: {exc}")
    problem = cp.verify({key_id(public): public})
    if problem is not None:
        return result(False, f"the path holds, but the checkpoint {problem}")
    return result(True, f"included in the signed tree of {cp.size} records (signed {cp.time} by key {cp.key_id})")


def record_detail(reader: TrailReader, seq: int, key_path: Path) -> RecordDetail | None:
    """Record `seq` in full, or None when the trail has no such record."""
    record = reader.record(seq)
    if record is None:
        return None
    linked = [r for r in reader.of_calls([record.tool_use_id]) if r.seq != seq] if record.tool_use_id else []
    return RecordDetail(
        record=record,
        body=_body(record),
        parsed=record_of(record),
        content_matches=leaf_hash(record.body) == record.leaf,
        proof=check_proof(reader, record, key_path),
        linked=linked,
    )
