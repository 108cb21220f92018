"""`magistrate audit report --html FILE`: the trail's overview and decisions as one self-contained HTML file.

For attaching to a review or an incident: inline style, no script and no outside address, so it opens the
same anywhere and years later. It is rendered by the console's own code (`_console_html`), so a report reads
like the console's pages. `--since` and `--session` select what goes in, as they do for `audit show`; the
trail's status is always of the whole trail, since verification is. Exit codes: 0 written, 2 when the trail
cannot be read, a filter is not understood, or the file cannot be written.
"""

from __future__ import annotations

import argparse
from datetime import datetime, timezone
from pathlib import Path

from magistrate.broker import AuditError, TrailReader
from magistrate.cli._console_data import DecisionFilters, decision_page, overview, record_time, trail_status
from magistrate.cli._console_html import decisions_table, document, esc, overview_sections, status_section

DEFAULT_LIMIT = 10_000


def register_report(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """Add `report` to `magistrate audit`; the caller sets `func`."""
    report = sub.add_parser("report", help="write the overview and the decisions as one self-contained HTML file")
    report.add_argument("--html", type=Path, required=True, metavar="FILE", help="the file to write")
    report.add_argument("--db", help="trail path or postgresql:// URL (default $MAGISTRATE_AUDIT)")
    report.add_argument("--key", type=Path, help="the trail's key, to verify it (default $MAGISTRATE_TRAIL_KEY)")
    report.add_argument("--since", help="only records from this time (2026-11-25, 2026-11-25T09:00Z, 7d)")
    report.add_argument("--session", help="only this session's records (a full id or a prefix)")
    report.add_argument("--limit", type=int, default=DEFAULT_LIMIT, help=f"most decisions listed ({DEFAULT_LIMIT})")
    return report


def render_report(trail: TrailReader, key_path: Path, *, since: str = "", session: str = "", limit: int) -> str:
    """The report's HTML: status, overview and decisions (newest first) of what `since`/`session` select."""
    try:
        record_time(since) if since else None
    except ValueError as exc:
        raise AuditError(f"--since: {exc}") from None
    filters = DecisionFilters(session=session, since=since)
    status = trail_status(trail, key_path)
    ov = overview(trail, session=session, since=since)
    page = decision_page(trail, filters, limit=limit, budget=None)
    selected = [f"session {session}*" if session else "", f"since {since}" if since else ""]
    what = ", ".join(s for s in selected if s) or "the whole trail"
    cut = (
        f'<p class="notice">Only the newest {limit} decisions are listed; pass --limit for more.</p>'
        if page.next_before is not None
        else ""
    )
    made = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = (
        f"<h1>Audit report</h1><p class='muted'>{esc(trail.url)}: {esc(what)}; written {esc(made)}.</p>"
        f"{status_section(status, links=False)}<h2>Overview</h2>{overview_sections(ov, links=False)}"
        f"<h2>Decisions, newest first</h2>{cut}{decisions_table(page.rows, links=False)}"
    )
    return document("Audit report", body, nav=False)


def report(args: argparse.Namespace) -> int:
    """Write the report; an unreadable trail or bad filter is an `AuditError` the audit group turns into exit 2."""
    with TrailReader.open(args.db if args.db is not None else args.env.trail) as trail:
        text = render_report(
            trail, args.key or args.env.key_path, since=args.since or "", session=args.session or "", limit=args.limit
        )
    try:
        args.html.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise AuditError(f"cannot write {args.html}: {exc.strerror or exc}") from exc
    return 0
