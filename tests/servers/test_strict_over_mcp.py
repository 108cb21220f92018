"""The strict inputs hold over MCP too: what a model sends through `tools/call` is refused the same way, on
both backends, and refused calls change nothing."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp_types import CallToolResult, TextContent

from magistrate.servers._compliance import build_server as build_compliance
from magistrate.servers._compliance import open_compliance
from magistrate.servers._documents import build_server as build_documents
from magistrate.servers._documents import open_documents

pytestmark = pytest.mark.anyio


@pytest.fixture
async def compliance(db_location: str) -> AsyncIterator[Client]:
    with open_compliance(db_location) as repo:
        async with Client(build_compliance(repo, run_id="run-1")) as client:
            yield client


@pytest.fixture
async def documents(db_location: str) -> AsyncIterator[Client]:
    with open_documents(db_location) as store:
        async with Client(build_documents(store)) as client:
            yield client


async def call(client: Client, name: str, arguments: dict[str, Any]) -> CallToolResult:
    with anyio.fail_after(10):
        return await client.call_tool(name, arguments)


def text(result: CallToolResult) -> str:
    [block] = result.content
    assert isinstance(block, TextContent)
    return block.text


@pytest.mark.parametrize("finding_id", [True, 1.0, "1", 2**31, 2**63, 10**40, -1, None])
async def test_update_finding_takes_a_real_integer_in_range(compliance: Client, finding_id: Any) -> None:
    made = await call(compliance, "record_finding", {"requirement_id": "GDPR-17", "summary": "s", "severity": "low"})
    assert not made.is_error, text(made)
    change = await call(compliance, "update_finding", {"finding_id": finding_id, "status": "resolved", "note": "n"})
    assert change.is_error
    assert "finding_id" in text(change)
    assert "internal" not in text(change).lower()
    listed = await call(compliance, "list_findings", {})
    assert [f["status"] for f in json.loads(text(listed))["findings"]] == ["open"]


async def test_a_label_with_wildcards_finds_nothing_over_mcp(documents: Client) -> None:
    put = {"name": "secret.md", "content": "merger terms", "labels": ["confidential"]}
    assert not (await call(documents, "put_document", put)).is_error
    for label in ("confidentia_", "%", "_%", "confidential%", "\\%"):
        # A label no document can carry is refused outright; one it could carry matches only itself.
        listed = await call(documents, "list_documents", {"label": label})
        assert listed.is_error or json.loads(text(listed))["documents"] == [], label
        found = await call(documents, "search_documents", {"query": "merger", "label": label})
        assert found.is_error or json.loads(text(found))["results"] == [], label
    listed = await call(documents, "list_documents", {"label": "confidential"})
    assert [d["name"] for d in json.loads(text(listed))["documents"]] == ["secret.md"]


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"query": "merger", "limit": 10**30}, "limit"),
        ({"query": "merger", "limit": False}, "limit"),
        ({"query": "x" * 100_000}, "query"),
        ({"query": "merger", "label": "l" * 100_000}, "label"),
    ],
)
async def test_search_inputs_are_bounded_over_mcp(documents: Client, arguments: dict[str, Any], field: str) -> None:
    result = await call(documents, "search_documents", arguments)
    assert result.is_error
    assert field in text(result)
