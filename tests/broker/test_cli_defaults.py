"""With no policy given, what nothing matched means is what the CLI 2.1.330 does by itself, in each mode.

Read-only commands inside the working directories run unasked; acceptEdits adds edits and file commands
there, never on a sensitive file; plan mode edits nothing; dontAsk denies what would be asked; bypass allows.
tests/broker/test_cli_agreement.py runs the same kinds of cases on the real CLI.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from magistrate.broker import CallContext, PermissionMode, RulePolicy, ToolCall, claude_code_policy
from magistrate.broker._interfaces import Policy


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    for rel in ("ok.txt", "sub/b.txt", "sub2/x", "e/.keep"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("a\n")
    (root / "out-link").symlink_to("/etc")
    (root / "sub" / "escape").symlink_to("/etc/hostname")
    return root


def decide(policy: Policy, cwd: Path, tool: str, tool_input: dict[str, Any], mode: PermissionMode = "default") -> str:
    context = CallContext(cwd=str(cwd), permission_mode=mode)
    return anyio.run(policy.decide, ToolCall(tool, tool_input), context).behavior


def cli(project: Path) -> Policy:
    return claude_code_policy(project, home=project.parent / "home")


@pytest.mark.parametrize(
    "command",
    [
        "ls",
        "ls -la sub",
        "pwd",
        "cat ok.txt",
        "cat sub/b.txt | wc -l",
        "head -1 ok.txt && tail ok.txt",
        "grep -r a .",
        "find . -name '*.txt'",
        "find . -name '*' -type f",
        "git status",
        "git log --oneline",
        "echo hi",
        "date +%s",
        "cd sub && cat b.txt",
        "ls 2>/dev/null",
        "tr a b < ok.txt",
        "[ -f ok.txt ]",
        "basename /a/b",
    ],
)
def test_read_only_commands_inside_the_workspace_run_unasked(project: Path, command: str) -> None:
    assert decide(cli(project), project, "Bash", {"command": command}) == "allow"


@pytest.mark.parametrize(
    "command",
    [
        "cat /etc/hostname",
        "ls /",
        "ls ..",
        "ls ~",
        "cat sub/escape",
        "cat out-link/hostname",
        "cat sub/*",
        "cd .. && ls",
        "env",
        "awk '{print}' ok.txt",
        "sed -n 1p ok.txt",
        "ls > out.txt",
        "echo $HOME",
        "ls $(pwd)",
        "ls `pwd`",
        "find . -delete",
        "find . -exec cat {} ;",
        "find -L .",
        "find out-link -name x",
        "sort -o out ok.txt",
        "sort -ro out ok.txt",
        "rg --pre cat a",
        "grep -R a .",
        "git -c core.pager=x log",
        "git push",
        "git diff --output=x",
        "cat ~root/.bashrc",
        "cat {/etc/passwd,ok.txt}",
        "ls .*",
        "ls &",
        "xargs cat",
        "X=1 ls",
        "hostname evil",
        "date -s 2020-01-01",
        "touch new.txt",
        "mytool a",
        "/bin/ls",
    ],
)
def test_anything_else_is_asked(project: Path, command: str) -> None:
    assert decide(cli(project), project, "Bash", {"command": command}) == "ask"


def test_a_written_policy_gets_no_read_only_default(project: Path) -> None:
    written = RulePolicy(default="deny")
    assert decide(written, project, "Bash", {"command": "ls"}) == "deny"
    assert decide(written, project, "Read", {"file_path": "ok.txt"}) == "deny"


def test_a_deny_or_ask_still_decides_before_the_read_only_default(project: Path) -> None:
    policy = claude_code_policy(project, disallowed_tools=["Read(./sub/**)"], home=project.parent / "home")
    assert decide(policy, project, "Bash", {"command": "cat sub/b.txt"}) == "deny"
    assert decide(policy, project, "Bash", {"command": "cat ok.txt"}) == "allow"


_NAME = st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True)


_NOWHERE = Path("/nonexistent-magistrate-project")
_NOWHERE_POLICY = claude_code_policy(_NOWHERE, home=_NOWHERE / "home")


@settings(max_examples=60, deadline=None)
@given(inside=st.lists(_NAME, min_size=1, max_size=6), up=st.integers(min_value=0, max_value=8))
def test_a_path_is_read_unasked_exactly_when_it_stays_inside(inside: list[str], up: int) -> None:
    path = "/".join([*inside, *([".."] * up)])
    expected = "allow" if up <= len(inside) else "ask"
    assert decide(_NOWHERE_POLICY, _NOWHERE, "Bash", {"command": f"cat {path}/x"}) == expected


# -- modes -------------------------------------------------------------------------------------------


def test_accept_edits_allows_edits_and_file_commands_inside_but_never_a_sensitive_file(project: Path) -> None:
    policy = cli(project)

    def accept(tool: str, tool_input: dict[str, Any]) -> str:
        return decide(policy, project, tool, tool_input, "acceptEdits")

    assert accept("Write", {"file_path": "a.txt", "content": "x"}) == "allow"
    assert accept("Edit", {"file_path": "ok.txt", "old_string": "a", "new_string": "b"}) == "allow"
    assert accept("Write", {"file_path": "/tmp/outside.txt", "content": "x"}) == "ask"
    for path in (".claude/settings.json", ".git/config", ".bashrc", "sub/.vscode/s.json"):
        assert accept("Write", {"file_path": path, "content": "x"}) == "ask", path
        assert accept("Bash", {"command": f"touch {path}"}) == "ask", path
    for command in ("touch new.txt", "mkdir -p a/b", "rm -rf sub2", "rmdir e", "mv ok.txt m.txt", "cp ok.txt c.txt"):
        assert accept("Bash", {"command": command}) == "allow", command
    assert accept("Bash", {"command": "echo x >> app.txt"}) == "allow"
    assert accept("Bash", {"command": "mkdir z && touch z/q"}) == "allow"
    for command in (
        "rm -rf .",
        "rm -rf ..",
        "cp -r sub sub3",
        "mv ok.txt ../ok.txt",
        "touch /tmp/x",
        "echo y > /tmp/x",
        "mytool a > out2.txt",
        "touch a.txt && mytool a",
        "sed -i s/a/b/ ok.txt",
        "ln -s ok.txt l.txt",
        "chmod +x ok.txt",
        "rm *",
    ):
        assert accept("Bash", {"command": command}) == "ask", command
    # The session's mode does not widen what the default mode would not write, for a written policy.
    assert (
        decide(RulePolicy(default="ask"), project, "Write", {"file_path": "a.txt", "content": ""}, "acceptEdits")
        == "ask"
    )


def test_plan_mode_edits_nothing_even_under_an_allow(project: Path) -> None:
    policy = claude_code_policy(project, ["Edit", "Write", "Bash(mytool:*)"], home=project.parent / "home")
    assert decide(policy, project, "Write", {"file_path": "a.txt", "content": "x"}, "plan") == "deny"
    assert (
        decide(policy, project, "Edit", {"file_path": "ok.txt", "old_string": "a", "new_string": "b"}, "plan") == "deny"
    )
    assert decide(policy, project, "Bash", {"command": "mytool a"}, "plan") == "allow"
    assert decide(policy, project, "Bash", {"command": "ls"}, "plan") == "allow"
    assert decide(policy, project, "Bash", {"command": "touch t"}, "plan") == "ask"
    written = RulePolicy(default="allow", allow=["Write"])
    assert decide(written, project, "Write", {"file_path": "a.txt", "content": "x"}, "plan") == "deny"


def test_dont_ask_still_runs_reads_and_read_only_commands(project: Path) -> None:
    policy = cli(project)
    assert decide(policy, project, "Bash", {"command": "ls"}, "dontAsk") == "allow"
    assert decide(policy, project, "Read", {"file_path": "ok.txt"}, "dontAsk") == "allow"
    assert decide(policy, project, "Bash", {"command": "mytool a"}, "dontAsk") == "deny"
    assert decide(policy, project, "Read", {"file_path": "/etc/hostname"}, "dontAsk") == "deny"


def test_bypass_allows_everything_but_a_deny(project: Path) -> None:
    policy = claude_code_policy(project, disallowed_tools=["Bash(othertool:*)"], home=project.parent / "home")
    for tool, tool_input in (
        ("Write", {"file_path": ".git/config", "content": "x"}),
        ("Write", {"file_path": "/tmp/outside.txt", "content": "x"}),
        ("Bash", {"command": "mytool a"}),
    ):
        assert decide(policy, project, tool, tool_input, "bypassPermissions") == "allow"
    assert decide(policy, project, "Bash", {"command": "othertool b"}, "bypassPermissions") == "deny"
