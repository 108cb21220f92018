"""The real Claude Code CLI calls every tool of both servers, run as `magistrate serve` over stdio.

The scripted model makes one tool call per turn; what the CLI sent back to it is compared with what the
server answered, so a result reaches the model intact (JSON text, structured content accepted).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from magistrate.sdk.scripted_model import ScriptedModel
from tests._harness import run_cli

MSA = Path(__file__).resolve().parents[2] / "examples" / "contracts" / "sample-msa.md"

CALLS: list[tuple[str, dict[str, Any]]] = [
    ("mcp__documents__put_document", {"name": "contracts/msa.md", "content": MSA.read_text(), "labels": ["contract"]}),
    ("mcp__documents__list_documents", {"prefix": "contracts/"}),
    ("mcp__documents__search_documents", {"query": "sub-processors"}),
    ("mcp__documents__get_document", {"name": "contracts/msa.md", "max_chars": 400}),
    ("mcp__compliance_db__search_requirements", {"query": "processor contract sub-processors", "framework": "gdpr"}),
    ("mcp__compliance_db__get_requirement", {"requirement_id": "GDPR-28"}),
    (
        "mcp__compliance_db__record_finding",
        {
            "requirement_id": "GDPR-28",
            "summary": "Sub-processors may be engaged without Customer's prior authorisation",
            "severity": "high",
            "document": "contracts/msa.md",
            "evidence": "6.5 Supplier may engage Sub-processors to provide the Services.",
        },
    ),
    ("mcp__compliance_db__list_findings", {"document": "contracts/msa.md"}),
    ("mcp__compliance_db__update_finding", {"finding_id": 1, "status": "in_progress", "note": "Raised with legal"}),
    ("mcp__documents__delete_document", {"name": "contracts/msa.md"}),
    ("mcp__compliance_db__record_finding", {"requirement_id": "GDPR-28", "summary": "x", "severity": "urgent"}),
]


def _server(name: str, db: Path) -> dict[str, Any]:
    code = "from magistrate.cli import main; raise SystemExit(main())"
    return {"command": sys.executable, "args": ["-c", code, "serve", name, "--db", str(db)]}


def test_cli_calls_every_tool_and_results_reach_the_model(
    claude_cli: Path,
    scripted_model: Callable[[dict[str, Any]], ScriptedModel],
    isolated_home: Path,
    tmp_path: Path,
) -> None:
    turns: list[Any] = [{"tool_calls": [{"name": name, "input": args}]} for name, args in CALLS]
    model = scripted_model({"default": {"turns": [*turns, "Review done."]}})
    config = {
        "mcpServers": {
            "documents": _server("documents", tmp_path / "documents.sqlite3"),
            "compliance_db": _server("compliance", tmp_path / "compliance.sqlite3"),
        }
    }
    run = run_cli(
        "review the contract",
        model=model,
        home=isolated_home,
        cwd=tmp_path,
        timeout=120,
        args=["--mcp-config", json.dumps(config), "--strict-mcp-config", "--allowedTools", "mcp__documents",
              "mcp__compliance_db"],
    )  # fmt: skip
    assert run.text == "Review done.", run.stderr[-2000:]
    results = model.tool_results()
    assert len(results) == len(CALLS)
    out = [json.loads(r.content) for r in results[:-1]]
    assert not any(r.is_error for r in results[:-1]), [r.content for r in results if r.is_error]

    assert out[0]["document"]["version"] == 1
    assert out[1]["documents"][0]["labels"] == ["contract"]
    assert out[2]["results"][0]["name"] == "contracts/msa.md"
    assert out[3]["truncated"] is True
    assert out[3]["content"] == MSA.read_text()[:400]
    assert out[4]["results"][0]["id"] == "GDPR-28"
    assert out[5]["requirement"]["title"] == "Processor"
    assert out[6]["finding"]["status"] == "open"
    assert out[7]["count"] == 1
    assert out[8]["finding"]["history"][0]["note"] == "Raised with legal"
    assert out[9]["versions_kept"] == 1
    assert results[-1].is_error
    assert "severity: Input should be" in results[-1].content
