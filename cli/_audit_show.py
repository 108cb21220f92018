"""`magistrate audit show|tail`: read the trail as a person does, and never show a tampered one as if it were sound.

Both verify the trail first, as `audit verify` does (the key, or `--public-key`, and the witness beside the
key), unless `--no-verify`. When it does not verify every row is marked `!`, stderr says what is wrong, and
the command exits 1 after listing; with no key to verify with, stderr says so and the rows are listed
unmarked (exit 0). Rows are filtered by session (a full id or any unambiguous prefix of one), tool (a
glob), decision and time; `--since`/`--until` take an ISO time (`2026-11-25`, `2026-11-25T09:00:00Z`) or an
age (`30m`, `12h`, `7d`, `2w`); `--until` is exclusive.

`--json` writes JSON lines, one object a record: `{"seq", "leaf", "verified", "record"}` as `audit export`
writes them plus `verified` (true, false, or null when not checked) and, when false, `problem`.
`tail -f` keeps reading: it prints records as they are appended until interrupted (Ctrl-C exits 0).
"""

from __future__ import annotations

import argparse
import contextlib
import fnmatch
import json
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from magistrate.broker import (
    Checkpoint,
    StoredRecord,
    TrailReader,
    TrailVerificationError,
    default_key_path,
    load_public_key,
    parse_when,
)
from magistrate.cli._table import render, terminal_width

EXIT_OK, EXIT_FAILED, EXIT_NOT_FOUND = 0, 1, 1
_BEHAVIORS = ("allow", "deny", "ask")
_FOLLOW_BATCH = 1000
"""At most this many new records are read per poll, so a burst is printed in steps, never loaded whole."""
_HEADER = ("seq", "time", "kind", "session", "tool", "result", "input", "rule")
_FLEXIBLE = (4, 6, 7)


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether the trail verified: True, False (with the problem), or None when it was not checked."""

    verified: bool | None
    problem: str = ""


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
        if self.decisions and (record.kind != "decision" or _body(record).get("behavior") not in self.decisions):
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


def _body(record: StoredRecord) -> dict[str, Any]:
    try:
        body = json.loads(record.body)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def add_filter_arguments(parser: argparse.ArgumentParser) -> None:
    """The filters `show` and `tail` share."""
    parser.add_argument("--session", metavar="ID", help="only this session's records (a full id or a prefix)")
    parser.add_argument("--tool", action="append", default=[], metavar="NAME", help="only this tool (a glob; repeat)")
    parser.add_argument(
        "--decision", action="append", default=[], choices=_BEHAVIORS, help="only decisions of this kind (repeat)"
    )
    parser.add_argument("--since", metavar="TIME", help="only records at or after TIME (2026-11-25, ...Z, 12h, 7d)")
    parser.add_argument("--until", metavar="TIME", help="only records before TIME")


def _verify_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="one JSON object a line, every value in full")
    parser.add_argument("--key", type=Path, help="the signing key file (default $MAGISTRATE_TRAIL_KEY or ~/.config)")
    parser.add_argument("--public-key", type=Path, action="append", default=[], help="trusted public key (PEM)")
    parser.add_argument("--no-verify", action="store_true", help="list without verifying the trail first")


def register(sub: Any, common: Callable[[argparse.ArgumentParser], None], guard: Any) -> None:
    """Add `show` and `tail` to the `audit` subcommands; `common` adds the shared options, `guard` wraps."""
    show = sub.add_parser("show", help="list records (filtered), or one record in full")
    common(show)
    _verify_arguments(show)
    add_filter_arguments(show)
    show.add_argument("--seq", type=int, help="show this record in full")
    show.add_argument("--from", dest="start", type=int, default=0, help="first record to list")
    show.add_argument("--limit", type=int, default=100, help="list at most this many (default 100)")
    show.set_defaults(func=guard(_show))

    tail = sub.add_parser("tail", help="the last records (filtered); -f to keep reading")
    common(tail)
    _verify_arguments(tail)
    add_filter_arguments(tail)
    tail.add_argument("-n", type=int, default=20, help="how many (default 20)")
    tail.add_argument("-f", "--follow", action="store_true", help="print new records as they are appended")
    tail.add_argument("--interval", type=float, default=1.0, help="seconds between reads when following")
    tail.set_defaults(func=guard(_tail))


# -- what to show -------------------------------------------------------------------------------------------


class _RefusedError(Exception):
    """A filter that cannot be applied: the message for stderr, and the exit code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


