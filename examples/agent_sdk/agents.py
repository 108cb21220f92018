"""Sub-agents defined in code: the main agent can hand work to a reviewer or a writer."""

from __future__ import annotations

import anyio

from magistrate.sdk import (
    AgentDefinition,
    AssistantMessage,
    ClaudeAgentOptions,
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


REVIEWER = AgentDefinition(
    description="Checks code for bugs and unclear names",
    prompt="You review code. Point out bugs first, then naming.",
    tools=["Read", "Grep"],
    model="sonnet",
)
WRITER = AgentDefinition(
    description="Writes short, accurate documentation",
    prompt="You write documentation for developers.",
    tools=["Read", "Write", "Edit"],
)


async def main() -> None:
    print("--- one agent")
    options = ClaudeAgentOptions(agents={"reviewer": REVIEWER})
    async for message in query(prompt="Have the reviewer look at app.py", options=options):
        show(message)

    print("--- two agents")
    options = ClaudeAgentOptions(agents={"reviewer": REVIEWER, "writer": WRITER})
    async for message in query(prompt="Have the writer document what the reviewer found", options=options):
        show(message)


if __name__ == "__main__":
    anyio.run(main)
