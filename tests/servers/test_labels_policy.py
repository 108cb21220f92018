"""A policy rule sees document labels: search everything, but ask before reading a confidential document."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from magistrate.broker import Ask, CallContext, CallView, RulePolicy, RuleResult, ToolCall
from magistrate.servers import open_documents

pytestmark = pytest.mark.anyio


async def test_confidential_reads_ask_and_others_are_allowed(tmp_path: Path) -> None:
    with open_documents(str(tmp_path / "documents.sqlite3")) as documents:
        documents.put("hr/salaries.csv", "name,salary", ["confidential"])
        documents.put("handbook.md", "Welcome", [])
        policy = RulePolicy(default="ask", allow=["mcp__documents__search_documents", "mcp__documents__get_document"])

        @policy.rule("mcp__documents__get_document")
        def confidential_reads_need_approval(call: CallView, context: CallContext) -> RuleResult:
            if "confidential" in documents.labels(str(call.raw.get("name", ""))):
                return Ask("confidential document")
            return None

        def get(name: str) -> ToolCall:
            return ToolCall("mcp__documents__get_document", {"name": name})

        search = ToolCall("mcp__documents__search_documents", {"query": "salary"})
        with anyio.fail_after(10):
            secret = await policy.decide(get("hr/salaries.csv"), CallContext())
            handbook = await policy.decide(get("handbook.md"), CallContext())
            searched = await policy.decide(search, CallContext())
        assert (secret.behavior, secret.message) == ("ask", "confidential document")
        assert handbook.behavior == "allow"
        assert searched.behavior == "allow"
