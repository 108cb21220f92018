"""RemoteGovernor's history deltas against the real decision service: the rules see exactly the history a full
request carries, whether the broker holds the rest (a delta), forgot it (409, then in full), is too old for
deltas (404, then `/v1/decide`), or is one of two behind a load balancer."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator, Callable, MutableMapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest
from starlette.responses import PlainTextResponse

from magistrate.broker import (
    DECIDE_DELTA_PATH,
    DECIDE_PATH,
    Broker,
    CallContext,
    Decision,
    HistoryCache,
    PriorDecision,
    RemoteGovernor,
    ToolCall,
    Trail,
    verify_trail,
)
from magistrate.servers._approval_server import build_server
from magistrate.servers._decision_api import WithDecisionApi, decision_app
from magistrate.servers._http import serve_http

pytestmark = pytest.mark.anyio
TOKEN = "delta-token"
ASGIApp = Any


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # uvicorn runs on asyncio only


class Seeing:
    """Allows all but a fetch after a secret was read; keeps the history each call was decided with."""

    version = "v-seeing"

    def __init__(self) -> None:
        self.seen: list[tuple[PriorDecision, ...]] = []

    async def decide(self, call: ToolCall, context: CallContext) -> Decision:
        self.seen.append(context.history)
        read_secret = any(
            p.tool_name == "Read" and "secret" in str(p.tool_input.get("file_path")) for p in context.history
        )
        if call.tool_name == "WebFetch" and read_secret:
            return Decision("deny", call.tool_input, message="no network after secrets", policy_version=self.version)
        return Decision("allow", call.tool_input, policy_version=self.version)


class Balancer:
    """Sends each HTTP request to the next of `apps` in turn, as a round-robin load balancer does, and notes
    each decide request's path and answer. With `delta_status`, it answers the delta path so itself: 404 as
    a broker from before the path does (its router knows no such route), or 409 always."""

    def __init__(self, apps: Sequence[ASGIApp], *, delta_status: int | None = None) -> None:
        self.apps = list(apps)
        self.delta_status = delta_status
        self.turn = 0
        self.exchanges: list[tuple[str, int]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] != "http" or path not in (DECIDE_PATH, DECIDE_DELTA_PATH):
            await self.apps[0](scope, receive, send)
            return

        async def noting(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                self.exchanges.append((path, int(message["status"])))
            await send(message)

        if self.delta_status is not None and path == DECIDE_DELTA_PATH:
            await PlainTextResponse("no", status_code=self.delta_status)(scope, receive, noting)
            return
        app = self.apps[self.turn % len(self.apps)]
        self.turn += 1
        await app(scope, receive, noting)


@asynccontextmanager
async def serving(broker: Broker, app: ASGIApp) -> AsyncIterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    try:
        async with anyio.create_task_group() as tg:

            async def serve() -> None:
                server = build_server(governor=broker, approver=None)
                wrap: Callable[[ASGIApp], ASGIApp] = lambda mcp: WithDecisionApi(mcp, app)  # noqa: E731
                await serve_http(server, host="127.0.0.1", port=0, token=TOKEN, sock=sock, wrap=wrap)

            tg.start_soon(serve)
            yield url
            tg.cancel_scope.cancel()
    finally:
        sock.close()


@asynccontextmanager
async def brokers(tmp_path: Path, count: int, policy: Seeing) -> AsyncIterator[list[Broker]]:
    """`count` brokers writing one trail, as a team's brokers share one database."""
    trails = [Trail.open(tmp_path / "trail.sqlite3", key_path=tmp_path / "keys" / "trail.key") for _ in range(count)]
    try:
        yield [Broker(policy, trail) for trail in trails]
    finally:
        for trail in trails:
            await trail.aclose()


def calls(tmp_path: Path, n: int) -> list[ToolCall]:
    """A session that reads a secret, then runs commands with awkward inputs, then fetches."""
    tricky: dict[str, Any] = {"command": "echo", "text": '"entries":[]}}', "history": [], "é": "𝄞"}
    made = [ToolCall("Read", {"file_path": str(tmp_path / "secret.txt")}, "r")]
    made += [ToolCall("Bash", {**tricky, "n": i, "big": "x" * (5000 * (i % 3))}, f"b{i}") for i in range(n)]
    return [*made, ToolCall("WebFetch", {"url": "https://example.com", "prompt": "x"}, "f")]


