"""A spending limit: the run stops once it has cost more than `max_budget_usd`."""

from __future__ import annotations

import anyio

from magistrate.sdk import AssistantMessage, ClaudeAgentOptions, Message, ResultError, ResultMessage, TextBlock, query


def show(message: Message) -> None:
    """The assistant's text as `Claude: ...`, and the cost once the result arrives."""
    if isinstance(message, AssistantMessage):
        for block in message.content:
            if isinstance(block, TextBlock):
                print(f"Claude: {block.text}")
    elif isinstance(message, ResultMessage) and message.total_cost_usd:
        print(f"Cost: ${message.total_cost_usd:.4f}")


async def run(label: str, options: ClaudeAgentOptions | None) -> None:
    print(f"--- {label}")
    try:
        async for message in query(prompt="What is 6 times 7?", options=options):
            show(message)
            if isinstance(message, ResultMessage):
                print(f"Status: {message.subtype}")
                if message.subtype == "error_max_budget_usd":
                    print("The budget was used up.")
    except ResultError as error:
        print(f"Stopped: {error.subtype}")


async def main() -> None:
    await run("no limit", None)
    await run("a limit of $0.10", ClaudeAgentOptions(max_budget_usd=0.10))
    await run("a limit of $0.000001", ClaudeAgentOptions(max_budget_usd=0.000001))


if __name__ == "__main__":
    anyio.run(main)
