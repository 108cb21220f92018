"""The same client under trio instead of asyncio: a three-step calculation in one conversation."""

from __future__ import annotations

import trio

from magistrate.sdk import AssistantMessage, ClaudeAgentOptions, ClaudeSDKClient, Message, ResultMessage, TextBlock


def show(message: Message) -> None:
    """The assistant's text as `Claude: ...`, and the cost once the result arrives."""
    if isinstance(message, AssistantMessage):
        for block in message.content:
            if isinstance(block, TextBlock):
                print(f"Claude: {block.text}")
    elif isinstance(message, ResultMessage) and message.total_cost_usd:
        print(f"Cost: ${message.total_cost_usd:.4f}")


async def main() -> None:
    async with ClaudeSDKClient(ClaudeAgentOptions(model="sonnet")) as client:
        for prompt in ("What is 15 + 27?", "Multiply that by 2", "Divide that by 7"):
            print(f"User: {prompt}")
            await client.query(prompt)
            async for message in client.receive_response():
                show(message)
    print("Conversation complete")


if __name__ == "__main__":
    trio.run(main)