async def run(governor: RemoteGovernor, session: str, made: list[ToolCall]) -> list[tuple[PriorDecision, ...]]:
    """Decide `made` in `session`; the history a full request would have carried before each call."""
    before = []
    for call in made:
        before.append(governor.history(session))
        decision = await governor.decide(call, CallContext(session_id=session, cwd="/w"))
        assert decision.error is None
    return before


def decisions_in(trail: Trail) -> list[str | None]:
    return [r.tool_use_id for r in trail.records(start=0) if json.loads(r.body)["kind"] == "decision"]


async def test_the_rules_see_the_history_a_full_request_carries(tmp_path: Path) -> None:
    policy = Seeing()
    made = calls(tmp_path, 12)
    with anyio.fail_after(60):
        async with brokers(tmp_path, 1, policy) as [broker]:
            cache = HistoryCache()
            balancer = Balancer([decision_app(broker, histories=cache)])
            async with serving(broker, balancer) as url, RemoteGovernor(url, token=TOKEN) as governor:
                full = RemoteGovernor(url, token=TOKEN)
                full.delta = False
                async with full:
                    by_delta = await run(governor, "delta", made)
                    with_delta = list(policy.seen)
                    by_full = await run(full, "full", made)
            assert with_delta == by_delta  # each call saw what a full request would have carried
            assert policy.seen[len(made) :] == by_full == by_delta  # and what a full request does carry
            assert policy.seen[-1][0].tool_name == "Read"
            assert len(cache) == 1  # the delta session's copy; the full one left none
            # The first call has no history to send; every later one goes as a delta, and nothing misses.
            assert balancer.exchanges[: len(made)] == [(DECIDE_PATH, 200)] + [(DECIDE_DELTA_PATH, 200)] * (
                len(made) - 1
            )
            assert balancer.exchanges[len(made) :] == [(DECIDE_PATH, 200)] * len(made)
            assert decisions_in(broker.trail) == [c.tool_use_id for c in made] * 2


async def test_a_broker_that_does_not_hold_the_history_answers_409_and_gets_it_in_full(tmp_path: Path) -> None:
    policy = Seeing()
    made = calls(tmp_path, 4)
    with anyio.fail_after(60):
        async with brokers(tmp_path, 1, policy) as [broker]:
            cache = HistoryCache(sessions=1)  # holds one session: two sessions in turn evict each other
            balancer = Balancer([decision_app(broker, histories=cache)])
            async with serving(broker, balancer) as url, RemoteGovernor(url, token=TOKEN) as governor:
                histories: dict[str, list[tuple[PriorDecision, ...]]] = {"a": [], "b": []}
                for call in made:
                    for session in ("a", "b"):
                        histories[session] += await run(governor, session, [call])
                assert (await governor.decide(made[-1], CallContext(session_id="a"))).behavior == "deny"
                # A request built on a history the broker never gave out is not decided at all.
                forged = {
                    "call": {"tool_name": "WebFetch", "tool_input": {"url": "https://example.com"}, "tool_use_id": "x"},
                    "context": {"session_id": "a"},
                    "history": {"base": 5, "fingerprint": "00" * 16, "length": 5, "entries": []},
                }
                status, answer = await anyio.to_thread.run_sync(post, url, json.dumps(forged).encode())
            assert (status, answer["error"]) == (409, "history_unknown")
            interleaved = [h for pair in zip(histories["a"], histories["b"], strict=True) for h in pair]
            assert policy.seen[: 2 * len(made)] == interleaved
            assert policy.seen[-1][-1].tool_name == "WebFetch"  # the last call saw the earlier fetch too
            # Nothing to send at first, then in full (nothing acknowledged yet), then each delta misses.
            assert balancer.exchanges[:4] == [(DECIDE_PATH, 200)] * 2 + [(DECIDE_DELTA_PATH, 200)] * 2
            assert balancer.exchanges[4:8] == [(DECIDE_DELTA_PATH, 409), (DECIDE_DELTA_PATH, 200)] * 2
            assert decisions_in(broker.trail) == [c.tool_use_id for c in made for _ in "ab"] + ["f"]


async def test_a_broker_too_old_for_deltas_answers_404_and_the_client_sends_in_full(tmp_path: Path) -> None:
    policy = Seeing()
    made = calls(tmp_path, 3)
    with anyio.fail_after(60):
        async with brokers(tmp_path, 1, policy) as [broker]:
            balancer = Balancer([decision_app(broker)], delta_status=404)
            async with serving(broker, balancer) as url, RemoteGovernor(url, token=TOKEN) as governor:
                before = await run(governor, "s", made)
                assert not governor.delta
            assert policy.seen == before
            assert balancer.exchanges == [(DECIDE_PATH, 200), (DECIDE_DELTA_PATH, 404)] + [(DECIDE_PATH, 200)] * (
                len(made) - 1
            )
            assert decisions_in(broker.trail) == [c.tool_use_id for c in made]


