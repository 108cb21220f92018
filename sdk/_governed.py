"""Building a run's governance from its options: the policy, the trail, the approver, the bundled servers.

Imported only when a run is governed, so `import magistrate.sdk` and a plain run pay nothing for the broker.
The resolution order for each piece is the one documented on `ClaudeCodeOptions`: the option, then the
environment (`MAGISTRATE_POLICY`, `MAGISTRATE_AUDIT`, ...), then the default. The environment is the one
the run read when it started, passed in as an `Environment`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread

from magistrate.broker import (
    Approver,
    AskRequest,
    Broker,
    CallbackApprover,
    Environment,
    Governor,
    OutcomeRecord,
    Policy,
    ToolOutcome,
    Verdict,
)
from magistrate.sdk._agent_options import AnyOptions
from magistrate.sdk._errors import OptionsError
from magistrate.sdk._governance import Governance
from magistrate.sdk._permissions import PermissionResultAllow, PermissionResultDeny, ToolPermissionContext
from magistrate.sdk._sdk_mcp import McpEndpoint


def _resolve_policy(options: AnyOptions, cwd: str, env: Environment) -> Policy:
    """The broker's `resolve_policy` over the run's options; a `policy` that is neither a policy nor a path is
    an `OptionsError` naming the option (a file that does not load stays a `PolicyLoadError`)."""
    from magistrate.broker import PolicyError, PolicyLoadError, resolve_policy

    settings = [options.settings] if options.settings and Path(options.settings).is_file() else []
    try:
        return resolve_policy(
            options.policy,
            cwd=cwd,
            env=env,
            allowed_tools=options.allowed_tools,
            disallowed_tools=options.disallowed_tools,
            settings_files=settings,
        )
    except PolicyLoadError:
        raise
    except PolicyError as exc:
        raise OptionsError(str(exc), "policy") from exc


async def _default_governor(options: AnyOptions, cwd: str, env: Environment) -> tuple[Governor, list[Any]]:
    """A client of the shared broker when one is named; else the broker in this process, over the policy and
    a trail opened for this run."""
    url = options.broker or env.broker
    if url:
        if options.policy is not None or options.audit is not None:
            raise OptionsError("a shared broker brings its own policy and trail: drop policy/audit", "broker")
        from magistrate.broker import RemoteGovernor

        remote = RemoteGovernor(url, token=env.broker_token)
        return remote, [remote]
    from magistrate.broker import RulePolicy, Trail

    policy = _resolve_policy(options, cwd, env)
    if isinstance(policy, RulePolicy):
        policy.prepare()  # while the CLI boots, not on the first call's way
    trail = await anyio.to_thread.run_sync(functools.partial(Trail.open, options.audit, env=env))
    trail.inline_writes = True  # the run waits on each commit anyway; skip the worker thread
    return _RunBroker(policy, trail), [trail]


class _RunBroker(Broker):
    """The broker of one run, whose outcomes ride in the next decision's commit instead of one of their own:
    nothing waits on an outcome, and a crash before that commit loses outcomes only, never a decision."""

    async def record_outcome(self, outcome: ToolOutcome) -> None:
        self.trail.defer(OutcomeRecord.of(outcome))


class _CanUseToolApprover:
    """A Claude Code SDK permission callback, answering the asks the broker leaves to a person."""

    def __init__(self, callback: Any) -> None:
        self._callback = callback
        self._name = getattr(callback, "__qualname__", "can_use_tool")

    async def approve(self, ask: AskRequest) -> Verdict:
        result = await self._callback(ask.tool_name, dict(ask.input), ToolPermissionContext())
        who = f"callback:{self._name}"
        if isinstance(result, PermissionResultAllow):
            return Verdict(approved=True, approver=who, updated_input=result.updated_input)
        if isinstance(result, PermissionResultDeny):
            return Verdict(approved=False, approver=who, note=result.message)
        raise TypeError(f"can_use_tool must return PermissionResultAllow or PermissionResultDeny, got {result!r}")


class _EndpointApprover:
    """A user's own in-process permission prompt tool, called the way the CLI would call it."""

    def __init__(self, endpoint: McpEndpoint, tool: str, label: str) -> None:
        self._endpoint = endpoint
        self._tool = tool
        self._label = label

    async def approve(self, ask: AskRequest) -> Verdict:
        import json

        reply = await self._endpoint.handle(
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "tools/call",
                "params": {
                    "name": self._tool,
                    "arguments": {"tool_name": ask.tool_name, "input": dict(ask.input), "tool_use_id": ask.tool_use_id},
                },
            }
        )
        content = reply.get("result", {}).get("content", [])
        text = next((block.get("text", "") for block in content if block.get("type") == "text"), "")
        answer = json.loads(text)
        if answer.get("behavior") == "allow":
            return Verdict(approved=True, approver=self._label, updated_input=answer.get("updatedInput"))
        return Verdict(approved=False, approver=self._label, note=str(answer.get("message", "")))


