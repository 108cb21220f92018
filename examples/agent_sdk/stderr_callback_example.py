"""The CLI's stderr, line by line, to a function of yours: here to count the lines and spot errors."""

from __future__ import annotations

import anyio

from magistrate.sdk import AssistantMessage, ClaudeAgentOptions, Message, ResultMessage, TextBlock, query


def show(message: Message) -> None:
    """The assistant's text as `Claude: ...`, and the cost once the result arrives."""
    if isinstance(message, AssistantMessage):
        for block in message.content:
            if isinstance(block, TextBlock):
                print(f"Claude: {block.text}")
    elif isinstance(message, ResultMessage) and message.total_cost_usd:
        print(f"Cost: ${message.total_cost_usd:.4f}")


async def main() -> None:
    lines: list[str] = []

    def on_stderr(line: str) -> None:
        lines.append(line)
        if "[ERROR]" in line:
            print(f"stderr error: {line}")

    options = ClaudeAgentOptions(stderr=on_stderr, extra_args={"debug-to-stderr": None})
    async for message in query(prompt="What is 2 + 2?", options=options):
        show(message)
    print(f"Captured {len(lines)} stderr lines")


if __name__ == "__main__":
    anyio.run(main)
