"""Rule strings, modes and defaults as magistrate reads them, checked against the real Claude Code CLI (2.1.330).

Each batch gives the CLI a rule set (`--allowedTools`, `--disallowedTools`, `--settings`, the project's
`.claude/settings*.json`, the user's `~/.claude/settings.json`, a trust record in `~/.claude.json`, a permission
mode) and one assistant turn holding many tool calls, then compares what the CLI ran with what
`claude_code_policy` (the same rules, no policy of magistrate's own) decides. In `claude -p` nobody can answer a
prompt, so the CLI refuses both deny and ask; it runs only what its rules, its modes and its own defaults allow.

How each case was observed, and how to observe it again when the pinned CLI is upgraded: the test itself is
the observation. It runs the real CLI offline (the scripted model behind ANTHROPIC_BASE_URL, a throwaway HOME,
CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1, IS_SANDBOX=1 where bypassPermissions needs it as root) and
`cli_runs` records what CLI 2.1.330 did: the call was not in the result's `permission_denials` and its tool
was there. After an upgrade, `./dev test tests/broker/test_cli_agreement.py`: a failing `CLI:` assertion is a
case where the CLI changed (observe it, then fix `cli_runs` and magistrate together); a failing `magistrate:`
one is a change on magistrate's side. Every batch here was first tried by hand the same way.

The cases where the CLI runs a call that magistrate does not allow are marked `stricter`: the CLI's known
leniencies (`bash -c`, `sh -c`, `eval`, `find -exec` behind a deny; subdomains behind a plain domain deny;
`Bash(x :*)` in a deny, which the CLI matches to nothing), and magistrate's narrower defaults (a read-only
command with `$VAR`, `sed`, an outside read in plan mode). Whatever magistrate allows, the CLI ran.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import anyio
import pytest

from magistrate.broker import CallContext, PermissionMode, PolicyLoadError, ToolCall, claude_code_policy
from magistrate.sdk.scripted_model import ScriptedModel
from tests._harness import CliRun, CliToolCall, run_cli

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
    project: dict[str, Any] | None = None
    """The project's `.claude/settings.json`."""
    local: dict[str, Any] | None = None
    """The project's `.claude/settings.local.json`."""
    user: dict[str, Any] | None = None
    """The user's `~/.claude/settings.json`."""
    trusted: Literal["", "cwd", "parent"] = ""
    """Where `~/.claude.json` records an accepted trust dialog: nowhere, the project, or its parent."""
    git: bool = False
    """The project is a git repository with every file committed (its settings files tracked)."""


def bash(command: str, cli_runs: bool, magistrate: str | None = None, *, stricter: bool = False) -> Case:
    expected = magistrate or ("allow" if cli_runs else "ask")
    return Case("Bash", {"command": command}, cli_runs, expected, stricter)


def read(path: str, cli_runs: bool, magistrate: str) -> Case:
    return Case("Read", {"file_path": path}, cli_runs, magistrate)


def write(path: str, cli_runs: bool, magistrate: str) -> Case:
    return Case("Write", {"file_path": path, "content": "x"}, cli_runs, magistrate)


def fetch(url: str, cli_runs: bool, magistrate: str) -> Case:
    return Case("WebFetch", {"url": url, "prompt": "p"}, cli_runs, magistrate)


def edit(path: str, cli_runs: bool, magistrate: str) -> Case:
    return Case("Edit", {"file_path": path, "old_string": "a", "new_string": "b"}, cli_runs, magistrate)


def echo(cli_runs: bool, magistrate: str) -> Case:
    return Case("mcp__srv__echo", {"text": "a"}, cli_runs, magistrate)


def secret(cli_runs: bool, magistrate: str) -> Case:
    return Case("mcp__srv__secret", {}, cli_runs, magistrate)


def unasked(command: str) -> Case:
    """A command the CLI runs by itself with no rule, and so does magistrate's stand-in for it."""
    return bash(command, True, "allow")


def asked(command: str) -> Case:
    return bash(command, False, "ask")


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

