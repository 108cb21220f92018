"""`magistrate audit ...`: verify and read the trail. Scripts depend on these commands and their exit codes.

- `verify`: exit 0 when intact, 1 when not (naming the first bad record and what is wrong), 2 when the
  trail or a key cannot be read at all; `--json` prints the verdict as one object
  (`{"ok", "size", "root", ...}` or `{"ok": false, "seq", "problem", "message"}`).
- `show`, `tail` (in `_audit_show`): records as a table fitted to the terminal, or JSON lines (`--json`),
  filtered, marked when the trail does not verify (then exit 1); `export`: JSONL on standard output, one
  `{"seq", "leaf", "record"}` object a line.
- `key`: the public key (PEM) a verifier needs; `checkpoint`: the latest signed checkpoint as JSON, to keep
  somewhere the database's owner cannot reach (`verify --witness FILE` checks against it); `proof`: the
  inclusion proof of one record, or (`--since SIZE`) the consistency proof that the latest tree extends an
  earlier one, which a holder of old checkpoints can check without the records.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from magistrate.broker import (
    AuditError,
    Checkpoint,
    TrailReader,
    TrailVerificationError,
    default_db,
    default_key_path,
    load_or_create_signing_key,
    load_public_key,
    public_key_pem,
)
from magistrate.cli._audit_filter import refusing, resolve_session
from magistrate.cli._audit_show import register as register_show_tail

EXIT_OK, EXIT_BAD, EXIT_ERROR = 0, 1, 2


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", help=f"trail path or postgresql:// URL (default $MAGISTRATE_AUDIT or {default_db()})")


def _key_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--key", type=Path, help="the signing key file (default $MAGISTRATE_TRAIL_KEY or ~/.config)")


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="audit_command", metavar="COMMAND", required=True)

    verify = sub.add_parser("verify", help="check the trail; exit 0 when intact, 1 when not")
    _common(verify)
    _key_arg(verify)
    verify.add_argument("--public-key", type=Path, action="append", default=[], help="trusted public key (PEM)")
    verify.add_argument("--witness", type=Path, help="a checkpoint JSON file (from `audit checkpoint`)")
    verify.add_argument("--no-witness", action="store_true", help="do not use the witness beside the key")
    verify.add_argument("--expect-size", type=int, help="fail if the trail has fewer records than this")
    verify.add_argument("--full", action="store_true", help="also check every checkpoint (slow)")
    verify.add_argument("--json", action="store_true", help="print the verdict as one JSON object")
    verify.set_defaults(func=_guard(_verify))

    register_show_tail(sub, _common, _guard)

    export = sub.add_parser("export", help="write records as JSONL to standard output")
    _common(export)
    export.add_argument("--from", dest="start", type=int, default=0)
    export.add_argument("--session", help="only this session's records (a full id or a prefix)")
    export.add_argument("--json", action="store_true", help="(the output is JSON lines already)")
    export.set_defaults(func=_guard(_export))

    key = sub.add_parser("key", help="print the public key (PEM); creates the key pair if missing")
    _key_arg(key)
    key.set_defaults(func=_guard(_key))

    checkpoint = sub.add_parser("checkpoint", help="print the latest signed checkpoint as JSON")
    _common(checkpoint)
    checkpoint.add_argument("--json", action="store_true", help="(the output is JSON already)")
    checkpoint.set_defaults(func=_guard(_checkpoint))

    proof = sub.add_parser("proof", help="inclusion proof of a record, or consistency proof since a size")
    _common(proof)
    proof.add_argument("seq", type=int, nargs="?", help="the record to prove included in the latest tree")
    proof.add_argument("--since", type=int, metavar="SIZE", help="prove the latest tree extends the one of SIZE")
    proof.add_argument("--json", action="store_true", help="(the output is JSON already)")
    proof.set_defaults(func=_guard(_proof))

    _register_report(sub)


def _register_report(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`audit report --html FILE`, rendered by the console's code (imported only when asked for)."""
    from magistrate.cli._report import register_report, report

    register_report(sub).set_defaults(func=_guard(report))


