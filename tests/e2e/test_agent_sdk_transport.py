"""A `Transport` of the user's own: the run speaks the control protocol over it, governance included."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import pytest

from magistrate.sdk import AssistantMessage, ClaudeAgentOptions, ClaudeSDKClient, ResultMessage, TextBlock, Transport
from magistrate.sdk.scripted_model import ScriptedModel

CLI = Path(__file__).resolve().parents[2] / "node_modules" / ".bin" / "claude"


class PipeTransport(Transport):
    """Starts the CLI itself, the way a container or remote launcher would, and relays its lines."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self._env = env
        self._cwd = cwd
        self._process: anyio.abc.Process | None = None
        self.lines_written = 0

    async def connect(self) -> None:
        argv = [str(CLI), "--output-format", "stream-json", "--verbose", "--input-format", "stream-json"]
        argv += ["--permission-prompt-tool", "mcp__magistrate__approval_prompt"]
        argv += ["--mcp-config", json.dumps({"mcpServers": {"magistrate": {"type": "sdk", "name": "magistrate"}}})]
        self._process = await anyio.open_process(argv, env=self._env, cwd=self._cwd)

    async def write(self, data: str) -> None:
        assert self._process is not None
        assert self._process.stdin is not None
        self.lines_written += data.count("\n")
        await self._process.stdin.send(data.encode())

    async def read_messages(self) -> AsyncIterator[dict[str, Any]]:
        assert self._process is not None
        assert self._process.stdout is not None
        buffer = b""
        async for chunk in self._process.stdout:
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                if line.strip():
                    yield json.loads(line)

    async def close(self) -> None:
        if self._process is not None:
            with anyio.CancelScope(shield=True):
                if self._process.returncode is None:
                    self._process.terminate()
                await self._process.wait()
                await self._process.aclose()

    def is_ready(self) -> bool:
        return self._process is not None and self._process.returncode is None

    async def end_input(self) -> None:
        if self._process is not None and self._process.stdin is not None:
            await self._process.stdin.aclose()


@pytest.mark.anyio
async def test_a_client_runs_over_a_transport_of_its_own(workspace: Path, tmp_path: Path) -> None:
    with ScriptedModel({"default": {"turns": ["Scripted answer to: {prompt}"]}}) as model:
        env = {**os.environ, **model.env(), "CLAUDE_CONFIG_DIR": str(tmp_path / "config")}
        transport = PipeTransport(env, workspace)
        options = ClaudeAgentOptions(cwd=workspace, audit=tmp_path / "trail.sqlite3")
        with anyio.fail_after(90):
            async with ClaudeSDKClient(options, transport=transport) as client:
                await client.query("over my transport")
                messages = [message async for message in client.receive_response()]
    texts = [b.text for m in messages if isinstance(m, AssistantMessage) for b in m.content if isinstance(b, TextBlock)]
    assert texts == ["Scripted answer to: over my transport"]
    assert isinstance(messages[-1], ResultMessage)
    assert transport.lines_written >= 2  # initialize, then the prompt