# -- section 3 of issue 10: the rule semantics the CLI has ----------------------------------------------
BATCHES.update(
    {
        "one-segment-denies-at-any-depth": Batch(
            allow=("Bash", "Edit", "Read"),
            deny=("Read(./src/**)", "Read(./.env)", "Read(/s2/**)", "Read(./a4/s4/**)", "Read(./s5/*)"),
            files=True,
            cases=(
                read("src/x.txt", False, "deny"),
                read("a/src/x.txt", False, "deny"),
                read("a/b/src/x.txt", False, "deny"),
                read("x/src", False, "deny"),
                read("a/.env", False, "deny"),
                read("a/b/.env", False, "deny"),
                read("a/srcx/y.txt", True, "allow"),
                read("a/b/.envrc", True, "allow"),
                # Anchored: a leading `/` (the project root here), two segments, a glob below the folder.
                read("a/s2/x", True, "allow"),
                read("s2/x", False, "deny"),
                read("b/a4/s4/x", True, "allow"),
                read("a/s5/x", True, "allow"),
                read("s5/d/x", False, "deny"),
                # A Read deny also stops editing, writing and a shell command reading the same paths.
                edit("src/x.txt", False, "deny"),
                edit("a/src/x.txt", False, "deny"),
                write("a/src/new.txt", False, "deny"),
                write("a/b/.env", False, "deny"),
                bash("cat a/src/x.txt", False, "deny"),
                bash("cat a/b/.env", False, "deny"),
                bash("ls a/src", False, "deny"),
                bash("cat a/srcx/y.txt", True, "allow"),
                bash("touch a/src/new2", True, "deny", stricter=True),
            ),
        ),
        "one-segment-ask-and-edit-deny": Batch(
            allow=("Read", "Bash", "Edit", "Write"),
            deny=("Edit(./lk/**)", "Edit(./.cfg)"),
            ask=("Read(./src/**)",),
            files=True,
            cases=(
                read("a/src/x", False, "ask"),
                # A Read ask asks for reading only (magistrate also asks for a shell command that reads there).
                edit("a/src/x", True, "allow"),
                write("a/src/n", True, "allow"),
                bash("cat a/src/x", True, "ask", stricter=True),
                edit("a/lk/x", False, "deny"),
                write("a/lk/n", False, "deny"),
                write("a/b/.cfg", False, "deny"),
                bash("touch a/lk/t", False, "deny"),
                bash("touch a/b/.cfg", False, "deny"),
                read("a/lk/x", True, "allow"),
                bash("cat a/lk/x", True, "allow"),
            ),
        ),
        "tool-globs-deny-by-prefix": Batch(
            allow=("mcp__srv", "Bash", "Read"),
            deny=("mcp__s*", "Bas*"),
            mcp=True,
            files=True,
            cases=(
                echo(False, "deny"),
                secret(False, "deny"),
                bash("mytool a", False, "deny"),
                read("ok.txt", True, "allow"),
            ),
        ),
        "tool-glob-mcp-star-removes-every-mcp-tool": Batch(
            allow=("mcp__srv", "Bash"),
            deny=("mcp__*",),
            mcp=True,
            cases=(echo(False, "deny"), secret(False, "deny"), bash("mytool a", True, "allow")),
        ),
        "tool-glob-inside-a-name": Batch(
            allow=("mcp__srv", "Bash", "Read"),
            deny=("mcp__*__echo", "Rea*"),
            mcp=True,
            files=True,
            cases=(
                echo(False, "deny"),
                secret(True, "allow"),
                read("ok.txt", False, "deny"),
                bash("mytool a", True, "allow"),
            ),
        ),
        "tool-globs-ask": Batch(
            allow=("mcp__srv", "Bash", "Read"),
            ask=("Bas*", "mcp__s*"),
            mcp=True,
            files=True,
            cases=(echo(False, "ask"), bash("mytool a", False, "ask"), read("ok.txt", True, "allow")),
        ),
        "compound-allow-is-the-whole-line": Batch(
            allow=("Bash(mytool a && othertool b)", "Bash(mytool s; othertool t)", "Bash(mytool c || othertool d)"),
            cases=(
                bash("mytool a && othertool b", True),
                bash(" mytool a && othertool b", True),
                # The CLI also allows other spacing around && and ||; magistrate only the line as written.
                bash("mytool a&&othertool b", True, "ask", stricter=True),
                bash("mytool a", False),
                bash("othertool b", False),
                bash("othertool b && mytool a", False),
                bash("mytool a && othertool b && mytool a", False),
                bash("mytool a || othertool b", False),
                bash("mytool s; othertool t", True),
                bash("mytool s ; othertool t", False),
                bash("mytool c || othertool d", True),
            ),
        ),
        "compound-deny-and-ask": Batch(
            allow=("Bash",),
            deny=("Bash(mytool a && othertool b)", "Bash(mytool p | othertool q)"),
            ask=("Bash(thirdtool c; mytool d)",),
            cases=(
                bash("mytool a && othertool b", False, "deny"),
                bash("mytool a&&othertool b", False, "deny"),
                bash("mytool a", True, "allow"),
                bash("othertool b && mytool a", True, "deny", stricter=True),
                bash("mytool p | othertool q", False, "deny"),
                bash("mytool p", True, "allow"),
                bash("thirdtool c; mytool d", True, "ask", stricter=True),
                bash("thirdtool c", True, "allow"),
            ),
        ),
        "space-before-prefix-star-allows-nothing": Batch(
            allow=("Bash(mytool :*)", "Bash(touch :*)"),
            cases=(bash("mytool a", False), bash("mytool", False), bash("mytool :x", False), bash("touch m1", False)),
        ),
        "space-before-prefix-star-in-deny-and-ask": Batch(
            allow=("Bash",),
            deny=("Bash(othertool :*)",),
            ask=("Bash(thirdtool :*)",),
            cases=(
                bash("othertool a", True, "deny", stricter=True),
                bash("othertool", True, "deny", stricter=True),
                bash("thirdtool a", True, "ask", stricter=True),
                bash("mytool a", True, "allow"),
            ),
        ),
        "sensitive-files-ask-under-any-allow": Batch(
            allow=("Write", "Bash", "Edit(./.claude/**)", "Edit(./.bashrc)"),
            files=True,
            cases=(
                write("a.txt", True, "allow"),
                bash("mytool a", True, "allow"),
                write(".claude/x.json", False, "ask"),
                write(".git/config", False, "ask"),
                write(".bashrc", False, "ask"),
                write("sub/.vscode/s.json", False, "ask"),
                write(".GIT/y", False, "ask"),
                edit(".claude/k", False, "ask"),
                bash("touch .git/q", False, "ask"),
                bash("touch .husky/q", False, "ask"),
                bash("mytool > .claude/r", False, "ask"),
            ),
        ),
    }
)

