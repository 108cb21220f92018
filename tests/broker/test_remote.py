"""RemoteGovernor against the real decision service on loopback: the same decisions, recorded, and fail-closed.

Each test serves a broker (a policy file, a SQLite trail) with the approval server and the decision API in one
HTTP app, the way `magistrate serve approval --transport http` does, on a socket bound before the server
starts, so a client can connect at once and no test waits for a server by sleeping.
"""

from __future__ import annotations

import dataclasses
import http.client
import json
import socket
import textwrap
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import anyio
import anyio.to_thread
import pytest

from magistrate.broker import (
    Approval,
    Broker,
    CallContext,
    Decision,
    DecisionRecord,
    Governor,
    PriorDecision,
    RemoteBrokerError,
    RemoteGovernor,
    ToolCall,
    ToolOutcome,
    Trail,
    load_policy,
    parse_record,
    verify_trail,
)
from magistrate.broker._decision_wire import DECISION_ADAPTER, DecideRequest
from magistrate.servers._approval_server import build_server
from magistrate.servers._decision_api import WithDecisionApi, decision_app
from magistrate.servers._http import serve_http

pytestmark = pytest.mark.anyio
TOKEN = "s3cret-token"

POLICY = textwrap.dedent(
    """
    from magistrate.broker import Deny, RulePolicy

    policy = RulePolicy(default="allow", deny=["Bash(rm:*)"], ask=["Bash(touch:*)"])

    @policy.rule("WebFetch")
    def no_network_after_secrets(call, context):
        if any(p.tool_name == "Read" and "secret" in str(p.tool_input.get("file_path")) for p in context.history):
            return Deny("no network after reading secrets")
        return None
    """
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # uvicorn runs on asyncio only


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "policy.py"
    path.write_text(POLICY)
    return path


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "trail.sqlite3")


@contextmanager
def listening() -> Iterator[tuple[socket.socket, str]]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    try:
        yield sock, f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()


@asynccontextmanager
async def serving(broker: Broker, token: str | None = TOKEN) -> AsyncIterator[str]:
    """The approval server and the decision API over `broker`, on loopback, until the block ends."""
    server = build_server(governor=broker, approver=None)
    api = decision_app(broker)
    with listening() as (sock, url):
        async with anyio.create_task_group() as tg:

            async def serve() -> None:
                await serve_http(
                    server, host="127.0.0.1", port=0, token=token, sock=sock, wrap=lambda app: WithDecisionApi(app, api)
                )

            tg.start_soon(serve)
            yield url
            tg.cancel_scope.cancel()


@asynccontextmanager
async def broker_for(policy_file: Path, db: str, key: Path) -> AsyncIterator[Broker]:
    trail = Trail.open(db, key_path=key)
    try:
        yield Broker(load_policy(policy_file), trail)
    finally:
        await trail.aclose()


def bash(command: str, tool_use_id: str) -> ToolCall:
    return ToolCall("Bash", {"command": command}, tool_use_id)


def without_timing(decision: Decision) -> Decision:
    return dataclasses.replace(decision, elapsed_ns=0)


def raw_post(url: str, path: str, body: bytes, token: str | None) -> tuple[int, dict[str, object]]:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


# -- against the service ----------------------------------------------------------------------------------


async def test_allow_deny_and_ask_come_back_as_the_policy_decided_and_are_recorded(
    policy_file: Path, db: str, tmp_path: Path
) -> None:
    key = tmp_path / "keys" / "trail.key"
    local = load_policy(policy_file)
    context = CallContext(session_id="s1", cwd=str(tmp_path))
    calls = [bash("echo hi", "a"), bash("rm -rf x", "d"), bash("touch f", "k")]
    with anyio.fail_after(30):
        async with broker_for(policy_file, db, key) as broker, serving(broker) as url:
            async with RemoteGovernor(url, token=TOKEN) as governor:
                typed: Governor = governor  # the SDK takes it wherever it takes the in-process broker
                assert typed is governor
                health = await governor.health()
                assert health.policy_version == local.version
                assert health.log_id == broker.trail.log_id
                got = [await governor.decide(call, context) for call in calls]
                expected = [await local.decide(call, context) for call in calls]
            assert [without_timing(d) for d in got] == [without_timing(d) for d in expected]
            assert [d.behavior for d in got] == ["allow", "deny", "ask"]
            deny = got[1]
            assert deny.rule is not None
            assert (deny.rule.text, deny.rule.list) == ("Bash(rm:*)", "deny")
            assert deny.rule.source == expected[1].rule.source  # type: ignore[union-attr]
            assert deny.policy_version == local.version
            stored = [parse_record(r.body) for r in broker.trail.records(start=0)]
            assert all(isinstance(r, DecisionRecord) for r in stored)
            recorded = [(r.tool_use_id, r.decision) for r in stored if isinstance(r, DecisionRecord)]
            assert [(tool_use_id, d.behavior) for tool_use_id, d in recorded] == [
                ("a", "allow"),
                ("d", "deny"),
                ("k", "ask"),
            ]
            assert recorded[1][1].rule == deny.rule  # the deciding rule, its text and source, as the client got it


