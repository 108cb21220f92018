"""The client in streaming mode: a conversation that stays open, with the control methods along the way.

Run one part by name (`python streaming_mode.py multi_turn`) or all of them (no argument).
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio

from magistrate.sdk import (
    AssistantMessage,
    ClaudeAgentOptions,
    ClaudeSDKClient,
    CLIConnectionError,
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


async def basic() -> None:
    async with ClaudeSDKClient() as client:
        await client.query("Name a primary colour")
        async for message in client.receive_response():
            show(message)


async def multi_turn() -> None:
    async with ClaudeSDKClient() as client:
        for prompt in ("Pick a number between one and ten", "Now double it"):
            print(f"User: {prompt}")
            await client.query(prompt)
            async for message in client.receive_response():
                show(message)


async def message_stream() -> None:
    """The prompt as a stream of user messages, sent as the program produces them. Messages that arrive
    while the model is busy are queued by the CLI and answered together, in one response."""

    async def prompts() -> AsyncIterator[dict[str, Any]]:
        for text in ("First, hello", "Second, goodbye"):
            yield {"type": "user", "message": {"role": "user", "content": text}}

    async with ClaudeSDKClient() as client:
        await client.query(prompts())
        async for message in client.receive_response():
            show(message)


async def with_options() -> None:
    options = ClaudeAgentOptions(system_prompt="You are brief.", allowed_tools=["Read"], max_turns=2)
    async with ClaudeSDKClient(options) as client:
        await client.query("Describe this folder")
        async for message in client.receive_response():
            if isinstance(message, SystemMessage) and message.subtype == "init":
                print(f"Session: {message.data.get('session_id')}")
            show(message)


async def control() -> None:
    """Change the mode and the model between turns, and ask the CLI about its servers and context."""
    async with ClaudeSDKClient() as client:
        await client.set_permission_mode("acceptEdits")
        await client.set_model(None)
        await client.query("Are you ready?")
        async for message in client.receive_response():
            show(message)
        status = await client.get_mcp_status()
        print(f"MCP servers: {sorted(s['name'] for s in status['mcpServers'])}")
        usage = await client.get_context_usage()
        print(f"Context used: {usage['totalTokens']} of {usage['maxTokens']} tokens")
        info = await client.get_server_info()
        print(f"Server info: {sorted(info or {})[:3]}")


async def interrupt() -> None:
    async with ClaudeSDKClient() as client:
        await client.query("Count slowly to a thousand")
        async for message in client.receive_response():
            show(message)
        await client.interrupt()
        print("Interrupted")


async def error_handling() -> None:
    client = ClaudeSDKClient()
    try:
        await client.query("never sent")
    except CLIConnectionError as error:
        print(f"Not connected yet: {error}")
    await client.connect()
    try:
        await client.query("Now it works")
        async for message in client.receive_response():
            show(message)
    finally:
        await client.disconnect()


PARTS: dict[str, Callable[[], Awaitable[None]]] = {
    "basic": basic,
    "multi_turn": multi_turn,
    "message_stream": message_stream,
    "with_options": with_options,
    "control": control,
    "interrupt": interrupt,
    "error_handling": error_handling,
}


async def main(names: list[str]) -> None:
    for name in names or list(PARTS):
        print(f"=== {name}")
        await PARTS[name]()


if __name__ == "__main__":
    anyio.run(main, sys.argv[1:])