@contextlib.contextmanager
def _scanning(trail: TrailReader, start: int = 0) -> Iterator[Iterator[StoredRecord]]:
    """`trail.scan` whose snapshot is released when the reader stops early (a limit reached)."""
    records = trail.scan(start=start)
    try:
        yield records
    finally:
        close = getattr(records, "close", None)
        if close is not None:
            close()


def resolve_session(trail: TrailReader, given: str) -> str:
    """The one session id that is `given` or starts with it; `_RefusedError` when none or several do."""
    if trail.records(limit=1, session_id=given):
        return given
    found: set[str] = set()
    with _scanning(trail) as records:
        for record in records:
            if record.session_id.startswith(given):
                found.add(record.session_id)
    if not found:
        raise _RefusedError(f"no session is {given!r} or starts with it", EXIT_NOT_FOUND)
    if len(found) > 1:
        shown = ", ".join(sorted(found)[:10]) + (", ..." if len(found) > 10 else "")
        raise _RefusedError(f"{len(found)} sessions start with {given!r}: {shown}; give more of the id", EXIT_NOT_FOUND)
    return found.pop()


def _filter(trail: TrailReader, args: argparse.Namespace) -> RecordFilter:
    try:
        since = parse_when(args.since) if args.since else None
        until = parse_when(args.until) if args.until else None
    except ValueError as exc:
        raise _RefusedError(str(exc), 2) from None
    session = resolve_session(trail, args.session) if args.session else None
    return RecordFilter(session, tuple(args.tool), tuple(args.decision), since, until)


def _verdict(trail: TrailReader, args: argparse.Namespace) -> Verdict:
    """The trail verified as `audit verify` would by default: the key or `--public-key`s, and the witness."""
    if args.no_verify:
        return Verdict(None)
    key_path = args.key or default_key_path(args.env)
    if args.public_key:
        keys = [load_public_key(p) for p in args.public_key]
    elif key_path.exists():
        keys = [load_public_key(key_path)]
    else:
        sys.stderr.write(f"magistrate audit: not verified: no key at {key_path} (pass --public-key FILE)\n")
        return Verdict(None)
    witness: Checkpoint | None = trail.witness_checkpoint(key_path)
    try:
        trail.verify(keys, witness=witness)
    except TrailVerificationError as exc:
        where = f"record {exc.seq}" if exc.seq is not None else "the trail"
        problem = f"{exc.problem or 'failed'} at {where}: {exc}"
        sys.stderr.write(f"magistrate audit: WARNING: the trail does NOT verify ({problem}); rows marked !\n")
        return Verdict(False, problem)
    return Verdict(True)


# -- how it is shown ----------------------------------------------------------------------------------------


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def _row(record: StoredRecord) -> list[str]:
    body = _body(record)
    result = str(body.get("behavior") or body.get("status") or "")
    rule = body.get("rule")
    detail = str(rule.get("text") or rule.get("id") or "") if isinstance(rule, dict) else ""
    if record.kind == "decision" and not detail:  # the default, or magistrate itself: the message says why
        detail = str(body.get("message") or "")
    shown_input = ""
    if record.kind == "decision":
        shown_input = _compact(body.get("input", {}))
        if body.get("updated_input") is not None:
            shown_input += " -> " + _compact(body["updated_input"])
    elif record.kind == "approval":
        detail = f"by {body.get('approver', '')}" + (f": {body['note']}" if body.get("note") else "")
        if body.get("updated_input") is not None:
            shown_input = _compact(body["updated_input"])
    elif record.kind == "outcome" and body.get("error"):
        shown_input = str(body["error"])
    one_line = [v.replace("\n", " ") for v in (shown_input, detail)]
    return [str(record.seq), record.time[:23], record.kind, record.session_id, record.tool_name, result, *one_line]


