"""One CLI process set up for a conversation: argv, environment, control handlers, `initialize`.

`query()` and `ClaudeSDKClient` both start here, so whatever a run must always have (the control protocol,
the user's hooks and permission callback, in-process MCP servers, and governance) is wired in one place.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterable, Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from magistrate.sdk._agent_options import AnyOptions, ClaudeAgentOptions
from magistrate.sdk._agent_run import StderrRelay, blocking, prepared, result_error, warn_if_shadowed
from magistrate.sdk._command import build_argv, resolve_cwd
from magistrate.sdk._discovery import find_cli
from magistrate.sdk._errors import OptionsError, ProcessError
from magistrate.sdk._events import Message
from magistrate.sdk._parse import parse_message
from magistrate.sdk._permissions import (
    PermissionResultAllow,
    PermissionResultDeny,
    PermissionUpdate,
    ToolPermissionContext,
    hook_context,
)
from magistrate.sdk._process import CLIProcess
from magistrate.sdk._sdk_mcp import McpEndpoint
from magistrate.sdk._session import ControlSession, RequestHandler
from magistrate.sdk._store_mirror import StoreMirror
from magistrate.sdk._transport import Transport, TransportChannel

if TYPE_CHECKING:
    from magistrate.sdk._governance import Governance

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


def user_message(prompt: str, session_id: str = "default") -> dict[str, Any]:
    return {
        "type": "user",
        "message": {"role": "user", "content": prompt},
        "parent_tool_use_id": None,
        "session_id": session_id,
    }


def _hook_output_for_cli(output: Mapping[str, Any]) -> dict[str, Any]:
    """Python spells `async_` and `continue_`; the CLI reads `async` and `continue`."""
    renames = {"async_": "async", "continue_": "continue"}
    return {renames.get(key, key): value for key, value in output.items()}


@dataclass
class _Plan:
    """Everything a run is started with besides the options themselves."""

    handlers: dict[str, RequestHandler] = field(default_factory=dict)
    hooks: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    callbacks: dict[str, Any] = field(default_factory=dict)
    endpoints: dict[str, McpEndpoint] = field(default_factory=dict)
    servers: Mapping[str, Any] | str | Path = field(default_factory=dict)
    prompt_tool: str | None = None
    governance: list[Governance] = field(default_factory=list)
    """Filled once governance is built, after the CLI has been started; a list so handlers see it then."""
    initialize: dict[str, Any] = field(default_factory=dict)
    """More fields of the `initialize` request (sub-agents, skills, ...)."""
    env: dict[str, str] = field(default_factory=dict)
    """Environment the options imply, under the user's own `env`."""


