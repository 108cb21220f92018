"""The four ways to set the system prompt: none at all, your own, Claude Code's, and Claude Code's plus yours."""

from __future__ import annotations

import anyio

from magistrate.sdk import (
    AssistantMessage,
    ClaudeAgentOptions,
    Message,
    ResultMessage,
    SystemPromptPreset,
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


PROMPT = "What is the capital of France?"


async def ask(label: str, options: ClaudeAgentOptions) -> None:
    print(f"--- {label}")
    async for message in query(prompt=PROMPT, options=options):
        show(message)


async def main() -> None:
    await ask("no system prompt", ClaudeAgentOptions())
    await ask("a string", ClaudeAgentOptions(system_prompt="You answer in rhyme."))
    preset: SystemPromptPreset = {"type": "preset", "preset": "claude_code"}
    await ask("the claude_code preset", ClaudeAgentOptions(system_prompt=preset))
    appended: SystemPromptPreset = {"type": "preset", "preset": "claude_code", "append": "Keep it to five words."}
    await ask("the preset with an addition", ClaudeAgentOptions(system_prompt=appended))


if __name__ == "__main__":
    anyio.run(main)