# -- the default policy is the CLI's: read-only commands, workspace trust, modes ----------------------
_READ_ONLY = (
    "ls", "ls -la", "ls sub", "pwd", "cat ok.txt", "cat sub/.env", "head -1 ok.txt", "tail ok.txt", "wc -l ok.txt",
    "grep a ok.txt", "echo hi", "cat ok.txt | wc -l", "ls && pwd", "which ls", "date", "whoami", "stat ok.txt",
    "file ok.txt", "sort ok.txt", "find .", "find . -name '*.txt'", "rg a", "diff ok.txt b.ts", "du -sh .", "df -h",
    "git status", "git log", "git diff", "true", "printf x", "type ls", "id", "uname -a", "hostname",
    "basename /a/b", "dirname /a/b", "realpath ok.txt", "readlink ok.txt", "cut -c1 ok.txt", "tr a b < ok.txt",
    "od ok.txt", "md5sum ok.txt", "sha256sum ok.txt", "nl ok.txt", "rev ok.txt", "strings ok.txt", "cat -n ok.txt",
    "sleep 0", "test -f ok.txt", "[ -f ok.txt ]", "ps", "ls 2>/dev/null",
)  # fmt: skip
_NOT_READ_ONLY = (
    "ls /", "ls ..", "ls ~", "cat ../other/x.txt", "cat escape.txt", "ls > out.txt", "env", "uniq ok.txt",
    "awk '{print}' ok.txt", "xxd ok.txt", "less ok.txt", "find . -delete", "sed -i s/a/b/ ok.txt", "ls $(pwd)",
    "mytool a", "touch new.txt", "mkdir d", "cat ok.txt > copy.txt",
)  # fmt: skip
BATCHES.update(
    {
        "read-only-commands-run-unasked": Batch(
            files=True,
            cases=(
                *(unasked(c) for c in _READ_ONLY),
                *(asked(c) for c in _NOT_READ_ONLY),
                # Read-only to the CLI, but magistrate cannot see through the expansion or does not list the command.
                bash("echo $HOME", True, "ask", stricter=True),
                bash("sed -n 1p ok.txt", True, "ask", stricter=True),
                bash("node -v", True, "ask", stricter=True),
                unasked("cd sub && ls"),  # last: the CLI's shell stays in the folder it moved to
            ),
        ),
        "workspace-untrusted": Batch(
            project={
                "permissions": {
                    "allow": ["Bash(mytool:*)"],
                    "deny": ["Bash(othertool:*)"],
                    "ask": ["Bash(thirdtool:*)"],
                    "additionalDirectories": ["../other"],
                }
            },
            local={"permissions": {"allow": ["Edit"]}},
            files=True,
            cases=(
                bash("mytool a", False, "ask"),
                bash("othertool b", False, "deny"),
                bash("thirdtool c", False, "ask"),
                read("../other/x.txt", False, "ask"),
                # An untracked settings.local.json is the user's own: its allow counts.
                edit("ok.txt", True, "allow"),
            ),
        ),
        "workspace-trusted": Batch(
            project={
                "permissions": {
                    "allow": ["Bash(mytool:*)"],
                    "deny": ["Bash(othertool:*)"],
                    "additionalDirectories": ["../other"],
                }
            },
            trusted="cwd",
            files=True,
            cases=(
                bash("mytool a", True, "allow"),
                bash("othertool b", False, "deny"),
                read("../other/x.txt", True, "allow"),
            ),
        ),
        "workspace-trust-of-a-parent-does-not-count": Batch(
            project={"permissions": {"allow": ["Bash(mytool:*)"]}},
            trusted="parent",
            cases=(bash("mytool a", False, "ask"),),
        ),
        "workspace-untrusted-tracked-local-settings": Batch(
            local={"permissions": {"allow": ["Bash(mytool:*)"]}},
            git=True,
            cases=(bash("mytool a", False, "ask"),),
        ),
        "workspace-project-never-sets-bypass": Batch(
            project={"permissions": {"defaultMode": "bypassPermissions"}},
            trusted="cwd",
            cases=(bash("mytool a", False, "ask"), write("a.txt", False, "ask")),
        ),
        "workspace-untrusted-project-modes-count": Batch(
            project={"permissions": {"defaultMode": "plan"}},
            files=True,
            cases=(
                write("a.txt", False, "deny"),
                edit("ok.txt", False, "deny"),
                bash("mytool a", False),
                unasked("ls"),
            ),
        ),
        "workspace-untrusted-dont-ask-counts": Batch(
            project={"permissions": {"defaultMode": "dontAsk"}},
            cases=(bash("mytool a", False, "deny"), unasked("ls")),
        ),
        "user-settings-may-set-bypass": Batch(
            user={"permissions": {"defaultMode": "bypassPermissions"}},
            cases=(bash("mytool a", True, "allow"), write("a.txt", True, "allow")),
        ),
        "mode-default": Batch(
            files=True,
            cases=(
                write("a.txt", False, "ask"),
                write("../outside.txt", False, "ask"),
                edit("ok.txt", False, "ask"),
                read("ok.txt", True, "allow"),
                read("../other/x.txt", False, "ask"),
                unasked("ls"),
                asked("mytool a"),
                asked("touch new.txt"),
                asked("mkdir d"),
                asked("rm r1.txt"),
                asked("echo x > out.txt"),
            ),
        ),
        "mode-accept-edits": Batch(
            mode="acceptEdits",
            files=True,
            cases=(
                write("a.txt", True, "allow"),
                write("../outside.txt", False, "ask"),
                edit("ok.txt", True, "allow"),
                read("../other/x.txt", False, "ask"),
                write(".claude/settings.json", False, "ask"),
                write(".git/config", False, "ask"),
                write(".bashrc", False, "ask"),
                unasked("ls"),
                asked("mytool a"),
                bash("touch new.txt", True, "allow"),
                bash("mkdir -p a/b", True, "allow"),
                bash("rm r1.txt", True, "allow"),
                bash("mv m1.txt m2.txt", True, "allow"),
                bash("cp c1.txt c2.txt", True, "allow"),
                bash("rmdir e", True, "allow"),
                bash("echo x >> app.txt", True, "allow"),
                bash("mkdir z && touch z/q", True, "allow"),
                asked("sed -i s/a/b/ s.txt"),
                asked("touch ../outside2.txt"),
                asked("cp -r sub sub4"),
                asked("rm -rf ."),
                asked("ln -s ok.txt l.txt"),
                asked("chmod +x ok.txt"),
                asked("touch .git/y"),
                asked("mytool a > out2.txt"),
                asked("touch a.txt && mytool a"),
            ),
        ),
        "mode-plan": Batch(
            mode="plan",
            files=True,
            cases=(
                write("a.txt", False, "deny"),
                edit("ok.txt", False, "deny"),
                read("ok.txt", True, "allow"),
                # The CLI reads anywhere in plan mode; magistrate keeps asking outside the working directories.
                Case("Read", {"file_path": "../other/x.txt"}, True, "ask", stricter=True),
                unasked("ls"),
                # Offline, the CLI's plan mode refuses the rest ("auto mode is unavailable").
                asked("mytool a"),
                asked("touch new.txt"),
                asked("cat ../other/x.txt"),
            ),
        ),
        "mode-plan-refuses-edits-under-an-allow": Batch(
            mode="plan",
            allow=("Edit", "Write", "Bash(mytool:*)", "Bash(touch:*)"),
            files=True,
            cases=(
                write("a.txt", False, "deny"),
                edit("ok.txt", False, "deny"),
                bash("mytool a", True, "allow"),
                bash("touch t.txt", True, "allow"),
            ),
        ),
        "mode-bypass-permissions": Batch(
            mode="bypassPermissions",
            files=True,
            cases=(
                write("a.txt", True, "allow"),
                write("../outside.txt", True, "allow"),
                edit("ok.txt", True, "allow"),
                read("../other/x.txt", True, "allow"),
                write(".git/config", True, "allow"),
                write(".claude/x.json", True, "allow"),
                bash("mytool a", True, "allow"),
                bash("touch .git/q", True, "allow"),
                bash("echo x > out.txt", True, "allow"),
            ),
        ),
        "mode-dont-ask": Batch(
            mode="dontAsk",
            files=True,
            cases=(
                write("a.txt", False, "deny"),
                read("ok.txt", True, "allow"),
                read("../other/x.txt", False, "deny"),
                bash("ls", True, "allow"),
                bash("mytool a", False, "deny"),
                bash("touch new.txt", False, "deny"),
            ),
        ),
    }
)


