"""One CLI process set up for a conversation: argv, environment, control handlers, `initialize`.

`query()` and `ClaudeSDKClient` both start here, so whatever a run must always have (the control protocol,
the user's hooks and permission callback, in-process MCP servers) is wired in one place.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterable, Awaitable, Callable, Mapping
from typing import Any

import anyio

from magistrate.sdk._command import build_argv, resolve_cwd
from magistrate.sdk._discovery import find_cli
from magistrate.sdk._errors import OptionsError
from magistrate.sdk._options import ClaudeCodeOptions
from magistrate.sdk._parse import parse_message
from magistrate.sdk._permissions import (
    HookContext,
    PermissionResultAllow,
    PermissionResultDeny,
    PermissionUpdate,
    ToolPermissionContext,
)
from magistrate.sdk._process import CLIProcess
from magistrate.sdk._sdk_mcp import McpEndpoint
from magistrate.sdk._session import ControlSession, RequestHandler
from magistrate.sdk._types import Message
from magistrate.sdk._wire import CanUseToolRequest, HookCallbackRequest, McpMessageRequest

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


class Run:
    """A started CLI with its control session."""

    def __init__(self, session: ControlSession, init_response: dict[str, Any]) -> None:
        self.session = session
        self.init_response = init_response

    @classmethod
    async def start(cls, options: ClaudeCodeOptions) -> Run:
        cwd = resolve_cwd(options)
        cli = await anyio.to_thread.run_sync(find_cli, options.cli_path, cwd)
        handlers: dict[str, RequestHandler] = {}
        argv_options = options

        sdk_servers = _sdk_servers(options)
        if sdk_servers:
            handlers["mcp_message"] = _mcp_handler(sdk_servers)
        if options.can_use_tool is not None:
            if options.permission_prompt_tool_name:
                raise OptionsError(
                    "can_use_tool and permission_prompt_tool_name both answer permission prompts; give one",
                    option="can_use_tool",
                )
            from dataclasses import replace

            argv_options = replace(options, permission_prompt_tool_name="stdio")
            handlers["can_use_tool"] = _permission_handler(options)
        hooks_config: dict[str, list[dict[str, Any]]] = {}
        if options.hooks:
            callbacks: dict[str, Any] = {}
            for event, matchers in options.hooks.items():
                for matcher in matchers:
                    ids = []
                    for callback in matcher.hooks:
                        callback_id = f"hook_{len(callbacks)}"
                        callbacks[callback_id] = callback
                        ids.append(callback_id)
                    hooks_config.setdefault(event, []).append({"matcher": matcher.matcher, "hookCallbackIds": ids})
            handlers["hook_callback"] = _hook_handler(callbacks)

        argv = build_argv(cli, argv_options)
        env = {**os.environ, **options.env}
        process = await CLIProcess.start(argv, cwd=cwd, env=env, user=options.user)
        session = ControlSession(process, handlers, timeout=options.control_timeout)
        try:
            init = await session.request({"subtype": "initialize", "hooks": hooks_config or None})
        except BaseException:
            await process.close(grace=0.5)
            process.release()
            raise
        return cls(session, init)

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
        while (raw := await self.session.next_message()) is not None:
            message = parse_message(raw)
            if message is not None:
                return message
        return None

    async def close(self, *, grace: float = 5.0) -> None:
        process = self.session.process
        await process.close(grace=grace)
        process.release()


def _sdk_servers(options: ClaudeCodeOptions) -> dict[str, McpEndpoint]:
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


def _permission_handler(options: ClaudeCodeOptions) -> Handler:
    callback = options.can_use_tool
    assert callback is not None

    async def handle(request: dict[str, Any]) -> dict[str, Any]:
        parsed = CanUseToolRequest.model_validate(request)
        suggestions = [
            PermissionUpdate(type=s["type"])
            for s in parsed.permission_suggestions or []
            if isinstance(s.get("type"), str)
        ]
        result = await callback(parsed.tool_name, parsed.input, ToolPermissionContext(suggestions=suggestions))
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


def _hook_handler(callbacks: Mapping[str, Any]) -> Handler:
    async def handle(request: dict[str, Any]) -> dict[str, Any]:
        parsed = HookCallbackRequest.model_validate(request)
        callback = callbacks.get(parsed.callback_id)
        if callback is None:
            raise LookupError(f"no hook callback {parsed.callback_id!r}")
        output = await callback(parsed.input, parsed.tool_use_id, HookContext())
        return _hook_output_for_cli(output or {})

    return handle
