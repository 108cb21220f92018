"""In-process tools: a calculator served as an MCP server inside this program, no subprocess needed."""

from __future__ import annotations

from typing import Any

import anyio

from magistrate.sdk import (
    AssistantMessage,
    ClaudeAgentOptions,
    Message,
    ResultMessage,
    TextBlock,
    ToolResultBlock,
    UserMessage,
    create_sdk_mcp_server,
    query,
    tool,
)


def show(message: Message) -> None:
    """The assistant's text as `Claude: ...`, and the cost once the result arrives."""
    if isinstance(message, AssistantMessage):
        for block in message.content:
            if isinstance(block, TextBlock):
                print(f"Claude: {block.text}")
    elif isinstance(message, ResultMessage) and message.total_cost_usd:
        print(f"Cost: ${message.total_cost_usd:.4f}")


def number(value: float) -> dict[str, Any]:
    text = str(int(value)) if value == int(value) else str(value)
    return {"content": [{"type": "text", "text": text}]}


@tool("add", "Add two numbers", {"a": float, "b": float})
async def add(args: dict[str, Any]) -> dict[str, Any]:
    return number(args["a"] + args["b"])


@tool("multiply", "Multiply two numbers", {"a": float, "b": float})
async def multiply(args: dict[str, Any]) -> dict[str, Any]:
    return number(args["a"] * args["b"])


@tool("divide", "Divide a by b", {"a": float, "b": float})
async def divide(args: dict[str, Any]) -> dict[str, Any]:
    if args["b"] == 0:
        return {"content": [{"type": "text", "text": "cannot divide by zero"}], "is_error": True}
    return number(args["a"] / args["b"])


async def main() -> None:
    calculator = create_sdk_mcp_server(name="calc", version="1.0.0", tools=[add, multiply, divide])
    options = ClaudeAgentOptions(
        mcp_servers={"calc": calculator},
        allowed_tools=["mcp__calc__add", "mcp__calc__multiply", "mcp__calc__divide"],
    )
    async for message in query(prompt="Please add 15 and 27", options=options):
        if isinstance(message, UserMessage) and not isinstance(message.content, str):
            for block in message.content:
                if isinstance(block, ToolResultBlock):
                    print(f"Tool result: {block.content}")
        show(message)


if __name__ == "__main__":
    anyio.run(main)
