"""`magistrate approvals list|approve|deny`: answer the asks an unattended agent is waiting on.

A run whose approver is the approval queue (`MAGISTRATE_APPROVAL_QUEUE`, or `approver="queue"`) puts each ask
in a database table (a SQLite file or a `postgresql://` URL) and waits, bounded, for an answer. A reviewer
answers here, from any terminal, with a note that goes into the audit trail with their name; an ask is named by
its id or any prefix of it that no other ask shares. An ask that is no longer pending (answered, or expired
because the run stopped waiting) cannot be answered: exit 1 says so, as it does for a prefix that names no ask
or several, and for a queue that cannot be opened or is of a schema version this magistrate does not know.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from magistrate.cli._exit_codes import store_failure

if TYPE_CHECKING:
    from magistrate.servers import ApprovalQueue

_MAX_INPUT = 80


def _queue_location(args: argparse.Namespace) -> str:
    """`--db`, else `$MAGISTRATE_APPROVAL_QUEUE`, else the per-user queue: a path with `~` expanded, a
    `postgresql://` URL as given (a `Path` would fold its `//`)."""
    from magistrate.broker import is_postgres_url

    chosen: str = args.db or args.env.queue
    return chosen if is_postgres_url(chosen) else str(Path(chosen).expanduser())


def _queue(args: argparse.Namespace) -> ApprovalQueue:
    """The queue to answer from; a `--db` path typed with a folder that does not exist is an error, not made."""
    from magistrate.servers import ApprovalQueue, check_db_folder

    location = _queue_location(args)
    if args.db:
        check_db_folder(location)
    return ApprovalQueue(location)


def _list(args: argparse.Namespace) -> int:
    from magistrate.servers import DatabaseError

    try:
        rows = _queue(args).list(None if args.all else "pending")
    except DatabaseError as exc:
        sys.stderr.write(f"magistrate approvals: {exc}\n")
        return store_failure(exc)
    if args.json:
        for row in rows:
            sys.stdout.write(json.dumps(dataclasses.asdict(row), ensure_ascii=False) + "\n")
        return 0
    if not rows:
        sys.stdout.write("no pending asks\n" if not args.all else "no asks\n")
        return 0
    for row in rows:
        shown = json.dumps(row.input, ensure_ascii=False)
        if len(shown) > _MAX_INPUT:
            shown = shown[: _MAX_INPUT - 3] + "..."
        answered = f"  {row.status} by {row.decided_by}" if row.decided_by else f"  {row.status}"
        note = f" ({row.note})" if row.note else ""
        sys.stdout.write(f"{row.id}  {row.created_at}  {row.tool_name}  {shown}{answered}{note}\n")
        if row.reason:
            sys.stdout.write(f"    why: {row.reason}\n")
    return 0


def _resolve(queue: ApprovalQueue, given: str) -> str:
    """The id of the one ask whose id is `given` or starts with it; LookupError when none or several do."""
    if not given or queue.get(given) is not None:
        return given
    found = sorted(row.id for row in queue.list(None) if row.id.startswith(given))
    if not found:
        raise LookupError(f"no ask with id {given!r} (nor one whose id starts with it)")
    if len(found) > 1:
        raise LookupError(f"{len(found)} asks have ids starting with {given!r}: {', '.join(found[:10])}; give more")
    return found[0]


def _answer(args: argparse.Namespace, *, approve: bool) -> int:
    from magistrate.servers import DatabaseError

    try:
        queue = _queue(args)
        row = queue.decide(_resolve(queue, args.id), approve=approve, by=args.by, note=args.note)
    except LookupError as exc:
        sys.stderr.write(f"magistrate approvals: {exc.args[0]}\n")
        return 1
    except DatabaseError as exc:
        sys.stderr.write(f"magistrate approvals: {exc}\n")
        return store_failure(exc)
    if args.json:
        sys.stdout.write(json.dumps(dataclasses.asdict(row), ensure_ascii=False) + "\n")
        return 0
    sys.stdout.write(f"{row.id} {row.status} by {row.decided_by}\n")
    return 0


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="approvals_command", metavar="SUBCOMMAND", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--db", metavar="PATH|URL", help="the approval queue (default $MAGISTRATE_APPROVAL_QUEUE, else per user)"
    )

    listing = sub.add_parser("list", parents=[common], help="the asks waiting for an answer")
    listing.add_argument("--all", action="store_true", help="answered and expired asks too")
    listing.add_argument("--json", action="store_true", help="one JSON object a line")
    listing.set_defaults(func=_list)

    for name, approve in (("approve", True), ("deny", False)):
        answer = sub.add_parser(name, parents=[common], help=f"{name} a pending ask")
        answer.add_argument("id", metavar="ID", help="the ask's id as `list` shows it, or any unambiguous prefix")
        answer.add_argument("--note", default="", metavar="TEXT", help="why; recorded in the audit trail")
        answer.add_argument("--by", default=None, metavar="NAME", help="who answers (default: your user name)")
        answer.add_argument("--json", action="store_true", help="print the answered ask as one JSON object")
        answer.set_defaults(func=lambda a, approve=approve: _answer(a, approve=approve))