async def test_outcomes_and_approvals_are_recorded_and_the_trail_verifies(
    policy_file: Path, db: str, tmp_path: Path
) -> None:
    key = tmp_path / "keys" / "trail.key"
    with anyio.fail_after(30):
        async with broker_for(policy_file, db, key) as broker, serving(broker) as url:
            async with RemoteGovernor(url, token=TOKEN) as governor:
                context = CallContext(session_id="s2")
                assert (await governor.decide(bash("touch f", "k"), context)).behavior == "ask"
                await governor.record_approval(Approval("k", "Bash", "s2", "allow", "callback:yes", "ok"))
                await governor.record_outcome(ToolOutcome("k", "Bash", "s2", "success", 3, "00" * 32))
            kinds = [r.kind for r in broker.trail.records(start=0)]
            assert kinds == ["decision", "approval", "outcome"]
            assert verify_trail(broker.trail.store, [broker.trail.public_key], full=True).size == 3


async def test_the_history_travels_with_the_request_so_any_broker_sees_the_session(
    policy_file: Path, tmp_path: Path
) -> None:
    key = tmp_path / "keys" / "trail.key"
    shared = str(tmp_path / "shared.sqlite3")
    context = CallContext(session_id="s3", cwd=str(tmp_path))
    read = ToolCall("Read", {"file_path": str(tmp_path / "secret.txt")}, "r")
    fetch = ToolCall("WebFetch", {"url": "https://example.com", "prompt": "x"}, "f")
    with anyio.fail_after(30):
        async with (
            broker_for(policy_file, shared, key) as first,
            broker_for(policy_file, shared, key) as second,
            serving(first) as first_url,
            serving(second) as second_url,
            RemoteGovernor(first_url, token=TOKEN) as one,
            RemoteGovernor(second_url, token=TOKEN) as other,
        ):
            assert (await one.decide(read, context)).behavior == "allow"
            assert [p.tool_name for p in one.history("s3")] == ["Read"]
            # The second broker never saw this session; the history the client sends is what it decides on.
            carried = dataclasses.replace(context, history=one.history("s3"))
            denied = await other.decide(fetch, carried)
            assert denied.behavior == "deny"
            assert denied.message == "no network after reading secrets"
            assert (await other.decide(fetch, context)).behavior == "allow"
        trail = Trail.open(shared, key_path=key)
        try:
            assert verify_trail(trail.store, [trail.public_key], full=True).size == 3
        finally:
            trail.close()


def test_the_remembered_history_is_sent_as_the_broker_reads_it() -> None:
    """The client joins the history from each decision's JSON, kept since it was made; the broker must read
    exactly the history the client remembers, whatever the inputs hold (a `"history":[]` of their own too)."""
    governor = RemoteGovernor("http://127.0.0.1:9")
    tricky: dict[str, Any] = {"history": [], "labels": {"history": "[]"}, "text": '"history":[]'}
    inputs: list[dict[str, Any]] = [{"command": "echo 1"}, tricky, {"file_path": "/é/𝄞"}]
    for i, tool_input in enumerate(inputs):
        governor._remember("s", ToolCall("Bash", tool_input, f"t{i}"), Decision("allow", tool_input))
    call = ToolCall("Bash", {"history": [], "command": "echo next"}, "t9")
    for context in (
        CallContext(session_id="s", cwd="/w", labels={"history": "[]"}, agent_id="a"),
        CallContext(session_id="s"),
    ):
        sent = DecideRequest.model_validate_json(governor._request(call, context))
        assert sent == DecideRequest(call=call, context=dataclasses.replace(context, history=governor.history("s")))
    own = (PriorDecision("Read", {"file_path": "/x"}, "deny", None),)
    sent = DecideRequest.model_validate_json(governor._request(call, CallContext(session_id="s", history=own)))
    assert sent.context.history == own  # a caller's own history is sent instead
    assert DecideRequest.model_validate_json(governor._request(call, CallContext())).context.history == ()


