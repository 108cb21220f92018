"""In-process MCP servers, answered straight from the control protocol without importing `mcp`.

The CLI speaks MCP to an in-process server through `mcp_message` control requests: a handful of JSON-RPC
methods (initialize, tools/list, tools/call, ping). Answering them here costs microseconds, where importing
the `mcp` package costs 0.6 s; that difference is the whole per-run budget of a governed run.
"""

from __future__ import annotations

import inspect
import types
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, Union, get_args, get_origin, get_type_hints, is_typeddict

from magistrate.broker._log import get_logger
from magistrate.sdk._options import McpSdkServerConfig

log = get_logger("magistrate.sdk.mcp")

T = TypeVar("T")
PROTOCOL_VERSION = "2025-06-18"

_JSON_TYPES: dict[Any, str] = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    list: "array",
    dict: "object",
}


@dataclass
class SdkMcpTool(Generic[T]):
    """A tool of an in-process server: its name, description, input schema and async handler."""

    name: str
    description: str
    input_schema: type[T] | dict[str, Any]
    handler: Callable[[T], Awaitable[dict[str, Any]]]


def tool(
    name: str, description: str, input_schema: type | dict[str, Any]
) -> Callable[[Callable[[Any], Awaitable[dict[str, Any]]]], SdkMcpTool[Any]]:
    """Declare an in-process tool; `input_schema` is `{"arg": type}`, a TypedDict, or a JSON Schema."""

    def decorator(handler: Callable[[Any], Awaitable[dict[str, Any]]]) -> SdkMcpTool[Any]:
        if not inspect.iscoroutinefunction(handler):
            raise TypeError(f"tool {name!r}: the handler must be an async function")
        return SdkMcpTool(name=name, description=description, input_schema=input_schema, handler=handler)

    return decorator


def _type_schema(annotation: Any) -> dict[str, Any]:
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        options = [_type_schema(arg) for arg in get_args(annotation) if arg is not type(None)]
        return options[0] if len(options) == 1 else {"anyOf": options}
    base = origin or annotation
    kind = _JSON_TYPES.get(base)
    return {"type": kind} if kind else {}


def json_schema(schema: type | Mapping[str, Any]) -> dict[str, Any]:
    """The JSON Schema the CLI is shown for a tool's input."""
    if isinstance(schema, Mapping):
        if "type" in schema and isinstance(schema.get("type"), str):
            return dict(schema)
        properties = {key: _type_schema(value) for key, value in schema.items()}
        return {"type": "object", "properties": properties, "required": list(properties)}
    if is_typeddict(schema):
        hints = get_type_hints(schema)
        required = sorted(getattr(schema, "__required_keys__", hints))
        return {"type": "object", "properties": {k: _type_schema(v) for k, v in hints.items()}, "required": required}
    return {"type": "object", "properties": {}}


class McpEndpoint:
    """Something that answers the CLI's JSON-RPC messages for one in-process server."""

    async def handle(self, message: Mapping[str, Any]) -> dict[str, Any]:
        raise NotImplementedError


def rpc_result(message_id: Any, result: Mapping[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": message_id, "result": dict(result)}


def rpc_error(message_id: Any, code: int, text: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": message_id, "error": {"code": code, "message": text}}


class SdkMcpServer(McpEndpoint):
    """An in-process MCP server built from `@tool` functions."""

    def __init__(self, name: str, version: str, tools: Sequence[SdkMcpTool[Any]]) -> None:
        self.name = name
        self.version = version
        self._tools = {t.name: t for t in tools}

    def list_tools(self) -> list[dict[str, Any]]:
        return [
            {"name": t.name, "description": t.description, "inputSchema": json_schema(t.input_schema)}
            for t in self._tools.values()
        ]

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
            return rpc_result(message_id, {"tools": self.list_tools()})
        if method == "tools/call":
            return await self._call(message_id, params)
        if method == "ping":
            return rpc_result(message_id, {})
        if isinstance(method, str) and method.startswith("notifications/"):
            return {"jsonrpc": "2.0", "result": {}}
        return rpc_error(message_id, -32601, f"method {method!r} is not supported by {self.name!r}")

    async def _call(self, message_id: Any, params: Mapping[str, Any]) -> dict[str, Any]:
        name = params.get("name")
        found = self._tools.get(name) if isinstance(name, str) else None
        if found is None:
            return rpc_error(message_id, -32602, f"no tool {name!r} in server {self.name!r}")
        try:
            output = await found.handler(params.get("arguments") or {})
        except Exception as exc:  # noqa: BLE001 - a tool's failure is a tool error for the model, not a crash
            log.warning("sdk_tool_failed", server=self.name, tool=name, error=repr(exc))
            return rpc_result(
                message_id, {"content": [{"type": "text", "text": f"{type(exc).__name__}: {exc}"}], "isError": True}
            )
        result: dict[str, Any] = {"content": list(output.get("content", []))}
        if output.get("is_error") or output.get("isError"):
            result["isError"] = True
        return rpc_result(message_id, result)


def create_sdk_mcp_server(
    name: str, version: str = "1.0.0", tools: Sequence[SdkMcpTool[Any]] | None = None
) -> McpSdkServerConfig:
    """An in-process MCP server to put in `ClaudeCodeOptions.mcp_servers`."""
    return {"type": "sdk", "name": name, "instance": SdkMcpServer(name, version, list(tools or []))}
