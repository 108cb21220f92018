"""Serves a `ToolSet` over MCP, so the MCP server and the in-process path share one definition.

Our tools are already pydantic models with their own JSON schemas, so they are served through mcp's public
low-level `Server`: its `tools/list` handler answers the `ToolSet`'s manifest as it is, and its `tools/call`
handler hands the arguments to `ToolSet.call` untouched, where they are validated once, with the same
messages on every path. No part of mcp's signature-derived tool machinery (and none of its internals) is
involved. The handlers touch the database synchronously, so they run on a worker thread and never block the
event loop. Resources (`ResourceSpec`) are served the same way: a fixed URI or a `{name}` template, read on a
worker thread.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

import anyio.to_thread
from mcp import MCPError
from mcp.server import Server, ServerRequestContext
from mcp_types import (
    INVALID_PARAMS,
    CallToolRequestParams,
    CallToolResult,
    ListResourcesResult,
    ListResourceTemplatesResult,
    ListToolsResult,
    PaginatedRequestParams,
    ReadResourceRequestParams,
    ReadResourceResult,
    Resource,
    ResourceTemplate,
    TextContent,
    TextResourceContents,
    Tool,
    ToolAnnotations,
)

from magistrate.servers._toolspec import ToolResult, ToolSet, ToolSpec

_PARAMETER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True, slots=True)
class ResourceSpec:
    """A text resource: `uri` is fixed, or a template whose `{name}` parts each match one path segment."""

    uri: str
    name: str
    description: str
    mime_type: str
    read: Callable[..., str]
    """Called with the template's parameters as keyword arguments; returns the resource's text."""

    @property
    def is_template(self) -> bool:
        return _PARAMETER.search(self.uri) is not None

    def match(self, uri: str) -> dict[str, str] | None:
        """The template's parameters in `uri`, or None when `uri` is not this resource."""
        parts = _PARAMETER.split(self.uri)
        pattern = "".join(re.escape(part) if i % 2 == 0 else f"(?P<{part}>[^/]+)" for i, part in enumerate(parts))
        found = re.fullmatch(pattern, uri)
        return None if found is None else found.groupdict()


def to_call_tool_result(result: ToolResult) -> CallToolResult:
    return CallToolResult(
        content=[TextContent(type="text", text=result.text)],
        structured_content=result.structured,
        is_error=result.is_error,
    )


def _tool(spec: ToolSpec) -> Tool:
    entry = spec.manifest_entry()
    return Tool(
        name=spec.name,
        description=spec.description,
        input_schema=entry["inputSchema"],
        output_schema=entry["outputSchema"],
        annotations=ToolAnnotations(read_only_hint=spec.read_only, destructive_hint=spec.destructive),
    )


def to_mcp_server(
    toolset: ToolSet,
    *,
    instructions: str,
    on_close: Callable[[], None] | None = None,
    resources: Sequence[ResourceSpec] = (),
) -> Server[dict[str, Any]]:
    """A server named after the tool set, serving its tools and `resources`. `on_close` (closing the storage
    the factory opened) runs when the server stops; a server is run once."""
    tools = [_tool(spec) for spec in toolset.specs]
    schemas = {tool.name: tool.input_schema for tool in tools}
    fixed = [r for r in resources if not r.is_template]
    templates = [r for r in resources if r.is_template]

    @asynccontextmanager
    async def lifespan(_: Server[dict[str, Any]]) -> AsyncIterator[dict[str, Any]]:
        try:
            yield {}
        finally:
            if on_close is not None:
                await anyio.to_thread.run_sync(on_close)

    async def list_tools(_: ServerRequestContext[Any, Any], __: PaginatedRequestParams | None) -> ListToolsResult:
        return ListToolsResult(tools=tools)

    async def call_tool(_: ServerRequestContext[Any, Any], params: CallToolRequestParams) -> CallToolResult:
        call = partial(toolset.call, params.name, params.arguments or {})
        return to_call_tool_result(await anyio.to_thread.run_sync(call))

    async def list_resources(
        _: ServerRequestContext[Any, Any], __: PaginatedRequestParams | None
    ) -> ListResourcesResult:
        listed = [Resource(uri=r.uri, name=r.name, description=r.description, mime_type=r.mime_type) for r in fixed]
        return ListResourcesResult(resources=listed)

    async def list_templates(
        _: ServerRequestContext[Any, Any], __: PaginatedRequestParams | None
    ) -> ListResourceTemplatesResult:
        listed = [
            ResourceTemplate(uri_template=r.uri, name=r.name, description=r.description, mime_type=r.mime_type)
            for r in templates
        ]
        return ListResourceTemplatesResult(resource_templates=listed)

    async def read_resource(_: ServerRequestContext[Any, Any], params: ReadResourceRequestParams) -> ReadResourceResult:
        for resource in (*fixed, *templates):
            arguments = resource.match(str(params.uri))
            if arguments is not None:
                text = await anyio.to_thread.run_sync(partial(resource.read, **arguments))
                contents = TextResourceContents(uri=params.uri, text=text, mime_type=resource.mime_type)
                return ReadResourceResult(contents=[contents])
        raise MCPError(code=INVALID_PARAMS, message=f"Unknown resource: {params.uri}", data={"uri": str(params.uri)})

    has_resources = bool(resources)
    return Server(
        toolset.server_name,
        instructions=instructions,
        lifespan=lifespan,
        get_tool_input_schema=schemas.get,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_resources=list_resources if has_resources else None,
        on_list_resource_templates=list_templates if has_resources else None,
        on_read_resource=read_resource if has_resources else None,
    )
