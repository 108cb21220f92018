"""Puts a `ToolSet` on an `MCPServer`, so the MCP server and the in-process path share one definition.

`MCPServer` normally derives a tool's schema from a Python signature. Ours are already pydantic models, so
each tool is registered with the model's own JSON schema and a pass-through argument model: the arguments
reach `ToolSet.call` untouched and are validated there, once, with the same messages on every path. The
handlers touch the database synchronously, so they run on a worker thread and never block the event loop.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import anyio.to_thread
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.tools import Tool
from mcp.server.mcpserver.utilities.func_metadata import ArgModelBase, FuncMetadata
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from pydantic import ConfigDict

from magistrate.servers._toolspec import ToolResult, ToolSet, ToolSpec


class _PassThrough(ArgModelBase):
    """Accepts any object and hands it on whole; `ToolSet.call` does the validating."""

    model_config = ConfigDict(extra="allow")

    def model_dump_one_level(self) -> dict[str, Any]:
        return {"arguments": dict(self.__pydantic_extra__ or {})}


def to_call_tool_result(result: ToolResult) -> CallToolResult:
    return CallToolResult(
        content=[TextContent(type="text", text=result.text)],
        structured_content=result.structured,
        is_error=result.is_error,
    )


def _tool(toolset: ToolSet, spec: ToolSpec) -> Tool:
    async def run(arguments: dict[str, Any]) -> CallToolResult:
        result = await anyio.to_thread.run_sync(partial(toolset.call, spec.name, arguments))
        return to_call_tool_result(result)

    entry = spec.manifest_entry()
    return Tool(
        fn=run,
        name=spec.name,
        description=spec.description,
        parameters=entry["inputSchema"],
        fn_metadata=FuncMetadata(arg_model=_PassThrough, output_schema=entry["outputSchema"]),
        is_async=True,
        annotations=ToolAnnotations(read_only_hint=spec.read_only, destructive_hint=spec.destructive),
    )


def to_mcp_server(toolset: ToolSet, *, instructions: str, on_close: Callable[[], None] | None = None) -> MCPServer:
    """An `MCPServer` named after the tool set, serving its tools; the caller adds any resources. `on_close`
    (closing the storage the factory opened) runs when the server stops; a server is run once."""

    @asynccontextmanager
    async def lifespan(_: MCPServer[Any]) -> AsyncIterator[dict[str, Any]]:
        try:
            yield {}
        finally:
            if on_close is not None:
                await anyio.to_thread.run_sync(on_close)

    return MCPServer(
        toolset.server_name,
        instructions=instructions,
        tools=[_tool(toolset, spec) for spec in toolset.specs],
        log_level="WARNING",
        lifespan=lifespan,
    )