async def test_a_broker_that_misses_even_the_full_history_gets_no_call_allowed(tmp_path: Path) -> None:
    policy = Seeing()
    with anyio.fail_after(60):
        async with brokers(tmp_path, 1, policy) as [broker]:
            balancer = Balancer([decision_app(broker)], delta_status=409)
            async with serving(broker, balancer) as url, RemoteGovernor(url, token=TOKEN) as governor:
                first, second = calls(tmp_path, 0)
                assert (await governor.decide(first, CallContext(session_id="s"))).behavior == "allow"
                refused = await governor.decide(second, CallContext(session_id="s"))
            assert refused.behavior == "deny"
            assert "answered 409" in (refused.error or "")
            assert balancer.exchanges == [(DECIDE_PATH, 200), (DECIDE_DELTA_PATH, 409), (DECIDE_DELTA_PATH, 409)]
            assert governor.delta  # a miss is no reason to stop sending deltas


async def test_two_brokers_behind_a_load_balancer_see_the_whole_session(tmp_path: Path) -> None:
    policy = Seeing()
    made = calls(tmp_path, 5)
    with anyio.fail_after(60):
        async with brokers(tmp_path, 2, policy) as pair:
            balancer = Balancer([decision_app(b) for b in pair])
            async with serving(pair[0], balancer) as url, RemoteGovernor(url, token=TOKEN) as governor:
                before = await run(governor, "s", made[:-1])
                fetch = await governor.decide(made[-1], CallContext(session_id="s"))
            assert policy.seen[:-1] == before
            assert fetch.behavior == "deny"  # whichever broker decided, it saw the Read the other one decided
            assert (DECIDE_DELTA_PATH, 409) in balancer.exchanges
            assert decisions_in(pair[0].trail) == [c.tool_use_id for c in made]
            trail = pair[0].trail
            assert verify_trail(trail.store, [trail.public_key], full=True).size == len(made)


def post(url: str, body: bytes) -> tuple[int, dict[str, Any]]:
    import http.client

    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"}
        conn.request("POST", DECIDE_DELTA_PATH, body=body, headers=headers)
        response = conn.getresponse()
        answer: dict[str, Any] = json.loads(response.read())
        return response.status, answer
    finally:
        conn.close()


def test_a_delta_request_holds_the_entries_after_the_acknowledged_ones_as_the_broker_reads_them() -> None:
    from magistrate.broker import DecideDeltaRequest

    governor = RemoteGovernor("http://127.0.0.1:9", history_limit=3)
    tricky: dict[str, Any] = {"text": '"entries":[]}}', "history": [], "path": "/é/𝄞"}
    for i in range(4):  # the first is forgotten to the limit
        tool_input = {**tricky, "n": i}
        governor._remember("s", ToolCall("Bash", tool_input, f"t{i}"), Decision("allow", tool_input))
    call = ToolCall("Bash", {"text": '"entries":[]}}'}, "t9")
    context = CallContext(session_id="s", cwd="/w", labels={"entries": "[]}}"})

    def sent(*, full: bool = False) -> DecideDeltaRequest:
        body, covered, _ = governor._delta_request(call, context, full=full)
        assert covered == 4
        return DecideDeltaRequest.model_validate_json(body)

    whole = sent()  # nothing acknowledged yet: all the client remembers, numbered from the first one kept
    assert (whole.call, whole.context) == (call, context)
    assert (whole.history.base, whole.history.fingerprint, whole.history.length) == (1, None, 3)
    assert whole.history.entries == governor.history("s")
    memory = governor._encoded["s"]
    governor._acknowledge("s", memory, 3, "3:ab12")
    tail = sent()
    assert (tail.history.base, tail.history.fingerprint, tail.history.length) == (3, "ab12", 3)
    assert tail.history.entries == governor.history("s")[-1:]
    assert sent(full=True).history == whole.history  # after a 409
    governor._acknowledge("s", memory, 2, "2:cd34")  # an answer covering less, arriving late, is not kept
    assert sent().history.fingerprint == "ab12"
    governor._acknowledge("s", memory, 4, "3:ef56")  # an answer that does not say what was asked is not kept
    assert sent().history.fingerprint == "ab12"
