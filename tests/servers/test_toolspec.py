"""ToolSet: the one place arguments are checked and results shaped, on every path (MCP or in-process)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from magistrate.servers import ToolResult, ToolSet, ToolSpec, open_documents
from magistrate.servers._documents_tools import documents_toolset
from magistrate.servers._toolspec import StrictInput


class _In(StrictInput):
    n: int


class _Out(BaseModel):
    doubled: int


def _toolset() -> ToolSet:
    def double(args: _In) -> _Out:
        if args.n < 0:
            raise RuntimeError("negative numbers crash this handler")
        return _Out(doubled=args.n * 2)

    return ToolSet("demo", [(ToolSpec("double", "Doubles n.", _In, _Out, read_only=True), double)])


def test_success_is_json_text_and_the_same_structured_content() -> None:
    result = _toolset().call("double", {"n": 21})
    assert result == ToolResult('{"doubled": 42}', {"doubled": 42})
    assert result.to_mcp_dict() == {
        "content": [{"type": "text", "text": '{"doubled": 42}'}],
        "isError": False,
        "structuredContent": {"doubled": 42},
    }


def test_manifest_entry_is_a_tools_list_entry() -> None:
    (entry,) = _toolset().manifest()
    assert entry["name"] == "double"
    assert entry["inputSchema"]["additionalProperties"] is False
    assert entry["inputSchema"]["required"] == ["n"]
    assert entry["outputSchema"]["properties"]["doubled"]["type"] == "integer"
    assert entry["annotations"] == {"readOnlyHint": True, "destructiveHint": False}


def test_unknown_tool_and_bad_arguments() -> None:
    unknown = _toolset().call("triple", {})
    assert unknown.is_error
    assert "this server has: double" in unknown.text
    bad = _toolset().call("double", None)
    assert bad == ToolResult("Invalid arguments for double: n: Field required", is_error=True)


def test_a_crashing_handler_is_an_error_result_without_its_message() -> None:
    result = _toolset().call("double", {"n": -1})
    assert result.is_error
    assert result.text == "double failed: internal error (RuntimeError); see the server's log"


def test_a_database_failure_is_a_clear_error_result(tmp_path: Path) -> None:
    with open_documents(str(tmp_path / "d.sqlite3")) as store:
        toolset = documents_toolset(store)
    result = toolset.call("list_documents", {})
    assert result.is_error
    assert result.text.startswith("list_documents failed: sqlite error: ")