class Run:
    """A started CLI with its control session."""

    def __init__(self, session: ControlSession, init_response: dict[str, Any], governance: Governance | None) -> None:
        self.session = session
        self.init_response = init_response
        self.governance = governance
        self.stderr: StderrRelay | None = None
        """`ClaudeAgentOptions.stderr`: given each line the CLI wrote to stderr, as the run reads on."""
        self.mirror: StoreMirror | None = None
        """`ClaudeAgentOptions.session_store`: where the transcript is copied as it grows."""
        self._synthetic: list[dict[str, Any]] = []
        """Lines the run itself adds to the stream (a failed mirror), given out before the next CLI line."""
        self._error_result: dict[str, Any] | None = None
        """The last result line, when it was an error: the CLI exits non-zero after it."""

    @classmethod
    async def start(cls, options: AnyOptions, transport: Transport | None = None) -> Run:
        """Spawn first, set up governance while the CLI boots, then wait for its `initialize` answer.

        The CLI takes a few hundred milliseconds to start in its own process; loading the policy, opening the
        trail and importing what they need happens in that window, so governance adds almost nothing to a
        run's wall time. No tool call can slip through meanwhile: the CLI asks nothing before `initialize`
        is answered, and hook callbacks are only served once governance is in place.
        """
        from magistrate.broker import Environment

        config = Environment.read()  # once per run: what the MAGISTRATE_* variables say now
        cwd = resolve_cwd(options)
        if transport is None:
            cli = await anyio.to_thread.run_sync(lambda: find_cli(options.cli_path, cwd, env=config))
        else:
            cli = "claude"  # the transport starts or reaches the CLI itself; the argv only checks the options
        if isinstance(options, ClaudeAgentOptions):
            options = await prepared(options, cwd or str(Path.cwd()))
        plan = _plan(options)
        argv = build_argv(cli, replace(options, permission_prompt_tool_name=plan.prompt_tool), mcp_servers=plan.servers)
        env = {**os.environ, **plan.env, **options.env}
        process: CLIProcess | TransportChannel
        if transport is None:
            process = await CLIProcess.start(argv, cwd=cwd, env=env, user=options.user)
        else:
            process = await TransportChannel.start(transport)
        session = ControlSession(process, plan.handlers, timeout=options.control_timeout)
        governance: Governance | None = None
        try:
            pending = await session.begin({"subtype": "initialize", "hooks": plan.hooks or None, **plan.initialize})
            # While the CLI boots: the wire models every message and control request is parsed with.
            from magistrate.sdk._wire import prepare

            prepare(plan.handlers)

            if options.governed:
                from magistrate.sdk._governed import bundled_endpoints, governance_for

                governance = await governance_for(options, cwd or str(Path.cwd()), plan.endpoints, config)
                plan.endpoints.update(bundled_endpoints(governance, config))
                plan.governance.append(governance)
            init = await session.wait(pending)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await process.close(grace=0.5)
                process.release()
                if governance is not None:
                    await governance.aclose()
            raise
        run = cls(session, init, governance)
        if isinstance(options, ClaudeAgentOptions):
            run.stderr = None if options.stderr is None else StderrRelay(options.stderr)
            if options.session_store is not None:
                run.mirror = StoreMirror(options.session_store, cwd or str(Path.cwd()), options.env)
        return run

    async def end_input(self) -> None:
        """Close the CLI's input once every prompt has its answer: the CLI finishes and exits on its own, and
        a governed run commits its outcomes meanwhile rather than after the CLI has gone."""
        await self.session.process.end_input()
        if self.governance is not None:
            await self.governance.settle()

    def pass_stderr(self, *, final: bool = False) -> None:
        """Hand the CLI's new complete stderr lines (all of them when `final`) to the stderr callback."""
        if self.stderr is not None:
            self.stderr.pass_on(self.session.process.stderr_text(), final=final)

    async def send_prompt(self, prompt: str | AsyncIterable[dict[str, Any]], session_id: str = "default") -> int:
        """Send a prompt or a stream of user messages; returns how many messages were sent."""
        if isinstance(prompt, str):
            await self.session.send(user_message(prompt, session_id))
            return 1
        count = 0
        async for message in prompt:
            message.setdefault("session_id", session_id)
            await self.session.send(message)
            count += 1
        return count

    async def next_message(self) -> Message | None:
        """The next public message, skipping types this SDK does not know; None at the end."""
        while (raw := await self._next_raw()) is not None:
            self.pass_stderr()
            if raw.get("type") == "result":
                self._error_result = raw if raw.get("is_error") else None
            if self.mirror is not None and self.mirror.observe(raw):
                self._synthetic += await self.mirror.flush()
            if self.governance is not None:
                await self.governance.observe(raw)
            message = parse_message(raw)
            if message is not None:
                return message
        return None

    async def _next_raw(self) -> dict[str, Any] | None:
        """The next line; the CLI's exit after an error result is a `ResultError` carrying that result."""
        if self._synthetic:
            return self._synthetic.pop(0)
        try:
            return await self.session.next_message()
        except ProcessError as exc:
            if self._error_result is None or isinstance(exc, OptionsError):
                raise
            raise result_error(self._error_result, exc.exit_code) from exc

    async def close(self, *, grace: float = 5.0) -> None:
        process = self.session.process
        try:
            self.pass_stderr(final=True)  # before close, which drops the captured stderr
            await process.close(grace=grace)
        finally:
            process.release()
            if self.mirror is not None:
                with anyio.CancelScope(shield=True), anyio.move_on_after(10):
                    await self.mirror.flush()
            if self.governance is not None:
                with anyio.CancelScope(shield=True):
                    await self.governance.close()
                    await self.governance.aclose()


def _plan(options: AnyOptions) -> _Plan:
    """Everything known before the CLI starts; governance itself is built while it boots."""
    plan = _Plan(servers=options.mcp_servers, prompt_tool=options.permission_prompt_tool_name)
    if isinstance(options, ClaudeAgentOptions):
        from magistrate.sdk._agent_command import agent_env, initialize_fields

        plan.initialize, plan.env = initialize_fields(options), agent_env(options)
    plan.endpoints = _sdk_servers(options)
    if options.can_use_tool is not None and options.permission_prompt_tool_name:
        raise OptionsError(
            "can_use_tool and permission_prompt_tool_name both answer permission prompts; give one",
            option="can_use_tool",
        )
    warn_if_shadowed(options)
    _add_user_hooks(options, plan)
    if options.governed:
        _add_governance(options, plan)
    elif options.can_use_tool is not None:
        plan.prompt_tool = "stdio"
        plan.handlers["can_use_tool"] = _permission_handler(options)
    if plan.endpoints or options.governed:
        plan.handlers["mcp_message"] = _mcp_handler(plan.endpoints)
    if plan.callbacks:
        plan.handlers["hook_callback"] = _hook_handler(plan.callbacks, plan.governance)
    return plan


def _add_user_hooks(options: AnyOptions, plan: _Plan) -> None:
    for event, matchers in (options.hooks or {}).items():
        for matcher in matchers:
            ids = []
            if matcher.on_failure not in (None, "continue", "block"):
                raise OptionsError(f"HookMatcher.on_failure must be 'continue' or 'block': {matcher.on_failure!r}")
            for callback in matcher.hooks:
                callback_id = f"hook_{len(plan.callbacks)}"
                plan.callbacks[callback_id] = blocking(callback) if matcher.on_failure == "block" else callback
                ids.append(callback_id)
            entry: dict[str, Any] = {"matcher": matcher.matcher, "hookCallbackIds": ids}
            if getattr(matcher, "timeout", None) is not None:
                entry["timeout"] = matcher.timeout
            plan.hooks.setdefault(event, []).append(entry)


