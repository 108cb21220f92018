"""Every tool of the bundled servers, called by the real CLI in a governed run, with results reaching the model.

The servers are attached in-process (`compliance_db`, `documents`), their tools listed from the generated
manifest and their storage opened on the first call. Each call is also decided by the policy and recorded,
like any other tool call.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from magistrate.sdk import ClaudeCodeOptions, ResultMessage, query
from magistrate.sdk.scripted_model import ScriptedModel


def _call(server: str, tool: str, **arguments: Any) -> dict[str, Any]:
    return {"tool_calls": [{"name": f"mcp__{server}__{tool}", "input": arguments}]}


CONTRACT = "Master services agreement. The processor shall erase personal data within 30 days of termination."
TURNS = [
    _call("documents", "put_document", name="contracts/msa.md", content=CONTRACT, labels=["confidential"]),
    _call("documents", "get_document", name="contracts/msa.md"),
    _call("documents", "list_documents", prefix="contracts/"),
    _call("documents", "search_documents", query="erase personal data"),
    _call("compliance_db", "search_requirements", query="erasure", framework="gdpr"),
    _call("compliance_db", "get_requirement", requirement_id="GDPR-17"),
    _call(
        "compliance_db",
        "record_finding",
        requirement_id="GDPR-17",
        summary="Erasure within 30 days of termination",
        severity="low",
        document="contracts/msa.md",
    ),
    _call("compliance_db", "list_findings", requirement_id="GDPR-17"),
    _call("compliance_db", "update_finding", finding_id=1, status="resolved", note="meets Article 17"),
    _call("documents", "delete_document", name="contracts/msa.md"),
    "All tools called.",
]


@pytest.fixture
def model(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[ScriptedModel]:
    monkeypatch.setenv("MAGISTRATE_COMPLIANCE_DB", str(tmp_path / "compliance.sqlite3"))
    monkeypatch.setenv("MAGISTRATE_DOCUMENTS_DB", str(tmp_path / "documents.sqlite3"))
    with ScriptedModel({"default": {"turns": TURNS}}) as scripted:
        for key, value in scripted.env().items():
            monkeypatch.setenv(key, value)
        yield scripted


@pytest.mark.anyio
async def test_every_bundled_tool_runs_and_its_result_reaches_the_model(model: ScriptedModel, tmp_path: Path) -> None:
    options = ClaudeCodeOptions(
        cwd=tmp_path, audit=tmp_path / "trail.sqlite3", allowed_tools=["mcp__documents", "mcp__compliance_db"]
    )
    with anyio.fail_after(120):
        messages = [m async for m in query(prompt="review the contract", options=options)]
    assert isinstance(messages[-1], ResultMessage)
    assert messages[-1].result == "All tools called."

    results = model.tool_results()
    assert len(results) == 10
    assert not [r for r in results if r.is_error], [r.content for r in results if r.is_error]
    outputs = [json.loads(r.content) for r in results]
    put, got, listed, searched, requirements, requirement, finding, findings, updated, deleted = outputs
    assert CONTRACT in json.dumps(got)
    assert "confidential" in json.dumps(got)
    assert "contracts/msa.md" in json.dumps(listed)
    assert "contracts/msa.md" in json.dumps(searched)
    assert "GDPR-17" in json.dumps(requirements)
    assert "erasure" in json.dumps(requirement).lower()
    assert "GDPR-17" in json.dumps(finding)
    assert "Erasure within 30 days" in json.dumps(findings)
    assert "resolved" in json.dumps(updated)
    assert "contracts/msa.md" in json.dumps(deleted)
    assert "contracts/msa.md" in json.dumps(put)


@pytest.mark.anyio
async def test_a_policy_rule_on_a_bundled_tool_applies(model: ScriptedModel, tmp_path: Path) -> None:
    policy = tmp_path / "policy.py"
    policy.write_text(
        "from magistrate.broker import RulePolicy\n"
        "policy = RulePolicy(default='allow', deny=['mcp__documents__get_document'])\n"
    )
    options = ClaudeCodeOptions(cwd=tmp_path, policy=policy, audit=tmp_path / "trail.sqlite3")
    with anyio.fail_after(120):
        [m async for m in query(prompt="review the contract", options=options)]
    results = model.tool_results()
    assert [r.is_error for r in results[:3]] == [False, True, False]
    assert "mcp__documents__get_document" in results[1].content or "denied" in results[1].content.lower()
