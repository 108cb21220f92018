"""`magistrate policy check|lint`: ask a policy about one call, or check that it loads, from a shell.

Scripts depend on the output, so it is stable: `check` prints one JSON object and exits 0 whatever the
decision; a policy that does not load exits 2 with every problem on stderr, one per line. `lint` prints
every problem and exits 1 if there is one; a rule that loads but may not mean what it seems to
(`Bash(touch :*)`) is printed as a warning, and does not fail the lint.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, get_args

from magistrate.broker import PermissionMode


def _load(path: str) -> Any:
    from magistrate.broker import load_policy

    return load_policy(path)


def _ref(ref: Any) -> dict[str, Any]:
    return {"id": ref.id, "text": ref.text, "list": ref.list, "source": str(ref.source)}


def _check(args: argparse.Namespace) -> int:
    import anyio

    from magistrate.broker import CallContext, PolicyLoadError, ToolCall

    try:
        tool_input = json.loads(args.input)
    except json.JSONDecodeError as exc:
        print(f"--input is not JSON: {exc}", file=sys.stderr)
        return 2
    if not isinstance(tool_input, dict):
        print("--input must be a JSON object", file=sys.stderr)
        return 2
    try:
        policy = _load(args.policy)
    except PolicyLoadError as exc:
        for problem in exc.errors:
            print(problem, file=sys.stderr)
        return 2
    cwd = str(Path(args.cwd).absolute() if args.cwd else Path.cwd())
    context = CallContext(cwd=cwd, permission_mode=args.mode)
    decision = anyio.run(policy.decide, ToolCall(args.tool, tool_input), context)
    rule = decision.rule
    output = {
        "behavior": decision.behavior,
        "updatedInput": dict(decision.input) if dict(decision.input) != tool_input else None,
        "message": decision.message,
        "rule": None if rule is None or rule.list == "default" else rule.text,
        "ruleId": None if rule is None else rule.id,
        "list": None if rule is None else rule.list,
        "source": "broker" if rule is None else str(rule.source),
        "matched": [_ref(r) for r in decision.matched],
        "error": decision.error,
        "policyVersion": decision.policy_version,
        "elapsedNs": decision.elapsed_ns,
    }
    print(json.dumps(output, ensure_ascii=False))
    return 0


def _lint(args: argparse.Namespace) -> int:
    from magistrate.broker import PolicyLoadError

    try:
        policy = _load(args.file)
    except PolicyLoadError as exc:
        for problem in exc.errors:
            print(problem)
        count = len(exc.errors)
        print(f"{count} problem{'s' if count != 1 else ''}", file=sys.stderr)
        return 1
    for warning in getattr(policy, "warnings", ()):
        print(f"warning: {warning}")
    print(f"ok: {args.file} (version {policy.version[:16]})")
    return 0


def register(parser: argparse.ArgumentParser) -> None:
    """Add `check` and `lint` to the `policy` group."""
    sub = parser.add_subparsers(dest="policy_command", metavar="SUBCOMMAND", required=True)
    check = sub.add_parser("check", help="decide one tool call and print the decision as JSON")
    check.add_argument("--policy", required=True, metavar="FILE", help="a policy.py or a Claude Code settings JSON")
    check.add_argument("--tool", required=True, metavar="NAME", help="tool name: Bash, Read, mcp__server__tool, ...")
    check.add_argument("--input", required=True, metavar="JSON", help="the tool input as a JSON object")
    check.add_argument("--cwd", metavar="DIR", help="working directory of the call (default: the current one)")
    check.add_argument(
        "--mode",
        default="default",
        choices=get_args(PermissionMode),
        help="permission mode of the session",
    )
    check.set_defaults(func=_check)
    lint = sub.add_parser("lint", help="load a policy and list every problem")
    lint.add_argument("file", metavar="FILE", help="a policy.py or a Claude Code settings JSON")
    lint.set_defaults(func=_lint)