async def test_large_inputs_are_cut_in_the_history_it_keeps(policy_file: Path, db: str, tmp_path: Path) -> None:
    from magistrate.broker._remote import HISTORY_STRING_LIMIT

    key = tmp_path / "keys" / "trail.key"
    big = "x" * (HISTORY_STRING_LIMIT * 3)
    write = ToolCall("Write", {"file_path": str(tmp_path / "a.txt"), "content": big}, "w")
    with anyio.fail_after(30):
        async with (
            broker_for(policy_file, db, key) as broker,
            serving(broker) as url,
            RemoteGovernor(url, token=TOKEN) as governor,
        ):
            decision = await governor.decide(write, CallContext(session_id="s4", cwd=str(tmp_path)))
            assert decision.input["content"] == big  # the decision itself is never cut
            [prior] = governor.history("s4")
            assert prior.tool_input["file_path"] == str(tmp_path / "a.txt")
            assert len(prior.tool_input["content"]) < HISTORY_STRING_LIMIT + 100


async def test_a_bad_token_is_refused_with_401_and_the_client_denies(
    policy_file: Path, db: str, tmp_path: Path
) -> None:
    key = tmp_path / "keys" / "trail.key"
    body = DecideRequest.model_validate({"call": {"tool_name": "Bash", "tool_input": {"command": "echo"}}})
    with anyio.fail_after(30):
        async with broker_for(policy_file, db, key) as broker, serving(broker) as url:
            for token in (None, "wrong"):
                status, answer = await anyio.to_thread.run_sync(
                    raw_post, url, "/v1/decide", body.model_dump_json().encode(), token
                )
                assert (status, answer["error"]) == (401, "unauthorized")
            async with RemoteGovernor(url, token="wrong") as governor:
                decision = await governor.decide(bash("echo hi", "t"), CallContext(session_id="s5"))
                assert decision.behavior == "deny"
                assert decision.rule is None
                assert "401" in (decision.error or "")
                with pytest.raises(RemoteBrokerError) as raised:
                    await governor.record_outcome(ToolOutcome("t", "Bash", "s5", "success"))
                assert raised.value.status == 401
            assert broker.trail.size() == 0


async def test_an_invalid_request_is_answered_422(policy_file: Path, db: str, tmp_path: Path) -> None:
    key = tmp_path / "keys" / "trail.key"
    with anyio.fail_after(30):
        async with broker_for(policy_file, db, key) as broker, serving(broker) as url:
            status, answer = await anyio.to_thread.run_sync(
                raw_post, url, "/v1/decide", b'{"call": {"tool_name": "Bash"}}', TOKEN
            )
            assert status == 422
            assert answer["error"] == "invalid_request"
            assert "tool_input" in str(answer["detail"])


async def test_a_dead_broker_gives_a_deny_naming_the_error() -> None:
    with listening() as (_, url):
        pass  # the port is free again: nothing listens there
    async with RemoteGovernor(url, token=TOKEN, timeout=5) as governor:
        with anyio.fail_after(10):
            decision = await governor.decide(bash("echo hi", "x"), CallContext(session_id="s6"))
            with pytest.raises(RemoteBrokerError, match="cannot reach"):
                await governor.record_approval(Approval("x", "Bash", "s6", "allow", "callback:yes"))
    assert decision.behavior == "deny"
    assert decision.rule is None
    assert "cannot reach the broker" in (decision.error or "")
    assert decision.input == {"command": "echo hi"}


async def test_a_broker_that_never_answers_is_a_deny_within_the_timeout() -> None:
    with listening() as (_, url):  # the kernel accepts the connection; nobody ever reads or answers
        async with RemoteGovernor(url, token=TOKEN, timeout=0.5) as governor:
            with anyio.fail_after(10):
                decision = await governor.decide(bash("echo hi", "y"), CallContext(session_id="s7"))
    assert decision.behavior == "deny"
    assert "did not answer within 0.5 s" in (decision.error or "")


def test_only_http_urls_are_accepted() -> None:
    with pytest.raises(RemoteBrokerError, match="http"):
        RemoteGovernor("ftp://example.com")


async def test_a_run_names_its_broker_by_option_or_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from magistrate.broker import Environment
    from magistrate.sdk import ClaudeCodeOptions
    from magistrate.sdk._errors import OptionsError
    from magistrate.sdk._governed import _default_governor

    monkeypatch.setenv("MAGISTRATE_BROKER", "http://127.0.0.1:9/shared")
    monkeypatch.setenv("MAGISTRATE_BROKER_TOKEN", TOKEN)
    env = Environment.read()
    with anyio.fail_after(10):
        governor, owned = await _default_governor(ClaudeCodeOptions(), str(tmp_path), env)
        chosen, _ = await _default_governor(ClaudeCodeOptions(broker="https://broker.example"), str(tmp_path), env)
        with pytest.raises(OptionsError, match="own policy and trail"):
            await _default_governor(ClaudeCodeOptions(broker="http://b", policy=tmp_path / "p.py"), str(tmp_path), env)
    assert isinstance(governor, RemoteGovernor)
    assert governor.url == "http://127.0.0.1:9/shared"
    assert owned == [governor]
    assert isinstance(chosen, RemoteGovernor)
    assert chosen.url == "https://broker.example"


