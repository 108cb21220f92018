"""Sub-agents from the project's own `.claude/agents/` folder, loaded because `setting_sources` names it."""

from __future__ import annotations

import tempfile
from pathlib import Path

import anyio

from magistrate.sdk import (
    AssistantMessage,
    ClaudeAgentOptions,
    ClaudeSDKClient,
    Message,
    ResultMessage,
    SystemMessage,
    TextBlock,
)


def show(message: Message) -> None:
    """The assistant's text as `Claude: ...`, and the cost once the result arrives."""
    if isinstance(message, AssistantMessage):
        for block in message.content:
            if isinstance(block, TextBlock):
                print(f"Claude: {block.text}")
    elif isinstance(message, ResultMessage) and message.total_cost_usd:
        print(f"Cost: ${message.total_cost_usd:.4f}")


AGENT = """---
name: greeter
description: Greets people warmly
tools: Read
---
You greet whoever asks, in one short sentence.
"""


async def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        project = Path(folder)
        (project / ".claude" / "agents").mkdir(parents=True)
        (project / ".claude" / "agents" / "greeter.md").write_text(AGENT)
        options = ClaudeAgentOptions(setting_sources=["project"], cwd=project)
        async with ClaudeSDKClient(options) as client:
            await client.query("Greet me in three words")
            async for message in client.receive_response():
                if isinstance(message, SystemMessage) and message.subtype == "init":
                    agents = message.data.get("agents", [])
                    print(f"Agents loaded: {agents}")
                    print("greeter is available" if "greeter" in agents else "greeter is missing")
                show(message)


if __name__ == "__main__":
    anyio.run(main)
