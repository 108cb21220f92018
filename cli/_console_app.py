"""The console's ASGI app: server-rendered pages over a trail and an approval queue, on Starlette.

Each request opens the trail (a cheap open of a SQLite file or a PostgreSQL connection) and reads it in a
worker thread, so the status is computed when the page is asked for and a long read never blocks the loop.
An answer to an ask goes through `ApprovalQueue.decide`, the very call `magistrate approvals approve` makes,
so the waiting agent sees it the same way. Forms carry a per-process token (no other site can make a
browser post an answer), and beyond loopback every request needs the console's token (`ConsoleToken`).
"""

from __future__ import annotations

import functools
import getpass
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import anyio.to_thread
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from magistrate.broker import Environment, MagistrateError, TrailReader, resolve_policy
from magistrate.cli._console_data import DecisionFilters, decision_page, overview, record_detail, trail_status
from magistrate.cli._console_html import document, esc, overview_sections, status_section
from magistrate.cli._console_pages import approvals_body, asks_fragment, decisions_body, policy_body, record_body
from magistrate.servers import ApprovalQueue, DatabaseError

COOKIE = "magistrate_console"
_MAX_FORM_BYTES = 64 * 1024
_ANSWERED_SHOWN = 20


@dataclass(frozen=True)
class ConsoleConfig:
    """What one console serves, read once from the command line and the environment."""

    trail: str
    queue: str
    key_path: Path
    policy: str | None
    """The policy file in force (`--policy`, else `$MAGISTRATE_POLICY`); None: the Claude Code settings of `cwd`."""
    cwd: str
    by: str
    """Who answers an ask when the form leaves the name empty."""
    csrf: str


def config_for(
    *, trail: str, queue: str, key_path: Path, policy: str | None, env: Environment, by: str | None = None
) -> ConsoleConfig:
    return ConsoleConfig(
        trail=trail,
        queue=queue,
        key_path=key_path,
        policy=policy or env.policy,
        cwd=str(Path.cwd()),
        by=by or getpass.getuser(),
        csrf=secrets.token_urlsafe(24),
    )


def _error(title: str, message: str, status: int) -> HTMLResponse:
    body = f'<h1>{esc(title)}</h1><p class="status failed" data-testid="error">{esc(message)}</p>'
    return HTMLResponse(document(title, body), status_code=status)


async def _off_loop(render: Callable[[], Response]) -> Response:
    """Run a blocking read in a worker thread; a trail or queue that cannot be read is a page saying so."""
    try:
        return await anyio.to_thread.run_sync(render)
    except (MagistrateError, DatabaseError) as exc:
        return _error("Cannot read", str(exc), 500)


