"""`magistrate audit ...`: verify and read the trail. Scripts depend on these commands and their exit codes.

- `verify`: exit 0 when intact, 1 when not (naming the first bad record and what is wrong), 2 when the
  trail or a key cannot be read at all; `--json` prints the verdict as one object
  (`{"ok", "size", "root", ...}` or `{"ok": false, "seq", "problem", "message"}`).
- `show`, `tail`: records as a table (or one record in full with `show --seq N`); `export`: JSONL on
  standard output, one `{"seq", "leaf", "record"}` object a line.
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

from magistrate.broker._signing import (
    Checkpoint,
    default_key_path,
    load_or_create_signing_key,
    load_public_key,
    public_key_pem,
)
from magistrate.broker._storage import Store, StoredRecord, default_db, open_store
from magistrate.broker._trail_errors import AuditError, TrailVerificationError

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

    show = sub.add_parser("show", help="list records, or one record in full")
    _common(show)
    show.add_argument("--seq", type=int, help="show this record in full")
    show.add_argument("--session", help="only this session's records")
    show.add_argument("--from", dest="start", type=int, default=0, help="first record to list")
    show.add_argument("--limit", type=int, default=100)
    show.set_defaults(func=_guard(_show))

    tail = sub.add_parser("tail", help="the last records")
    _common(tail)
    tail.add_argument("-n", type=int, default=20, help="how many (default 20)")
    tail.add_argument("--session", help="only this session's records")
    tail.set_defaults(func=_guard(_tail))

    export = sub.add_parser("export", help="write records as JSONL to standard output")
    _common(export)
    export.add_argument("--from", dest="start", type=int, default=0)
    export.add_argument("--session", help="only this session's records")
    export.set_defaults(func=_guard(_export))

    key = sub.add_parser("key", help="print the public key (PEM); creates the key pair if missing")
    _key_arg(key)
    key.set_defaults(func=_guard(_key))

    checkpoint = sub.add_parser("checkpoint", help="print the latest signed checkpoint as JSON")
    _common(checkpoint)
    checkpoint.set_defaults(func=_guard(_checkpoint))

    proof = sub.add_parser("proof", help="inclusion proof of a record, or consistency proof since a size")
    _common(proof)
    proof.add_argument("seq", type=int, nargs="?", help="the record to prove included in the latest tree")
    proof.add_argument("--since", type=int, metavar="SIZE", help="prove the latest tree extends the one of SIZE")
    proof.set_defaults(func=_guard(_proof))


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


def _store(args: argparse.Namespace) -> Store:
    return open_store(args.db, create=False)


def _verify(args: argparse.Namespace) -> int:
    from magistrate.broker._trail_verify import verify_trail
    from magistrate.broker._trail_witness import Witness

    key_path = args.key or default_key_path()
    store = _store(args)
    try:
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
            witness = Witness.beside(key_path).for_database(store.log_id(), store.url)
        try:
            report = verify_trail(store, keys, witness=witness, expected_size=args.expect_size, full=args.full)
        except TrailVerificationError as exc:
            if args.json:
                out = {"ok": False, "seq": exc.seq, "problem": exc.problem, "message": str(exc)}
                sys.stdout.write(json.dumps(out) + "\n")
            else:
                where = f"record {exc.seq}" if exc.seq is not None else "trail"
                sys.stdout.write(f"FAILED ({exc.problem}) at {where}: {exc}\n")
            return EXIT_BAD
    finally:
        store.close()
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


def _summary(record: StoredRecord) -> str:
    try:
        body: dict[str, Any] = json.loads(record.body)
    except ValueError:
        body = {}
    what = body.get("behavior") or body.get("status") or ""
    rule = body.get("rule") or {}
    detail = rule.get("text", "") if isinstance(rule, dict) else ""
    if record.kind == "approval":
        detail = f"by {body.get('approver', '')}"
    return (
        f"{record.seq:>8}  {record.time[:23]}  {record.kind:<8}  {record.session_id[:12]:<12}  "
        f"{record.tool_name[:28]:<28}  {what:<7}  {detail}".rstrip()
    )


def _list(records: list[StoredRecord]) -> int:
    sys.stdout.write(f"{'seq':>8}  {'time':<23}  {'kind':<8}  {'session':<12}  {'tool':<28}  {'result':<7}  rule\n")
    for record in records:
        sys.stdout.write(_summary(record) + "\n")
    return EXIT_OK


def _show(args: argparse.Namespace) -> int:
    store = _store(args)
    try:
        with store.snapshot() as cur:
            if args.seq is not None:
                found = store.records(cur, start=args.seq, limit=1)
                if not found or found[0].seq != args.seq:
                    raise AuditError(f"no record {args.seq}")
                body = json.loads(found[0].body)
                out = {"seq": args.seq, "leaf": found[0].leaf.hex(), "record": body}
                sys.stdout.write(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
                return EXIT_OK
            records = store.records(cur, start=args.start, limit=args.limit, session_id=args.session)
    finally:
        store.close()
    return _list(records)


def _tail(args: argparse.Namespace) -> int:
    store = _store(args)
    try:
        with store.snapshot() as cur:
            size = store.count(cur)
            start = max(0, size - args.n) if args.session is None else 0
            records = store.records(cur, start=start, session_id=args.session)[-args.n :]
    finally:
        store.close()
    return _list(records)


def _export(args: argparse.Namespace) -> int:
    store = _store(args)
    out = sys.stdout
    try:
        with store.snapshot() as cur:
            for seq, body, leaf in store.scan(cur, start=args.start):
                if args.session is not None and json.loads(body).get("session_id") != args.session:
                    continue
                out.write(f'{{"seq":{seq},"leaf":"{leaf.hex()}","record":{body.decode()}}}\n')
    finally:
        store.close()
    return EXIT_OK


def _key(args: argparse.Namespace) -> int:
    key = load_or_create_signing_key(args.key or default_key_path())
    sys.stdout.write(public_key_pem(key.public_key()))
    return EXIT_OK


def _checkpoint(args: argparse.Namespace) -> int:
    store = _store(args)
    try:
        with store.snapshot() as cur:
            latest = store.latest_checkpoint(cur, store.read_log_id(cur))
    finally:
        store.close()
    if latest is None:
        raise AuditError("the trail is empty: no checkpoint yet")
    sys.stdout.write(json.dumps(latest.to_json(), indent=1) + "\n")
    return EXIT_OK


def _proof(args: argparse.Namespace) -> int:
    from magistrate.broker._merkle import MerkleLevels

    if (args.seq is None) == (args.since is None):
        raise AuditError("give either a record number or --since SIZE")
    store = _store(args)
    try:
        with store.snapshot() as cur:
            log_id = store.read_log_id(cur)
            latest = store.latest_checkpoint(cur, log_id)
            old = store.checkpoint(cur, log_id, args.since) if args.since is not None else None
            if latest is None:
                raise AuditError("the trail is empty: no checkpoint yet")
            if args.seq is not None and not 0 <= args.seq < latest.size:
                raise AuditError(f"record {args.seq} is not covered by a signed checkpoint")
            if args.since is not None and (old is None or not 0 < args.since <= latest.size):
                raise AuditError(f"the trail has no checkpoint for {args.since} records")
            levels = MerkleLevels(leaf for seq, _, leaf in store.scan(cur) if seq < latest.size)
    finally:
        store.close()
    out: dict[str, Any]
    if args.seq is not None:
        out = {
            "seq": args.seq,
            "leaf": levels.levels[0][args.seq].hex(),
            "proof": [h.hex() for h in levels.inclusion_proof(args.seq, latest.size)],
            "checkpoint": latest.to_json(),
        }
    else:
        assert old is not None
        out = {
            "proof": [h.hex() for h in levels.consistency_proof(args.since, latest.size)],
            "old_checkpoint": old.to_json(),
            "checkpoint": latest.to_json(),
        }
    sys.stdout.write(json.dumps(out, indent=1) + "\n")
    return EXIT_OK
