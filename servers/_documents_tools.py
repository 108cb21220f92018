"""The document store's tools: their definitions and what each does, without any MCP machinery.

`TOOLS` is the one place the tools' names, descriptions and schemas are defined; `manifest()` lists them for a
run that has not loaded the server, and `documents_toolset()` binds them to a store.
"""

from __future__ import annotations

from typing import Any

from magistrate.servers._documents_models import (
    DeleteDocumentInput,
    DeleteDocumentOutput,
    GetDocumentInput,
    GetDocumentOutput,
    ListDocumentsInput,
    ListDocumentsOutput,
    PutDocumentInput,
    PutDocumentOutput,
    SearchDocumentsInput,
    SearchDocumentsOutput,
)
from magistrate.servers._documents_repo import DocumentStore
from magistrate.servers._names import DOCUMENTS_SERVER
from magistrate.servers._toolspec import Handler, ToolSet, ToolSpec

INSTRUCTIONS = (
    "A versioned store of documents (contracts, policies, reports) to read, search and cite. Every put makes a new"
    " immutable version addressed by its SHA-256; cite a document as name@version or by its sha256. Labels such"
    " as 'confidential' travel with each document and may make reads need approval."
)

PUT_DOCUMENT = ToolSpec(
    "put_document",
    "Store a document's full text under a name, with optional labels; a new version is made each time (the same"
    ' content and labels again change nothing). Example: {"name": "notes/review.md", "content": "...",'
    ' "labels": ["internal"]}.',
    PutDocumentInput,
    PutDocumentOutput,
)
GET_DOCUMENT = ToolSpec(
    "get_document",
    "Read a document: the latest version, or one by number or SHA-256; long texts come in pages (offset,"
    ' max_chars, next_offset). The result carries the labels and the version history. Example: {"name":'
    ' "contracts/sample-msa.md"} or {"name": "contracts/sample-msa.md", "version": 1}.',
    GetDocumentInput,
    GetDocumentOutput,
    read_only=True,
)
LIST_DOCUMENTS = ToolSpec(
    "list_documents",
    "List live documents by name with their latest version, SHA-256, labels and size, optionally only those"
    ' under a name prefix or carrying a label. Example: {"prefix": "contracts/", "label": "confidential"}.',
    ListDocumentsInput,
    ListDocumentsOutput,
    read_only=True,
)
SEARCH_DOCUMENTS = ToolSpec(
    "search_documents",
    "Full-text search over the latest version of every live document, best match first, each with a snippet in"
    ' which matched words are **bold**. Example: {"query": "limitation of liability", "limit": 5}.',
    SearchDocumentsInput,
    SearchDocumentsOutput,
    read_only=True,
)
DELETE_DOCUMENT = ToolSpec(
    "delete_document",
    "Delete a document: it leaves listings and search, but its history is kept and earlier versions stay"
    ' readable by version. Example: {"name": "notes/draft.md"}.',
    DeleteDocumentInput,
    DeleteDocumentOutput,
    destructive=True,
)
TOOLS: tuple[ToolSpec, ...] = (PUT_DOCUMENT, GET_DOCUMENT, LIST_DOCUMENTS, SEARCH_DOCUMENTS, DELETE_DOCUMENT)


def manifest() -> list[dict[str, Any]]:
    """The document server's `tools/list` entries, computed from the definitions alone."""
    return [spec.manifest_entry() for spec in TOOLS]


def documents_toolset(store: DocumentStore) -> ToolSet:
    """The document tools bound to a store."""

    def put(args: PutDocumentInput) -> PutDocumentOutput:
        info, created = store.put(args.name, args.content, args.labels)
        return PutDocumentOutput(document=info, created=created)

    def get(args: GetDocumentInput) -> GetDocumentOutput:
        info, content, latest, deleted = store.get(args.name, args.version)
        end = min(len(content), args.offset + args.max_chars)
        return GetDocumentOutput(
            document=info,
            latest_version=latest,
            deleted=deleted,
            offset=args.offset,
            content=content[args.offset : end],
            truncated=end < len(content),
            next_offset=end if end < len(content) else None,
            history=store.history(args.name),
        )

    def list_(args: ListDocumentsInput) -> ListDocumentsOutput:
        documents = store.list_documents(args.prefix, args.label, args.limit)
        return ListDocumentsOutput(count=len(documents), documents=documents)

    def search(args: SearchDocumentsInput) -> SearchDocumentsOutput:
        return SearchDocumentsOutput(query=args.query, results=store.search(args.query, args.limit, args.label))

    def delete(args: DeleteDocumentInput) -> DeleteDocumentOutput:
        version, kept = store.delete(args.name)
        return DeleteDocumentOutput(name=args.name, version=version, versions_kept=kept)

    handlers: list[Handler] = [put, get, list_, search, delete]
    return ToolSet(DOCUMENTS_SERVER, list(zip(TOOLS, handlers, strict=True)))
