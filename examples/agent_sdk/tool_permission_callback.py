"""A permission callback: your code answers what the policy leaves to a person, and keeps a log of it."""

from __future__ import annotations

from typing import Any

import anyio

from magistrate.sdk import (
    AssistantMessage,
    ClaudeAgentOptions,
    Message,
    PermissionResultAllow,
    PermissionResultDeny,
    ResultMessage,
    TextBlock,
    ToolPermissionContext,
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


decisions: list[str] = []


async def decide(
    tool: str, tool_input: dict[str, Any], context: ToolPermissionContext
) -> PermissionResultAllow | PermissionResultDeny:
    """Allow writes below the working directory, refuse the system's folders, allow reads."""
    path = str(tool_input.get("file_path", ""))
    if tool in ("Write", "Edit") and path.startswith(("/etc", "/usr", "/bin")):
        decisions.append(f"deny {tool} {path}")
        return PermissionResultDeny(message=f"{path} is a system file; write somewhere else.")
    decisions.append(f"allow {tool} {path}".rstrip())
    return PermissionResultAllow(updated_input=tool_input)


async def main() -> None:
    options = ClaudeAgentOptions(can_use_tool=decide, permission_mode="default")
    for prompt in ("Please save a note for me", "Please change a system file"):
        print(f"--- {prompt}")
        async for message in query(prompt=prompt, options=options):
            show(message)
    print("Decisions:")
    for line in decisions:
        print(f"  {line}")


if __name__ == "__main__":
    anyio.run(main)
