"""First steps: one question, then the same with options, then with tools the agent may use."""

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
    print("--- a plain question")
    async for message in query(prompt="How many legs does a spider have?"):
        show(message)

    print("--- with a system prompt and one turn")
    options = ClaudeAgentOptions(system_prompt="Answer like a patient teacher.", max_turns=1)
    async for message in query(prompt="Explain recursion in a sentence.", options=options):
        show(message)

    print("--- with tools")
    options = ClaudeAgentOptions(allowed_tools=["Read", "Write"], system_prompt="You manage files.")
    async for message in query(prompt="Put a greeting into greeting.txt", options=options):
        show(message)


if __name__ == "__main__":
    anyio.run(main)