class _OneRequestPerConnection(BaseHTTPRequestHandler):
    """Answers as HTTP/1.1 without `Connection: close`, then hangs up: a kept-alive connection gone stale."""

    protocol_version = "HTTP/1.1"
    connections: ClassVar[list[int]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.connections.append(id(self.connection))
        body = DECISION_ADAPTER.dump_json(Decision("allow", {"command": "echo"}, policy_version="v-stale"))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        pass


async def test_a_kept_alive_connection_the_broker_closed_is_retried_once_on_a_fresh_one() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _OneRequestPerConnection)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        async with RemoteGovernor(url, timeout=5) as governor:
            with anyio.fail_after(20):
                for n in range(3):
                    decision = await governor.decide(bash("echo", f"k{n}"), CallContext(session_id="s8"))
                    assert (decision.behavior, decision.error) == ("allow", None)
        assert len(_OneRequestPerConnection.connections) == 3
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_serve_takes_a_policy_only_for_the_approval_server(capsys: pytest.CaptureFixture[str]) -> None:
    from magistrate.cli import main

    assert main(["serve", "documents", "--transport", "http", "--policy", "policy.py"]) == 2
    assert "--policy applies only to the approval server" in capsys.readouterr().err
    assert main(["serve", "approval", "--transport", "http", "--host", "0.0.0.0"]) == 2
    assert "needs a bearer token" in capsys.readouterr().err


async def test_the_approval_prompt_is_served_beside_the_api_by_the_same_broker(
    policy_file: Path, db: str, tmp_path: Path
) -> None:
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client
    from mcp_types import TextContent

    key = tmp_path / "keys" / "trail.key"
    with anyio.fail_after(30):
        async with broker_for(policy_file, db, key) as broker, serving(broker) as url:
            async with (
                httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}) as http,
                Client(streamable_http_client(f"{url}/mcp", http_client=http)) as client,
            ):
                result = await client.call_tool(
                    "approval_prompt", {"tool_name": "Bash", "input": {"command": "rm -rf x"}, "tool_use_id": "p1"}
                )
            block = result.content[0]
            assert isinstance(block, TextContent)
            assert json.loads(block.text)["behavior"] == "deny"
            async with RemoteGovernor(url, token=TOKEN) as governor:
                await governor.decide(bash("echo hi", "p2"), CallContext(session_id="s9"))
            ids = [r.tool_use_id for r in broker.trail.records(start=0)]
            assert ids == ["p1", "p2"]  # one trail behind both doors


async def test_the_clis_own_decisions_are_recorded_and_nothing_else_passes_as_one(
    policy_file: Path, db: str, tmp_path: Path
) -> None:
    from magistrate.broker import RuleRef, RuleSource, cli_decision

    key = tmp_path / "keys" / "trail.key"
    refused = cli_decision({"file_path": ".env"}, {"is_error": True, "content": "denied"}, None)
    forged = Decision("allow", {"command": "rm -rf /"}, rule=RuleRef("x", "Bash(*)", RuleSource("python"), "allow"))
    with anyio.fail_after(30):
        async with broker_for(policy_file, db, key) as broker, serving(broker) as url:
            async with RemoteGovernor(url, token=TOKEN) as governor:
                await governor.record_cli_decision(
                    ToolCall("Read", {"file_path": ".env"}, "r1"), CallContext(), refused
                )
                with pytest.raises(ValueError, match="claude_code"):  # refused before it is sent
                    await governor.record_cli_decision(
                        ToolCall("Bash", {"command": "rm -rf /"}, "r2"), CallContext(), forged
                    )
            body = {"call": {"tool_name": "Bash", "tool_input": {}}, "decision": DECISION_ADAPTER.dump_python(forged)}
            status, answer = await anyio.to_thread.run_sync(
                raw_post, url, "/v1/cli-decision", json.dumps(body).encode(), TOKEN
            )
            assert status == 422
            assert "claude_code" in str(answer["detail"])
            with pytest.raises(ValueError, match="claude_code"):
                await broker.record_cli_decision(ToolCall("Bash", {}, "r3"), CallContext(), forged)
            records = list(broker.trail.records(start=0))
            assert [(r.kind, r.tool_use_id) for r in records] == [("decision", "r1")]
