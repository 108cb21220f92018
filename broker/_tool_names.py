"""The tool names a rule can mean, so lint can tell a rule that matches nothing from one that matches a tool.

A rule naming a tool that does not exist is not an error to Claude Code: it is skipped, and what it was meant
to allow stays denied (or, worse, what it was meant to deny stays allowed). `CLI_TOOLS` are the tools the
pinned CLI lists to the model (`tests/broker/test_policy_lint.py` holds the list to the real binary);
`OTHER_TOOLS` are tools other CLI versions and configurations offer, which a policy may name to be ready for
them. MCP tools are `mcp__<server>__<tool>`; the servers magistrate bundles are known by their manifests.
"""

from __future__ import annotations

from collections.abc import Iterable

CLI_VERSION = "2.1.330"

CLI_TOOLS = frozenset(
    {
        "Agent",
        "Bash",
        "CronCreate",
        "CronDelete",
        "CronList",
        "DeferredToolPlaceholder",
        "Edit",
        "EnterWorktree",
        "ExitWorktree",
        "ListAgents",
        "Monitor",
        "NotebookEdit",
        "Read",
        "ReportFindings",
        "ScheduleWakeup",
        "SendMessage",
        "Skill",
        "TaskStop",
        "ToolSearch",
        "WebFetch",
        "WebSearch",
        "Workflow",
        "Write",
    }
)
"""What Claude Code 2.1.330 lists to the model (its `tools` and its deferred tools), in a default session."""

OTHER_TOOLS = frozenset(
    {
        "AskUserQuestion",
        "BashOutput",
        "EnterPlanMode",
        "ExitPlanMode",
        "Glob",
        "Grep",
        "KillShell",
        "LS",
        "ListMcpResourcesTool",
        "MultiEdit",
        "NotebookRead",
        "ReadMcpResourceTool",
        "SlashCommand",
        "Task",
        "TaskCreate",
        "TaskGet",
        "TaskList",
        "TaskOutput",
        "TaskUpdate",
        "TodoWrite",
    }
)
"""Tools of other versions and configurations of the CLI (and the ones the rule syntax itself names)."""

KNOWN_TOOLS = CLI_TOOLS | OTHER_TOOLS


def closest(name: str, choices: Iterable[str]) -> str | None:
    """The choice `name` was most likely meant to be, if one is close enough to say so."""
    import difflib  # only for explaining a mistake, never on the way to a decision

    options = sorted(set(choices))
    found = difflib.get_close_matches(name, options, n=1, cutoff=0.6)
    if found:
        return found[0]
    lowered = {c.lower(): c for c in options}
    prefixed = [c for low, c in lowered.items() if low.startswith(name.lower()) or name.lower().startswith(low)]
    return prefixed[0] if len(prefixed) == 1 else None
