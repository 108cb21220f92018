"""Tool definitions as plain data, so a run can list a server's tools without importing `mcp`.

Each tool is a `ToolSpec` (name, description, pydantic input and output models) and a handler; a `ToolSet`
validates arguments, calls the handler and shapes the result. The MCP server (`_toolkit.to_mcp_server`) and
an in-process attachment both go through `ToolSet.call`, and `ToolSet.manifest()` is exactly the `tools`
array a `tools/list` answer holds, so names, descriptions and schemas are defined once, here and in the
models, and cost only pydantic to read.

Results: a success is one text block holding the output model as JSON plus the same object as structured
content (matching the advertised `outputSchema`); a failure is one text block with the message and `isError`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from magistrate.broker import get_logger
from magistrate.servers._errors import InvalidInputError, ServerError

_log = get_logger("magistrate.servers")


MAX_INT = 2**31 - 1
"""Upper bound of every integer a tool takes: ids, versions, offsets and counts all fit a 32-bit column."""


class StrictInput(BaseModel):
    """Base of tool inputs: unknown fields are an error, and no value is coerced into another type.

    `extra="forbid"`: a misspelt argument is not silently ignored. `strict=True`: `true` is not the integer 1
    and `"7"` is not 7, so a model's mistake cannot address a finding or version it did not name.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


def reject_nul(value: str) -> str:
    """Refuse NUL bytes: SQLite and PostgreSQL text cannot hold them faithfully, and no real text needs them."""
    if "\x00" in value:
        raise ValueError("must not contain NUL bytes")
    return value


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """One tool's public definition."""

    name: str
    description: str
    input_model: type[BaseModel]
    output_model: type[BaseModel]
    read_only: bool = False
    destructive: bool = False

    def manifest_entry(self) -> dict[str, Any]:
        """This tool as an entry of a `tools/list` result."""
        return {
            "name": self.name,
            "description": self.description,
            "inputSchema": self.input_model.model_json_schema(),
            "outputSchema": self.output_model.model_json_schema(),
            "annotations": {"readOnlyHint": self.read_only, "destructiveHint": self.destructive},
        }


@dataclass(frozen=True, slots=True)
class ToolResult:
    """A tool's answer, independent of any MCP library: `text` for the model, `structured` for programs."""

    text: str
    structured: dict[str, Any] | None = None
    is_error: bool = False

    def to_mcp_dict(self) -> dict[str, Any]:
        """The result as a JSON-RPC `tools/call` result object."""
        result: dict[str, Any] = {"content": [{"type": "text", "text": self.text}], "isError": self.is_error}
        if self.structured is not None:
            result["structuredContent"] = self.structured
        return result


Handler = Callable[[Any], BaseModel]


def describe_validation_error(error: ValidationError) -> list[str]:
    """One line per problem, `field: message`, without echoing the caller's (possibly huge) values."""
    problems = []
    for item in error.errors(include_url=False, include_input=False):
        where = ".".join(str(part) for part in item["loc"]) or "arguments"
        problems.append(f"{where}: {item['msg']}")
    return problems


class ToolSet:
    """A server's tools: definitions, handlers, and the one place arguments are checked."""

    def __init__(self, server_name: str, tools: Sequence[tuple[ToolSpec, Handler]]) -> None:
        self.server_name = server_name
        self._tools: dict[str, tuple[ToolSpec, Handler]] = {spec.name: (spec, handler) for spec, handler in tools}

    @property
    def specs(self) -> tuple[ToolSpec, ...]:
        return tuple(spec for spec, _ in self._tools.values())

    def manifest(self) -> list[dict[str, Any]]:
        """The `tools` array of a `tools/list` result."""
        return [spec.manifest_entry() for spec in self.specs]

    def call(self, name: str, arguments: Mapping[str, Any] | None) -> ToolResult:
        """Validate, run and shape one call; never raises for bad input or a `ServerError`."""
        entry = self._tools.get(name)
        if entry is None:
            return ToolResult(f"Unknown tool {name!r}; this server has: {', '.join(self._tools)}", is_error=True)
        spec, handler = entry
        try:
            args = spec.input_model.model_validate(dict(arguments or {}))
        except ValidationError as exc:
            message = str(InvalidInputError(f"Invalid arguments for {name}", describe_validation_error(exc)))
            return ToolResult(message, is_error=True)
        try:
            output = handler(args)
        except ServerError as exc:
            _log.info("tool_failed", server=self.server_name, tool=name, error=str(exc))
            return ToolResult(f"{name} failed: {exc}", is_error=True)
        except Exception as exc:  # noqa: BLE001 - a bug must reach the model as an error result, not end the server
            _log.error("tool_crashed", server=self.server_name, tool=name, error=repr(exc))
            message = f"{name} failed: internal error ({type(exc).__name__}); see the server's log"
            return ToolResult(message, is_error=True)
        structured = output.model_dump(mode="json")
        return ToolResult(json.dumps(structured, ensure_ascii=False), structured)
