"""magistrate's reading of rule strings, checked against the real Claude Code CLI (2.1.330) on the scripted model.

Each batch gives the CLI a rule set (`--allowedTools`, `--disallowedTools`, `--settings`) and one assistant turn
holding many tool calls, then compares what the CLI ran with what `claude_code_policy` (the same rules) decides.
In `claude -p` nobody can answer a prompt, so the CLI refuses both deny and ask; it runs only what its rules
allow. Every case below was verified against CLI 2.1.330 in this way; `cli_runs` records what the CLI did.
The cases where the CLI runs a command that magistrate denies are the CLI's known leniencies (`bash -c`,
`sh -c`, `eval`, `find -exec` behind a deny; subdomains behind a plain domain deny), marked `stricter`.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest

from magistrate.broker import CallContext, PermissionMode, PolicyLoadError, ToolCall, claude_code_policy
from magistrate.sdk.scripted_model import ScriptedModel
from tests._harness import CliToolCall, run_cli

SERVER = """
from mcp.server.mcpserver import MCPServer
app = MCPServer("srv")
@app.tool()
def echo(text: str) -> str:
    return "echo:" + text
@app.tool()
def secret() -> str:
    return "secret!"
app.run()
"""


@dataclass(frozen=True)
class Case:
    tool: str
    input: dict[str, Any]
    cli_runs: bool
    magistrate: str
    stricter: bool = False
    """The CLI runs it although a deny should stop it; magistrate does not."""


@dataclass(frozen=True)
class Batch:
    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()
    ask: tuple[str, ...] = ()
    cases: tuple[Case, ...] = ()
    files: bool = False
    mcp: bool = False
    mode: PermissionMode = "default"


def bash(command: str, cli_runs: bool, magistrate: str | None = None, *, stricter: bool = False) -> Case:
    expected = magistrate or ("allow" if cli_runs else "ask")
    return Case("Bash", {"command": command}, cli_runs, expected, stricter)


def read(path: str, cli_runs: bool, magistrate: str) -> Case:
    return Case("Read", {"file_path": path}, cli_runs, magistrate)


def write(path: str, cli_runs: bool, magistrate: str) -> Case:
    return Case("Write", {"file_path": path, "content": "x"}, cli_runs, magistrate)


def fetch(url: str, cli_runs: bool, magistrate: str) -> Case:
    return Case("WebFetch", {"url": url, "prompt": "p"}, cli_runs, magistrate)


BATCHES: dict[str, Batch] = {
    "bash-prefix-allow": Batch(
        allow=("Bash(mytool run test:*)",),
        cases=(
            bash("mytool run test", True),
            bash("mytool run test --watch", True),
            bash("mytool run testing", False),
            bash("mytool run test:unit", False),
            bash("mytool run", False),
            bash("mytool run test && othertool", False),
            bash("mytool run test && mytool run test x", True),
            bash("mytool run test | mytool run test", True),
            bash("timeout 5 mytool run test", True),
            bash("nice mytool run test", True),
            bash("nohup mytool run test", True),
            bash("time mytool run test", True),
            bash("stdbuf -oL mytool run test", True),
            bash("command mytool run test", True),
            bash("xargs mytool run test", True),
            bash("mytool run test 2>/dev/null", True),
            bash("X=1 mytool run test", False),
            bash("env X=1 mytool run test", False),
            bash("mytool run test $(othertool)", False),
            bash("mytool run test `othertool`", False),
            bash("mytool run test > out.txt", False),
            bash("bash -c 'mytool run test'", False),
            bash("(mytool run test)", False),
            bash("{ mytool run test; }", False),
        ),
    ),
    "bash-deny-behind-wrappers": Batch(
        allow=("Bash",),
        deny=("Bash(mytool danger:*)",),
        cases=(
            bash("mytool danger", False, "deny"),
            bash("mytool danger now", False, "deny"),
            bash("mytool  danger", False, "deny"),
            bash("mytool 'danger'", False, "deny"),
            bash("\\mytool danger", False, "deny"),
            bash("timeout 5 mytool danger", False, "deny"),
            bash("nohup mytool danger", False, "deny"),
            bash("xargs mytool danger", False, "deny"),
            bash("env X=1 mytool danger", False, "deny"),
            bash("X=1 mytool danger", False, "deny"),
            bash("command mytool danger", False, "deny"),
            bash("/usr/bin/env mytool danger", False, "deny"),
            bash("sudo mytool danger", False, "deny"),
            bash("othertool && mytool danger", False, "deny"),
            bash("othertool; mytool danger", False, "deny"),
            bash("othertool | mytool danger", False, "deny"),
            bash("othertool $(mytool danger)", False, "deny"),
            bash("bash -c 'mytool danger'", True, "deny", stricter=True),
            bash("sh -c 'mytool danger'", True, "deny", stricter=True),
            bash("eval 'mytool danger'", True, "deny", stricter=True),
            bash("find . -maxdepth 0 -exec mytool danger \\;", True, "deny", stricter=True),
            bash("mytool dangerous", True, "allow"),
            bash("othertool", True, "allow"),
        ),
    ),
    "bash-exact-glob-and-space-star": Batch(
        allow=("Bash(mytool x)", "Bash(othertool*)", "Bash(thirdtool *)"),
        cases=(
            bash("mytool x", True),
            bash("mytool  x", False),
            bash("mytool x y", False),
            bash("othertool", True),
            bash("othertool a b", True),
            bash("othertoolz", True),
            bash("thirdtool", True),
            bash("thirdtool a", True),
            bash("thirdtoolx", False),
        ),
    ),
    "precedence-deny-ask-allow": Batch(
        allow=("Bash(mytool:*)", "Bash(thirdtool:*)"),
        ask=("Bash(mytool a:*)",),
        deny=("Bash(mytool a b:*)", "Bash(othertool *)"),
        cases=(
            bash("mytool x", True),
            bash("mytool a", False, "ask"),
            bash("mytool a b", False, "deny"),
            bash("othertool", False, "deny"),
            bash("othertool z", False, "deny"),
            bash("thirdtool && othertool", False, "deny"),
        ),
    ),
    "bare-deny-removes-the-tool": Batch(
        allow=("Bash(mytool:*)",),
        deny=("Bash",),
        cases=(bash("mytool x", False, "deny"), bash("othertool", False, "deny")),
    ),
    "bypass-mode-keeps-deny-and-ask": Batch(
        deny=("Bash(othertool:*)",),
        ask=("Bash(mytool x:*)",),
        mode="bypassPermissions",
        cases=(bash("mytool a", True), bash("othertool b", False, "deny"), bash("mytool x y", False, "ask")),
    ),
    "accept-edits-mode-inside-the-project": Batch(
        mode="acceptEdits",
        cases=(
            write("a.txt", True, "allow"),
            write("/tmp/outside-magistrate.txt", False, "ask"),
            bash("mytool a", False),
        ),
    ),
    "ask-list-from-settings": Batch(
        allow=("Bash",),
        ask=("Bash(mytool:*)",),
        cases=(bash("mytool a", False, "ask"), bash("othertool", True, "allow")),
    ),
    "file-denies-gate-read-and-bash": Batch(
        allow=("Bash",),
        deny=("Read(.env)", "Read(secrets/**)"),
        files=True,
        cases=(
            read(".env", False, "deny"),
            read("sub/.env", False, "deny"),
            read("SUB/.ENV", False, "deny"),
            read("sub/../.env", False, "deny"),
            read("link.txt", False, "deny"),
            read("secrets/k.txt", False, "deny"),
            read("a/secrets/k.txt", False, "deny"),
            read("ok.txt", True, "allow"),
            bash("cat .env", False, "deny"),
            bash("cat sub/.env", False, "deny"),
            bash("cp .env x.txt", False, "deny"),
            bash("head -1 .env", False, "deny"),
            bash("cat ok.txt", True, "allow"),
        ),
    ),
    "edit-denies-gate-what-bash-writes": Batch(
        allow=("Bash", "Edit"),
        deny=("Edit(./locked/**)",),
        files=True,
        cases=(
            bash("touch locked/a", False, "deny"),
            bash("echo x > locked/b", False, "deny"),
            bash("mytool | tee locked/c", False, "deny"),
            bash("rm locked/f", False, "deny"),
            bash("cp x locked/d", False, "deny"),
            bash("cat locked/f", True, "allow"),
            bash("touch free.txt", True, "allow"),
            write("locked/w.txt", False, "deny"),
        ),
    ),
    "write-deny-is-read-as-edit": Batch(
        allow=("Edit", "Bash"),
        deny=("Write(./wlocked/**)", "Bash(mytool*)"),
        files=True,
        cases=(
            write("wlocked/a.txt", False, "deny"),
            # The CLI applies a Write rule to the Write tool only; magistrate reads it as the Edit rule it means.
            Case("Edit", {"file_path": "wlocked/b.txt", "old_string": "a", "new_string": "b"}, True, "deny", True),
            bash("mytoolx", False, "deny"),
            bash("mytool x", False, "deny"),
        ),
    ),
    "bare-write-allow": Batch(
        # A bare `Write` allow lets the Write tool run (only `Write(...)` with a specifier is skipped).
        allow=("Write",),
        files=True,
        cases=(
            write("new.txt", True, "allow"),
            Case("Edit", {"file_path": "b.ts", "old_string": "a", "new_string": "b"}, False, "ask"),
        ),
    ),
    "bare-edit-allow-does-not-cover-write": Batch(
        allow=("Edit",),
        files=True,
        cases=(
            write("new.txt", False, "ask"),
            Case("Edit", {"file_path": "b.ts", "old_string": "a", "new_string": "b"}, True, "allow"),
        ),
    ),
    "edit-allow-covers-write": Batch(
        allow=("Edit(./src/**)",),
        files=True,
        cases=(
            Case("Edit", {"file_path": "src/a.ts", "old_string": "a", "new_string": "b"}, True, "allow"),
            Case("Edit", {"file_path": "src/deep/c.ts", "old_string": "a", "new_string": "b"}, True, "allow"),
            Case("Edit", {"file_path": "b.ts", "old_string": "a", "new_string": "b"}, False, "ask"),
            write("src/new.ts", True, "allow"),
            write("other.ts", False, "ask"),
        ),
    ),
    "webfetch-domains": Batch(
        allow=("WebFetch(domain:*.example.com)",),
        deny=("WebFetch(domain:example.org)",),
        cases=(
            fetch("https://sub.example.com/x", True, "allow"),
            fetch("https://a.sub.example.com/", True, "allow"),
            fetch("https://example.com/x", False, "ask"),
            fetch("https://sub.example.com@evil.org/", False, "ask"),
            fetch("https://example.org/", False, "deny"),
            fetch("https://EXAMPLE.org./", False, "deny"),
        ),
    ),
    "mcp-server-allow-tool-deny": Batch(
        allow=("mcp__srv",),
        deny=("mcp__srv__secret",),
        mcp=True,
        cases=(
            Case("mcp__srv__echo", {"text": "a"}, True, "allow"),
            Case("mcp__srv__secret", {}, False, "deny"),
        ),
    ),
    "mcp-forms": Batch(
        allow=("mcp__srv__ec*", "mcp__sr"),
        mcp=True,
        cases=(
            Case("mcp__srv__echo", {"text": "a"}, True, "allow"),
            Case("mcp__srv__secret", {}, False, "ask"),
        ),
    ),
}


def _ran(result: CliToolCall) -> bool:
    """The CLI let the call run: not refused, and the tool was there (a bare deny removes the tool)."""
    return not result.denied and "No such tool available" not in (result.output or "")


def _project(root: Path, *, files: bool) -> tuple[Path, Path, Path]:
    home, cwd, bindir = root / "home", root / "proj", root / "bin"
    for folder in (home, cwd, bindir):
        folder.mkdir()
    for name in ("mytool", "othertool", "thirdtool"):
        script = bindir / name
        script.write_text('#!/bin/sh\necho ran "$@"\n')
        script.chmod(0o755)
    if files:
        for rel in (
            ".env",
            "sub/.env",
            "secrets/k.txt",
            "a/secrets/k.txt",
            "ok.txt",
            "src/a.ts",
            "src/deep/c.ts",
            "b.ts",
            "locked/f",
            "wlocked/b.txt",
        ):
            (cwd / rel).parent.mkdir(parents=True, exist_ok=True)
            (cwd / rel).write_text("a\n")
        (cwd / "link.txt").symlink_to(cwd / ".env")
    return home, cwd, bindir


@pytest.mark.parametrize("name", list(BATCHES))
def test_cli_and_magistrate_agree(name: str, claude_cli: Path, tmp_path: Path) -> None:
    batch = BATCHES[name]
    home, cwd, bindir = _project(tmp_path, files=batch.files)
    args: list[str] = []
    if batch.allow:
        args += ["--allowedTools", ",".join(batch.allow)]
    if batch.deny:
        args += ["--disallowedTools", ",".join(batch.deny)]
    settings_files: list[Path] = []
    if batch.ask:
        settings = tmp_path / "settings.json"
        settings.write_text(json.dumps({"permissions": {"ask": list(batch.ask)}}))
        args += ["--settings", str(settings)]
        settings_files.append(settings)
    if batch.mcp:
        server = tmp_path / "server.py"
        server.write_text(SERVER)
        config = {"mcpServers": {"srv": {"command": sys.executable, "args": [str(server)]}}}
        (tmp_path / "mcp.json").write_text(json.dumps(config))
        args += ["--mcp-config", str(tmp_path / "mcp.json"), "--strict-mcp-config"]
    env = {"PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}"}
    if batch.mode != "default":
        args += ["--permission-mode", batch.mode]
        env["IS_SANDBOX"] = "1"  # bypassPermissions is refused to root outside a sandbox
    calls = [{"name": c.tool, "input": c.input} for c in batch.cases]
    with ScriptedModel({"default": {"turns": [{"tool_calls": calls}, "done"]}}) as model:
        run = run_cli("go", model=model, home=home, cwd=cwd, args=args, env=env, claude=claude_cli)
    results = run.calls()
    assert len(results) == len(batch.cases), run.stderr
    policy = claude_code_policy(cwd, batch.allow, batch.deny, home=home, settings_files=settings_files)
    for case, result in zip(batch.cases, results, strict=True):
        context = CallContext(cwd=str(cwd), permission_mode=batch.mode)
        decision = anyio.run(policy.decide, ToolCall(case.tool, case.input), context)
        label = f"{case.tool} {json.dumps(case.input)}"
        assert _ran(result) is case.cli_runs, f"CLI: {label}: {result.output}"
        assert decision.behavior == case.magistrate, f"magistrate: {label}: {decision}"
        # Never weaker than the CLI: whatever magistrate allows, the CLI allows too.
        if decision.behavior == "allow":
            assert case.cli_runs, label
        if case.cli_runs and decision.behavior != "allow":
            assert case.stricter or decision.behavior == "deny", label


@pytest.mark.parametrize(
    ("invalid", "cli_runs"),
    [
        # The CLI skips these without a word (a Write allow never lets Write run)...
        (("bash", "Bash(:*)", "Bash*", "Bash(mytool a", "Write(./src/**)"), False),
        # ...and reads `Bash()` as the bare tool: an empty specifier silently allows every command.
        (("Bash()",), True),
    ],
)
def test_invalid_rules_the_cli_skips_or_widens_are_refused(
    invalid: tuple[str, ...], cli_runs: bool, claude_cli: Path, tmp_path: Path
) -> None:
    home, cwd, bindir = _project(tmp_path, files=False)
    calls = [{"name": "Bash", "input": {"command": c}} for c in ("mytool a", "othertool")]
    calls.append({"name": "Write", "input": {"file_path": "src/new.ts", "content": "x"}})
    with ScriptedModel({"default": {"turns": [{"tool_calls": calls}, "done"]}}) as model:
        env = {"PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}"}
        args = ["--allowedTools", ",".join(invalid)]
        run = run_cli("go", model=model, home=home, cwd=cwd, args=args, env=env, claude=claude_cli)
    assert [_ran(c) for c in run.calls()] == [cli_runs, cli_runs, False]
    with pytest.raises(PolicyLoadError) as caught:
        claude_code_policy(cwd, invalid, home=home)
    assert sorted(e.rule for e in caught.value.errors) == sorted(invalid)


def test_file_rule_anchors(claude_cli: Path, tmp_path: Path) -> None:
    """`/p` is relative to the settings file's folder, `~/p` to HOME, `//p` absolute, `X/**` allows anchored."""
    home, cwd, _ = _project(tmp_path, files=False)
    conf, other = tmp_path / "conf", tmp_path / "other"
    for path in (conf / "abs" / "f.txt", other / "g.txt", home / "x" / "f.txt"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("a\n")
    for rel in ("abs/f.txt", "src/a.txt", "a/src/b.txt", "lib/src/c.txt"):
        (cwd / rel).parent.mkdir(parents=True, exist_ok=True)
        (cwd / rel).write_text("a\n")
    settings = conf / "settings.json"
    deny = ["Read(/abs/f.txt)", "Read(~/x/**)", f"Read(/{other}/**)", "Edit(lib/src/**)"]
    settings.write_text(json.dumps({"permissions": {"deny": deny}}))
    allow = ("Edit(src/**)", "Read")
    cases = [
        read(str(conf / "abs" / "f.txt"), False, "deny"),
        read("abs/f.txt", True, "allow"),
        read("~/x/f.txt", False, "deny"),
        read(str(other / "g.txt"), False, "deny"),
        Case("Edit", {"file_path": "src/a.txt", "old_string": "a", "new_string": "b"}, True, "allow"),
        Case("Edit", {"file_path": "a/src/b.txt", "old_string": "a", "new_string": "b"}, False, "ask"),
        Case("Edit", {"file_path": "lib/src/c.txt", "old_string": "a", "new_string": "b"}, False, "deny"),
    ]
    calls = [{"name": c.tool, "input": c.input} for c in cases]
    args = ["--allowedTools", ",".join(allow), "--settings", str(settings)]
    with ScriptedModel({"default": {"turns": [{"tool_calls": calls}, "done"]}}) as model:
        run = run_cli("go", model=model, home=home, cwd=cwd, args=args, claude=claude_cli)
    policy = claude_code_policy(cwd, allow, home=home, settings_files=[settings])
    for case, result in zip(cases, run.calls(), strict=True):
        decision = anyio.run(policy.decide, ToolCall(case.tool, case.input), CallContext(cwd=str(cwd)))
        assert _ran(result) is case.cli_runs, f"CLI: {case.input}: {result.output}"
        assert decision.behavior == case.magistrate, f"magistrate: {case.input}: {decision}"
