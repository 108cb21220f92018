"""The servers as a client outside the process sees them: over stdio (a real subprocess) and over HTTP."""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

import anyio
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp_types import TextContent

from magistrate.servers import build_documents_server
from magistrate.servers._documents_models import MAX_CONTENT_BYTES
from magistrate.servers._http import serve_http

pytestmark = pytest.mark.anyio


def _text(result: object) -> str:
    block = result.content[0]  # type: ignore[attr-defined]
    assert isinstance(block, TextContent)
    return block.text


async def test_stdio_subprocess_speaks_only_protocol_on_stdout(tmp_path: Path) -> None:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-c", "from magistrate.cli import main; raise SystemExit(main())", "serve", "documents",
              "--db", str(tmp_path / "d.sqlite3")],
        env={"MAGISTRATE_LOG_LEVEL": "debug", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    with anyio.fail_after(60):
        async with Client(params) as client:
            tools = await client.list_tools()
            assert {t.name for t in tools.tools} >= {"put_document", "get_document"}
            put = await client.call_tool("put_document", {"name": "a.md", "content": "hello", "labels": ["x"]})
            assert json.loads(_text(put))["document"]["version"] == 1
            got = await client.call_tool("get_document", {"name": "a.md"})
            assert json.loads(_text(got))["content"] == "hello"


@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # uvicorn runs on asyncio only
async def test_http_requires_the_token_and_serves_with_it(tmp_path: Path) -> None:
    server = build_documents_server(str(tmp_path / "d.sqlite3"))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/mcp"
    with anyio.fail_after(60):
        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: serve_http(server, host="127.0.0.1", port=0, token="s3cret", sock=sock))
            async with httpx2.AsyncClient() as anonymous:
                refused = await anonymous.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
            assert refused.status_code == 401
            headers = {"Authorization": "Bearer s3cret"}
            async with (
                httpx2.AsyncClient(headers=headers) as http,
                Client(streamable_http_client(url, http_client=http)) as client,
            ):
                big = "clause\n" * (MAX_CONTENT_BYTES // 7)
                put = await client.call_tool("put_document", {"name": "b.md", "content": big})
                assert json.loads(_text(put))["document"]["size"] == len(big)
            tg.cancel_scope.cancel()
    sock.close()
