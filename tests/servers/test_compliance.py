"""The compliance_db server, in memory against the real MCP server and a real SQLite database."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp_types import CallToolResult, TextContent

from magistrate.servers._compliance import build_server, open_compliance
from magistrate.servers._compliance_repo import ComplianceRepository
from magistrate.servers._compliance_tools import TOOLS, manifest

pytestmark = pytest.mark.anyio


@pytest.fixture
def repo(db_location: str) -> Iterator[ComplianceRepository]:
    with open_compliance(db_location) as repository:
        yield repository


@pytest.fixture
async def client(repo: ComplianceRepository) -> AsyncIterator[Client]:
    async with Client(build_server(repo, run_id="run-1")) as c:
        yield c


async def call(client: Client, name: str, arguments: dict[str, Any]) -> CallToolResult:
    with anyio.fail_after(10):
        return await client.call_tool(name, arguments)


def payload(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, result.content
    block = result.content[0]
    assert isinstance(block, TextContent)
    data: dict[str, Any] = json.loads(block.text)
    assert data == result.structured_content
    return data


def error_text(result: CallToolResult) -> str:
    assert result.is_error
    assert result.structured_content is None
    block = result.content[0]
    assert isinstance(block, TextContent)
    return block.text


async def test_tools_list_is_the_manifest(client: Client) -> None:
    with anyio.fail_after(10):
        listed = (await client.list_tools()).tools
    expected = {entry["name"]: entry for entry in manifest()}
    assert [t.name for t in listed] == [spec.name for spec in TOOLS]
    for tool in listed:
        assert tool.description == expected[tool.name]["description"]
        assert tool.input_schema == expected[tool.name]["inputSchema"]
        assert tool.output_schema == expected[tool.name]["outputSchema"]


async def test_search_erasure_finds_article_17_first(client: Client) -> None:
    data = payload(await call(client, "search_requirements", {"query": "erasure"}))
    top = data["results"][0]
    assert top["id"] == "GDPR-17"
    assert top["ref"] == "Art. 17"
    assert "**" in top["snippet"]
    scores = [hit["score"] for hit in data["results"]]
    assert scores == sorted(scores, reverse=True)


async def test_search_filters_by_framework_and_falls_back_to_any_word(client: Client) -> None:
    soc2 = payload(await call(client, "search_requirements", {"query": "encryption access", "framework": "soc2"}))
    assert soc2["results"][0]["id"] == "SOC2-CC6"
    assert {hit["framework"] for hit in soc2["results"]} == {"soc2"}
    loose = payload(await call(client, "search_requirements", {"query": "breach zzzunknownword"}))
    assert "GDPR-33" in [hit["id"] for hit in loose["results"]]


async def test_search_survives_query_syntax(client: Client) -> None:
    data = payload(await call(client, "search_requirements", {"query": 'erasure" (NEAR * -'}))
    assert data["results"][0]["id"] == "GDPR-17"
    assert "no words" in error_text(await call(client, "search_requirements", {"query": '"*"'}))


async def test_every_gdpr_article_and_soc2_criterion_ships(repo: ComplianceRepository) -> None:
    gdpr = repo.requirements_of("gdpr")
    assert [r.id for r in gdpr] == [f"GDPR-{n}" for n in range(1, 100)]
    soc2 = [r.ref for r in repo.requirements_of("soc2")]
    assert soc2 == [*(f"CC{n}" for n in range(1, 10)), "A1", "C1", "PI1", *(f"P{n}" for n in range(1, 9))]


async def test_get_requirement_and_unknown_id(client: Client) -> None:
    data = payload(await call(client, "get_requirement", {"requirement_id": "GDPR-28"}))
    assert data["requirement"]["title"] == "Processor"
    assert data["requirement"]["open_findings"] == 0
    missing = await call(client, "get_requirement", {"requirement_id": "GDPR-999"})
    assert "no requirement 'GDPR-999'" in error_text(missing)


async def test_findings_are_recorded_listed_and_updated_with_history(client: Client) -> None:
    recorded = payload(
        await call(
            client,
            "record_finding",
            {
                "requirement_id": "GDPR-28",
                "summary": "No sub-processor approval clause",
                "severity": "high",
                "document": "contracts/msa.md",
                "evidence": "Section 7 is silent on sub-processors.",
            },
        )
    )["finding"]
    assert recorded["status"] == "open"
    assert recorded["run_id"] == "run-1"
    await call(client, "record_finding", {"requirement_id": "SOC2-CC6", "summary": "Shared admin", "severity": "low"})

    by_doc = payload(await call(client, "list_findings", {"document": "contracts/msa.md"}))
    assert by_doc["count"] == 1
    assert by_doc["findings"][0]["id"] == recorded["id"]
    assert payload(await call(client, "list_findings", {"framework": "soc2"}))["count"] == 1
    assert payload(await call(client, "list_findings", {"severity": "critical"}))["count"] == 0
    requirement = payload(await call(client, "get_requirement", {"requirement_id": "GDPR-28"}))["requirement"]
    assert requirement["open_findings"] == 1

    change = {"finding_id": recorded["id"], "status": "resolved", "note": "Clause added"}
    updated = payload(await call(client, "update_finding", change))["finding"]
    assert updated["status"] == "resolved"
    assert [(h["status"], h["note"]) for h in updated["history"]] == [("resolved", "Clause added")]
    assert payload(await call(client, "list_findings", {"status": "open"}))["count"] == 1
    missing = await call(client, "update_finding", {"finding_id": 999, "status": "resolved", "note": "x"})
    assert "no finding 999" in error_text(missing)


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"summary": "x", "severity": "high"}, "requirement_id: Field required"),
        ({"requirement_id": "GDPR-5", "summary": "x", "severity": "urgent"}, "severity: Input should be"),
        ({"requirement_id": "GDPR-5", "summary": "x" * 2001, "severity": "low"}, "summary: String should have at most"),
        ({"requirement_id": "GDPR-5", "summary": "a\x00b", "severity": "low"}, "summary: Value error, must not"),
        ({"requirement_id": "GDPR-5", "summary": 7, "severity": "low"}, "summary: Input should be a valid string"),
        ({"requirement_id": "GDPR-5", "summary": "x", "severity": "low", "extra": 1}, "extra: Extra inputs"),
        ({"requirement_id": "GDPR-404", "summary": "x", "severity": "low"}, "no requirement 'GDPR-404'"),
    ],
)
async def test_bad_input_is_a_clear_error_and_changes_nothing(
    client: Client, repo: ComplianceRepository, arguments: dict[str, Any], expected: str
) -> None:
    text = error_text(await call(client, "record_finding", arguments))
    assert expected in text
    assert "input_value" not in text
    assert repo.list_findings() == []


async def test_waivers_cover_findings_until_they_expire(client: Client, repo: ComplianceRepository) -> None:
    repo.add_waiver("SOC2-A1", "Single region accepted for the pilot", "ciso@example.com", "2999-01-01T00:00:00Z")
    repo.add_waiver("SOC2-A1", "Old waiver", "ciso@example.com", "2000-01-01T00:00:00Z")
    finding = {"requirement_id": "SOC2-A1", "summary": "x", "severity": "low"}
    found = payload(await call(client, "record_finding", finding))
    assert found["finding"]["waived"] is True
    waivers = payload(await call(client, "get_requirement", {"requirement_id": "SOC2-A1"}))["requirement"]["waivers"]
    assert [w["reason"] for w in waivers] == ["Single region accepted for the pilot"]
    assert len(repo.waivers("SOC2-A1", include_expired=True)) == 2


async def test_frameworks_are_resources(client: Client) -> None:
    with anyio.fail_after(10):
        listing = await client.read_resource("compliance://frameworks")
        one = await client.read_resource("compliance://frameworks/soc2")
    frameworks = json.loads(getattr(listing.contents[0], "text", ""))
    assert {(f["id"], f["requirements"]) for f in frameworks} == {("gdpr", 99), ("soc2", 20)}
    requirements = json.loads(getattr(one.contents[0], "text", ""))
    assert requirements[0]["id"] == "SOC2-CC1"


def test_seeding_happens_once(repo: ComplianceRepository, db_location: str) -> None:
    repo.record_finding("GDPR-5", "kept", "low")
    with open_compliance(db_location) as again:
        assert len(again.frameworks()) == 2
        assert [f.summary for f in again.list_findings()] == ["kept"]
