"""`magistrate demo`: a governed contract review, end to end, on the scripted model and the real CLI.

Everything happens in a temporary workspace with its own HOME, keys, trail and databases, so the demo leaves
nothing behind and needs no API key: the document store gets a sample contract, a review agent runs under a
Python policy, every tool call is decided and recorded, and the trail is printed and verified at the end.
`--keep` keeps the workspace, `--dir DIR` puts it in DIR (and keeps it): its `policy.py`, the policy's test
cases (`policy.cases.json`), the trail (`trail.sqlite3`) and the trail's public key (`trail.pub`) are what
`magistrate policy test` and `magistrate policy replay` work on.
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
    parser.add_argument("--dir", metavar="DIR", help="run in DIR (new or empty) and keep it")
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
    from magistrate.cli._demo_assets import CASES, CONTRACT, CONTRACT_NAME, POLICY_SOURCE
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
    (root / "policy.cases.json").write_text(json.dumps(CASES, indent=2) + "\n")
    return env


def _write_public_key(root: Path) -> None:
    """The trail's public key beside it, so `--public-key trail.pub` verifies it from any HOME."""
    from magistrate.broker import Environment, load_public_key, public_key_pem

    key = Environment.read().key_path
    if key.is_file():
        (root / "trail.pub").write_text(public_key_pem(load_public_key(key)))


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
    from magistrate.broker import ApprovalRecord, DecisionRecord, OutcomeRecord, TrailReader, parse_record

    with TrailReader.open(db) as trail:
        records = [(r.seq, parse_record(r.body)) for r in trail.records()]
    outcomes = {r.tool_use_id: r.outcome.status for _, r in records if isinstance(r, OutcomeRecord)}
    approvals = {r.tool_use_id: r.approval.behavior for _, r in records if isinstance(r, ApprovalRecord)}
    header = f"  {'#':>3}  {'tool':<40} {'decision':<10} {'rule':<40} {'source':<13} outcome"
    _say(header)
    _say("  " + "-" * (len(header) - 2))
    for seq, record in records:
        if not isinstance(record, DecisionRecord):
            continue
        rule = record.decision.rule
        behavior: str = record.decision.behavior
        if dict(record.decision.input) != record.input:
            behavior = "rewrite"
        if record.tool_use_id in approvals:
            behavior = f"ask->{approvals[record.tool_use_id]}"
        source: str = "" if rule is None else rule.source.kind
        if rule is not None and rule.source.line:
            source = f"policy.py:{rule.source.line}"
        outcome = outcomes.get(record.tool_use_id, "-")
        text = "" if rule is None else rule.text
        _say(f"  {seq:>3}  {record.tool_name:<40} {behavior:<10} {text:<40} {source:<13} {outcome}")


def run(args: argparse.Namespace) -> int:
    import anyio

    from magistrate.cli._main import main as cli_main
    from magistrate.sdk.scripted_model import ScriptedModel

    keep = bool(args.keep or args.dir)
    if args.dir:
        root = Path(args.dir).expanduser().absolute()
        if root.exists() and (not root.is_dir() or any(root.iterdir())):
            sys.stderr.write(f"magistrate demo: --dir {args.dir}: not a new or empty folder\n")
            return 2
        root.mkdir(parents=True, exist_ok=True)
    else:
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
        _write_public_key(root)
        if keep:
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
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
