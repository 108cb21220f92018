"""The console's own pages (not in a report): the decisions' filters and pager, one record with its proof, the
approval queue with its live refresh, and the policy in force. Every value goes through `esc`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from magistrate.broker import ApprovalRecord, DecisionRecord, OutcomeRecord, StoredRecord
from magistrate.cli._audit_filter import record_of
from magistrate.cli._console_data import DecisionFilters, DecisionPage, RecordDetail, rule_where
from magistrate.cli._console_html import badge, decisions_table, esc, href
from magistrate.servers import QueuedAsk

POLL_SECONDS = 2

_DECISIONS = ("", "allow", "deny", "ask")


def decisions_body(filters: DecisionFilters, page: DecisionPage) -> str:
    """The filter form (a GET, so the URL of a filtered page can be shared), the table, and the pager."""

    def field(name: str, label: str, placeholder: str = "") -> str:
        value = getattr(filters, name)
        return f'<label>{esc(label)}<input name="{name}" value="{esc(value)}" placeholder="{esc(placeholder)}"></label>'

    options = "".join(
        f'<option value="{d}"{" selected" if filters.decision == d else ""}>{d or "any"}</option>' for d in _DECISIONS
    )
    form = (
        '<form class="filters" method="get" action="/decisions">'
        + field("session", "session", "id or prefix")
        + field("tool", "tool", "Bash, mcp__*")
        + f'<label>decision<select name="decision">{options}</select></label>'
        + field("rule", "rule", "id or text")
        + field("since", "since", "2026-11-25, 7d")
        + field("until", "until", "2026-11-26T09:00Z")
        + field("q", "text", "anything in the record")
        + '<button type="submit">Filter</button> <a href="/decisions">clear</a></form>'
    )
    low, high = page.examined
    links = []
    if filters.before is not None:
        links.append(f'<a href="{href("/decisions", filters.query(before=None))}">Newest</a>')
    if page.next_before is not None:
        links.append(f'<a href="{href("/decisions", filters.query(before=page.next_before))}">Older</a>')
    searched = f"records {low}..{high - 1}" if high > low else "no records"
    summary = f'<p class="muted small">{len(page.rows)} decisions shown; searched {searched} of {page.total}.</p>'
    pager = f'<nav class="pager">{" ".join(links)}</nav>'
    return f"<h1>Decisions</h1>{form}{summary}{decisions_table(page.rows)}{pager}"


def _json(value: Any) -> str:
    return f"<pre>{esc(json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True))}</pre>"


def record_body(detail: RecordDetail) -> str:
    """Every field of one record, its hashes, its inclusion proof as checked here, and the records it links to."""
    record, body = detail.record, detail.body
    fields = "".join(
        f"<dt>{esc(key)}</dt><dd>{_json(value) if isinstance(value, (dict, list)) else esc(value)}</dd>"
        for key, value in body.items()
    )
    if isinstance(detail.parsed, DecisionRecord) and detail.parsed.decision.rule is not None:
        fields += f"<dt>rule written at</dt><dd><code>{esc(rule_where(detail.parsed.decision.rule))}</code></dd>"
    content = (
        badge("success") + " the stored record still hashes to its leaf"
        if detail.content_matches
        else badge("error") + " the stored record no longer hashes to its leaf: it was edited"
    )
    proof = detail.proof
    state = "intact" if proof.ok else "failed"
    path = "".join(f"<li><code>{esc(h)}</code></li>" for h in proof.path)
    checked = (
        f'<section class="status {state}" data-testid="record-proof" data-state="{state}">'
        f"<strong>Inclusion proof {'holds' if proof.ok else 'FAILED'}</strong>: {esc(proof.message)}</section>"
    )
    if proof.checkpoint_size is not None:
        checked += (
            f"<dl class='fields'><dt>checkpoint</dt><dd>{proof.checkpoint_size} records, signed"
            f" {esc(proof.checkpoint_time)} by key <code>{esc(proof.key_id)}</code></dd>"
            f"<dt>root</dt><dd><code>{esc(proof.root)}</code></dd>"
            f"<dt>audit path</dt><dd><ol>{path or '<li class=muted>(the record is the whole tree)</li>'}</ol></dd></dl>"
        )
    linked = "".join(
        f'<tr><td class="num"><a href="{href(f"/records/{r.seq}")}">{r.seq}</a></td><td>{esc(r.kind)}</td>'
        f"<td>{esc(r.time)}</td><td>{_linked_summary(r)}</td></tr>"
        for r in detail.linked
    )
    linked_table = (
        f"<table><tr><th class='num'>#</th><th>kind</th><th>time</th><th>what</th></tr>{linked}</table>"
        if linked
        else '<p class="muted">no other record of this call</p>'
    )
    return (
        f'<h1>Record {record.seq} <span class="muted">({esc(record.kind)})</span></h1>'
        f"<dl class='fields'><dt>position</dt><dd>{record.seq}</dd>{fields}</dl>"
        f"<h2>Hash</h2><dl class='fields'><dt>leaf</dt><dd><code data-testid='record-leaf'>{esc(record.leaf.hex())}"
        f"</code></dd><dt>content</dt><dd>{content}</dd></dl>"
        f"<h2>Inclusion proof</h2>{checked}<h2>The same call</h2>{linked_table}"
    )


def _linked_summary(stored: StoredRecord) -> str:
    record = record_of(stored)
    if isinstance(record, OutcomeRecord):
        return badge(record.outcome.status)
    if isinstance(record, ApprovalRecord):
        approval = record.approval
        note = f" ({esc(approval.note)})" if approval.note else ""
        return f"{badge(approval.behavior)} by {esc(approval.approver)}{note}"
    if isinstance(record, DecisionRecord):
        return badge(record.decision.behavior)
    return ""


def waited(created_at: str, now: datetime | None = None) -> str:
    """How long an ask has waited, as a person reads it (`2m 05s`)."""
    try:
        created = datetime.fromisoformat(created_at)
    except ValueError:
        return ""
    if created.tzinfo is None:
        created = created.replace(tzinfo=timezone.utc)
    seconds = max(0, int(((now or datetime.now(timezone.utc)) - created).total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


def asks_fragment(asks: Sequence[QueuedAsk], csrf: str, by: str) -> str:
    """The pending asks, each with its call, the rule that asked, its wait, and the Approve and Deny buttons;
    the page polls this fragment and merges it in by ask id (a note being typed is kept)."""
    if not asks:
        return '<p class="muted" data-testid="no-pending">No ask is waiting.</p>'
    cards = []
    for ask in asks:
        cards.append(
            f'<article class="ask-card" data-testid="pending-ask" data-ask-id="{esc(ask.id)}">'
            f"<div><code>{esc(ask.tool_name)}</code> <pre>{esc(json.dumps(ask.input, ensure_ascii=False))}</pre></div>"
            f"<div>asked by rule <code>{esc(ask.rule or '(none)')}</code>: {esc(ask.reason)}</div>"
            f'<div class="small muted">ask <code>{esc(ask.id)}</code>, session <code>{esc(ask.session_id)}</code>,'
            f' waiting <span class="waited">{esc(waited(ask.created_at))}</span></div>'
            f'<form method="post" action="{href(f"/approvals/{ask.id}")}">'
            f'<input type="hidden" name="csrf" value="{esc(csrf)}">'
            f'<input name="note" placeholder="note (optional)" aria-label="note" size="40">'
            f'<input name="by" placeholder="{esc(by)}" aria-label="your name" size="14">'
            '<button class="approve" name="answer" value="approve" type="submit">Approve</button>'
            '<button class="deny" name="answer" value="deny" type="submit">Deny</button></form></article>'
        )
    return "".join(cards)


# Polls the fragment and merges it by ask id: new asks appear, answered ones go, the others only update their
# wait, so a note being typed survives the refresh. Inline (no asset to fetch) and a few lines only.
_POLL = """
(function () {
  var box = document.getElementById("asks");
  function key(el) { return el.getAttribute("data-ask-id"); }
  function merge(html) {
    var next = document.createElement("div"); next.innerHTML = html;
    var fresh = {}; next.querySelectorAll("[data-ask-id]").forEach(function (el) { fresh[key(el)] = el; });
    box.querySelectorAll("[data-testid=no-pending]").forEach(function (el) { el.remove(); });
    box.querySelectorAll("[data-ask-id]").forEach(function (el) {
      var now = fresh[key(el)];
      if (!now) { el.remove(); return; }
      el.querySelector(".waited").textContent = now.querySelector(".waited").textContent;
      delete fresh[key(el)];
    });
    Object.keys(fresh).forEach(function (id) { box.appendChild(fresh[id]); });
    if (!box.querySelector("[data-ask-id]")) { box.innerHTML = html; }
  }
  function poll() {
    fetch("/approvals/fragment", {credentials: "same-origin"})
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) { if (html !== null) { merge(html); } })
      .catch(function () {})
      .then(function () { setTimeout(poll, PERIOD); });
  }
  setTimeout(poll, PERIOD);
})();
""".replace("PERIOD", str(POLL_SECONDS * 1000))


def approvals_body(fragment: str, answered: Sequence[QueuedAsk], notice: str) -> tuple[str, str]:
    """The approvals page (the live list and the latest answers) and its polling script."""
    rows = "".join(
        f"<tr><td><code>{esc(a.id)}</code></td><td><code>{esc(a.tool_name)}</code></td>"
        f"<td><pre>{esc(json.dumps(a.input, ensure_ascii=False))}</pre></td><td>{badge(a.status)}</td>"
        f"<td>{esc(a.decided_by or '')}</td><td>{esc(a.note)}</td><td class='small'>{esc(a.decided_at or '')}</td></tr>"
        for a in answered
    )
    table = (
        "<h2>Latest answers</h2><table><tr><th>ask</th><th>tool</th><th>input</th><th>status</th><th>by</th>"
        f"<th>note</th><th>when</th></tr>{rows}</table>"
        if rows
        else ""
    )
    shown = f'<p class="notice" data-testid="notice">{esc(notice)}</p>' if notice else ""
    body = (
        f"<h1>Approvals</h1>{shown}<p class='muted small'>Pending asks refresh every {POLL_SECONDS} s.</p>"
        f'<div id="asks">{fragment}</div>{table}'
    )
    return body, _POLL


def policy_body(version: str, source: str, default: str, rules: Sequence[tuple[str, str, str, str]]) -> str:
    """The policy in force: its version hash, where it came from, and its rules (list, text, id, where)."""
    rows = "".join(
        f"<tr><td>{badge(kind) if kind in ('allow', 'deny', 'ask') else esc(kind)}</td><td><code>{esc(text)}</code>"
        f"</td><td class='small mono'>{esc(rule_id)}</td><td class='small'>{esc(where)}</td></tr>"
        for kind, text, rule_id, where in rules
    )
    empty = '<tr><td colspan="4" class="muted">no rules</td></tr>'
    return (
        "<h1>Policy in force</h1><dl class='fields'>"
        f"<dt>version</dt><dd><code data-testid='policy-version'>{esc(version)}</code></dd>"
        f"<dt>source</dt><dd>{esc(source)}</dd><dt>default</dt><dd>{badge(default) or esc('(not declared)')}</dd>"
        f"</dl><h2>Rules</h2><table><tr><th>list</th><th>rule</th><th>id</th><th>written at</th></tr>"
        f"{rows or empty}</table>"
    )
