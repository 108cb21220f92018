"""The HTML the console and `magistrate audit report` share: the page, its inline style, the trail's status,
the overview and the decisions table.

Plain string building with every value escaped by `esc` (there is no template engine among the dependencies,
and these pages are small). Nothing refers to an outside asset: the style is inline and a report carries no
script at all, so a page opens the same on an offline machine and a report can be attached to a ticket. The
`links` flag turns the console's links off for a report, which is a single file with nowhere to link to.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode

from magistrate.cli._console_data import DecisionRow, Overview, TrailStatus

MAX_INPUT_SHOWN = 400
MAX_SESSIONS_SHOWN = 100

STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: #1d2430;
  background: #f6f7f9; }
header { background: #1d2430; color: #fff; padding: .6rem 1.2rem; display: flex; gap: 1.4rem; align-items: baseline; }
header strong { font-size: 1.05rem; letter-spacing: .02em; }
header a { color: #cfd8e6; text-decoration: none; } header a:hover { color: #fff; text-decoration: underline; }
main { padding: 1rem 1.2rem 3rem; max-width: 1400px; }
h1 { font-size: 1.3rem; margin: .4rem 0 1rem; } h2 { font-size: 1.05rem; margin: 1.6rem 0 .6rem; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { text-align: left; vertical-align: top; padding: .35rem .5rem; border-bottom: 1px solid #e3e6eb; }
th { background: #eef1f5; font-weight: 600; white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
code, pre, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 12.5px; }
pre { margin: 0; white-space: pre-wrap; word-break: break-all; max-width: 38rem; }
td.input { min-width: 18rem; } td.tool { min-width: 9rem; max-width: 16rem; word-break: break-all; }
.status { border-radius: 6px; padding: .8rem 1rem; margin-bottom: 1rem; border: 2px solid; }
.status.intact { background: #e7f6ec; border-color: #2f9e55; color: #17492a; }
.status.failed { background: #fdeaea; border-color: #d93636; color: #6e1111; }
.status strong { font-size: 1.1rem; }
.badge { display: inline-block; padding: 0 .45rem; border-radius: 4px; font-weight: 600; font-size: 12px; }
.allow, .approved, .success { background: #dff3e5; color: #17602f; }
.deny, .denied, .error { background: #fbe0e0; color: #8a1515; }
.ask, .pending { background: #fff1cc; color: #7a5200; }
.expired, .not_run { background: #e8e8e8; color: #444; }
.cards { display: flex; gap: 1rem; flex-wrap: wrap; } .cards > section { flex: 1 1 18rem; }
.muted { color: #66707f; } .small { font-size: 12px; }
form.filters { display: flex; flex-wrap: wrap; gap: .5rem; align-items: end; margin-bottom: 1rem; }
form.filters label { display: flex; flex-direction: column; font-size: 12px; color: #4a5361; }
input, select, button { font: inherit; padding: .25rem .4rem; }
button { cursor: pointer; border: 1px solid #8893a5; border-radius: 4px; background: #fff; }
button.approve { background: #2f9e55; color: #fff; border-color: #2f9e55; }
button.deny { background: #d93636; color: #fff; border-color: #d93636; }
.ask-card { background: #fff; border: 1px solid #e3c36b; border-left: 5px solid #e0a800; border-radius: 6px;
  padding: .7rem 1rem; margin-bottom: .8rem; }
.ask-card form { display: flex; gap: .5rem; flex-wrap: wrap; align-items: center; margin-top: .5rem; }
.pager { margin: .8rem 0; display: flex; gap: 1rem; }
.notice { background: #eef4ff; border: 1px solid #9db7e8; padding: .5rem .8rem; border-radius: 4px;
  margin-bottom: 1rem; }
dl.fields { display: grid; grid-template-columns: max-content 1fr; gap: .3rem 1rem; background: #fff; padding: .8rem; }
dl.fields dt { font-weight: 600; } dl.fields dd { margin: 0; }
"""

NAV = (("/", "Overview"), ("/decisions", "Decisions"), ("/approvals", "Approvals"), ("/policy", "Policy"))


def esc(value: object) -> str:
    """Any value as HTML text, quotes included (it may land in an attribute)."""
    return html.escape(str(value), quote=True)


def href(path: str, params: dict[str, str] | None = None) -> str:
    """An escaped link to a console path with a query string."""
    return esc(f"{path}?{urlencode(params)}" if params else path)


def document(title: str, body: str, *, nav: bool = True, script: str = "") -> str:
    """A whole page: inline style, the console's navigation when `nav`, and an inline script when given."""
    bar = "".join(f'<a href="{esc(path)}">{esc(label)}</a>' for path, label in NAV) if nav else ""
    tail = f"<script>{script}</script>" if script else ""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)} · magistrate</title><style>{STYLE}</style></head>"
        f"<body><header><strong>magistrate</strong>{bar}</header><main>{body}</main>{tail}</body></html>\n"
    )


def badge(value: str) -> str:
    return f'<span class="badge {esc(value)}">{esc(value)}</span>' if value else ""


