"""`Transport`: the pluggable way to reach a Claude Code process, as `claude_agent_sdk` defines it.

By default a run starts the CLI itself (its own process group, bounded teardown). A program that reaches the
CLI some other way (a container, a remote host) passes a `Transport` to `query()` or `ClaudeSDKClient`; the
run then speaks the same control protocol over it, so hooks, `can_use_tool`, in-process MCP servers and
governance work the same. `TransportChannel` adapts a transport to what the control session reads and writes.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping
from typing import Any

import anyio

from magistrate.sdk._errors import CLIConnectionError


class Transport(ABC):
    """A connection to a Claude Code process speaking stream-json (one JSON object per line) both ways."""

    @abstractmethod
    async def connect(self) -> None:
        """Start or reach the process."""

    @abstractmethod
    async def write(self, data: str) -> None:
        """Send raw text (newline-terminated JSON lines)."""

    @abstractmethod
    def read_messages(self) -> AsyncIterator[dict[str, Any]]:
        """Every JSON object the process writes, in order, until it ends."""

    @abstractmethod
    async def close(self) -> None:
        """End the connection and whatever it started."""

    @abstractmethod
    def is_ready(self) -> bool:
        """Whether `write` can be called."""

    @abstractmethod
    async def end_input(self) -> None:
        """Close the process's input: no more prompts or answers will be sent."""


class TransportChannel:
    """A user's `Transport`, read and written the way the control session reads and writes the CLI."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport
        self._messages: AsyncIterator[dict[str, Any]] | None = None

    @classmethod
    async def start(cls, transport: Transport) -> TransportChannel:
        if not isinstance(transport, Transport):
            raise TypeError(f"transport must be a magistrate.sdk.Transport, got {type(transport).__name__}")
        await transport.connect()
        return cls(transport)

    async def send(self, message: Mapping[str, Any]) -> None:
        if not self._transport.is_ready():
            raise CLIConnectionError("the transport is not ready to be written to")
        await self._transport.write(json.dumps(message) + "\n")

    async def end_input(self) -> None:
        await self._transport.end_input()

    async def receive_line(self) -> bytes | None:
        if self._messages is None:
            self._messages = self._transport.read_messages()
        try:
            message = await self._messages.__anext__()
        except StopAsyncIteration:
            return None
        return json.dumps(message).encode()

    async def wait(self) -> int:
        return 0  # a transport reports failures by raising, not by an exit code

    def stderr_text(self) -> str:
        return ""

    async def close(self, *, grace: float = 5.0) -> None:
        """Close the message stream (an async generator is finished, not left to the garbage collector), then
        the transport."""
        messages, self._messages = self._messages, None
        aclose = getattr(messages, "aclose", None)
        try:
            if aclose is not None:
                with anyio.move_on_after(grace):
                    await aclose()
        finally:
            await self._transport.close()

    def kill(self) -> None:
        """A transport is ended only by its own `close()`; there is nothing to end synchronously."""

    def release(self) -> None:
        """Nothing is held beyond what `close` ends."""
