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
import json
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from magistrate.broker import (
    ApprovalRecord,
    Checkpoint,
    DecisionRecord,
    OutcomeRecord,
    StoredRecord,
    TrailReader,
    TrailVerificationError,
    default_key_path,
    load_public_key,
)
from magistrate.cli._audit_filter import (
    EXIT_NOT_FOUND,
    RecordFilter,
    RefusedError,
    add_filter_arguments,
    record_filter,
    record_of,
    refusing,
    scanning,
)
from magistrate.cli._table import render, terminal_width

EXIT_OK, EXIT_FAILED = 0, 1
_FOLLOW_BATCH = 1000
"""At most this many new records are read per poll, so a burst is printed in steps, never loaded whole."""
_HEADER = ("seq", "time", "kind", "session", "tool", "result", "input", "rule")
_FLEXIBLE = (4, 6, 7)


@dataclass(frozen=True, slots=True)
class TrailCheck:
    """Whether the trail verified: True, False (with the problem), or None when it was not checked."""

    verified: bool | None
    problem: str = ""


def _verify_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="one JSON object a line, every value in full")
    key_help = "the signing key file (default $MAGISTRATE_TRAIL_KEY or ~/.config)"
    parser.add_argument("--key", type=Path, metavar="FILE", help=key_help)
    parser.add_argument("--public-key", type=Path, action="append", default=[], metavar="FILE", help="trusted (PEM)")
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
    tail.add_argument("--interval", type=float, default=1.0, metavar="SECONDS", help="between reads when following")
    tail.set_defaults(func=guard(_tail))


# -- what to show -------------------------------------------------------------------------------------------


def _verdict(trail: TrailReader, args: argparse.Namespace) -> TrailCheck:
    """The trail verified as `audit verify` would by default: the key or `--public-key`s, and the witness."""
    if args.no_verify:
        return TrailCheck(None)
    key_path = args.key or default_key_path(args.env)
    if args.public_key:
        keys = [load_public_key(p) for p in args.public_key]
    elif key_path.exists():
        keys = [load_public_key(key_path)]
    else:
        sys.stderr.write(f"magistrate audit: not verified: no key at {key_path} (pass --public-key FILE)\n")
        return TrailCheck(None)
    witness: Checkpoint | None = trail.witness_checkpoint(key_path)
    try:
        trail.verify(keys, witness=witness)
    except TrailVerificationError as exc:
        where = f"record {exc.seq}" if exc.seq is not None else "the trail"
        problem = f"{exc.problem or 'failed'} at {where}: {exc}"
        sys.stderr.write(f"magistrate audit: WARNING: the trail does NOT verify ({problem}); rows marked !\n")
        return TrailCheck(False, problem)
    return TrailCheck(True)


# -- how it is shown ----------------------------------------------------------------------------------------


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def _row(record: StoredRecord) -> list[str]:
    parsed = record_of(record)
    result = detail = shown_input = ""
    if isinstance(parsed, DecisionRecord):
        decision = parsed.decision
        result = decision.behavior
        # The deciding rule; for the default, or magistrate itself, the message says why.
        detail = (decision.rule.text or decision.rule.id if decision.rule else "") or decision.message
        shown_input = _compact(parsed.input)
        if dict(decision.input) != parsed.input:
            shown_input += " -> " + _compact(dict(decision.input))
    elif isinstance(parsed, ApprovalRecord):
        approval = parsed.approval
        result = approval.behavior
        detail = f"by {approval.approver}" + (f": {approval.note}" if approval.note else "")
        if approval.updated_input is not None:
            shown_input = _compact(dict(approval.updated_input))
    elif isinstance(parsed, OutcomeRecord):
        result = parsed.outcome.status
        shown_input = parsed.outcome.error or ""
    one_line = [v.replace("\n", " ") for v in (shown_input, detail)]
    return [str(record.seq), record.time[:23], record.kind, record.session_id, record.tool_name, result, *one_line]


def _write(records: Iterable[StoredRecord], verdict: TrailCheck, args: argparse.Namespace, *, header: bool) -> None:
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


def _finish(verdict: TrailCheck) -> int:
    return EXIT_FAILED if verdict.verified is False else EXIT_OK


@refusing
def _show(args: argparse.Namespace) -> int:
    with TrailReader.open(args.db if args.db is not None else args.env.trail) as trail:
        verdict = _verdict(trail, args)
        if args.seq is not None:
            found = trail.record(args.seq)
            if found is None:
                raise RefusedError(f"no record {args.seq}", EXIT_NOT_FOUND)
            if args.json:
                _write([found], verdict, args, header=False)
            else:
                out: dict[str, Any] = {"seq": args.seq, "leaf": found.leaf.hex(), "verified": verdict.verified}
                if verdict.verified is False:
                    out["problem"] = verdict.problem
                sys.stdout.write(json.dumps({**out, "record": json.loads(found.body)}, indent=2, ensure_ascii=False))
                sys.stdout.write("\n")
            return _finish(verdict)
        chosen = record_filter(trail, args)
        records: list[StoredRecord] = []
        if args.limit > 0:
            with scanning(trail, max(args.start, 0)) as scanned:
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
    with scanning(trail) as scanned:
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
        raise RefusedError("--interval must be more than 0 seconds", 2)
    verdict = TrailCheck(None)
    try:
        with TrailReader.open(args.db if args.db is not None else args.env.trail) as trail:
            verdict = _verdict(trail, args)
            chosen = record_filter(trail, args)
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