def _guard(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except AuditError as exc:
            sys.stderr.write(f"magistrate audit: {exc}\n")
            return EXIT_ERROR
        except BrokenPipeError:  # the reader (`| head`) has had enough; that is not an error
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return EXIT_OK

    return run


def _reader(args: argparse.Namespace) -> TrailReader:
    return TrailReader.open(args.db if args.db is not None else args.env.trail)


def _verify(args: argparse.Namespace) -> int:
    key_path = args.key or default_key_path(args.env)
    with _reader(args) as trail:
        if args.public_key:
            keys = [load_public_key(p) for p in args.public_key]
        elif key_path.exists():
            keys = [load_public_key(key_path)]
        else:
            raise AuditError(f"no key to verify with: {key_path} does not exist; pass --public-key FILE")
        witness: Checkpoint | None = None
        if args.witness is not None:
            try:
                witness = Checkpoint.from_json(json.loads(args.witness.read_text()))
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise AuditError(f"cannot read the witness {args.witness}: {exc}") from exc
        elif not args.no_witness:
            witness = trail.witness_checkpoint(key_path)
        try:
            report = trail.verify(keys, witness=witness, expected_size=args.expect_size, full=args.full)
        except TrailVerificationError as exc:
            if args.json:
                out = {"ok": False, "seq": exc.seq, "problem": exc.problem, "message": str(exc)}
                sys.stdout.write(json.dumps(out) + "\n")
            else:
                where = f"record {exc.seq}" if exc.seq is not None else "trail"
                sys.stdout.write(f"FAILED ({exc.problem}) at {where}: {exc}\n")
            return EXIT_BAD
    if args.json:
        ok = {
            "ok": True,
            "size": report.size,
            "root": report.root.hex(),
            "checkpoint": report.checkpoint.to_json() if report.checkpoint else None,
            "witness_size": report.witness.size if report.witness else None,
            "seconds": round(report.seconds, 3),
        }
        sys.stdout.write(json.dumps(ok) + "\n")
        return EXIT_OK
    latest = f", last signed {report.checkpoint.time}" if report.checkpoint else ""
    seen = f", witness at {report.witness.size}" if report.witness else ", no witness"
    sys.stdout.write(
        f"OK: {report.size} records intact, root {report.root.hex()}{latest}{seen} ({report.seconds:.2f}s)\n"
    )
    return EXIT_OK


@refusing
def _export(args: argparse.Namespace) -> int:
    out = sys.stdout
    with _reader(args) as trail:
        session = resolve_session(trail, args.session) if args.session is not None else None
        for record in trail.scan(start=args.start):
            body = record.body
            if session is not None and record.session_id != session:
                continue
            out.write(f'{{"seq":{record.seq},"leaf":"{record.leaf.hex()}","record":{body.decode()}}}\n')
    return EXIT_OK


def _key(args: argparse.Namespace) -> int:
    key = load_or_create_signing_key(args.key or default_key_path(args.env))
    sys.stdout.write(public_key_pem(key.public_key()))
    return EXIT_OK


def _checkpoint(args: argparse.Namespace) -> int:
    with _reader(args) as trail:
        latest = trail.latest_checkpoint()
    if latest is None:
        raise AuditError("the trail is empty: no checkpoint yet")
    sys.stdout.write(json.dumps(latest.to_json(), indent=1) + "\n")
    return EXIT_OK


def _proof(args: argparse.Namespace) -> int:
    if (args.seq is None) == (args.since is None):
        raise AuditError("give either a record number or --since SIZE")
    out: dict[str, Any]
    with _reader(args) as trail:
        if args.seq is not None:
            inclusion = trail.inclusion_proof(args.seq)
            out = {
                "seq": inclusion.seq,
                "leaf": inclusion.leaf.hex(),
                "proof": [h.hex() for h in inclusion.proof],
                "checkpoint": inclusion.checkpoint.to_json(),
            }
        else:
            consistency = trail.consistency_proof(args.since)
            out = {
                "proof": [h.hex() for h in consistency.proof],
                "old_checkpoint": consistency.old.to_json(),
                "checkpoint": consistency.checkpoint.to_json(),
            }
    sys.stdout.write(json.dumps(out, indent=1) + "\n")
    return EXIT_OK
