"""The `compliance_db` MCP server: what a review agent checks its work against, and where it records findings.

`build_server()` opens (and on first use creates and seeds) the database, binds the tools of
`_compliance_tools` to it and serves the frameworks as resources. The shipped GDPR and SOC 2 frameworks are
loaded into an empty database so the server is useful from its first start.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from magistrate.broker import Environment, get_logger
from magistrate.servers._compliance_import import sample_frameworks
from magistrate.servers._compliance_repo import ComplianceRepository
from magistrate.servers._compliance_tools import INSTRUCTIONS, compliance_toolset
from magistrate.servers._db import default_location, open_database

if TYPE_CHECKING:
    from typing import Any

    from mcp.server import Server

_log = get_logger("magistrate.servers.compliance")


def open_compliance(db: str | None = None, *, seed: bool = True) -> ComplianceRepository:
    """The compliance repository at `db` (a path or postgresql:// URL; default per user), seeded when empty."""
    database = open_database(db or default_location("compliance"))
    try:
        repo = ComplianceRepository(database)
        if seed and repo.is_empty():
            count = repo.import_frameworks(sample_frameworks())
            _log.info("compliance_seeded", requirements=count, location=database.shown)
    except BaseException:
        database.close()  # a refused database (unknown schema version, a failed seed) leaves no connection behind
        raise
    return repo


def build_server(
    db: str | ComplianceRepository | None = None,
    *,
    run_id: str | None = None,
    seed: bool = True,
    env: Environment | None = None,
) -> Server[dict[str, Any]]:
    """The `compliance_db` server over a database location or an open repository. Findings are recorded
    under `run_id`, else the `$MAGISTRATE_RUN_ID` of `env` (default: this process's environment), for a
    server that runs on its own."""
    from magistrate.servers._toolkit import ResourceSpec, to_mcp_server

    opened = not isinstance(db, ComplianceRepository)
    repo = db if isinstance(db, ComplianceRepository) else open_compliance(db, seed=seed)

    def frameworks() -> str:
        return json.dumps([fw.model_dump() for fw in repo.frameworks()], ensure_ascii=False)

    def framework(framework_id: str) -> str:
        return json.dumps([req.model_dump() for req in repo.requirements_of(framework_id)], ensure_ascii=False)

    resources = [
        ResourceSpec(
            "compliance://frameworks",
            name="frameworks",
            description="Every framework in the database, with how many requirements each has.",
            mime_type="application/json",
            read=frameworks,
        ),
        ResourceSpec(
            "compliance://frameworks/{framework_id}",
            name="framework",
            description="One framework's requirements in order, each in full.",
            mime_type="application/json",
            read=framework,
        ),
    ]
    return to_mcp_server(
        compliance_toolset(repo, run_id or (env or Environment.read()).run_id),
        instructions=INSTRUCTIONS,
        on_close=repo.close if opened else None,
        resources=resources,
    )