def _ran(result: CliToolCall) -> bool:
    """The CLI let the call run: not refused, and the tool was there (a bare deny removes the tool)."""
    return not result.denied and "No such tool available" not in (result.output or "")


def _project(root: Path, *, files: bool) -> tuple[Path, Path, Path]:
    home, cwd, bindir = root / "home", root / "proj", root / "bin"
    for folder in (home, cwd, bindir, root / "other"):
        folder.mkdir()
    (root / "other" / "x.txt").write_text("a\n")
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
            "src/x.txt",
            "a/src/x.txt",
            "a/b/src/x.txt",
            "x/src",
            "a/.env",
            "a/b/.env",
            "a/srcx/y.txt",
            "a/b/.envrc",
            "s2/x",
            "a/s2/x",
            "b/a4/s4/x",
            "s5/x",
            "a/s5/x",
            "s5/d/x",
            "a/src/x",
            "lk/x",
            "a/lk/x",
            "a/b/.cfg",
            ".claude/k",
            "sub/b.txt",
            "r1.txt",
            "m1.txt",
            "c1.txt",
            "s.txt",
            "e/.keep",
        ):
            (cwd / rel).parent.mkdir(parents=True, exist_ok=True)
            (cwd / rel).write_text("a\n")
        (cwd / "link.txt").symlink_to(cwd / ".env")
        (cwd / "escape.txt").symlink_to(root / "other" / "x.txt")
    return home, cwd, bindir


