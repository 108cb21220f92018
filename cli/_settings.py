"""`magistrate settings`: the files with which the plain `claude` CLI runs under a policy and into a trail.

With `--install SCOPE` it instead merges HTTP hooks to the long-lived broker into a Claude Code settings file
(`cli/_settings_install.py`), so a bare `claude` is governed with no flags at all.

Two files and a command line: an `--mcp-config` that starts the approval prompt (`magistrate serve approval`)
over stdio, and a `--settings` file whose command hooks run `magistrate hook` for every tool call and every
outcome. The hook decides every call, including those the CLI would approve by itself; an `ask` then reaches
the approval prompt, which the `--permission-prompt-tool` flag names. Paths are absolute and the command is
this very installation (`<python> -m magistrate.cli`), so the files work from any directory and any shell.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any

from magistrate.broker import PROMPT_TOOL, SERVER_NAME, TOOL_HOOK_EVENTS
from magistrate.cli._hook_session import SESSION_EVENTS
from magistrate.cli._settings_install import location as _location
from magistrate.cli._settings_install import magistrate_command, register_install, run_install

MCP_FILE = "magistrate-mcp.json"
SETTINGS_FILE = "magistrate-settings.json"
HOOK_EVENTS = (*TOOL_HOOK_EVENTS, *SESSION_EVENTS)
"""The tool events, and the ends of a turn and of the session, when the calls the CLI refused before any hook
are read from the transcript and recorded."""
HOOK_TIMEOUT = 60
"""Seconds the CLI gives each `magistrate hook` command the written settings run; the hook denies by itself
in half that."""


def mcp_config(policy: Path, db: str | None, queue: str | None = None) -> dict[str, Any]:
    """The `--mcp-config` document: the approval server over stdio, with the policy (and queue) in its env."""
    command, *args = magistrate_command()
    args += ["serve", "approval"]
    if db is not None:
        args += ["--db", db]
    env = {"MAGISTRATE_POLICY": str(policy)}
    if queue is not None:
        env["MAGISTRATE_APPROVAL_QUEUE"] = queue
    return {"mcpServers": {SERVER_NAME: {"type": "stdio", "command": command, "args": args, "env": env}}}


def hook_settings(policy: Path, db: str | None, timeout: int = HOOK_TIMEOUT) -> dict[str, Any]:
    """The `--settings` document: `magistrate hook` for every tool, before it runs and after.

    The CLI lets a call through when its PreToolUse hook exits with anything but 0 or 2, or overruns the
    hook timeout. So the hook denies by itself well inside the timeout (`--timeout`, half of it), and the
    command turns any other failure to start or finish (a missing interpreter, a crash) into exit 2, a block.
    """
    argv = [*magistrate_command(), "hook", "--policy", str(policy)]
    if db is not None:
        argv += ["--db", db]
    pre = shlex.join([*argv, "--timeout", f"{timeout / 2:g}"]) + " || exit 2"
    hooks: dict[str, Any] = {}
    for event in HOOK_EVENTS:
        command = pre if event == "PreToolUse" else shlex.join(argv)
        entry: dict[str, Any] = {"hooks": [{"type": "command", "command": command, "timeout": timeout}]}
        if event not in SESSION_EVENTS:
            entry = {"matcher": "*", **entry}
        hooks[event] = [entry]
    return {"hooks": hooks}


def claude_args(mcp_file: Path, settings_file: Path) -> list[str]:
    """The arguments that make `claude` use the written files."""
    return ["--mcp-config", str(mcp_file), "--settings", str(settings_file), "--permission-prompt-tool", PROMPT_TOOL]


def write(policy: Path, db: str | None, out: Path, queue: str | None = None) -> tuple[Path, Path]:
    """Write both files into `out`; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    mcp_file, settings_file = out / MCP_FILE, out / SETTINGS_FILE
    mcp_file.write_text(json.dumps(mcp_config(policy, db, queue), indent=2) + "\n")
    settings_file.write_text(json.dumps(hook_settings(policy, db), indent=2) + "\n")
    return mcp_file, settings_file


def run(args: argparse.Namespace) -> int:
    from magistrate.broker import PolicyLoadError, load_policy

    if args.install or args.uninstall:
        return run_install(args)
    if not args.policy:
        sys.stderr.write("magistrate settings: --policy is required (unless --install or --uninstall)\n")
        return 2
    policy = Path(args.policy).expanduser().absolute()
    try:
        load_policy(policy)
    except PolicyLoadError as exc:
        sys.stderr.write(f"magistrate settings: {exc}\n")
        return 2
    out = Path(args.out).expanduser().absolute()
    queue = _location(args.approval_queue)
    mcp_file, settings_file = write(policy, _location(args.db), out, queue)
    sys.stderr.write(f"wrote {mcp_file}\nwrote {settings_file}\n")
    sys.stdout.write(shlex.join(["claude", *claude_args(mcp_file, settings_file)]) + "\n")
    return 0


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--policy", metavar="FILE", help="a policy.py or a Claude Code settings JSON")
    parser.add_argument(
        "--db", metavar="URL", help="the audit trail: SQLite path or postgresql:// URL (default: the per-user trail)"
    )
    parser.add_argument("--out", default=".", metavar="DIR", help="where to write the two files (default: here)")
    parser.add_argument(
        "--approval-queue",
        metavar="PATH",
        help="answer asks through this approval queue (`magistrate approvals`) instead of the terminal",
    )
    register_install(parser)
    parser.set_defaults(func=run)
