"""`magistrate documents ...`: add files to the document store and see what it holds.

`add` extracts each file's text (PDF, DOCX, Markdown, plain text) before storing any, so one unreadable file
stops the whole command with every problem listed, and nothing half-added.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from magistrate.servers import DocumentStore

from magistrate.cli._exit_codes import store_failure
from magistrate.cli._options import add_db, add_group_db, add_json
from magistrate.cli._table import write as write_table

_DB_HELP = "SQLite path or postgresql:// URL (default: documents.sqlite3 in the per-user data dir)"


def register(parser: argparse.ArgumentParser) -> None:
    add_group_db(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    add = sub.add_parser("add", help="store files' text as documents (a new version when changed)")
    add.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    add.add_argument("--label", action="append", default=[], dest="labels", help="a label; repeat for more")
    add.add_argument("--prefix", default="", help="prepended to each file name to make the document name")
    add.set_defaults(func=_add)
    add_db(add, _DB_HELP)
    add_json(add, "one JSON object a line per file: state, and the document as stored")
    listing = sub.add_parser("list", help="list live documents")
    listing.add_argument("--prefix", default=None)
    listing.add_argument("--label", default=None)
    listing.set_defaults(func=_list)
    add_db(listing, _DB_HELP)
    add_json(listing, "one JSON object a line per document")


def _open(args: argparse.Namespace) -> DocumentStore:
    """The store `--db` names (a typed path must be in a folder that exists), else the per-user one."""
    from magistrate.servers import check_db_folder, open_documents

    if args.db is not None:
        check_db_folder(args.db)
    return open_documents(args.db)


def _add(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from magistrate.servers import (
        PutDocumentInput,
        ServerError,
        describe_validation_error,
        extract_text,
    )

    ready: list[PutDocumentInput] = []
    problems: list[str] = []
    for path in args.paths:
        try:
            text = extract_text(path)
            ready.append(PutDocumentInput(name=f"{args.prefix}{path.name}", content=text, labels=args.labels))
        except ServerError as exc:
            problems.append(str(exc))
        except ValidationError as exc:
            problems.append(f"{path}: " + "; ".join(describe_validation_error(exc)))
    names = [doc.name for doc in ready]
    problems.extend(
        f"{name}: two files would be stored under this name" for name in sorted(set(names)) if names.count(name) > 1
    )
    if problems:
        sys.stderr.write("\n".join(problems) + "\nnothing added\n")
        return 1
    try:
        store = _open(args)
    except ServerError as exc:
        sys.stderr.write(f"magistrate documents add: {exc}\nnothing added\n")
        return store_failure(exc)
    with store:
        for doc in ready:
            try:
                info, created = store.put(doc.name, doc.content, doc.labels)
            except ServerError as exc:
                sys.stderr.write(f"{doc.name}: {exc}\n")
                return store_failure(exc)
            state = "added" if created else "unchanged"
            if args.json:
                sys.stdout.write(json.dumps({"state": state, **info.model_dump()}, ensure_ascii=False) + "\n")
                continue
            sys.stdout.write(f"{state}\t{info.name}@{info.version}\t{info.sha256}\t{','.join(info.labels)}\n")
    return 0


def _list(args: argparse.Namespace) -> int:
    from magistrate.servers import ServerError

    try:
        with _open(args) as store:
            found = store.list_documents(args.prefix, args.label, 1000)
    except ServerError as exc:
        sys.stderr.write(f"magistrate documents list: {exc}\n")
        return store_failure(exc)
    if args.json:
        sys.stdout.write("".join(info.model_dump_json() + "\n" for info in found))
        return 0
    rows = [(f"{i.name}@{i.version}", str(i.size), i.sha256, ",".join(i.labels)) for i in found]
    write_table(("document", "size", "sha256", "labels"), rows, flexible=(0, 2, 3))
    return 0
