"""The compliance database's tools: their definitions and what each does, without any MCP machinery.

`TOOLS` is the one place the tools' names, descriptions and schemas are defined; `manifest()` lists them for a
run that has not loaded the server, and `compliance_toolset()` binds them to a repository.
"""

from __future__ import annotations

from typing import Any

from magistrate.servers._compliance_models import (
    FindingOutput,
    GetRequirementInput,
    ListFindingsInput,
    ListFindingsOutput,
    RecordFindingInput,
    RequirementOutput,
    SearchRequirementsInput,
    SearchRequirementsOutput,
    UpdateFindingInput,
)
from magistrate.servers._compliance_repo import ComplianceRepository
from magistrate.servers._names import COMPLIANCE_SERVER
from magistrate.servers._toolspec import Handler, ToolSet, ToolSpec

INSTRUCTIONS = (
    "A database of compliance frameworks (GDPR articles, SOC 2 trust services criteria, and any imported) and of"
    " findings recorded against their requirements. Search requirements by topic, read one in full, record what"
    " you find in a document with a severity and evidence, and review or update findings. Frameworks are also"
    " resources: compliance://frameworks and compliance://frameworks/{framework_id}."
)

SEARCH_REQUIREMENTS = ToolSpec(
    "search_requirements",
    "Full-text search over the requirements of all frameworks (or one), best match first, each with a snippet in"
    ' which matched words are **bold**. Example: {"query": "erasure", "framework": "gdpr"} finds GDPR-17.',
    SearchRequirementsInput,
    SearchRequirementsOutput,
    read_only=True,
)
GET_REQUIREMENT = ToolSpec(
    "get_requirement",
    "One requirement in full: its framework, reference, title, text, tags, the waivers in force for it, and how"
    ' many findings against it are still open. Example: {"requirement_id": "SOC2-CC6"}.',
    GetRequirementInput,
    RequirementOutput,
    read_only=True,
)
RECORD_FINDING = ToolSpec(
    "record_finding",
    "Record a finding against a requirement: what was found, how serious (info, low, medium, high, critical), and"
    " optionally the document and the evidence (a quotation or pointer). The finding starts in status 'open' and"
    ' its id is returned. Example: {"requirement_id": "GDPR-28", "summary": "No sub-processor approval'
    ' clause", "severity": "high", "document": "contracts/sample-msa.md"}.',
    RecordFindingInput,
    FindingOutput,
)
LIST_FINDINGS = ToolSpec(
    "list_findings",
    "Findings, newest first, filtered by any of requirement_id, framework, document, severity and status."
    ' Each says whether an active waiver covers it. Example: {"document": "contracts/sample-msa.md",'
    ' "status": "open"}.',
    ListFindingsInput,
    ListFindingsOutput,
    read_only=True,
)
UPDATE_FINDING = ToolSpec(
    "update_finding",
    "Change a finding's status (open, in_progress, resolved, accepted_risk, false_positive) with a note saying"
    ' why; every change is kept in the finding\'s history. Example: {"finding_id": 3, "status": "resolved",'
    ' "note": "Clause 7.2 added in version 3"}.',
    UpdateFindingInput,
    FindingOutput,
)
TOOLS: tuple[ToolSpec, ...] = (SEARCH_REQUIREMENTS, GET_REQUIREMENT, RECORD_FINDING, LIST_FINDINGS, UPDATE_FINDING)


def manifest() -> list[dict[str, Any]]:
    """The compliance server's `tools/list` entries, computed from the definitions alone."""
    return [spec.manifest_entry() for spec in TOOLS]


def compliance_toolset(repo: ComplianceRepository, run_id: str | None = None) -> ToolSet:
    """The compliance tools bound to a repository; findings are stamped with `run_id`."""

    def search(args: SearchRequirementsInput) -> SearchRequirementsOutput:
        return SearchRequirementsOutput(query=args.query, results=repo.search(args.query, args.framework, args.limit))

    def get(args: GetRequirementInput) -> RequirementOutput:
        return RequirementOutput(requirement=repo.requirement(args.requirement_id))

    def record(args: RecordFindingInput) -> FindingOutput:
        finding = repo.record_finding(
            args.requirement_id,
            args.summary,
            args.severity,
            document=args.document,
            evidence=args.evidence,
            run_id=run_id,
        )
        return FindingOutput(finding=finding)

    def list_(args: ListFindingsInput) -> ListFindingsOutput:
        findings = repo.list_findings(**args.model_dump())
        return ListFindingsOutput(count=len(findings), findings=findings)

    def update(args: UpdateFindingInput) -> FindingOutput:
        return FindingOutput(finding=repo.update_finding(args.finding_id, args.status, args.note))

    handlers: list[Handler] = [search, get, record, list_, update]
    return ToolSet(COMPLIANCE_SERVER, list(zip(TOOLS, handlers, strict=True)))