def _settle(batch: Batch, home: Path, cwd: Path, root: Path) -> None:
    """Write the batch's settings files and trust record, and make the project a repository if asked."""
    for folder, name, content in (
        (cwd / ".claude", "settings.json", batch.project),
        (cwd / ".claude", "settings.local.json", batch.local),
        (home / ".claude", "settings.json", batch.user),
    ):
        if content is not None:
            folder.mkdir(exist_ok=True)
            (folder / name).write_text(json.dumps(content))
    if batch.trusted:
        where = str(cwd if batch.trusted == "cwd" else root)
        (home / ".claude.json").write_text(json.dumps({"projects": {where: {"hasTrustDialogAccepted": True}}}))
    if batch.git:
        git = ["git", "-c", "user.email=m@example.com", "-c", "user.name=m"]
        for step in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "project"]):
            subprocess.run([*git, *step], cwd=cwd, check=True, capture_output=True)


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
    _settle(batch, home, cwd, tmp_path)
    if batch.mcp:
        server = tmp_path / "server.py"
        server.write_text(SERVER)
        config = {"mcpServers": {"srv": {"command": sys.executable, "args": [str(server)]}}}
        (tmp_path / "mcp.json").write_text(json.dumps(config))
        args += ["--mcp-config", str(tmp_path / "mcp.json"), "--strict-mcp-config"]
    env = {"PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}"}
    if batch.mode != "default":
        args += ["--permission-mode", batch.mode]
    if batch.mode != "default" or batch.user:
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


