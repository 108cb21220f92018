"""The compliance database's wire formats: tool inputs and outputs, and the rows a framework file holds.

Inputs are strict (unknown fields, NUL bytes and oversize text are errors) because a model's mistake must come
back as a clear error, never as a half-recorded finding. Field descriptions are what the model reads in the
tool's input schema, so they say what to pass, not how it is stored.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field

from magistrate.servers._toolspec import MAX_INT, StrictInput, reject_nul

Severity = Literal["info", "low", "medium", "high", "critical"]
Status = Literal["open", "in_progress", "resolved", "accepted_risk", "false_positive"]

FRAMEWORK_ID = r"^[a-z0-9][a-z0-9_-]{0,31}$"
REQUIREMENT_ID = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"
MAX_QUERY = 500
MAX_SUMMARY = 2_000
MAX_EVIDENCE = 20_000
MAX_NOTE = 4_000
MAX_REQUIREMENT_TEXT = 20_000


Text = Annotated[str, AfterValidator(reject_nul)]


# --- tool inputs -------------------------------------------------------------------------------------------


class SearchRequirementsInput(StrictInput):
    query: Text = Field(min_length=1, max_length=MAX_QUERY, description="Words to look for, e.g. 'erasure'.")
    """Free text; every word must match (stemmed), falling back to any word when none match all."""
    framework: str | None = Field(None, pattern=FRAMEWORK_ID, description="Only this framework, e.g. 'gdpr'.")
    limit: int = Field(10, ge=1, le=50, description="Most results to return.")


class GetRequirementInput(StrictInput):
    requirement_id: str = Field(pattern=REQUIREMENT_ID, description="A requirement id, e.g. 'GDPR-17'.")


class RecordFindingInput(StrictInput):
    requirement_id: str = Field(pattern=REQUIREMENT_ID, description="The requirement the finding is against.")
    summary: Text = Field(min_length=1, max_length=MAX_SUMMARY, description="What was found, in a sentence or two.")
    severity: Severity = Field(description="How serious the finding is.")
    document: Text | None = Field(None, max_length=512, description="The document it was found in, by name.")
    evidence: Text | None = Field(None, max_length=MAX_EVIDENCE, description="A quotation or pointer that shows it.")


class ListFindingsInput(StrictInput):
    requirement_id: str | None = Field(None, pattern=REQUIREMENT_ID, description="Only findings against this.")
    framework: str | None = Field(None, pattern=FRAMEWORK_ID, description="Only findings in this framework.")
    document: Text | None = Field(None, max_length=512, description="Only findings about this document.")
    severity: Severity | None = Field(None, description="Only findings of this severity.")
    status: Status | None = Field(None, description="Only findings in this status.")
    limit: int = Field(50, ge=1, le=500, description="Most findings to return, newest first.")


class UpdateFindingInput(StrictInput):
    finding_id: int = Field(
        ge=1, le=MAX_INT, description="The finding's id, as returned by record_finding or list_findings."
    )
    status: Status = Field(description="The new status.")
    note: Text = Field(min_length=1, max_length=MAX_NOTE, description="Why the status changes; kept in history.")


# --- tool outputs ------------------------------------------------------------------------------------------


class RequirementHit(BaseModel):
    id: str
    framework: str
    ref: str
    title: str
    snippet: str
    """The best matching passage, matched words in **bold**."""
    score: float
    """Relevance, higher is better; comparable only within one result list."""
    tags: list[str]


class SearchRequirementsOutput(BaseModel):
    query: str
    results: list[RequirementHit]


class Waiver(BaseModel):
    id: int
    requirement_id: str
    document: str | None
    reason: str
    approved_by: str
    expires_at: str
    active: bool


class Requirement(BaseModel):
    id: str
    framework: str
    ref: str
    title: str
    text: str
    tags: list[str]
    waivers: list[Waiver]
    """Waivers that apply now (expired ones are not listed)."""
    open_findings: int


class RequirementOutput(BaseModel):
    requirement: Requirement


class FindingNote(BaseModel):
    status: Status
    note: str
    at: str


class Finding(BaseModel):
    id: int
    requirement_id: str
    summary: str
    severity: Severity
    status: Status
    document: str | None
    evidence: str | None
    run_id: str | None
    """The run that recorded the finding, when known."""
    created_at: str
    updated_at: str
    waived: bool
    """An active waiver covers this requirement (and document)."""
    history: list[FindingNote]


class FindingOutput(BaseModel):
    finding: Finding


class ListFindingsOutput(BaseModel):
    count: int
    findings: list[Finding]


# --- framework files ---------------------------------------------------------------------------------------


class RequirementRow(StrictInput):
    id: str = Field(pattern=REQUIREMENT_ID)
    ref: str = Field("", max_length=64)
    title: Text = Field(min_length=1, max_length=300)
    text: Text = Field(min_length=1, max_length=MAX_REQUIREMENT_TEXT)
    tags: list[Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")]] = Field(default_factory=list)


class FrameworkRow(StrictInput):
    id: str = Field(pattern=FRAMEWORK_ID)
    name: Text = Field(min_length=1, max_length=200)
    version: Text = Field("", max_length=64)
    description: Text = Field("", max_length=4_000)
    source: Text = Field("", max_length=500)
    """Where the framework's authoritative text is published."""
    requirements: list[RequirementRow] = Field(default_factory=list)


class FrameworkSummary(BaseModel):
    id: str
    name: str
    version: str
    description: str
    source: str
    requirements: int
