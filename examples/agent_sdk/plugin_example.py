"""A plugin for this run only: a folder with a manifest and a slash command, loaded with `plugins`."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import anyio

from magistrate.sdk import AssistantMessage, ClaudeAgentOptions, Message, ResultMessage, SystemMessage, TextBlock, query


def show(message: Message) -> None:
    """The assistant's text as `Claude: ...`, and the cost once the result arrives."""
    if isinstance(message, AssistantMessage):
        for block in message.content:
            if isinstance(block, TextBlock):
                print(f"Claude: {block.text}")
    elif isinstance(message, ResultMessage) and message.total_cost_usd:
        print(f"Cost: ${message.total_cost_usd:.4f}")


def make_plugin(folder: Path) -> Path:
    plugin = folder / "hello-plugin"
    (plugin / ".claude-plugin").mkdir(parents=True)
    manifest = {"name": "hello-plugin", "version": "1.0.0", "description": "Says hello"}
    (plugin / ".claude-plugin" / "plugin.json").write_text(json.dumps(manifest))
    (plugin / "commands").mkdir()
    (plugin / "commands" / "hello.md").write_text("---\ndescription: Say hello\n---\nSay hello to the user.\n")
    return plugin


async def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        plugin = make_plugin(Path(folder))
        options = ClaudeAgentOptions(plugins=[{"type": "local", "path": str(plugin)}])
        async for message in query(prompt="Hello there", options=options):
            if isinstance(message, SystemMessage) and message.subtype == "init":
                names = [p.get("name") for p in message.data.get("plugins", [])]
                print(f"Plugins loaded: {names}")
            show(message)


if __name__ == "__main__":
    anyio.run(main)