def _run_calls(
    claude_cli: Path, tmp_path: Path, commands: list[str], args: list[str]
) -> tuple[list[bool], Path, Path, CliRun]:
    home, cwd, bindir = _project(tmp_path, files=False)
    calls = [{"name": "Bash", "input": {"command": c}} for c in commands]
    with ScriptedModel({"default": {"turns": [{"tool_calls": calls}, "done"]}}) as model:
        env = {"PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}"}
        run = run_cli("go", model=model, home=home, cwd=cwd, args=args, env=env, claude=claude_cli)
    return [_ran(c) for c in run.calls()], home, cwd, run


def test_invalid_denies_the_cli_skips_are_refused(claude_cli: Path, tmp_path: Path) -> None:
    """A lowercase tool glob matches nothing in the CLI, and one with parentheses is ignored: magistrate refuses."""
    invalid = ("bas*", "Bas*(mytool:*)")
    ran, home, cwd, _ = _run_calls(
        claude_cli, tmp_path, ["mytool a"], ["--allowedTools", "Bash", "--disallowedTools", ",".join(invalid)]
    )
    assert ran == [True]
    with pytest.raises(PolicyLoadError) as caught:
        claude_code_policy(cwd, ["Bash"], invalid, home=home)
    assert sorted(e.rule for e in caught.value.errors) == sorted(invalid)


def test_compound_allows_the_cli_never_matches_are_refused(claude_cli: Path, tmp_path: Path) -> None:
    """A compound allow with a pipe or a redirection never runs its own line; a compound prefix (which the CLI
    matches only as its exact text, `mytool u && othertool`) is refused too, as a rule that misleads."""
    invalid = ("Bash(mytool p | othertool q)", "Bash(thirdtool r > out.txt)", "Bash(mytool u && othertool:*)")
    lines = ["mytool p | othertool q", "thirdtool r > out.txt", "mytool u && othertool v"]
    ran, home, cwd, _ = _run_calls(claude_cli, tmp_path, lines, ["--allowedTools", ",".join(invalid)])
    assert ran == [False, False, False]
    with pytest.raises(PolicyLoadError) as caught:
        claude_code_policy(cwd, invalid, home=home)
    assert sorted(e.rule for e in caught.value.errors) == sorted(invalid)


def test_a_star_deny_removes_every_tool(claude_cli: Path, tmp_path: Path) -> None:
    """`*` in a deny leaves the CLI no tool at all (the model is offered none); magistrate denies every call."""
    _, home, cwd, run = _run_calls(claude_cli, tmp_path, ["mytool a"], ["--disallowedTools", "*"])
    assert run.of_type("system", "init")[0]["tools"] == []
    policy = claude_code_policy(cwd, (), ("*",), home=home)
    context = CallContext(cwd=str(cwd))
    for call in (ToolCall("Bash", {"command": "ls"}), ToolCall("Read", {"file_path": "a"}), ToolCall("mcp__s__t", {})):
        assert anyio.run(policy.decide, call, context).behavior == "deny"


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