def _add_governance(options: AnyOptions, plan: _Plan) -> None:
    """Register the hook and attach the bundled servers by name; their implementations come later.

    Only PreToolUse: outcomes come from the stream (see `Governance.observe`), so no call pays a second
    round trip to the CLI for its PostToolUse."""
    from magistrate.broker import PROMPT_TOOL, SERVER_NAME
    from magistrate.servers import COMPLIANCE_SERVER, DOCUMENTS_SERVER

    callback_id = "magistrate_PreToolUse"
    plan.hooks.setdefault("PreToolUse", []).append({"matcher": None, "hookCallbackIds": [callback_id]})
    plan.callbacks[callback_id] = None  # answered by governance
    bundled = (SERVER_NAME, COMPLIANCE_SERVER, DOCUMENTS_SERVER)
    if isinstance(options.mcp_servers, (str, Path)):
        raise OptionsError(
            "a governed run attaches magistrate's servers, so mcp_servers must be a mapping, not a file path",
            option="mcp_servers",
        )
    clash = sorted(set(bundled) & set(options.mcp_servers))
    if clash:
        raise OptionsError(
            f"mcp_servers uses the name(s) {', '.join(clash)} that magistrate's bundled servers use; rename yours",
            option="mcp_servers",
        )
    plan.servers = {**options.mcp_servers, **{name: {"type": "sdk", "name": name} for name in bundled}}
    plan.prompt_tool = PROMPT_TOOL


def _sdk_servers(options: AnyOptions) -> dict[str, McpEndpoint]:
    servers = options.mcp_servers
    if not isinstance(servers, Mapping):
        return {}
    found: dict[str, McpEndpoint] = {}
    for name, config in servers.items():
        if isinstance(config, Mapping) and config.get("type") == "sdk":
            instance = config.get("instance")
            if not isinstance(instance, McpEndpoint):
                raise OptionsError(
                    f"mcp_servers[{name!r}] is an in-process server without an instance from create_sdk_mcp_server()",
                    option="mcp_servers",
                )
            found[name] = instance
    return found


def _mcp_handler(servers: Mapping[str, McpEndpoint]) -> Handler:
    async def handle(request: dict[str, Any]) -> dict[str, Any]:
        from magistrate.sdk._wire import McpMessageRequest

        parsed = McpMessageRequest.model_validate(request)
        server = servers.get(parsed.server_name)
        if server is None:
            reply: dict[str, Any] = {
                "jsonrpc": "2.0",
                "id": parsed.message.get("id"),
                "error": {"code": -32601, "message": f"no in-process server named {parsed.server_name!r}"},
            }
        else:
            reply = await server.handle(parsed.message)
        return {"mcp_response": reply}

    return handle


def _permission_handler(options: AnyOptions) -> Handler:
    callback = options.can_use_tool
    assert callback is not None

    async def handle(request: dict[str, Any]) -> dict[str, Any]:
        from magistrate.sdk._wire import CanUseToolRequest

        parsed = CanUseToolRequest.model_validate(request)
        suggestions = [
            PermissionUpdate(type=s["type"])
            for s in parsed.permission_suggestions or []
            if isinstance(s.get("type"), str)
        ]
        context = ToolPermissionContext(
            suggestions=suggestions,
            tool_use_id=parsed.tool_use_id,
            agent_id=parsed.agent_id,
            blocked_path=parsed.blocked_path,
            decision_reason=parsed.decision_reason,
            title=parsed.title,
            display_name=parsed.display_name,
            description=parsed.description,
        )
        result = await callback(parsed.tool_name, parsed.input, context)
        if isinstance(result, PermissionResultAllow):
            return {
                "behavior": "allow",
                "updatedInput": result.updated_input if result.updated_input is not None else parsed.input,
            }
        if isinstance(result, PermissionResultDeny):
            reply: dict[str, Any] = {"behavior": "deny", "message": result.message}
            if result.interrupt:
                reply["interrupt"] = True
            return reply
        raise TypeError(f"can_use_tool must return PermissionResultAllow or PermissionResultDeny, got {result!r}")

    return handle


def _hook_handler(callbacks: Mapping[str, Any], governance: list[Governance]) -> Handler:
    async def handle(request: dict[str, Any]) -> dict[str, Any]:
        from magistrate.sdk._wire import HookCallbackRequest

        parsed = HookCallbackRequest.model_validate(request)
        if parsed.callback_id not in callbacks:
            raise LookupError(f"no hook callback {parsed.callback_id!r}")
        callback = callbacks[parsed.callback_id]
        if callback is None:
            if not governance:
                raise RuntimeError("governance is not ready; the call is refused")
            return await governance[0].hook(parsed.input)
        output = await callback(parsed.input, parsed.tool_use_id, hook_context())
        return _hook_output_for_cli(output or {})

    return handle
