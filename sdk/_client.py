"""`ClaudeSDKClient`: a conversation with the CLI that stays open across queries."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from types import TracebackType
from typing import Any

from magistrate.broker import PermissionMode
from magistrate.sdk._agent_options import AnyOptions
from magistrate.sdk._control_types import ContextUsageResponse, McpStatusResponse
from magistrate.sdk._errors import CLIConnectionError
from magistrate.sdk._events import Message
from magistrate.sdk._options import ClaudeCodeOptions
from magistrate.sdk._run import Run
from magistrate.sdk._transport import Transport
from magistrate.sdk._types import ResultMessage


class _Messages:
    """An iterator over the run's messages. Not an async generator: it holds nothing to clean up, so leaving a
    loop early (`break`) needs no `aclose()`, under asyncio or trio."""

    def __init__(self, run: Run, *, until_result: bool) -> None:
        self._run = run
        self._until_result = until_result
        self._done = False

    def __aiter__(self) -> _Messages:
        return self

    async def __anext__(self) -> Message:
        if self._done:
            raise StopAsyncIteration
        message = await self._run.next_message()
        if message is None:
            self._done = True
            raise StopAsyncIteration
        if self._until_result and isinstance(message, ResultMessage):
            self._done = True
        return message


class ClaudeSDKClient:
    """Send queries, read the messages they produce, interrupt, and close: one CLI process per client.

    Use it as an async context manager, or call `connect()` and `disconnect()` yourself (a notebook does).
    Nothing runs in the background: messages are read while you iterate, so the client works the same under
    asyncio and trio and from any task.
    """

    def __init__(self, options: AnyOptions | None = None, transport: Transport | None = None) -> None:
        self.options: AnyOptions = options or ClaudeCodeOptions()
        self._transport = transport
        self._run: Run | None = None

    async def connect(self, prompt: str | AsyncIterable[dict[str, Any]] | None = None) -> None:
        """Start the CLI; an optional first prompt is sent at once."""
        if self._run is not None:
            return
        self._run = await Run.start(self.options, self._transport)
        if prompt is not None:
            await self._run.send_prompt(prompt)

    def _require(self) -> Run:
        if self._run is None:
            raise CLIConnectionError("not connected: call connect() or use `async with ClaudeSDKClient()`")
        return self._run

    async def query(self, prompt: str | AsyncIterable[dict[str, Any]], session_id: str = "default") -> None:
        """Send a prompt (or a stream of user messages) into the conversation."""
        await self._require().send_prompt(prompt, session_id)

    def receive_messages(self) -> AsyncIterator[Message]:
        """Every message from the CLI, until it exits."""
        return _Messages(self._require(), until_result=False)

    def receive_response(self) -> AsyncIterator[Message]:
        """The messages of one response, up to and including its `ResultMessage`."""
        return _Messages(self._require(), until_result=True)

    async def interrupt(self) -> None:
        """Stop the current response; the CLI ends it with a result."""
        await self._require().session.request({"subtype": "interrupt"})

    async def set_permission_mode(self, mode: PermissionMode) -> None:
        await self._require().session.request({"subtype": "set_permission_mode", "mode": mode})

    async def set_model(self, model: str | None = None) -> None:
        """Switch the model for the turns to come; None is the CLI's default."""
        await self._require().session.request({"subtype": "set_model", "model": model})

    async def rewind_files(self, user_message_id: str) -> None:
        """Put the files back as they were at that user message (needs `enable_file_checkpointing`)."""
        await self._require().session.request({"subtype": "rewind_files", "user_message_id": user_message_id})

    async def reconnect_mcp_server(self, server_name: str) -> None:
        """Connect a failed or disconnected MCP server again."""
        await self._require().session.request({"subtype": "mcp_reconnect", "serverName": server_name})

    async def toggle_mcp_server(self, server_name: str, enabled: bool) -> None:
        """Turn an MCP server on or off for the rest of the conversation."""
        request = {"subtype": "mcp_toggle", "serverName": server_name, "enabled": enabled}
        await self._require().session.request(request)

    async def stop_task(self, task_id: str) -> None:
        """Stop a background task (its `TaskNotificationMessage` follows, status `stopped`)."""
        await self._require().session.request({"subtype": "stop_task", "task_id": task_id})

    async def get_mcp_status(self) -> McpStatusResponse:
        """Every MCP server of the run, with its connection status and tools."""
        return await self._require().session.request({"subtype": "mcp_status"})  # type: ignore[return-value]

    async def get_context_usage(self) -> ContextUsageResponse:
        """How full the context window is, by category."""
        return await self._require().session.request({"subtype": "get_context_usage"})  # type: ignore[return-value]

    async def get_server_info(self) -> dict[str, Any] | None:
        """What the CLI answered to `initialize` (commands, output styles, ...)."""
        return None if self._run is None else self._run.init_response

    async def disconnect(self, *, grace: float = 5.0) -> None:
        """End the CLI process (bounded: it is terminated if it does not exit within `grace` seconds)."""
        run, self._run = self._run, None
        if run is not None:
            await run.close(grace=grace)

    async def __aenter__(self) -> ClaudeSDKClient:
        await self.connect()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        # Leaving on an error or a cancellation should not wait for the CLI to wind down politely.
        await self.disconnect(grace=5.0 if exc_type is None else 0.5)
        return False
