"""Hooks: Python functions the CLI calls at points of the agent's work, here to block, annotate and observe.

magistrate's own policy hook runs beside them; a hook can make a call stricter, never let through what the
policy denies.
"""

from __future__ import annotations

import anyio

from magistrate.sdk import (
    AssistantMessage,
    ClaudeAgentOptions,
    HookContext,
    HookJSONOutput,
    HookMatcher,
    Message,
    ResultMessage,
    TextBlock,
    query,
)


def show(message: Message) -> None:
    """The assistant's text as `Claude: ...`, and the cost once the result arrives."""
    if isinstance(message, AssistantMessage):
        for block in message.content:
            if isinstance(block, TextBlock):
                print(f"Claude: {block.text}")
    elif isinstance(message, ResultMessage) and message.total_cost_usd:
        print(f"Cost: ${message.total_cost_usd:.4f}")


async def no_destructive_commands(
    hook_input: dict[str, object], tool_use_id: str | None, context: HookContext
) -> HookJSONOutput:
    """PreToolUse: refuse shell commands that delete recursively."""
    command = str(dict(hook_input.get("tool_input") or {}).get("command", ""))  # type: ignore[call-overload]
    if "rm -rf" in command:
        print(f"hook: blocking {command!r}")
        return {
            "hookSpecificOutput": {
                "hookEventName": "PreToolUse",
                "permissionDecision": "deny",
                "permissionDecisionReason": "Recursive deletes are not allowed here.",
            }
        }
    return {}


async def add_context(hook_input: dict[str, object], tool_use_id: str | None, context: HookContext) -> HookJSONOutput:
    """UserPromptSubmit: tell the model something with every prompt."""
    return {"hookSpecificOutput": {"hookEventName": "UserPromptSubmit", "additionalContext": "The user is on call."}}


async def report_result(hook_input: dict[str, object], tool_use_id: str | None, context: HookContext) -> HookJSONOutput:
    """PostToolUse: see what a tool returned."""
    print(f"hook: {hook_input.get('tool_name')} returned {hook_input.get('tool_response')!r:.80}")
    return {}


async def on_stop(hook_input: dict[str, object], tool_use_id: str | None, context: HookContext) -> HookJSONOutput:
    print("hook: the agent stopped")
    return {}


async def main() -> None:
    options = ClaudeAgentOptions(
        allowed_tools=["Bash(echo:*)"],
        hooks={
            "PreToolUse": [HookMatcher(matcher="Bash", hooks=[no_destructive_commands], timeout=30)],
            "PostToolUse": [HookMatcher(matcher="Bash", hooks=[report_result])],
            "UserPromptSubmit": [HookMatcher(hooks=[add_context])],
            "Stop": [HookMatcher(hooks=[on_stop])],
        },
    )
    print("--- a command the hook blocks")
    async for message in query(prompt="Please clean up the scratch folder", options=options):
        show(message)
    print("--- a command that runs")
    async for message in query(prompt="Please say hi with bash", options=options):
        show(message)


if __name__ == "__main__":
    anyio.run(main)
