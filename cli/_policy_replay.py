"""`magistrate policy replay --db TRAIL --policy CANDIDATE`: what a policy change would have changed.

Every recorded call (after `--session`, `--since`, `--until`, `--tool`) is decided again under the candidate
with the context recorded for it and its session's history. The report is a summary (how many calls, how
many would change, by kind) and a table of the changed calls; `--json` prints one object a line per changed
call (`seq`, `time`, `session`, `tool`, `input`, `old`, `new`, `kind`, `old_rule`, `new_rule`, `message`,
`verified`) and the summary on stderr.

Exit 0 when no decision changes, 1 when one does (`--fail-on allow-to-deny,deny-to-allow` counts only those
kinds), 2 on an error: an unreadable trail, a policy that does not load, a bad argument, or a trail that
does not verify without `--unverified`. The trail is only read.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from magistrate.cli._policy_common import EXIT_ERROR, fail
from magistrate.cli._policy_test import shown

_INPUT_WIDTH = 48


def _kinds(text: str | None, all_kinds: tuple[str, ...]) -> list[str] | str | None:
    """The kinds `--fail-on` names, or what is wrong with it; None: every kind."""
    if text is None:
        return None
    kinds = [k.strip() for k in text.split(",") if k.strip()]
    bad = [k for k in kinds if k not in all_kinds]
    if bad or not kinds:
        return f"--fail-on takes kinds from {', '.join(all_kinds)}; not {', '.join(bad) or repr(text)}"
    return kinds


def _short(value: Any, width: int) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= width else text[: width - 3] + "..."


def _summary(report: Any, args: argparse.Namespace) -> list[str]:
    lines = [f"replayed {report.calls} recorded calls of {shown(args.db)} under {shown(args.policy)}"]
    if not report.verified:
        lines.append(f"WARNING: the trail was NOT verified ({report.verify_problem}); replayed as it is")
    counts = ", ".join(f"{n} {kind}" for kind, n in report.by_kind.items())
    changed = len(report.changes)
    lines.append(f"{changed} would change" + (f": {counts}" if changed else ""))
    return lines


def _table(changes: Any) -> list[str]:
    if not changes:
        return []
    rows = [("seq", "tool", "input", "old", "new", "old rule", "new rule")]
    for c in changes:
        row = (str(c.seq), c.tool, _short(c.input, _INPUT_WIDTH), c.old, c.new, c.old_rule or "-", c.new_rule or "-")
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]


def _replay(args: argparse.Namespace) -> int:
    import anyio

    from magistrate.broker import (
        CHANGE_KINDS,
        AuditError,
        Environment,
        MagistrateError,
        PolicyLoadError,
        load_public_key,
        replay_trail,
    )

    fail_on = _kinds(args.fail_on, CHANGE_KINDS)
    if isinstance(fail_on, str):
        return fail("replay", fail_on)
    args.db = args.db or Environment.read().trail
    try:
        keys = [load_public_key(Path(p)) for p in args.public_key] or None
        report = anyio.run(
            lambda: replay_trail(
                args.policy,
                args.db,
                public_keys=keys,
                unverified=args.unverified,
                session=args.session,
                since=args.since,
                until=args.until,
                tools=args.tool,
            )
        )
    except PolicyLoadError as exc:
        for problem in exc.errors:
            sys.stderr.write(f"{problem}\n")
        return EXIT_ERROR
    except (AuditError, MagistrateError, ValueError) as exc:
        return fail("replay", str(exc))
    if args.json:
        for change in report.changes:
            line = {**change.to_json(), "verified": report.verified}
            sys.stdout.write(json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n")
        for summary in _summary(report, args):
            sys.stderr.write(summary + "\n")
    else:
        sys.stdout.write("\n".join([*_summary(report, args), *_table(report.changes)]) + "\n")
    return 1 if report.failing(fail_on) else 0


def register(sub: Any) -> None:
    """Add `replay` to the `policy` subcommands."""
    replay = sub.add_parser(
        "replay",
        help="re-decide a trail's recorded calls under a candidate policy; exit 1 if a decision changes",
        description="Re-decide every recorded call of a trail under a candidate policy, with the context and "
        "history recorded for it. Exit 0 when nothing changes, 1 when a decision changes, 2 on an error. "
        "The trail is only read.",
    )
    replay.add_argument("--db", metavar="TRAIL", help="the trail: a path or postgresql:// URL ($MAGISTRATE_AUDIT)")
    replay.add_argument("--policy", required=True, metavar="CANDIDATE", help="the policy to replay under")
    replay.add_argument("--session", metavar="ID", help="only this session's calls")
    replay.add_argument("--since", metavar="TIME", help="only calls at or after TIME (2026-11-25, ...Z, 7d, 12h)")
    replay.add_argument("--until", metavar="TIME", help="only calls before TIME")
    replay.add_argument("--tool", action="append", default=[], metavar="NAME", help="only this tool (a glob; repeat)")
    replay.add_argument("--fail-on", metavar="KINDS", help="exit 1 only for these changes (allow-to-deny,...)")
    replay.add_argument("--public-key", action="append", default=[], metavar="FILE", help="trusted key (PEM)")
    replay.add_argument("--unverified", action="store_true", help="replay a trail that does not verify")
    replay.add_argument("--json", action="store_true", help="one JSON object a line per changed call")
    replay.set_defaults(func=_replay)
