"""What `magistrate audit show|tail|export` select: a session by any unambiguous prefix, tools, decisions, times.

Shared by every command that lists part of the trail, so each reads `--session 3f2a` and `--since 7d` alike.
A session prefix that names no session, or several, is refused with the candidates listed (exit 1), and a
time that does not read as one is a usage error (exit 2); `refusing` turns both into one line on stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import fnmatch
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from magistrate.broker import DecisionRecord, StoredRecord, TrailReader, parse_record, parse_when

if TYPE_CHECKING:
    from magistrate.broker import TrailRecord

EXIT_NOT_FOUND, EXIT_USAGE = 1, 2
BEHAVIORS = ("allow", "deny", "ask")


@dataclass(frozen=True, slots=True)
class RecordFilter:
    """Which records a listing shows; every condition given must hold."""

    session: str | None = None
    """A full session id (resolved from a prefix by `resolve_session`)."""
    tools: tuple[str, ...] = ()
    """Tool names or globs; any one may match."""
    decisions: tuple[str, ...] = ()
    """Only decision records with one of these behaviours."""
    since: datetime | None = None
    until: datetime | None = None

    def __call__(self, record: StoredRecord) -> bool:
        if self.session is not None and record.session_id != self.session:
            return False
        if self.tools and not any(fnmatch.fnmatchcase(record.tool_name, t) for t in self.tools):
            return False
        if self.decisions and (record.kind != "decision" or behavior_of(record) not in self.decisions):
            return False
        if self.since is not None or self.until is not None:
            when = parse_when(record.time)
            if (self.since is not None and when < self.since) or (self.until is not None and when >= self.until):
                return False
        return True

    @property
    def only_session(self) -> bool:
        """Whether the session is the only condition (the store's session index answers it)."""
        return not (self.tools or self.decisions or self.since or self.until)


def record_of(record: StoredRecord) -> TrailRecord | None:
    """A stored record as its model, of whichever version it was written in; None when its body does not read
    as one (the trail's verification says why)."""
    try:
        return parse_record(record.body)
    except ValueError:
        return None


def behavior_of(record: StoredRecord) -> str | None:
    """A decision record's behavior; None for another record, or one that does not read."""
    parsed = record_of(record)
    return parsed.decision.behavior if isinstance(parsed, DecisionRecord) else None


def add_filter_arguments(parser: argparse.ArgumentParser) -> None:
    """The filters `show` and `tail` share."""
    parser.add_argument("--session", metavar="ID", help="only this session's records (a full id or a prefix)")
    parser.add_argument("--tool", action="append", default=[], metavar="NAME", help="only this tool (a glob; repeat)")
    parser.add_argument(
        "--decision", action="append", default=[], choices=BEHAVIORS, help="only decisions of this kind (repeat)"
    )
    parser.add_argument("--since", metavar="TIME", help="only records at or after TIME (2026-11-25, ...Z, 12h, 7d)")
    parser.add_argument("--until", metavar="TIME", help="only records before TIME")


class RefusedError(Exception):
    """A filter that cannot be applied: the message for stderr, and the exit code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


@contextlib.contextmanager
def scanning(trail: TrailReader, start: int = 0) -> Iterator[Iterator[StoredRecord]]:
    """`trail.scan` whose snapshot is released when the reader stops early (a limit reached)."""
    records = trail.scan(start=start)
    try:
        yield records
    finally:
        close = getattr(records, "close", None)
        if close is not None:
            close()


def resolve_session(trail: TrailReader, given: str) -> str:
    """The one session id that is `given` or starts with it; `RefusedError` when none or several do."""
    if trail.records(limit=1, session_id=given):
        return given
    found: set[str] = set()
    with scanning(trail) as records:
        for record in records:
            if record.session_id.startswith(given):
                found.add(record.session_id)
    if not found:
        raise RefusedError(f"no session is {given!r} or starts with it", EXIT_NOT_FOUND)
    if len(found) > 1:
        shown = ", ".join(sorted(found)[:10]) + (", ..." if len(found) > 10 else "")
        raise RefusedError(f"{len(found)} sessions start with {given!r}: {shown}; give more of the id", EXIT_NOT_FOUND)
    return found.pop()


def record_filter(trail: TrailReader, args: argparse.Namespace) -> RecordFilter:
    try:
        since = parse_when(args.since) if args.since else None
        until = parse_when(args.until) if args.until else None
    except ValueError as exc:
        raise RefusedError(str(exc), EXIT_USAGE) from None
    session = resolve_session(trail, args.session) if args.session else None
    return RecordFilter(session, tuple(args.tool), tuple(args.decision), since, until)


def refusing(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """A command whose refusals (a session prefix of none or several, a bad time) are one line on stderr."""

    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except RefusedError as exc:
            sys.stderr.write(f"magistrate audit {args.audit_command}: {exc}\n")
            return exc.code

    return run
