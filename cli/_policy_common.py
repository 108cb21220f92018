"""What the `magistrate policy` commands share: how they fail, where the policy comes from, the known servers."""

from __future__ import annotations

import sys

EXIT_ERROR = 2
"""Every `policy` command: a bad argument, an unreadable file, a policy that does not load."""


def fail(command: str, message: str) -> int:
    """Say what is wrong on stderr, naming the command; exit 2."""
    sys.stderr.write(f"magistrate policy {command}: {message}\n")
    return EXIT_ERROR


def policy_path(given: str | None) -> str | None:
    """`--policy` as given, else `MAGISTRATE_POLICY`."""
    from magistrate.broker import Environment

    return given or Environment.read().policy


def bundled_servers() -> dict[str, list[str]]:
    """The bundled MCP servers' tool names, from their manifests (no server is loaded)."""
    from magistrate.servers import manifest_of

    return {server: [tool["name"] for tool in manifest_of(server)] for server in ("compliance_db", "documents")}
