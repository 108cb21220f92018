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

from magistrate.sdk._sdk_mcp import PROTOCOL_VERSION, McpEndpoint, rpc_error, rpc_result


class _ToolSet(Protocol):
    def manifest(self) -> list[dict[str, Any]]: ...
    def call(self, name: str, arguments: Mapping[str, Any] | None) -> Any: ...


class _Endpoint(McpEndpoint):
    """JSON-RPC plumbing shared by the bundled endpoints."""

    name = ""
    version = "1"

    def tools(self) -> list[dict[str, Any]]:
        raise NotImplementedError

    async def call(self, name: str, arguments: Mapping[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    async def handle(self, message: Mapping[str, Any]) -> dict[str, Any]:
        method = message.get("method")
        message_id = message.get("id")
        params = message.get("params") or {}
        if method == "initialize":
            return rpc_result(
                message_id,
                {
                    "protocolVersion": params.get("protocolVersion", PROTOCOL_VERSION),
                    "capabilities": {"tools": {}},
                    "serverInfo": {"name": self.name, "version": self.version},
                },
            )
        if method == "tools/list":
            return rpc_result(message_id, {"tools": self.tools()})
        if method == "tools/call":
            name = params.get("name")
            if not isinstance(name, str):
                return rpc_error(message_id, -32602, "tools/call needs a tool name")
            return rpc_result(message_id, await self.call(name, params.get("arguments") or {}))
        if method == "ping":
            return rpc_result(message_id, {})
        if isinstance(method, str) and method.startswith("notifications/"):
            return {"jsonrpc": "2.0", "result": {}}
        return rpc_error(message_id, -32601, f"method {method!r} is not supported by {self.name!r}")


class ApprovalEndpoint(_Endpoint):
    """`mcp__magistrate__approval_prompt`, answered by the run's resolver; always exactly one text block."""

    name = "magistrate"

    def __init__(self, answer: Callable[[Mapping[str, Any]], Any]) -> None:
        from magistrate.servers._approval import INPUT_SCHEMA, TOOL_DESCRIPTION, TOOL_NAME

        self._answer = answer
        self._tool_name = TOOL_NAME
        self._entry = {"name": TOOL_NAME, "description": TOOL_DESCRIPTION, "inputSchema": INPUT_SCHEMA}

    def tools(self) -> list[dict[str, Any]]:
        return [self._entry]

    async def call(self, name: str, arguments: Mapping[str, Any]) -> dict[str, Any]:
        if name != self._tool_name:
            return {"content": [{"type": "text", "text": f"unknown tool {name!r}"}], "isError": True}
        text: str = await self._answer(arguments)
        return {"content": [{"type": "text", "text": text}]}


class LazyToolSetEndpoint(_Endpoint):
    """A server whose tools are listed from definitions and whose storage opens on the first call."""

    def __init__(
        self, name: str, manifest: Callable[[], list[dict[str, Any]]], open_toolset: Callable[[], _ToolSet]
    ) -> None:
        self.name = name
        self._manifest = manifest
        self._open = open_toolset
        self._toolset: _ToolSet | None = None
        self._lock = anyio.Lock()

    def tools(self) -> list[dict[str, Any]]:
        return self._manifest()

    async def call(self, name: str, arguments: Mapping[str, Any]) -> dict[str, Any]:
        async with self._lock:
            if self._toolset is None:
                self._toolset = await anyio.to_thread.run_sync(self._open)
        toolset = self._toolset
        result = await anyio.to_thread.run_sync(toolset.call, name, dict(arguments))
        mcp: dict[str, Any] = result.to_mcp_dict()
        return mcp
