"""magistrate.servers: the bundled MCP servers (compliance database, document store) and their storage.

The package re-exports lazily: a policy rule that looks up a document's labels, or a run that lists the tools,
must not pay for `mcp` (imported only by the `build_*_server` factories). Add a public name to `_EXPORTS`,
`__all__` and the TYPE_CHECKING block; `tests/servers/test_public_api.py` fails when they drift.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from magistrate.servers._approval_queue import ApprovalQueue, QueueApprover, QueuedAsk, default_queue_path
    from magistrate.servers._broker_service import serve_shared_broker
    from magistrate.servers._compliance import build_server as build_compliance_server
    from magistrate.servers._compliance import open_compliance
    from magistrate.servers._compliance_import import load_framework_file, sample_frameworks
    from magistrate.servers._compliance_repo import ComplianceRepository
    from magistrate.servers._compliance_tools import compliance_toolset
    from magistrate.servers._db import check_db_folder
    from magistrate.servers._documents import build_server as build_documents_server
    from magistrate.servers._documents import open_documents
    from magistrate.servers._documents_extract import extract_text
    from magistrate.servers._documents_models import PutDocumentInput
    from magistrate.servers._documents_repo import DocumentStore
    from magistrate.servers._documents_tools import documents_toolset
    from magistrate.servers._errors import (
        DatabaseError,
        ExtractionError,
        ImportRowsError,
        InvalidInputError,
        LimitExceededError,
        NotFoundError,
        ServerError,
    )
    from magistrate.servers._http import check_exposure, serve_http, serve_stdio
    from magistrate.servers._manifest import manifest_of
    from magistrate.servers._names import COMPLIANCE_SERVER, DOCUMENTS_SERVER
    from magistrate.servers._toolspec import ToolResult, ToolSet, ToolSpec, describe_validation_error

# public name -> (defining module, name there)
_EXPORTS: dict[str, tuple[str, str]] = {
    "ApprovalQueue": ("magistrate.servers._approval_queue", "ApprovalQueue"),
    "COMPLIANCE_SERVER": ("magistrate.servers._names", "COMPLIANCE_SERVER"),
    "ComplianceRepository": ("magistrate.servers._compliance_repo", "ComplianceRepository"),
    "DOCUMENTS_SERVER": ("magistrate.servers._names", "DOCUMENTS_SERVER"),
    "DatabaseError": ("magistrate.servers._errors", "DatabaseError"),
    "DocumentStore": ("magistrate.servers._documents_repo", "DocumentStore"),
    "ExtractionError": ("magistrate.servers._errors", "ExtractionError"),
    "ImportRowsError": ("magistrate.servers._errors", "ImportRowsError"),
    "InvalidInputError": ("magistrate.servers._errors", "InvalidInputError"),
    "LimitExceededError": ("magistrate.servers._errors", "LimitExceededError"),
    "NotFoundError": ("magistrate.servers._errors", "NotFoundError"),
    "PutDocumentInput": ("magistrate.servers._documents_models", "PutDocumentInput"),
    "QueueApprover": ("magistrate.servers._approval_queue", "QueueApprover"),
    "QueuedAsk": ("magistrate.servers._approval_queue", "QueuedAsk"),
    "ServerError": ("magistrate.servers._errors", "ServerError"),
    "ToolResult": ("magistrate.servers._toolspec", "ToolResult"),
    "ToolSet": ("magistrate.servers._toolspec", "ToolSet"),
    "ToolSpec": ("magistrate.servers._toolspec", "ToolSpec"),
    "build_compliance_server": ("magistrate.servers._compliance", "build_server"),
    "build_documents_server": ("magistrate.servers._documents", "build_server"),
    "check_db_folder": ("magistrate.servers._db", "check_db_folder"),
    "check_exposure": ("magistrate.servers._http", "check_exposure"),
    "compliance_toolset": ("magistrate.servers._compliance_tools", "compliance_toolset"),
    "default_queue_path": ("magistrate.servers._approval_queue", "default_queue_path"),
    "describe_validation_error": ("magistrate.servers._toolspec", "describe_validation_error"),
    "documents_toolset": ("magistrate.servers._documents_tools", "documents_toolset"),
    "extract_text": ("magistrate.servers._documents_extract", "extract_text"),
    "load_framework_file": ("magistrate.servers._compliance_import", "load_framework_file"),
    "manifest_of": ("magistrate.servers._manifest", "manifest_of"),
    "open_compliance": ("magistrate.servers._compliance", "open_compliance"),
    "open_documents": ("magistrate.servers._documents", "open_documents"),
    "sample_frameworks": ("magistrate.servers._compliance_import", "sample_frameworks"),
    "serve_http": ("magistrate.servers._http", "serve_http"),
    "serve_shared_broker": ("magistrate.servers._broker_service", "serve_shared_broker"),
    "serve_stdio": ("magistrate.servers._http", "serve_stdio"),
}

__all__ = [  # noqa: RUF022 - plain sorted(), which the public API test holds
    "ApprovalQueue",
    "COMPLIANCE_SERVER",
    "ComplianceRepository",
    "DOCUMENTS_SERVER",
    "DatabaseError",
    "DocumentStore",
    "ExtractionError",
    "ImportRowsError",
    "InvalidInputError",
    "LimitExceededError",
    "NotFoundError",
    "PutDocumentInput",
    "QueueApprover",
    "QueuedAsk",
    "ServerError",
    "ToolResult",
    "ToolSet",
    "ToolSpec",
    "build_compliance_server",
    "build_documents_server",
    "check_db_folder",
    "check_exposure",
    "compliance_toolset",
    "default_queue_path",
    "describe_validation_error",
    "documents_toolset",
    "extract_text",
    "load_framework_file",
    "manifest_of",
    "open_compliance",
    "open_documents",
    "sample_frameworks",
    "serve_http",
    "serve_shared_broker",
    "serve_stdio",
]


def __getattr__(name: str) -> Any:
    target = _EXPORTS.get(name)
    if target is None:
        raise AttributeError(f"module 'magistrate.servers' has no attribute {name!r}")
    value = getattr(importlib.import_module(target[0]), target[1])
    from magistrate.broker import publish_public_name as publish

    publish(value, name, __name__)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