def build_app(config: ConsoleConfig) -> Starlette:
    """The console's routes over `config`'s trail and queue."""

    def reader() -> TrailReader:
        return TrailReader.open(config.trail)

    def render_overview() -> Response:
        with reader() as trail:
            status = trail_status(trail, config.key_path)
            ov = overview(trail)
        # The navigation holds the one link labelled Decisions and the one labelled Approvals.
        body = (
            f"<h1>Overview</h1>{status_section(status)}{overview_sections(ov)}"
            f'<p class="muted small">trail {esc(trail.url)}</p>'
        )
        return HTMLResponse(document("Overview", body))

    async def home(request: Request) -> Response:
        return await _off_loop(render_overview)

    async def decisions(request: Request) -> Response:
        try:
            filters = DecisionFilters.model_validate(dict(request.query_params))
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            return _error("Bad filter", problems, 400)

        def render() -> Response:
            with reader() as trail:
                page = decision_page(trail, filters)
            return HTMLResponse(document("Decisions", decisions_body(filters, page)))

        return await _off_loop(render)

    async def record(request: Request) -> Response:
        raw = request.path_params["seq"]
        if not raw.isdigit():
            return _error("No such record", f"not a record number: {raw!r}", 404)

        def render() -> Response:
            with reader() as trail:
                detail = record_detail(trail, int(raw), config.key_path)
            if detail is None:
                return _error("No such record", f"the trail has no record {raw}", 404)
            return HTMLResponse(document(f"Record {raw}", record_body(detail)))

        return await _off_loop(render)

    def queue() -> ApprovalQueue:
        return ApprovalQueue(config.queue)

    async def approvals(request: Request) -> Response:
        notice = request.query_params.get("notice", "")

        def render() -> Response:
            q = queue()
            pending = q.list("pending")
            answered = [a for a in q.list(None) if a.status != "pending"][-_ANSWERED_SHOWN:][::-1]
            body, script = approvals_body(asks_fragment(pending, config.csrf, config.by), answered, notice)
            return HTMLResponse(document("Approvals", body, script=script))

        return await _off_loop(render)

    async def fragment(request: Request) -> Response:
        def render() -> Response:
            return HTMLResponse(asks_fragment(queue().list("pending"), config.csrf, config.by))

        return await _off_loop(render)

    async def answer(request: Request) -> Response:
        body = await request.body()
        if len(body) > _MAX_FORM_BYTES:
            return _error("Refused", "the form is too large", 413)
        form = {k: v[-1] for k, v in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items()}
        if not hmac.compare_digest(form.get("csrf", ""), config.csrf):
            return _error("Refused", "the form did not come from this console (reload the page)", 403)
        choice = form.get("answer")
        if choice not in ("approve", "deny"):
            return _error("Refused", "answer with Approve or Deny", 400)
        ask_id = request.path_params["ask_id"]
        note, by = form.get("note", "").strip(), form.get("by", "").strip() or config.by

        def decide() -> Response:
            try:
                row = queue().decide(ask_id, approve=choice == "approve", by=by, note=note)
            except LookupError as exc:
                notice = str(exc.args[0])
            else:
                notice = f"{row.id} {row.status} by {row.decided_by}"
            return RedirectResponse(f"/approvals?{urlencode({'notice': notice})}", status_code=303)

        return await _off_loop(decide)

    async def policy(request: Request) -> Response:
        return await _off_loop(functools.partial(_render_policy, config))

    return Starlette(
        routes=[
            Route("/", home),
            Route("/decisions", decisions),
            Route("/records/{seq}", record),
            Route("/approvals", approvals),
            Route("/approvals/fragment", fragment),
            Route("/approvals/{ask_id}", answer, methods=["POST"]),
            Route("/policy", policy),
        ]
    )


def _render_policy(config: ConsoleConfig) -> Response:
    policy: Any = resolve_policy(config.policy, cwd=config.cwd)
    source = config.policy or f"the Claude Code settings of {config.cwd} (no --policy, no MAGISTRATE_POLICY)"
    rules = []
    for rule in (*getattr(policy, "string_rules", ()), *getattr(policy, "python_rules", ())):
        ref = rule.ref
        rules.append((str(ref.list), str(ref.text), str(ref.id), str(ref.source)))
    default = str(getattr(policy, "default", "") or "")
    return HTMLResponse(document("Policy", policy_body(str(policy.version), source, default, rules)))


class ConsoleToken:
    """Beyond loopback, every request needs the console's token: as `Authorization: Bearer`, as the cookie
    this sets, or once as `?token=` in the URL (answered with the cookie and a redirect that drops it)."""

    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self._token = token.encode()

    def _valid(self, given: str | bytes) -> bool:
        raw = given.encode() if isinstance(given, str) else given
        return hmac.compare_digest(raw, self._token)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        bearer = request.headers.get("authorization", "")
        if (bearer.startswith("Bearer ") and self._valid(bearer[7:])) or self._valid(request.cookies.get(COOKIE, "")):
            await self.app(scope, receive, send)
            return
        given = request.query_params.get("token")
        if given is not None and self._valid(given):
            rest = {k: v for k, v in request.query_params.items() if k != "token"}
            target = f"{request.url.path}?{urlencode(rest)}" if rest else request.url.path
            response: Response = RedirectResponse(target, status_code=303)
            response.set_cookie(COOKIE, given, httponly=True, samesite="strict")
        else:
            response = _error("Token required", "open the console's address with ?token=TOKEN", 401)
        await response(scope, receive, send)
