"""`ScriptedModel`: the scripted scenario served over HTTP, with a log of what the model was sent.

Tests want to write `with ScriptedModel(scenario) as model:` from synchronous code, asyncio or trio alike, so
by default the server runs in a thread of its own with its own event loop (an anyio blocking portal).
`serve()` runs it in the caller's event loop instead, which is what `magistrate scripted-model` does.
"""

from __future__ import annotations

import json
import threading
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc
import anyio.from_thread
from pydantic import ValidationError

from magistrate.broker import get_logger
from magistrate.sdk.scripted_model._errors import ScenarioError, ScriptedModelError
from magistrate.sdk.scripted_model._play import choose, usage
from magistrate.sdk.scripted_model._scenario import Scenario
from magistrate.sdk.scripted_model._wire import (
    MessagesRequest,
    ReceivedRequest,
    ToolResult,
    block_events,
    error_body,
    message_body,
    message_end,
    message_start,
    new_id,
    result_text,
)

if TYPE_CHECKING:
    from magistrate.sdk.scripted_model._http import HttpRequest, Responder

_log = get_logger("magistrate.scripted_model")
_SSE_HEADERS = {"content-type": "text/event-stream", "cache-control": "no-cache"}


class ScriptedModel:
    """A local Anthropic Messages API that answers from a scenario; also a context manager.

    `scenario` is a `Scenario`, a dict in the scenario format, or the path of a JSON or YAML file.
    Port 0 (the default) binds a free port; `base_url` tells which.
    """

    def __init__(
        self, scenario: Scenario | dict[str, Any] | str | Path, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        if isinstance(scenario, Scenario):
            self.scenario = scenario
        elif isinstance(scenario, dict):
            self.scenario = Scenario.parse(scenario)
        elif isinstance(scenario, str | Path):
            self.scenario = Scenario.load(scenario)
        else:
            raise ScenarioError(f"expected a Scenario, a dict or a path, got {type(scenario).__name__}")
        self.host = host
        self.port = port
        self._lock = threading.Lock()
        self._requests: list[ReceivedRequest] = []
        self._exit: ExitStack | None = None
        self._scope: anyio.CancelScope | None = None

    # -- what the model was sent -------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """`http://host:port`, for ANTHROPIC_BASE_URL; the port is known once the server has started."""
        return f"http://{self.host}:{self.port}"

    def env(self) -> dict[str, str]:
        """The environment variables that point the Claude Code CLI at this model, offline."""
        return {
            "ANTHROPIC_BASE_URL": self.base_url,
            "ANTHROPIC_API_KEY": "scripted-model",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        }

    @property
    def requests(self) -> list[ReceivedRequest]:
        """Every request received so far, in order of arrival (a copy)."""
        with self._lock:
            return list(self._requests)

    def message_requests(self) -> list[MessagesRequest]:
        """The parsed bodies of the `POST /v1/messages` requests (not count_tokens)."""
        return [r.body for r in self.requests if r.path == "/v1/messages" and r.body is not None]

    def tool_results(self) -> list[ToolResult]:
        """Each tool_result the model received, once, in the order it first arrived."""
        seen: dict[str, ToolResult] = {}
        for body in self.message_requests():
            for message in body.messages:
                if message.role != "user" or isinstance(message.content, str):
                    continue
                for block in message.content:
                    if block.type == "tool_result" and block.tool_use_id and block.tool_use_id not in seen:
                        seen[block.tool_use_id] = ToolResult(
                            tool_use_id=block.tool_use_id,
                            content=result_text(block.content),
                            is_error=bool(block.is_error),
                        )
        return list(seen.values())

    def clear(self) -> None:
        """Forget the requests received so far."""
        with self._lock:
            self._requests.clear()

    # -- the HTTP application ------------------------------------------------------------------------------

    async def handle(self, request: HttpRequest, respond: Responder) -> None:
        """Answer one HTTP request (the server calls this; it is public for custom servers)."""
        body: MessagesRequest | None = None
        problem: str | None = None
        if request.method == "POST" and request.path in ("/v1/messages", "/v1/messages/count_tokens"):
            try:
                body = MessagesRequest.model_validate(json.loads(request.body or b"{}"))
            except (ValueError, ValidationError) as exc:
                problem = f"invalid request body: {exc}"
        with self._lock:
            self._requests.append(ReceivedRequest(request.method, request.path, request.headers, body, problem))
        if problem:
            _log.warning("unreadable request", path=request.path, problem=problem)
        headers = {"request-id": new_id("req")}
        if request.method != "POST" or request.path not in ("/v1/messages", "/v1/messages/count_tokens"):
            await respond.json(404, error_body(404, f"{request.method} {request.path} not found"), headers)
            return
        if body is None:
            await respond.json(400, error_body(400, problem or "invalid request body"), headers)
            return
        if request.path == "/v1/messages/count_tokens":
            await respond.json(200, {"input_tokens": max(1, len(request.body) // 4)}, headers)
            return
        reply = choose(self.scenario, body)
        _log.debug("reply", rule=reply.rule, turn=reply.turn, stream=body.stream, stop_reason=reply.stop_reason)
        counts = usage(len(request.body), reply.content)
        message = message_body(body.model, reply.content, reply.stop_reason, counts)
        if not body.stream:
            if reply.delay:
                await anyio.sleep(reply.delay)
            await respond.json(200, message, headers)
            return
        await respond.start(200, {**_SSE_HEADERS, **headers})
        await respond.send(message_start(message))
        if reply.delay:
            await anyio.sleep(reply.delay)
        for index, block in enumerate(reply.content):
            await respond.send(b"".join(block_events(index, block)))
        await respond.send(message_end(message))
        await respond.end()

    # -- running -----------------------------------------------------------------------------------------

    async def serve(self, *, task_status: anyio.abc.TaskStatus[int] = anyio.TASK_STATUS_IGNORED) -> None:
        """Serve in the current event loop until cancelled; reports the bound port through `task_status`."""
        # h11 is imported here, not at the top: building scenarios and reading logs need no HTTP machinery.
        from magistrate.sdk.scripted_model._http import serve

        try:
            listener = await anyio.create_tcp_listener(local_host=self.host, local_port=self.port)
        except OSError as exc:
            raise ScriptedModelError(f"cannot listen on {self.host}:{self.port}: {exc.strerror or exc}") from exc
        async with listener:
            self.port = listener.extra(anyio.abc.SocketAttribute.local_port)  # noqa: S610 - anyio, not Django
            with anyio.CancelScope() as scope:
                self._scope = scope
                task_status.started(self.port)
                await serve(listener, self.handle)

    def start(self) -> ScriptedModel:
        """Start serving from a background thread; returns self once the port is bound."""
        if self._exit is not None:
            raise ScriptedModelError("the scripted model is already running")
        stack = ExitStack()
        portal = stack.enter_context(anyio.from_thread.start_blocking_portal())
        try:
            future, _ = portal.start_task(self.serve)
        except BaseException:
            stack.close()
            raise
        stack.callback(future.exception, 10)
        stack.callback(portal.call, self._cancel)
        self._exit = stack
        return self

    def _cancel(self) -> None:
        if self._scope is not None:
            self._scope.cancel()

    def close(self) -> None:
        """Stop serving and join the thread; open connections are dropped."""
        stack, self._exit = self._exit, None
        if stack is not None:
            stack.close()

    def __enter__(self) -> ScriptedModel:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    async def __aenter__(self) -> ScriptedModel:
        return await anyio.to_thread.run_sync(self.start)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await anyio.to_thread.run_sync(self.close)
