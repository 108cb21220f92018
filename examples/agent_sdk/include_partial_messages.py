"""Partial messages: the model's output as it streams, event by event, before each whole message."""

from __future__ import annotations

from collections import Counter

import anyio

from magistrate.sdk import (
    AssistantMessage,
    ClaudeAgentOptions,
    ClaudeSDKClient,
    Message,
    ResultMessage,
    StreamEvent,
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


async def main() -> None:
    options = ClaudeAgentOptions(include_partial_messages=True, max_turns=2)
    events: Counter[str] = Counter()
    async with ClaudeSDKClient(options) as client:
        await client.query("Write a haiku about rivers")
        async for message in client.receive_response():
            if isinstance(message, StreamEvent):
                events[str(message.event.get("type"))] += 1
                delta = message.event.get("delta") or {}
                if isinstance(delta, dict) and delta.get("type") == "text_delta":
                    print(f"delta: {delta.get('text')!r}")
            else:
                show(message)
    print(f"Stream events: {dict(sorted(events.items()))}")


if __name__ == "__main__":
    anyio.run(main)
