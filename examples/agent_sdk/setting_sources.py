"""Which settings files the CLI reads: all of them (the default), none, or the ones you name.

The project here has its own slash command in `.claude/commands/`; whether the CLI offers it shows which
settings were read.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import anyio

from magistrate.sdk import ClaudeAgentOptions, ClaudeSDKClient, SettingSource, SystemMessage


async def commands_with(project: Path, sources: list[SettingSource] | None) -> list[str]:
    options = ClaudeAgentOptions(cwd=project, setting_sources=sources)
    found: list[str] = []
    async with ClaudeSDKClient(options) as client:
        await client.query("What is 2 + 2?")
        async for message in client.receive_response():
            if isinstance(message, SystemMessage) and message.subtype == "init":
                found = [str(c) for c in message.data.get("slash_commands", [])]
    return found


async def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        project = Path(folder)
        (project / ".claude" / "commands").mkdir(parents=True)
        (project / ".claude" / "commands" / "ship.md").write_text("Ship the current branch.\n")
        sources: list[tuple[str, list[SettingSource] | None]] = [
            ("default", None),
            ("none", []),
            ("user only", ["user"]),
            ("project", ["project"]),
        ]
        for label, chosen in sources:
            commands = await commands_with(project, chosen)
            print(f"{label}: /ship {'available' if 'ship' in commands else 'not available'}")


if __name__ == "__main__":
    anyio.run(main)
