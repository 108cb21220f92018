"""The bundled servers' in-process endpoints: listed without loading, opened on first use, closed with the run."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import anyio
import pytest

from magistrate.sdk._bundled import LazyToolSetEndpoint


class _Result:
    def __init__(self, text: str) -> None:
        self.text = text

    def to_mcp_dict(self) -> dict[str, Any]:
        return {"content": [{"type": "text", "text": self.text}]}


class _ToolSet:
    def manifest(self) -> list[dict[str, Any]]:
        return []

    def call(self, name: str, arguments: Mapping[str, Any] | None) -> _Result:
        return _Result(f"{name}:{dict(arguments or {})}")


@pytest.mark.anyio
async def test_storage_opens_on_the_first_call_only_and_closes_with_the_run() -> None:
    events: list[str] = []

    def open_toolset() -> tuple[_ToolSet, Any]:
        events.append("open")
        return _ToolSet(), lambda: events.append("close")

    endpoint = LazyToolSetEndpoint("docs", lambda: [{"name": "get"}], open_toolset)
    with anyio.fail_after(10):
        listed = await endpoint.handle({"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
        assert listed["result"]["tools"] == [{"name": "get"}]
        assert events == []
        for call_id in (2, 3):
            params = {"name": "get", "arguments": {"a": 1}}
            reply = await endpoint.handle({"jsonrpc": "2.0", "id": call_id, "method": "tools/call", "params": params})
            assert reply["result"]["content"][0]["text"] == "get:{'a': 1}"
        assert events == ["open"]
        await endpoint.aclose()
        await endpoint.aclose()
    assert events == ["open", "close"]
