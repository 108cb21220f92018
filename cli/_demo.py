"""`magistrate demo`: a governed contract review, end to end, on the scripted model and the real CLI.

Everything happens in a temporary workspace with its own HOME, keys, trail and databases, so the demo leaves
nothing behind and needs no API key: the document store gets a sample contract, a review agent runs under a
Python policy, every tool call is decided and recorded, and the trail is printed and verified at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any, cast

_OUT = sys.stdout
# What a shell reports for a command ended by SIGPIPE (128 + 13).
_BROKEN_PIPE = 141


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--keep", action="store_true", help="keep the workspace and print where it is")
    parser.set_defaults(func=run)


def _say(text: str = "") -> None:
    _OUT.write(text + "\n")
    _OUT.flush()


def _short(value: Any, limit: int = 100) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _prepare(root: Path) -> dict[str, str]:
    """The workspace: private HOME and XDG dirs, the contract in the store and on disk, the policy file."""
    from magistrate.cli._demo_assets import CONTRACT, CONTRACT_NAME, POLICY_SOURCE
    from magistrate.servers import open_documents

    home = root / "home"
    workspace = root / "workspace"
    workspace.mkdir(parents=True)
    env = {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "MAGISTRATE_DOCUMENTS_DB": str(root / "documents.sqlite3"),
        "MAGISTRATE_COMPLIANCE_DB": str(root / "compliance.sqlite3"),
    }
    os.environ.update(env)
    with open_documents(env["MAGISTRATE_DOCUMENTS_DB"]) as store:
        store.put(CONTRACT_NAME, CONTRACT, ["contract", "confidential"])
    (workspace / "contract.md").write_text(CONTRACT)
    (root / "policy.py").write_text(POLICY_SOURCE)
    return env


async def _review(root: Path) -> None:
    from magistrate.broker import AskRequest, Verdict
    from magistrate.sdk import ClaudeCodeOptions
    from magistrate.sdk import query as run_query

    def demo_approver(ask: AskRequest) -> Verdict:
        _say(f"    ? approver asked: {ask.tool_name} {_short(dict(ask.input))} ({ask.reason or ask.rule})")
        _say("    ? the demo's approver says yes, with a note")
        return Verdict(approved=True, approver="demo-approver", note="review flag is fine")

    options = ClaudeCodeOptions(
        cwd=root / "workspace",
        policy=root / "policy.py",
        audit=root / "trail.sqlite3",
        approver=demo_approver,
        system_prompt="You are a contract reviewer. Check contracts against the compliance database.",
    )
    names: dict[str, str] = {}
    # aclosing: a failed write (a closed pipe, `demo | head`) ends the CLI here, before the workspace goes.
    messages = cast(
        "AsyncGenerator[object, None]",
        run_query(prompt="Review the Northwind data processing addendum.", options=options),
    )
    async with contextlib.aclosing(messages):
        async for message in messages:
            _show(message, names)


def _show(message: object, names: dict[str, str]) -> None:
    from magistrate.sdk import AssistantMessage, ResultMessage, TextBlock, ToolUseBlock, UserMessage

    if isinstance(message, AssistantMessage):
        for block in message.content:
            if isinstance(block, TextBlock):
                _say(f"  agent: {block.text}")
            elif isinstance(block, ToolUseBlock):
                names[block.id] = block.name
                _say(f"  -> {block.name} {_short(block.input)}")
    elif isinstance(message, UserMessage) and not isinstance(message.content, str):
        for result in message.content:
            if hasattr(result, "tool_use_id"):
                mark = "x" if getattr(result, "is_error", False) else "<-"
                _say(f"  {mark} {_short(getattr(result, 'content', ''))}")
    elif isinstance(message, ResultMessage):
        _say(f"\n  run finished: {message.subtype}, {message.num_turns} turns, {message.duration_ms} ms")


def _table(db: Path) -> None:
    from magistrate.broker import TrailReader

    with TrailReader.open(db) as trail:
        rows = [{**json.loads(r.body), "seq": r.seq} for r in trail.records()]
    outcomes = {r.get("tool_use_id"): r.get("status") for r in rows if r.get("kind") == "outcome"}
    approvals = {r.get("tool_use_id"): r for r in rows if r.get("kind") == "approval"}
    header = f"  {'#':>3}  {'tool':<40} {'decision':<10} {'rule':<40} {'source':<13} outcome"
    _say(header)
    _say("  " + "-" * (len(header) - 2))
    for row in rows:
        if row.get("kind") != "decision":
            continue
        rule = row.get("rule") or {}
        behavior = row["behavior"]
        if row.get("updated_input"):
            behavior = "rewrite"
        tool_use_id = row.get("tool_use_id")
        if tool_use_id in approvals:
            behavior = f"ask->{approvals[tool_use_id]['behavior']}"
        where = rule.get("source") or {}
        source = where.get("kind", "")
        if where.get("line"):
            source = f"policy.py:{where['line']}"
        outcome = outcomes.get(tool_use_id, "-")
        text = rule.get("text", "")
        _say(f"  {row['seq']:>3}  {row['tool_name']:<40} {behavior:<10} {text:<40} {source:<13} {outcome}")


def run(args: argparse.Namespace) -> int:
    import anyio

    from magistrate.cli._main import main as cli_main
    from magistrate.sdk.scripted_model import ScriptedModel

    # mkdtemp, not TemporaryDirectory: that one deletes itself when collected, `--keep` or not.
    root = Path(tempfile.mkdtemp(prefix="magistrate-demo-"))
    try:
        _prepare(root)
        from magistrate.cli._demo_assets import scenario

        _say("magistrate demo: a contract-review agent under a Python policy (scripted model, real Claude Code CLI)")
        _say(f"  policy: {root / 'policy.py'}\n")
        with ScriptedModel(scenario()) as model:
            os.environ.update(model.env())
            anyio.run(_review, root)
        _say("\nDecisions in the audit trail:")
        _table(root / "trail.sqlite3")
        _say("\nVerifying the trail (magistrate audit verify):")
        code = cli_main(["audit", "verify", "--db", str(root / "trail.sqlite3")])
        if args.keep:
            _say(f"\nworkspace kept at {root}")
        return code
    except BrokenPipeError:
        # The reader went away (`magistrate demo | head`): stop quietly, as a shell command would.
        with contextlib.suppress(OSError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, _OUT.fileno())
            os.close(devnull)
        return _BROKEN_PIPE
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
