"""Defaults more than one part relies on, each defined once.

Plain values with no imports, so `import magistrate.sdk` can show them as its options' defaults without
loading the broker's policy engine or pydantic.
"""

from __future__ import annotations

DEFAULT_TIMEOUT = 300.0
"""Seconds an approver may take to answer an ask; no answer in time is a deny."""

HISTORY_LIMIT = 1000
"""How many of a session's latest decisions a broker keeps for rules to see (and reads back from the trail
when it meets a session it has not seen): the SDK's broker, `magistrate hook`, a remote broker's client and
the replay of a trail all see the same history."""

SERVER_NAME = "magistrate"
"""The in-process MCP server a governed run attaches for its approval prompt."""
TOOL_NAME = "approval_prompt"
PROMPT_TOOL = f"mcp__{SERVER_NAME}__{TOOL_NAME}"
"""The `--permission-prompt-tool` of a governed run: known before the CLI starts, so it costs no import."""
