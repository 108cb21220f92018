"""magistrate.servers: the bundled MCP servers (compliance database, document store) and their storage.

The package re-exports lazily: a policy rule that looks up a document's labels, or a run that lists the tools,
must not pay for `mcp` (imported only by the `build_*_server` factories). Add a public name to `_EXPORTS`,
`__all__` and the TYPE_CHECKING block; `tests/servers/test_public_api.py` fails when they drift.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from magistrate.servers._compliance import build_server as build_compliance_server
    from magistrate.servers._compliance import open_compliance
    from magistrate.servers._compliance_repo import ComplianceRepository
    from magistrate.servers._compliance_tools import compliance_toolset
    from magistrate.servers._documents import build_server as build_documents_server
    from magistrate.servers._documents import open_documents
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
    from magistrate.servers._toolspec import ToolResult, ToolSet, ToolSpec

# public name -> (defining module, name there)
_EXPORTS: dict[str, tuple[str, str]] = {
    "ComplianceRepository": ("magistrate.servers._compliance_repo", "ComplianceRepository"),
    "DatabaseError": ("magistrate.servers._errors", "DatabaseError"),
    "DocumentStore": ("magistrate.servers._documents_repo", "DocumentStore"),
    "ExtractionError": ("magistrate.servers._errors", "ExtractionError"),
    "ImportRowsError": ("magistrate.servers._errors", "ImportRowsError"),
    "InvalidInputError": ("magistrate.servers._errors", "InvalidInputError"),
    "LimitExceededError": ("magistrate.servers._errors", "LimitExceededError"),
    "NotFoundError": ("magistrate.servers._errors", "NotFoundError"),
    "ServerError": ("magistrate.servers._errors", "ServerError"),
    "ToolResult": ("magistrate.servers._toolspec", "ToolResult"),
    "ToolSet": ("magistrate.servers._toolspec", "ToolSet"),
    "ToolSpec": ("magistrate.servers._toolspec", "ToolSpec"),
    "build_compliance_server": ("magistrate.servers._compliance", "build_server"),
    "build_documents_server": ("magistrate.servers._documents", "build_server"),
    "compliance_toolset": ("magistrate.servers._compliance_tools", "compliance_toolset"),
    "documents_toolset": ("magistrate.servers._documents_tools", "documents_toolset"),
    "open_compliance": ("magistrate.servers._compliance", "open_compliance"),
    "open_documents": ("magistrate.servers._documents", "open_documents"),
}

__all__ = [
    "ComplianceRepository",
    "DatabaseError",
    "DocumentStore",
    "ExtractionError",
    "ImportRowsError",
    "InvalidInputError",
    "LimitExceededError",
    "NotFoundError",
    "ServerError",
    "ToolResult",
    "ToolSet",
    "ToolSpec",
    "build_compliance_server",
    "build_documents_server",
    "compliance_toolset",
    "documents_toolset",
    "open_compliance",
    "open_documents",
]


def __getattr__(name: str) -> Any:
    target = _EXPORTS.get(name)
    if target is None:
        raise AttributeError(f"module 'magistrate.servers' has no attribute {name!r}")
    value = getattr(importlib.import_module(target[0]), target[1])
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
