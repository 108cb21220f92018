"""The bundled servers, attached to every governed run in-process and paid for only when used.

`magistrate` (the approval prompt) is answered directly by `PromptResolver`. `compliance_db` and `documents`
answer `initialize` and `tools/list` from their tool definitions alone; their database opens, in a worker
thread, when the model first calls one of their tools. Neither path imports the `mcp` package, whose import
alone costs more than a whole run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

import anyio
import anyio.to_thread

from magistrate.sdk._sdk_mcp import McpEndpoint, tool_error


class _ToolSet(Protocol):
    def manifest(self) -> list[dict[str, Any]]: ...
    def call(self, name: str, arguments: Mapping[str, Any] | None) -> Any: ...


class ApprovalEndpoint(McpEndpoint):
    """`mcp__magistrate__approval_prompt`, answered by the run's resolver; always exactly one text block."""

    def __init__(self, answer: Callable[[Mapping[str, Any]], Any]) -> None:
        from magistrate.broker import INPUT_SCHEMA, SERVER_NAME, TOOL_DESCRIPTION, TOOL_NAME

        self.name = SERVER_NAME
        self._answer = answer
        self._tool_name = TOOL_NAME
        self._entry = {"name": TOOL_NAME, "description": TOOL_DESCRIPTION, "inputSchema": INPUT_SCHEMA}

    def tools(self) -> list[dict[str, Any]]:
        return [self._entry]

    async def call(self, tool: str, arguments: Mapping[str, Any]) -> dict[str, Any]:
        if tool != self._tool_name:
            return tool_error(f"unknown tool {tool!r}")
        text: str = await self._answer(arguments)
        return {"content": [{"type": "text", "text": text}]}


class LazyToolSetEndpoint(McpEndpoint):
    """A server whose tools are listed from definitions and whose storage opens on the first call."""

    def __init__(
        self,
        name: str,
        manifest: Callable[[], list[dict[str, Any]]],
        open_toolset: Callable[[], tuple[_ToolSet, Callable[[], None]]],
    ) -> None:
        self.name = name
        self._manifest = manifest
        self._open = open_toolset
        self._toolset: _ToolSet | None = None
        self._close: Callable[[], None] | None = None
        self._lock = anyio.Lock()

    def tools(self) -> list[dict[str, Any]]:
        return self._manifest()

    async def call(self, tool: str, arguments: Mapping[str, Any]) -> dict[str, Any]:
        async with self._lock:
            toolset = self._toolset
            if toolset is None:
                opened = await anyio.to_thread.run_sync(self._open)
                toolset = self._toolset = opened[0]
                self._close = opened[1]
        result = await anyio.to_thread.run_sync(toolset.call, tool, dict(arguments))
        mcp: dict[str, Any] = result.to_mcp_dict()
        return mcp

    async def aclose(self) -> None:
        """Close the storage a call opened, if any; the run is over."""
        close, self._close, self._toolset = self._close, None, None
        if close is not None:
            await anyio.to_thread.run_sync(close)
