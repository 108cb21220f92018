"""The standalone approval server in memory: what the CLI gets back from `approval_prompt`.

The CLI accepts exactly one text block and rejects structured content, so every answer (allow, deny, a bad
request) is checked for that shape.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp_types import CallToolResult, TextContent

from magistrate.broker import AskRequest, CallbackApprover, RulePolicy
from magistrate.servers._approval_server import build_server

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


POLICY = RulePolicy(default="allow", deny=["Bash(rm:*)"], ask=["Bash(touch:*)"])


def one_text_block(result: CallToolResult) -> dict[str, Any]:
    assert result.structured_content is None
    assert len(result.content) == 1
    [block] = result.content
    assert isinstance(block, TextContent)
    answer: dict[str, Any] = json.loads(block.text)
    return answer


async def call(tmp_path: Path, arguments: dict[str, Any]) -> tuple[CallToolResult, list[AskRequest]]:
    asked: list[AskRequest] = []

    def approve(ask: AskRequest) -> bool:
        asked.append(ask)
        return True

    server = build_server(str(tmp_path / "trail.sqlite3"), policy=POLICY, approver=CallbackApprover(approve))
    with anyio.fail_after(20):
        async with Client(server) as client:
            return await client.call_tool("approval_prompt", arguments), asked


async def test_allow_is_one_text_block_with_the_full_input(tmp_path: Path) -> None:
    result, _ = await call(tmp_path, {"tool_name": "Bash", "input": {"command": "echo hi", "timeout": 5}})
    assert one_text_block(result) == {"behavior": "allow", "updatedInput": {"command": "echo hi", "timeout": 5}}


async def test_deny_is_one_text_block_with_the_message(tmp_path: Path) -> None:
    result, asked = await call(tmp_path, {"tool_name": "Bash", "input": {"command": "rm -rf x"}, "tool_use_id": "t"})
    answer = one_text_block(result)
    assert answer["behavior"] == "deny"
    assert "Bash(rm:*)" in answer["message"]
    assert asked == []


async def test_an_ask_reaches_the_approver(tmp_path: Path) -> None:
    result, asked = await call(tmp_path, {"tool_name": "Bash", "input": {"command": "touch f"}})
    assert one_text_block(result)["behavior"] == "allow"
    assert [a.rule for a in asked] == ["Bash(touch:*)"]


@pytest.mark.parametrize(
    "arguments",
    [
        {},
        {"tool_name": "Bash"},
        {"tool_name": "Bash", "input": "rm -rf /"},
        {"tool_name": "", "input": {}},
        {"tool_name": ["Bash"], "input": {}},
        {"tool_name": "Bash", "input": {}, "tool_use_id": 7},
    ],
)
async def test_bad_input_is_a_deny_not_a_crash(tmp_path: Path, arguments: dict[str, Any]) -> None:
    result, asked = await call(tmp_path, arguments)
    assert not result.is_error
    answer = one_text_block(result)
    assert answer["behavior"] == "deny"
    assert "invalid request" in answer["message"]
    assert asked == []
