"""The documents server, in memory against the real MCP server and a real SQLite database."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp_types import CallToolResult, TextContent

from magistrate.servers._documents import build_server, open_documents
from magistrate.servers._documents_models import MAX_CONTENT_BYTES
from magistrate.servers._documents_repo import DocumentStore
from magistrate.servers._documents_tools import TOOLS, manifest

pytestmark = pytest.mark.anyio

MSA = "The Supplier shall process personal data only on documented instructions. Liability is capped at fees paid."


@pytest.fixture
def store(db_location: str) -> Iterator[DocumentStore]:
    with open_documents(db_location) as documents:
        yield documents


@pytest.fixture
async def client(store: DocumentStore) -> AsyncIterator[Client]:
    async with Client(build_server(store)) as c:
        yield c


async def call(client: Client, name: str, arguments: dict[str, Any]) -> CallToolResult:
    with anyio.fail_after(10):
        return await client.call_tool(name, arguments)


async def ok(client: Client, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    result = await call(client, name, arguments)
    assert not result.is_error, result.content
    block = result.content[0]
    assert isinstance(block, TextContent)
    data: dict[str, Any] = json.loads(block.text)
    assert data == result.structured_content
    return data


async def fails(client: Client, name: str, arguments: dict[str, Any]) -> str:
    result = await call(client, name, arguments)
    assert result.is_error
    block = result.content[0]
    assert isinstance(block, TextContent)
    return block.text


async def test_tools_list_is_the_manifest(client: Client) -> None:
    with anyio.fail_after(10):
        listed = (await client.list_tools()).tools
    expected = {entry["name"]: entry for entry in manifest()}
    assert [t.name for t in listed] == [spec.name for spec in TOOLS]
    for tool in listed:
        assert tool.input_schema == expected[tool.name]["inputSchema"]
        assert tool.description == expected[tool.name]["description"]
    delete = next(t for t in listed if t.name == "delete_document")
    assert delete.annotations is not None
    assert delete.annotations.destructive_hint is True


async def test_every_put_is_a_version_addressed_by_sha256(client: Client) -> None:
    first = await ok(client, "put_document", {"name": "contracts/msa.md", "content": MSA, "labels": ["contract"]})
    assert first["created"] is True
    assert first["document"]["version"] == 1
    assert first["document"]["sha256"] == hashlib.sha256(MSA.encode()).hexdigest()
    same = await ok(client, "put_document", {"name": "contracts/msa.md", "content": MSA, "labels": ["contract"]})
    assert same["created"] is False
    assert same["document"]["version"] == 1
    second = await ok(client, "put_document", {"name": "contracts/msa.md", "content": MSA + " Amended."})
    assert second["document"]["version"] == 2
    assert second["document"]["labels"] == []

    latest = await ok(client, "get_document", {"name": "contracts/msa.md"})
    assert latest["content"].endswith("Amended.")
    assert [v["version"] for v in latest["history"]] == [1, 2]
    by_number = await ok(client, "get_document", {"name": "contracts/msa.md", "version": 1})
    assert by_number["content"] == MSA
    assert by_number["document"]["labels"] == ["contract"]
    prefix = first["document"]["sha256"][:12]
    by_hash = await ok(client, "get_document", {"name": "contracts/msa.md", "version": prefix})
    assert by_hash["document"]["version"] == 1
    assert "no version 7" in await fails(client, "get_document", {"name": "contracts/msa.md", "version": 7})


async def test_long_documents_are_read_in_pages(client: Client) -> None:
    text = "".join(f"line {i}\n" for i in range(2000))
    await ok(client, "put_document", {"name": "long.txt", "content": text})
    page = await ok(client, "get_document", {"name": "long.txt", "max_chars": 1000})
    assert page["truncated"] is True
    rest = await ok(client, "get_document", {"name": "long.txt", "offset": page["next_offset"], "max_chars": 200_000})
    assert page["content"] + rest["content"] == text
    assert rest["next_offset"] is None


async def test_delete_leaves_a_tombstone_and_keeps_history(client: Client, store: DocumentStore) -> None:
    await ok(client, "put_document", {"name": "draft.md", "content": "secret plan", "labels": ["confidential"]})
    deleted = await ok(client, "delete_document", {"name": "draft.md"})
    assert deleted == {"name": "draft.md", "version": 2, "versions_kept": 1}
    assert "was deleted" in await fails(client, "get_document", {"name": "draft.md"})
    old = await ok(client, "get_document", {"name": "draft.md", "version": 1})
    assert old["content"] == "secret plan"
    assert old["deleted"] is True
    assert (await ok(client, "list_documents", {}))["count"] == 0
    assert (await ok(client, "search_documents", {"query": "secret"}))["results"] == []
    assert store.labels("draft.md") == {"confidential"}
    assert "no document" in await fails(client, "delete_document", {"name": "never.md"})
    revived = await ok(client, "put_document", {"name": "draft.md", "content": "secret plan"})
    assert revived["document"]["version"] == 3


async def test_list_filters_by_prefix_and_label(client: Client) -> None:
    await ok(client, "put_document", {"name": "contracts/a.md", "content": "a", "labels": ["confidential"]})
    await ok(client, "put_document", {"name": "contracts/b.md", "content": "b"})
    await ok(client, "put_document", {"name": "contracts_x.md", "content": "x"})
    await ok(client, "put_document", {"name": "policies/c.md", "content": "c", "labels": ["confidential-draft"]})
    names = [d["name"] for d in (await ok(client, "list_documents", {"prefix": "contracts/"}))["documents"]]
    assert names == ["contracts/a.md", "contracts/b.md"]
    labelled = await ok(client, "list_documents", {"label": "confidential"})
    assert [d["name"] for d in labelled["documents"]] == ["contracts/a.md"]


async def test_search_ranks_with_snippets_and_labels(client: Client) -> None:
    await ok(client, "put_document", {"name": "msa.md", "content": MSA, "labels": ["contract"]})
    await ok(client, "put_document", {"name": "memo.md", "content": "Lunch menu. Liability of the caterer."})
    data = await ok(client, "search_documents", {"query": "liability capped"})
    assert [hit["name"] for hit in data["results"]] == ["msa.md"]
    assert "**Liability**" in data["results"][0]["snippet"]
    assert data["results"][0]["labels"] == ["contract"]
    loose = await ok(client, "search_documents", {"query": "caterer capped", "limit": 5})
    assert {hit["name"] for hit in loose["results"]} == {"msa.md", "memo.md"}
    only = await ok(client, "search_documents", {"query": "liability", "label": "contract"})
    assert [hit["name"] for hit in only["results"]] == ["msa.md"]


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"content": "x"}, "name: Field required"),
        ({"name": "a.md", "content": 5}, "content: Input should be a valid string"),
        ({"name": "a.md", "content": "a\x00b"}, "content: Value error, must not contain NUL"),
        ({"name": "a\x00.md", "content": "x"}, "name: String should match pattern"),
        ({"name": " padded", "content": "x"}, "name: String should match pattern"),
        ({"name": "a.md", "content": "x", "labels": ["Not A Label"]}, "labels.0: String should match pattern"),
        ({"name": "a.md", "content": "x", "labels": "confidential"}, "labels: Input should be a valid list"),
        ({"name": "a.md", "content": "x", "owner": "me"}, "owner: Extra inputs are not permitted"),
        ({"name": "a.md", "content": "é" * (MAX_CONTENT_BYTES // 2 + 1)}, "over the limit of 4194304 bytes"),
    ],
)
async def test_bad_input_is_a_clear_error_and_changes_nothing(
    client: Client, store: DocumentStore, arguments: dict[str, Any], expected: str
) -> None:
    text = await fails(client, "put_document", arguments)
    assert expected in text
    assert len(text) < 500
    assert store.list_documents(None, None, 10) == []


def test_labels_lookup_is_cheap_and_total(store: DocumentStore) -> None:
    store.put("hr/salaries.csv", "name,salary", ["confidential", "hr"])
    assert store.labels("hr/salaries.csv") == {"confidential", "hr"}
    assert store.labels("unknown") == frozenset()