def _write(records: Iterable[StoredRecord], verdict: Verdict, args: argparse.Namespace, *, header: bool) -> None:
    out = sys.stdout
    if args.json:
        for record in records:
            line = {"seq": record.seq, "leaf": record.leaf.hex(), "verified": verdict.verified}
            if verdict.verified is False:
                line["problem"] = verdict.problem
            out.write(json.dumps({**line, "record": json.loads(record.body)}, ensure_ascii=False) + "\n")
        out.flush()
        return
    mark = verdict.verified is False
    rows = [(["!"] if mark else []) + _row(r) for r in records]
    if not rows and not header:
        return
    names = (("!",) if mark else ()) + _HEADER
    flexible = [i + 1 for i in _FLEXIBLE] if mark else list(_FLEXIBLE)
    lines = render(names, rows, flexible=flexible, width=terminal_width())
    out.write("".join(line + "\n" for line in (lines if header else lines[1:])))
    out.flush()


def _finish(verdict: Verdict) -> int:
    return EXIT_FAILED if verdict.verified is False else EXIT_OK


def refusing(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """A command whose refusals (a session prefix of none or several, a bad time) are one line on stderr."""

    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except _RefusedError as exc:
            sys.stderr.write(f"magistrate audit {args.audit_command}: {exc}\n")
            return exc.code

    return run


@refusing
def _show(args: argparse.Namespace) -> int:
    with TrailReader.open(args.db if args.db is not None else args.env.trail) as trail:
        verdict = _verdict(trail, args)
        if args.seq is not None:
            found = trail.record(args.seq)
            if found is None:
                raise _RefusedError(f"no record {args.seq}", EXIT_NOT_FOUND)
            if args.json:
                _write([found], verdict, args, header=False)
            else:
                out: dict[str, Any] = {"seq": args.seq, "leaf": found.leaf.hex(), "verified": verdict.verified}
                if verdict.verified is False:
                    out["problem"] = verdict.problem
                sys.stdout.write(json.dumps({**out, "record": json.loads(found.body)}, indent=2, ensure_ascii=False))
                sys.stdout.write("\n")
            return _finish(verdict)
        chosen = _filter(trail, args)
        records: list[StoredRecord] = []
        if args.limit > 0:
            with _scanning(trail, max(args.start, 0)) as scanned:
                for record in scanned:
                    if chosen(record):
                        records.append(record)
                        if len(records) >= args.limit:
                            break
    _write(records, verdict, args, header=True)
    return _finish(verdict)


def _last(trail: TrailReader, n: int, chosen: RecordFilter) -> list[StoredRecord]:
    if n <= 0:
        return []
    if chosen.only_session:
        return trail.tail(n, session_id=chosen.session)
    kept: deque[StoredRecord] = deque(maxlen=n)
    with _scanning(trail) as scanned:
        kept.extend(r for r in scanned if chosen(r))
    return list(kept)


def _appended(trail: TrailReader, after: int, interval: float) -> Iterator[list[StoredRecord]]:
    """Batches of the records appended after position `after`, read every `interval` seconds, forever."""
    while True:
        batch = trail.records(start=after + 1, limit=_FOLLOW_BATCH)
        if batch:
            after = batch[-1].seq
            yield batch
        else:
            time.sleep(interval)


@refusing
def _tail(args: argparse.Namespace) -> int:
    if args.follow and not args.interval > 0:
        raise _RefusedError("--interval must be more than 0 seconds", 2)
    verdict = Verdict(None)
    try:
        with TrailReader.open(args.db if args.db is not None else args.env.trail) as trail:
            verdict = _verdict(trail, args)
            chosen = _filter(trail, args)
            size = trail.size()
            shown = _last(trail, args.n, chosen)
            _write(shown, verdict, args, header=True)
            if args.follow:
                for batch in _appended(trail, max([size - 1, *(r.seq for r in shown)]), args.interval):
                    if verdict.verified is True:  # a record appended since may have been forged
                        verdict = _verdict(trail, args)
                    _write([r for r in batch if chosen(r)], verdict, args, header=False)
    except KeyboardInterrupt:  # Ctrl-C is how a follow ends
        if not args.follow:
            raise
    return _finish(verdict)
