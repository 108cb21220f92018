"""Dispatch for `magistrate ...`; each command group lives in its own module with a `register()`.

Command modules are imported only when their group is named, so `magistrate hook` (run by the CLI once
per tool call) does not pay for the MCP servers or the document parsers. The environment's `MAGISTRATE_*`
variables are read here, once, and reach every command as `args.env`.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# group name -> (module, one-line help). Each module defines register(parser) and sets `func` defaults.
_GROUPS: dict[str, tuple[str, str]] = {
    "demo": ("magistrate.cli._demo", "Run a governed contract review on the scripted model and verify its trail."),
    "scripted-model": ("magistrate.cli._scripted_model", "Serve a scripted model (Anthropic Messages API) offline."),
    "policy": ("magistrate.cli._policy", "Check a call against a policy; lint, test or replay a policy."),
    "audit": ("magistrate.cli._audit", "Verify, read and export the tamper-evident audit trail."),
    "serve": ("magistrate.cli._serve", "Run a bundled MCP server on its own (stdio or HTTP)."),
    "compliance": ("magistrate.cli._compliance", "Import frameworks into the compliance database; manage waivers."),
    "documents": ("magistrate.cli._documents", "Add files to the document store; list what it holds."),
    "hook": ("magistrate.cli._hook", "The command hook that puts a plain claude run under the policy."),
    "settings": ("magistrate.cli._settings", "Write the files that run the plain claude CLI under a policy."),
    "approvals": ("magistrate.cli._approvals", "List, approve or deny the asks waiting in the approval queue."),
    "console": ("magistrate.cli._console", "Browse the trail and answer the approval queue in a web browser."),
    "broker": (
        "magistrate.cli._broker_daemon",
        "Run, start, stop or check the long-lived broker of plain claude.",
    ),
}


def _version() -> str:
    """This installation's version, from its package metadata (a source tree without it says so)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("magistrate")
    except PackageNotFoundError:
        return "unknown (not installed)"


def _build_parser(selected: str | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="magistrate",
        description="Policy-governed Claude Code agents.",
        epilog="Shared options (--db, --json) go after the subcommand: magistrate audit show --db TRAIL --json. "
        "Exit codes: 0 ok, 1 the answer is no (a deny, a trail that does not verify, a failing case, nothing "
        "found), 2 a usage error or an input that cannot be read, 3 an ask (policy check).",
    )
    parser.add_argument("--version", action="version", version=f"magistrate {_version()}")
    sub = parser.add_subparsers(dest="group", metavar="COMMAND")
    for name, (module_name, help_text) in _GROUPS.items():
        group_parser = sub.add_parser(name, help=help_text, description=help_text)
        if name == selected:
            module = importlib.import_module(module_name)
            module.register(group_parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    selected = next((a for a in args_list if not a.startswith("-")), None)
    parser = _build_parser(selected if selected in _GROUPS else None)
    args = parser.parse_args(args_list)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help(sys.stderr)
        return 2
    from magistrate.broker import Environment

    args.env = Environment.read()
    code: int = func(args)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