def status_section(status: TrailStatus, *, links: bool = True) -> str:
    """The trail's verification, prominent: green with its size and last checkpoint, or red with the fault."""
    if status.ok:
        signed = (
            f"last signed checkpoint covers {status.checkpoint_size} records, signed {esc(status.checkpoint_time)}"
            if status.checkpoint_size is not None
            else "no checkpoint yet (the trail is empty)"
        )
        return (
            '<section class="status intact" data-testid="trail-status" data-state="intact">'
            f"<strong>Trail intact</strong>: {status.size} records verified; {signed}."
            f'<div class="small mono">root {esc(status.root)}</div></section>'
        )
    where = ""
    if status.seq is not None:
        label = f"record {status.seq}"
        where = f' at <a href="{href(f"/records/{status.seq}")}">{label}</a>' if links else f" at {label}"
    return (
        '<section class="status failed" data-testid="trail-status" data-state="failed">'
        f"<strong>Trail FAILED verification</strong> ({esc(status.problem)}){where}: {esc(status.message)}</section>"
    )


def _counts(title: str, counts: Iterable[tuple[str, int]], *, param: str, links: bool) -> str:
    rows = []
    for key, count in counts:
        shown = badge(key) if param == "decision" else f"<code>{esc(key)}</code>"
        if links:
            shown = f'<a href="{href("/decisions", {param: key})}">{shown}</a>'
        rows.append(f'<tr><td>{shown}</td><td class="num">{count}</td></tr>')
    empty = '<tr><td colspan="2" class="muted">none</td></tr>'
    return (
        f"<section><h2>{esc(title)}</h2><table><tr><th>{esc(param)}</th><th class='num'>decisions</th></tr>"
        f"{''.join(rows) or empty}</table></section>"
    )


def overview_sections(ov: Overview, *, links: bool = True) -> str:
    """Counts by decision and by tool, and the sessions, newest first."""
    kinds = ", ".join(f"{n} {esc(k)}s" for k, n in sorted(ov.by_kind.items())) or "no records"
    cards = (
        '<div class="cards">'
        + _counts("By decision", ov.by_decision.most_common(), param="decision", links=links)
        + _counts("By tool", ov.by_tool.most_common(), param="tool", links=links)
        + "</div>"
    )
    rows = []
    for s in ov.sessions[:MAX_SESSIONS_SHOWN]:
        shown = f"<code>{esc(s.session_id)}</code>"
        if links:
            shown = f'<a href="{href("/decisions", {"session": s.session_id})}">{shown}</a>'
        rows.append(
            f"<tr><td>{shown}</td><td>{esc(s.first)}</td><td>{esc(s.last)}</td>"
            f'<td class="num">{s.decisions}</td><td class="num">{s.denied}</td>'
            f"<td>{esc(', '.join(sorted(s.agents)))}</td></tr>"
        )
    more = len(ov.sessions) - MAX_SESSIONS_SHOWN
    note = f'<p class="muted">and {more} older sessions</p>' if more > 0 else ""
    return (
        f"<p>{ov.records} records: {kinds}.</p>{cards}<h2>Sessions, newest first</h2>"
        "<table><tr><th>session</th><th>first record</th><th>last record</th><th class='num'>decisions</th>"
        f"<th class='num'>denied</th><th>agents</th></tr>{''.join(rows)}</table>{note}"
    )


def shown_input(value: dict[str, Any]) -> str:
    """A call's input as stored (redacted), shortened for a table cell."""
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= MAX_INPUT_SHOWN else text[: MAX_INPUT_SHOWN - 1] + "…"


def decisions_table(rows: list[DecisionRow], *, links: bool = True) -> str:
    """The decisions, one `decision-row` each: who asked for what, what was decided, by which rule, and how
    the call ended."""
    head = (
        "<tr><th class='num'>#</th><th>time</th><th>session</th><th>agent</th><th>tool</th><th>input</th>"
        "<th>decision</th><th>rule</th><th>approver / note</th><th>outcome</th></tr>"
    )
    out = []
    for r in rows:
        seq = f'<a href="{href(f"/records/{r.seq}")}">{r.seq}</a>' if links else str(r.seq)
        session = f"<code>{esc(r.session_id)}</code>"
        if links:
            session = f'<a href="{href("/decisions", {"session": r.session_id})}">{session}</a>'
        rule = (
            f"<code>{esc(r.rule_text)}</code><div class='small muted'>{esc(r.rule_where)}</div>"
            if r.rule_text
            else '<span class="muted">magistrate</span>'
        )
        reason = f"<div class='small muted'>{esc(r.message)}</div>" if r.message else ""
        answered = ""
        if r.approver:
            note = f"<div class='small'>{esc(r.note)}</div>" if r.note else ""
            answered = f"{badge(r.approval)} {esc(r.approver)}{note}"
        out.append(
            f'<tr data-testid="decision-row" data-seq="{r.seq}"><td class="num">{seq}</td>'
            f'<td class="small">{esc(r.time)}</td><td>{session}</td><td>{esc(r.agent_id)}</td>'
            f'<td class="tool"><code>{esc(r.tool_name)}</code></td>'
            f'<td class="input"><pre>{esc(shown_input(r.input))}</pre></td>'
            f"<td>{badge(r.behavior)}{reason}</td><td>{rule}</td><td>{answered}</td><td>{badge(r.outcome)}</td></tr>"
        )
    empty = '<tr><td colspan="10" class="muted">no decisions match</td></tr>'
    return f'<table data-testid="decisions">{head}{"".join(out) or empty}</table>'
