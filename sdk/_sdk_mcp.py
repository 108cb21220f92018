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

from magistrate.broker import get_logger
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
    annotations: Any = None
    """MCP tool annotations (`ToolAnnotations(readOnlyHint=True)` or a dict), listed with the tool."""


def tool(
    name: str, description: str, input_schema: type | dict[str, Any], annotations: Any = None
) -> Callable[[Callable[[Any], Awaitable[dict[str, Any]]]], SdkMcpTool[Any]]:
    """Declare an in-process tool; `input_schema` is `{"arg": type}`, a TypedDict, or a JSON Schema."""

    def decorator(handler: Callable[[Any], Awaitable[dict[str, Any]]]) -> SdkMcpTool[Any]:
        if not inspect.iscoroutinefunction(handler):
            raise TypeError(f"tool {name!r}: the handler must be an async function")
        return SdkMcpTool(name, description, input_schema, handler, annotations)

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


def rpc_result(message_id: Any, result: Mapping[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": message_id, "result": dict(result)}


def rpc_error(message_id: Any, code: int, text: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": message_id, "error": {"code": code, "message": text}}


def tool_error(text: str) -> dict[str, Any]:
    """A tools/call result the model reads as a failed call."""
    return {"content": [{"type": "text", "text": text}], "isError": True}


class McpEndpoint:
    """An in-process MCP server as the CLI sees it: JSON-RPC in, JSON-RPC out. Subclasses list and call tools."""

    name = ""
    version = "1.0.0"

    def tools(self) -> list[dict[str, Any]]:
        """The `tools` array of a tools/list answer."""
        raise NotImplementedError

    async def call(self, tool: str, arguments: Mapping[str, Any]) -> dict[str, Any]:
        """The result of a tools/call: `content` blocks and, for a failure, `isError`."""
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
            tool = params.get("name")
            if not isinstance(tool, str):
                return rpc_error(message_id, -32602, "tools/call needs a tool name")
            return rpc_result(message_id, await self.call(tool, params.get("arguments") or {}))
        if method == "ping":
            return rpc_result(message_id, {})
        if isinstance(method, str) and method.startswith("notifications/"):
            return {"jsonrpc": "2.0", "result": {}}
        return rpc_error(message_id, -32601, f"method {method!r} is not supported by {self.name!r}")


class SdkMcpServer(McpEndpoint):
    """An in-process MCP server built from `@tool` functions."""

    def __init__(self, name: str, version: str, tools: Sequence[SdkMcpTool[Any]]) -> None:
        self.name = name
        self.version = version
        self._tools = {t.name: t for t in tools}

    def tools(self) -> list[dict[str, Any]]:
        listed = []
        for t in self._tools.values():
            entry = {"name": t.name, "description": t.description, "inputSchema": json_schema(t.input_schema)}
            if t.annotations is not None:
                dump = getattr(t.annotations, "model_dump", None)
                entry["annotations"] = dump(exclude_none=True) if callable(dump) else dict(t.annotations)
            listed.append(entry)
        return listed

    async def call(self, tool: str, arguments: Mapping[str, Any]) -> dict[str, Any]:
        found = self._tools.get(tool)
        if found is None:
            return tool_error(f"no tool {tool!r} in server {self.name!r}")
        try:
            output = await found.handler(dict(arguments))
        except Exception as exc:  # noqa: BLE001 - a tool's failure is a tool error for the model, not a crash
            log.warning("sdk_tool_failed", server=self.name, tool=tool, error=repr(exc))
            return tool_error(f"{type(exc).__name__}: {exc}")
        result: dict[str, Any] = {"content": list(output.get("content", []))}
        if output.get("is_error") or output.get("isError"):
            result["isError"] = True
        return result


def create_sdk_mcp_server(
    name: str, version: str = "1.0.0", tools: Sequence[SdkMcpTool[Any]] | None = None
) -> McpSdkServerConfig:
    """An in-process MCP server to put in `ClaudeCodeOptions.mcp_servers`."""
    return {"type": "sdk", "name": name, "instance": SdkMcpServer(name, version, list(tools or []))}
