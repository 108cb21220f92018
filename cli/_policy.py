"""`magistrate policy check|lint|test|replay`: ask a policy about one call, find its mistakes, test it, replay it.

Scripts depend on the output and the exit codes, so they are stable:

- `check` prints one JSON object and exits by the decision: 0 allow, 1 deny, 3 ask (`--no-exit-code`: 0
  whatever the decision). A bad argument or a policy that does not load exits 2 with every problem on
  stderr, one per line.
- `lint` prints every problem (`file:line: ...`) and exits 1 if there is one, 0 when there is none; a rule
  that loads but may not mean what it seems to (`Bash(touch :*)`) is printed as a warning, and does not fail.
  `--json` prints them as one object instead, with the same exit code.
- `test` and `replay` live in `_policy_test` and `_policy_replay`.

`--policy` defaults to `MAGISTRATE_POLICY` for `check`, `lint` and `test`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, get_args

from magistrate.broker import PermissionMode
from magistrate.cli._policy_common import EXIT_ERROR, bundled_servers, fail, policy_path

EXIT_ALLOW, EXIT_DENY, EXIT_ASK = 0, 1, 3
_EXIT_FOR = {"allow": EXIT_ALLOW, "deny": EXIT_DENY, "ask": EXIT_ASK}


def _ref(ref: Any) -> dict[str, Any]:
    return {"id": ref.id, "text": ref.text, "list": ref.list, "source": str(ref.source)}


def _read_input(text: str) -> dict[str, Any] | str:
    """The tool input (`-` reads standard input), or what is wrong with it."""
    if text == "-":
        text = sys.stdin.read()
    try:
        tool_input = json.loads(text)
    except json.JSONDecodeError as exc:
        return f"--input is not JSON: {exc}"
    if not isinstance(tool_input, dict):
        return f"--input must be a JSON object, not {type(tool_input).__name__}"
    return tool_input


def _labels(pairs: list[str]) -> dict[str, str] | str:
    labels: dict[str, str] = {}
    for pair in pairs:
        key, eq, value = pair.partition("=")
        if not eq or not key:
            return f"--label takes KEY=VALUE, not {pair!r}"
        labels[key] = value
    return labels


def _why(policy: Any, decision: Any, call: Any, context: Any) -> list[str]:
    """For a Bash call nothing allowed: which part of the line no allow rule covers, and why."""
    from magistrate.broker import RulePolicy, explain_bash

    rule = decision.rule
    if decision.behavior == "allow" or not isinstance(policy, RulePolicy) or (rule and rule.list != "default"):
        return []
    return list(explain_bash(policy, call, context))


def _check(args: argparse.Namespace) -> int:
    import anyio

    from magistrate.broker import CallContext, PolicyError, PolicyLoadError, ToolCall, load_policy

    chosen = policy_path(args.policy)
    if not chosen:
        return fail("check", "no policy: pass --policy FILE or set MAGISTRATE_POLICY")
    if not args.tool.strip():
        return fail("check", "--tool names a tool (Bash, Read, mcp__server__tool, ...)")
    tool_input = _read_input(args.input)
    if isinstance(tool_input, str):
        return fail("check", tool_input)
    labels = _labels(args.label)
    if isinstance(labels, str):
        return fail("check", labels)
    cwd = Path(args.cwd).expanduser() if args.cwd else Path.cwd()
    if not cwd.is_dir():
        return fail("check", f"--cwd {args.cwd}: {'not a folder' if cwd.exists() else 'no such folder'}")
    try:
        policy = load_policy(chosen)
    except PolicyLoadError as exc:
        for problem in exc.errors:
            sys.stderr.write(f"{problem}\n")
        return EXIT_ERROR
    except PolicyError as exc:
        return fail("check", str(exc))
    context = CallContext(cwd=str(cwd.absolute()), permission_mode=args.mode, labels=labels)
    call = ToolCall(args.tool, tool_input)
    decision = anyio.run(policy.decide, call, context)
    rule = decision.rule
    why = _why(policy, decision, call, context)
    output = {
        "behavior": decision.behavior,
        "updatedInput": dict(decision.input) if dict(decision.input) != tool_input else None,
        "message": f"{decision.message}: {'; '.join(why)}" if why else decision.message,
        "why": why,
        "rule": None if rule is None or rule.list == "default" else rule.text,
        "ruleId": None if rule is None else rule.id,
        "list": None if rule is None else rule.list,
        "source": "broker" if rule is None else str(rule.source),
        "matched": [_ref(r) for r in decision.matched],
        "error": decision.error,
        "policyVersion": decision.policy_version,
        "elapsedNs": decision.elapsed_ns,
    }
    sys.stdout.write(json.dumps(output, ensure_ascii=False) + "\n")
    return EXIT_ALLOW if args.no_exit_code else _EXIT_FOR[decision.behavior]


def _lint(args: argparse.Namespace) -> int:
    from magistrate.broker import lint_policy

    chosen = policy_path(args.file)
    if not chosen:
        return fail("lint", "no policy: name a FILE or set MAGISTRATE_POLICY")
    report = lint_policy(chosen, servers=bundled_servers())
    if args.json:
        return _lint_json(chosen, report)
    for finding in report.findings:
        sys.stdout.write(f"{finding}\n")
    sys.stdout.flush()
    count = len(report.findings)
    if count:
        sys.stderr.write(f"{count} problem{'s' if count != 1 else ''}\n")
        return 1
    for warning in getattr(report.policy, "warnings", ()):
        sys.stdout.write(f"warning: {warning}\n")
    version = str(getattr(report.policy, "version", ""))[:16]
    sys.stdout.write(f"ok: {chosen} (version {version})\n")
    return 0


def _lint_json(chosen: str, report: Any) -> int:
    """`lint --json`: `{"ok", "policy", "version", "problems": [...], "warnings": [...]}`; the same exit code."""
    problems = [
        {"where": str(f.source), "kind": f.kind, "rule": f.rule or None, "list": f.list, "message": f.message}
        for f in report.findings
    ]
    warnings = [str(w) for w in getattr(report.policy, "warnings", ())] if not problems else []
    version = str(getattr(report.policy, "version", "")) if report.policy is not None else None
    out = {"ok": not problems, "policy": chosen, "version": version, "problems": problems, "warnings": warnings}
    sys.stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
    return 1 if problems else 0


def register(parser: argparse.ArgumentParser) -> None:
    """Add `check`, `lint`, `test` and `replay` to the `policy` group."""
    from magistrate.cli._policy_replay import register as register_replay
    from magistrate.cli._policy_test import register as register_test

    sub = parser.add_subparsers(dest="policy_command", metavar="SUBCOMMAND", required=True)
    check = sub.add_parser(
        "check",
        help="decide one tool call; print the decision as JSON; exit 0 allow, 1 deny, 3 ask",
        description="Decide one tool call and print the decision as JSON. Exit 0 on allow, 1 on deny, 3 on ask "
        "(2: bad arguments or a policy that does not load).",
    )
    check.add_argument("--policy", metavar="FILE", help="a policy.py or a settings JSON (default $MAGISTRATE_POLICY)")
    check.add_argument("--tool", required=True, metavar="NAME", help="tool name: Bash, Read, mcp__server__tool, ...")
    check.add_argument("--input", required=True, metavar="JSON", help="the tool input as a JSON object; - reads stdin")
    check.add_argument("--cwd", metavar="DIR", help="working directory of the call (default: the current one)")
    check.add_argument("--mode", default="default", choices=get_args(PermissionMode), help="session permission mode")
    check.add_argument("--label", action="append", default=[], metavar="KEY=VALUE", help="a label of the session")
    check.add_argument("--no-exit-code", action="store_true", help="exit 0 whatever the decision")
    check.add_argument("--json", action="store_true", help="(the output is one JSON object already)")
    check.set_defaults(func=_check)
    lint = sub.add_parser("lint", help="load a policy and list every problem; exit 1 if there is one")
    lint.add_argument("file", nargs="?", metavar="FILE", help="a policy.py or a settings JSON ($MAGISTRATE_POLICY)")
    lint.add_argument("--json", action="store_true", help="print the problems and warnings as one JSON object")
    lint.set_defaults(func=_lint)
    register_test(sub)
    register_replay(sub)
