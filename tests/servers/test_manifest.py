"""The precomputed manifest a run lists tools from is exactly what the servers' definitions produce."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from mcp import Client

from magistrate.servers._compliance import build_server as build_compliance
from magistrate.servers._documents import build_server as build_documents
from magistrate.servers._manifest import computed, manifest_of


def test_stored_manifest_matches_the_definitions() -> None:
    fresh = computed()
    for server, tools in fresh.items():
        assert manifest_of(server) == tools, f"run: python -m magistrate.servers._manifest ({server} drifted)"


@pytest.mark.anyio
async def test_the_real_servers_list_what_the_manifest_says(tmp_path: Path) -> None:
    for name, server in (
        ("compliance_db", build_compliance(str(tmp_path / "c.sqlite3"))),
        ("documents", build_documents(str(tmp_path / "d.sqlite3"))),
    ):
        with anyio.fail_after(10):
            async with Client(server) as client:
                listed = (await client.list_tools()).tools
        expected = manifest_of(name)
        assert [t.name for t in listed] == [e["name"] for e in expected]
        for tool, entry in zip(listed, expected, strict=True):
            assert tool.description == entry["description"]
            assert tool.input_schema == entry["inputSchema"]
            assert tool.output_schema == entry["outputSchema"]
            assert tool.annotations is not None
            assert tool.annotations.read_only_hint == entry["annotations"]["readOnlyHint"]
