"""The `documents` MCP server: what an agent reads and cites, kept as immutable versions.

`build_server()` binds the tools of `_documents_tools` to a store. `open_documents()` is the same store without
any MCP, for the command line and for policy rules that look up a document's labels.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from magistrate.servers._db import default_location, open_database
from magistrate.servers._documents_repo import DocumentStore
from magistrate.servers._documents_tools import INSTRUCTIONS, documents_toolset

if TYPE_CHECKING:
    from typing import Any

    from mcp.server import Server


def open_documents(db: str | None = None) -> DocumentStore:
    """The document store at `db` (a path or postgresql:// URL; default per user)."""
    database = open_database(db or default_location("documents"))
    try:
        return DocumentStore(database)
    except BaseException:
        database.close()  # a refused database (unknown schema version) leaves no connection behind
        raise


def build_server(db: str | DocumentStore | None = None) -> Server[dict[str, Any]]:
    """The `documents` server over a database location or an open store."""
    from magistrate.servers._toolkit import to_mcp_server

    opened = not isinstance(db, DocumentStore)
    store = db if isinstance(db, DocumentStore) else open_documents(db)
    return to_mcp_server(documents_toolset(store), instructions=INSTRUCTIONS, on_close=store.close if opened else None)
