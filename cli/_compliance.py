"""`magistrate compliance ...`: load frameworks into the compliance database and manage waivers.

`import` reads every file and validates every row first; if anything is wrong it prints all the problems and
writes nothing (exit 1), so a fixed file can be imported again from scratch.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from magistrate.servers import ComplianceRepository

from magistrate.cli._exit_codes import store_failure
from magistrate.cli._options import add_db, add_group_db, add_json
from magistrate.cli._table import write as write_table

_DB_HELP = "SQLite path or postgresql:// URL (default: compliance.sqlite3 in the per-user data dir)"


def register(parser: argparse.ArgumentParser) -> None:
    add_group_db(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    load = sub.add_parser("import", help="load frameworks from CSV, JSON or YAML files")
    load.add_argument("files", nargs="*", type=Path, metavar="FILE")
    load.add_argument("--samples", action="store_true", help="(re)load the shipped GDPR and SOC 2 frameworks")
    load.set_defaults(func=_import)
    add_db(load, _DB_HELP)
    add_json(load, "print what was imported as one JSON object")
    listing = sub.add_parser("frameworks", help="list the frameworks in the database")
    listing.set_defaults(func=_frameworks)
    add_db(listing, _DB_HELP)
    add_json(listing, "one JSON object a line per framework")
    waive = sub.add_parser("waive", help="waive a requirement until a date")
    waive.add_argument("requirement_id")
    waive.add_argument("--reason", required=True)
    waive.add_argument("--by", required=True, dest="approved_by", help="who approved the waiver")
    waive.add_argument("--until", required=True, help="expiry, YYYY-MM-DD or an ISO 8601 time (UTC)")
    waive.add_argument("--document", default=None, help="only for this document")
    waive.set_defaults(func=_waive)
    add_db(waive, _DB_HELP)
    add_json(waive, "print the waiver as one JSON object")


def _open(args: argparse.Namespace) -> ComplianceRepository:
    """The repository `--db` names (a typed path must be in a folder that exists), else the per-user one."""
    from magistrate.servers import check_db_folder, open_compliance

    if args.db is not None:
        check_db_folder(args.db)
    return open_compliance(args.db)


def _import(args: argparse.Namespace) -> int:
    from magistrate.servers import ImportRowsError, ServerError, load_framework_file, sample_frameworks

    if not args.files and not args.samples:
        sys.stderr.write("magistrate compliance import: give FILE... or --samples\n")
        return 2
    frameworks = sample_frameworks() if args.samples else []
    problems: list[str] = []
    for path in args.files:
        try:
            frameworks.extend(load_framework_file(path))
        except ImportRowsError as exc:
            problems.append(str(exc))
    if problems:
        sys.stderr.write("\n".join(problems) + "\n")
        return 1
    try:
        with _open(args) as repo:
            count = repo.import_frameworks(frameworks)
    except ServerError as exc:
        sys.stderr.write(f"magistrate compliance import: {exc}; nothing imported\n")
        return store_failure(exc)
    if args.json:
        sys.stdout.write(json.dumps({"requirements": count, "frameworks": [fw.id for fw in frameworks]}) + "\n")
        return 0
    names = ", ".join(fw.id for fw in frameworks)
    sys.stdout.write(f"imported {count} requirement(s) in {len(frameworks)} framework(s): {names}\n")
    return 0


def _frameworks(args: argparse.Namespace) -> int:
    from magistrate.servers import ServerError

    try:
        with _open(args) as repo:
            frameworks = repo.frameworks()
    except ServerError as exc:
        sys.stderr.write(f"magistrate compliance frameworks: {exc}\n")
        return store_failure(exc)
    if args.json:
        sys.stdout.write("".join(fw.model_dump_json() + "\n" for fw in frameworks))
        return 0
    rows = [(fw.id, str(fw.requirements), fw.name) for fw in frameworks]
    write_table(("framework", "requirements", "name"), rows, flexible=(2,))
    return 0


def _waive(args: argparse.Namespace) -> int:
    from magistrate.servers import ServerError

    try:
        until = datetime.fromisoformat(args.until.replace("Z", "+00:00"))
    except ValueError:
        sys.stderr.write(f"magistrate compliance waive: --until {args.until!r} is not a date or ISO 8601 time\n")
        return 2
    until = until if until.tzinfo else until.replace(tzinfo=timezone.utc)
    expires = until.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        with _open(args) as repo:
            waiver = repo.add_waiver(args.requirement_id, args.reason, args.approved_by, expires, args.document)
    except ServerError as exc:
        sys.stderr.write(f"magistrate compliance waive: {exc}\n")
        return store_failure(exc)
    if args.json:
        sys.stdout.write(waiver.model_dump_json() + "\n")
        return 0
    sys.stdout.write(f"waiver {waiver.id} on {waiver.requirement_id} until {waiver.expires_at}\n")
    return 0
