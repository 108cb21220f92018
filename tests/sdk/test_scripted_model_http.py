"""The scripted model at the HTTP level: framing, endpoints, errors, templating and stateless turns."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from typing import Any

import anyio
import pytest

from magistrate.sdk.scripted_model import ScriptedModel

SCENARIO: dict[str, Any] = {
    "rules": [
        {
            "name": "weather",
            "contains": "weather",
            "turns": [
                {"text": "Let me look.", "tool_calls": [{"name": "Bash", "input": {"command": "curl {prompt}"}}]},
                "It says: {last_tool_result}",
            ],
        },
        {"name": "exact", "exact": "ping", "turns": ["pong"]},
        {"regex": "^count (\\d+)$", "turns": ["one", "two"]},
    ],
    "default": {"turns": ["Hello from {model}."]},
}


@pytest.fixture
def model() -> Iterator[ScriptedModel]:
    with ScriptedModel(SCENARIO) as running:
        yield running


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": [{"type": "text", "text": text}]}


def assistant(text: str = "ok") -> dict[str, Any]:
    return {"role": "assistant", "content": [{"type": "text", "text": text}]}


def tool_result(tool_use_id: str, content: Any, *, is_error: bool = False) -> dict[str, Any]:
    block = {"type": "tool_result", "tool_use_id": tool_use_id, "content": content, "is_error": is_error}
    return {"role": "user", "content": [block]}


def body(*messages: dict[str, Any], stream: bool = False, tools: bool = True) -> dict[str, Any]:
    return {
        "model": "claude-test-1",
        "max_tokens": 1024,
        "stream": stream,
        "messages": list(messages),
        "tools": [{"name": "Bash", "input_schema": {"type": "object"}}] if tools else [],
    }


def request(
    model: ScriptedModel,
    path: str,
    payload: Any = None,
    *,
    method: str = "POST",
    conn: http.client.HTTPConnection | None = None,
    chunked: bool = False,
) -> tuple[int, http.client.HTTPResponse, bytes]:
    connection = conn or http.client.HTTPConnection("127.0.0.1", model.port, timeout=10)
    data = payload if isinstance(payload, bytes) else (None if payload is None else json.dumps(payload).encode())
    headers = {"content-type": "application/json"}
    if chunked:
        connection.request(method, path, body=iter([data or b""]), headers=headers, encode_chunked=True)
    else:
        connection.request(method, path, body=data, headers=headers)
    response = connection.getresponse()
    raw = response.read()
    if conn is None:
        connection.close()
    return response.status, response, raw


def post(model: ScriptedModel, payload: dict[str, Any]) -> dict[str, Any]:
    status, _, raw = request(model, "/v1/messages?beta=true", payload)
    assert status == 200, raw
    result: dict[str, Any] = json.loads(raw)
    return result


def events(raw: bytes) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for frame in raw.decode().split("\n\n"):
        if not frame.strip():
            continue
        fields = dict(line.split(": ", 1) for line in frame.splitlines())
        data = json.loads(fields["data"])
        assert data["type"] == fields["event"]
        out.append((fields["event"], data))
    return out


def test_plain_json_reply(model: ScriptedModel) -> None:
    reply = post(model, body(user("hi")))
    assert reply["type"] == "message"
    assert reply["role"] == "assistant"
    assert reply["id"].startswith("msg_")
    assert reply["model"] == "claude-test-1"
    assert reply["content"] == [{"type": "text", "text": "Hello from claude-test-1."}]
    assert reply["stop_reason"] == "end_turn"
    assert reply["usage"]["input_tokens"] > 0
    assert reply["usage"]["output_tokens"] > 0


def test_sse_framing(model: ScriptedModel) -> None:
    status, response, raw = request(model, "/v1/messages", body(user("what is the weather in Paris"), stream=True))
    assert status == 200
    assert response.getheader("content-type") == "text/event-stream"
    assert response.getheader("transfer-encoding") == "chunked"
    stream = events(raw)
    names = [name for name, _ in stream]
    assert names[0] == "message_start"
    assert names[-2:] == ["message_delta", "message_stop"]
    assert stream[0][1]["message"]["model"] == "claude-test-1"
    assert stream[0][1]["message"]["content"] == []
    blocks: dict[int, dict[str, Any]] = {}
    for name, data in stream[1:-2]:
        if name == "content_block_start":
            assert data["index"] == len(blocks)
            blocks[data["index"]] = {**data["content_block"], "_json": ""}
        elif name == "content_block_delta":
            delta, block = data["delta"], blocks[data["index"]]
            if delta["type"] == "text_delta":
                block["text"] += delta["text"]
            else:
                assert delta["type"] == "input_json_delta"
                block["_json"] += delta["partial_json"]
        else:
            assert name == "content_block_stop"
    assert blocks[0]["text"] == "Let me look."
    assert blocks[1]["name"] == "Bash"
    assert blocks[1]["id"].startswith("toolu_")
    assert json.loads(blocks[1]["_json"]) == {"command": "curl what is the weather in Paris"}
    assert stream[-2][1]["delta"]["stop_reason"] == "tool_use"


def test_count_tokens(model: ScriptedModel) -> None:
    status, _, raw = request(model, "/v1/messages/count_tokens?beta=true", body(user("hi")))
    assert status == 200
    assert json.loads(raw)["input_tokens"] > 0
    assert [r.path for r in model.requests] == ["/v1/messages/count_tokens"]
    assert model.message_requests() == []


@pytest.mark.parametrize(("method", "path"), [("GET", "/v1/models"), ("POST", "/v1/complete"), ("GET", "/v1/messages")])
def test_unknown_endpoints_are_404_in_anthropic_shape(model: ScriptedModel, method: str, path: str) -> None:
    status, _, raw = request(model, path, None if method == "GET" else {}, method=method)
    assert status == 404
    error = json.loads(raw)
    assert error["type"] == "error"
    assert error["error"]["type"] == "not_found_error"


def test_invalid_json_is_400_and_logged(model: ScriptedModel) -> None:
    status, _, raw = request(model, "/v1/messages", b"{not json")
    assert status == 400
    assert json.loads(raw)["error"]["type"] == "invalid_request_error"
    [logged] = model.requests
    assert logged.body is None
    assert logged.error


def test_keep_alive_and_chunked_request_bodies(model: ScriptedModel) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", model.port, timeout=10)
    try:
        for chunked in (False, True, False):
            status, _, raw = request(model, "/v1/messages", body(user("ping")), conn=conn, chunked=chunked)
            assert status == 200
            assert json.loads(raw)["content"][0]["text"] == "pong"
    finally:
        conn.close()
    assert len(model.message_requests()) == 3


def test_matching_ignores_system_reminders_and_system_messages(model: ScriptedModel) -> None:
    prompt = {
        "role": "user",
        "content": [
            {"type": "text", "text": "<system-reminder>\nweather\n</system-reminder>"},
            {"type": "text", "text": "ping"},
        ],
    }
    system = {"role": "system", "content": "# Environment\nweather"}
    assert post(model, body(prompt, system))["content"][0]["text"] == "pong"


def test_turns_follow_the_conversation_then_fall_back(model: ScriptedModel) -> None:
    assert post(model, body(user("count 2")))["content"][0]["text"] == "one"
    assert (
        post(model, body(user("count 2"), assistant(), user("<system-reminder>x</system-reminder>")))["content"][0][
            "text"
        ]
        == "two"
    )
    past_the_end = post(model, body(user("count 2"), assistant(), tool_result("t1", "r"), assistant()))
    assert past_the_end["content"] == [{"type": "text", "text": "Done."}]
    assert past_the_end["stop_reason"] == "end_turn"
    # A new prompt starts the rule over.
    assert post(model, body(user("count 2"), assistant(), user("count 3")))["content"][0]["text"] == "one"


def test_last_tool_result_is_templated(model: ScriptedModel) -> None:
    first = post(model, body(user("weather?")))
    call = first["content"][1]
    result = [{"type": "text", "text": "sunny"}, {"type": "text", "text": "21 C"}]
    convo = [user("weather?"), {"role": "assistant", "content": first["content"]}, tool_result(call["id"], result)]
    second = post(model, body(*convo))
    assert second["content"] == [{"type": "text", "text": "It says: sunny\n21 C"}]
    [received] = model.tool_results()
    assert (received.tool_use_id, received.content, received.is_error) == (call["id"], "sunny\n21 C", False)


def test_tool_results_are_listed_once_each(model: ScriptedModel) -> None:
    convo = [user("weather?"), assistant(), tool_result("a", "first", is_error=True)]
    post(model, body(*convo))
    post(model, body(*convo, assistant(), tool_result("b", "second")))
    assert [(r.tool_use_id, r.content, r.is_error) for r in model.tool_results()] == [
        ("a", "first", True),
        ("b", "second", False),
    ]


def test_tool_use_ids_are_unique(model: ScriptedModel) -> None:
    ids = {post(model, body(user("weather")))["content"][1]["id"] for _ in range(5)}
    assert len(ids) == 5


def test_side_requests_without_tools_get_no_tool_calls(model: ScriptedModel) -> None:
    reply = post(model, body(user("summarise: the weather"), tools=False))
    assert [b["type"] for b in reply["content"]] == ["text"]
    assert reply["stop_reason"] == "end_turn"


@pytest.mark.anyio
async def test_concurrent_conversations_are_independent() -> None:
    scenario = {
        "rules": [
            {"contains": "slow", "turns": [{"text": "slow one", "delay": 0.6}, "slow two"]},
            {"contains": "fast", "turns": ["fast one", "fast two"]},
        ]
    }
    replies: dict[str, str] = {}

    async with ScriptedModel(scenario) as server:

        def ask(key: str, payload: dict[str, Any]) -> None:
            replies[key] = post(server, payload)["content"][0]["text"]  # insertion order = completion order

        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(anyio.to_thread.run_sync, ask, "slow1", body(user("slow")))
                tg.start_soon(anyio.to_thread.run_sync, ask, "fast2", body(user("fast"), assistant()))
                tg.start_soon(anyio.to_thread.run_sync, ask, "slow2", body(user("slow"), assistant()))
                tg.start_soon(anyio.to_thread.run_sync, ask, "fast1", body(user("fast")))
    assert replies == {"slow1": "slow one", "slow2": "slow two", "fast1": "fast one", "fast2": "fast two"}
    # The slow turn did not hold up the others: the server answers requests concurrently.
    assert list(replies)[-1] == "slow1"


def test_env_points_at_the_server(model: ScriptedModel) -> None:
    env = model.env()
    assert env["ANTHROPIC_BASE_URL"] == f"http://127.0.0.1:{model.port}"
    assert env["ANTHROPIC_API_KEY"]
    assert env["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] == "1"
    assert model.port > 0
