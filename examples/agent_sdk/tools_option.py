"""Which built-in tools the agent has: a list of them, none at all, or Claude Code's default set."""

from __future__ import annotations

import anyio

from magistrate.sdk import (
    AssistantMessage,
    ClaudeAgentOptions,
    Message,
    ResultMessage,
    SystemMessage,
    TextBlock,
    ToolsPreset,
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


async def run(label: str, options: ClaudeAgentOptions) -> None:
    print(f"--- {label}")
    async for message in query(prompt="Which tools can you use?", options=options):
        if isinstance(message, SystemMessage) and message.subtype == "init":
            builtin = [t for t in message.data.get("tools", []) if not str(t).startswith("mcp__")]
            print(f"Built-in tools: {builtin if len(builtin) < 6 else f'{len(builtin)} tools'}")
        show(message)


async def main() -> None:
    await run("three tools", ClaudeAgentOptions(tools=["Read", "Glob", "Grep"], max_turns=1))
    await run("no tools", ClaudeAgentOptions(tools=[], max_turns=1))
    preset: ToolsPreset = {"type": "preset", "preset": "claude_code"}
    await run("the default set", ClaudeAgentOptions(tools=preset, max_turns=1))


if __name__ == "__main__":
    anyio.run(main)
