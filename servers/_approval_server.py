"""The approval prompt as a standalone MCP server, for the plain `claude` CLI and for shared brokers.

In a run started by `magistrate.sdk` the prompt is answered in-process (`sdk/_bundled.py`); this server wraps
the same `PromptResolver` for everyone else: `claude --permission-prompt-tool mcp__magistrate__approval_prompt`
with `magistrate serve approval` in its `--mcp-config`. Its one tool returns exactly one text block and never
structured content, which the CLI would reject.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from magistrate.broker import (
    SERVER_NAME,
    TOOL_DESCRIPTION,
    TOOL_NAME,
    Approver,
    CallContext,
    Environment,
    Governor,
    Policy,
    PromptResolver,
    Recalled,
)

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

    from magistrate.broker import Broker, Trail

INSTRUCTIONS = (
    "magistrate's approval prompt: the CLI calls approval_prompt for each tool call it would ask a person about; "
    "the broker's policy decides, asks go to an approver, and every answer is recorded in the audit trail."
)


def default_approver(env: Environment | None = None) -> Approver | None:
    """The approval queue when `env` (default: this process's environment) names one in
    `$MAGISTRATE_APPROVAL_QUEUE`, else the terminal if there is one."""
    from magistrate.broker import TerminalApprover, terminal_available

    queue = (env or Environment.read()).approval_queue
    if queue:
        from magistrate.servers._approval_queue import ApprovalQueue, QueueApprover

        return QueueApprover(ApprovalQueue(queue))
    return TerminalApprover() if terminal_available() else None


def open_broker(
    db: str | None = None,
    *,
    policy: Policy | str | Path | None = None,
    cwd: str | None = None,
    env: Environment | None = None,
) -> Broker:
    """The broker behind the prompt (and the decision API): the policy and the trail at `db`, each else as
    `env` (default: this process's environment) says. Blocking."""
    from magistrate.broker import Broker, Trail, resolve_policy

    env = env or Environment.read()
    chosen = resolve_policy(policy, cwd=cwd or str(Path.cwd()), env=env)  # before the trail: nothing to close
    return Broker(chosen, Trail.open(db or None, env=env))


def build_resolver(
    db: str | None = None,
    *,
    policy: Policy | str | Path | None = None,
    approver: Approver | None = None,
    cwd: str | None = None,
    governor: Governor | None = None,
    env: Environment | None = None,
) -> PromptResolver:
    """The broker (policy + trail at `db`, unless a `governor` is given) and approver behind the prompt; what
    is not given is as `env` (default: this process's environment) says. Blocking: opens the trail."""
    env = env or Environment.read()
    where = cwd or str(Path.cwd())
    chosen = governor if governor is not None else open_broker(db, policy=policy, cwd=where, env=env)
    trail = getattr(chosen, "trail", None)
    return PromptResolver(
        governor=chosen,
        approver=approver if approver is not None else default_approver(env),
        context=lambda: CallContext(cwd=where),
        recall=None if trail is None else trail_recall(trail),
    )


def trail_recall(trail: Trail) -> Callable[[str], Awaitable[Recalled | None]]:
    """Finds the decision the command hook recorded for a call, so the prompt neither decides it twice nor
    loses its session: with the plain CLI, the hook and this server are separate processes sharing a trail."""
    import anyio.to_thread

    def lookup(tool_use_id: str) -> Recalled | None:
        record = trail.decision_for(tool_use_id)
        if record is None:
            return None
        return Recalled(record.call, record.decision, record.session_id)

    async def recall(tool_use_id: str) -> Recalled | None:
        return await anyio.to_thread.run_sync(lookup, tool_use_id)

    return recall


def build_server(
    db: str | None = None,
    *,
    policy: Policy | str | Path | None = None,
    approver: Approver | None = None,
    cwd: str | None = None,
    governor: Governor | None = None,
    env: Environment | None = None,
) -> MCPServer:
    """The `magistrate` server with its `approval_prompt` tool; `db` is the audit trail's location (unused
    when a ready `governor` is given, as the shared broker's service does). What is not given is as `env`
    (default: this process's environment) says.

    The policy is loaded and the trail opened here, so a bad policy fails before anything is served; a trail
    the server opened itself is closed when the server stops (its lifespan ends). A server is run once."""
    from contextlib import asynccontextmanager

    from mcp.server.mcpserver import MCPServer

    resolver = build_resolver(db, policy=policy, approver=approver, cwd=cwd, governor=governor, env=env)
    owned = None if governor is not None else getattr(resolver.governor, "trail", None)

    @asynccontextmanager
    async def lifespan(_: MCPServer[Any]) -> AsyncIterator[dict[str, Any]]:
        try:
            yield {}
        finally:
            if owned is not None:
                await owned.aclose()

    server = MCPServer(SERVER_NAME, instructions=INSTRUCTIONS, log_level="WARNING", lifespan=lifespan)

    @server.tool(name=TOOL_NAME, description=TOOL_DESCRIPTION, structured_output=False)
    async def approval_prompt(tool_name: Any = None, input: Any = None, tool_use_id: Any = None) -> str:
        # Loosely typed on purpose: the resolver validates, so a malformed request is a deny, never an error.
        return await resolver.answer({"tool_name": tool_name, "input": input, "tool_use_id": tool_use_id})

    return server
