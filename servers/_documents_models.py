"""The document store's wire formats: tool inputs and outputs.

Names are free text (a path-like `contracts/acme-msa.md` is typical) but never control characters; labels are
short lower-case words because policies match them exactly. Limits are here so the schema a model reads and
the check the server makes are the same thing.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field

from magistrate.servers._toolspec import MAX_INT, StrictInput, reject_nul

MAX_CONTENT_BYTES = 4 * 1024 * 1024
"""Largest document the store takes, in UTF-8 bytes (a long contract is well under 1 MiB)."""
MAX_NAME = 512
MAX_LABELS = 32
MAX_READ_CHARS = 200_000
DEFAULT_READ_CHARS = 50_000
NAME_PATTERN = r"^[^\x00-\x1f\x7f\s](?:[^\x00-\x1f\x7f]*[^\x00-\x1f\x7f\s])?$"
LABEL_PATTERN = r"^[a-z0-9][a-z0-9_.:-]{0,63}$"

Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME, pattern=NAME_PATTERN)]
Label = Annotated[str, Field(pattern=LABEL_PATTERN)]
Sha = Annotated[str, Field(pattern=r"^[0-9a-f]{8,64}$")]


class PutDocumentInput(StrictInput):
    name: Name = Field(description="The document's name, e.g. 'contracts/acme-msa.md'; a new name creates it.")
    content: Annotated[str, AfterValidator(reject_nul)] = Field(
        max_length=MAX_CONTENT_BYTES, description="The full text of the document (at most 4 MiB of UTF-8)."
    )
    labels: list[Label] = Field(
        default_factory=list, max_length=MAX_LABELS, description="Labels such as 'confidential' or 'contract'."
    )


class GetDocumentInput(StrictInput):
    name: Name = Field(description="The document's name.")
    version: Annotated[int, Field(ge=1, le=MAX_INT)] | Sha | None = Field(
        None, description="A version number (1, 2, ...) or a SHA-256 (or its first 8+ hex digits); default latest."
    )
    offset: int = Field(0, ge=0, le=MAX_INT, description="Character to start reading at, for long documents.")
    max_chars: int = Field(DEFAULT_READ_CHARS, ge=1, le=MAX_READ_CHARS, description="Most characters to return.")


class ListDocumentsInput(StrictInput):
    prefix: Annotated[str, AfterValidator(reject_nul)] | None = Field(
        None, max_length=MAX_NAME, description="Only names starting with this, e.g. 'contracts/'."
    )
    label: Label | None = Field(None, description="Only documents carrying this label.")
    limit: int = Field(200, ge=1, le=1000, description="Most documents to return, by name.")


class SearchDocumentsInput(StrictInput):
    query: Annotated[str, AfterValidator(reject_nul)] = Field(
        min_length=1, max_length=500, description="Words to look for, e.g. 'termination for convenience'."
    )
    limit: int = Field(10, ge=1, le=50, description="Most results to return.")
    label: Label | None = Field(None, description="Only documents carrying this label.")


class DeleteDocumentInput(StrictInput):
    name: Name = Field(description="The document to delete; its earlier versions stay readable.")


class VersionInfo(BaseModel):
    version: int
    sha256: str | None
    """None for the tombstone a delete leaves."""
    size: int
    """UTF-8 bytes."""
    created_at: str
    deleted: bool


class DocumentInfo(BaseModel):
    name: str
    version: int
    sha256: str
    labels: list[str]
    size: int
    created_at: str


class PutDocumentOutput(BaseModel):
    document: DocumentInfo
    created: bool
    """False when the content and labels equal the latest version, which is then returned unchanged."""


class GetDocumentOutput(BaseModel):
    document: DocumentInfo
    latest_version: int
    deleted: bool
    """The document has been deleted since; this is an earlier version."""
    offset: int
    content: str
    truncated: bool
    next_offset: int | None
    """Pass as `offset` to read on; None at the end."""
    history: list[VersionInfo]


class ListDocumentsOutput(BaseModel):
    count: int
    documents: list[DocumentInfo]


class DocumentHit(BaseModel):
    name: str
    version: int
    sha256: str
    labels: list[str]
    snippet: str
    """The best matching passage, matched words in **bold**."""
    score: float


class SearchDocumentsOutput(BaseModel):
    query: str
    results: list[DocumentHit]


class DeleteDocumentOutput(BaseModel):
    name: str
    version: int
    """The tombstone's version number."""
    versions_kept: int