def resolve_approver(options: AnyOptions, endpoints: Mapping[str, McpEndpoint], env: Environment) -> Approver | None:
    """Who answers asks, in the documented order of preference."""
    from magistrate.broker import TerminalApprover, terminal_available

    chosen = options.approver
    if chosen == "none":
        return None
    if chosen == "terminal":
        return TerminalApprover()
    if chosen == "queue" or (chosen is None and env.approval_queue):
        from magistrate.servers import ApprovalQueue, QueueApprover

        return QueueApprover(ApprovalQueue(env.queue))
    if chosen is not None:
        if hasattr(chosen, "approve"):
            return chosen  # type: ignore[no-any-return]
        if callable(chosen):
            return CallbackApprover(chosen)
        raise OptionsError(f"approver must be an Approver, a function, 'terminal', 'queue' or 'none': {chosen!r}")
    if options.can_use_tool is not None:
        return _CanUseToolApprover(options.can_use_tool)
    prompt = options.permission_prompt_tool_name
    if prompt and prompt.startswith("mcp__"):
        server, _, tool = prompt[len("mcp__") :].partition("__")
        if server in endpoints and tool:
            return _EndpointApprover(endpoints[server], tool, f"prompt_tool:{prompt}")
    return TerminalApprover() if terminal_available() else None


async def governance_for(
    options: AnyOptions, cwd: str, endpoints: Mapping[str, McpEndpoint], env: Environment
) -> Governance:
    owned: list[Any] = []
    governor: Governor
    if options.governor is not None:
        governor = options.governor
    else:
        governor, owned = await _default_governor(options, cwd, env)
    return Governance(
        governor=governor,
        approver=resolve_approver(options, endpoints, env),
        cwd=cwd,
        additional_directories=tuple(str(Path(d).expanduser().resolve()) for d in options.add_dirs),
        permission_mode=options.permission_mode or "default",
        labels=dict(options.labels),
        approval_timeout=options.approval_timeout,
        closers=owned,
        commit=governor.trail.flush if isinstance(governor, _RunBroker) else None,
    )


def bundled_endpoints(governance: Governance, env: Environment) -> dict[str, McpEndpoint]:
    """`magistrate` (approval), `compliance_db` and `documents`, all in-process and lazy; the databases are
    the ones `env` names, else the per-user ones."""
    from magistrate.broker import SERVER_NAME
    from magistrate.sdk._bundled import LazyToolSetEndpoint
    from magistrate.servers import COMPLIANCE_SERVER, DOCUMENTS_SERVER

    def compliance_manifest() -> list[dict[str, Any]]:
        from magistrate.servers import manifest_of

        return manifest_of(COMPLIANCE_SERVER)

    def documents_manifest() -> list[dict[str, Any]]:
        from magistrate.servers import manifest_of

        return manifest_of(DOCUMENTS_SERVER)

    def open_compliance() -> Any:
        from magistrate.servers import compliance_toolset
        from magistrate.servers import open_compliance as open_repo

        repo = open_repo(env.store("compliance"))
        return compliance_toolset(repo, governance.session_id), repo.db.close

    def open_documents() -> Any:
        from magistrate.servers import documents_toolset
        from magistrate.servers import open_documents as open_store

        store = open_store(env.store("documents"))
        return documents_toolset(store), store.db.close

    compliance = LazyToolSetEndpoint(COMPLIANCE_SERVER, compliance_manifest, open_compliance)
    documents = LazyToolSetEndpoint(DOCUMENTS_SERVER, documents_manifest, open_documents)
    governance.closers += [compliance, documents]  # their databases close with the run
    return {SERVER_NAME: governance.approval_endpoint(), COMPLIANCE_SERVER: compliance, DOCUMENTS_SERVER: documents}
