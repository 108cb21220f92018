"""The rule semantics the CLI 2.1.330 has (tests/broker/test_cli_agreement.py observes each on the real CLI).

One-segment file patterns at any depth, a Read deny that also stops edits, tool-name globs in deny and ask,
compound Bash rules, `Bash(x :*)`, and the sensitive files no allow covers; with property tests where a family
of inputs fits.
"""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from magistrate.broker import CallContext, PermissionMode, PolicyLoadError, RulePolicy, ToolCall
from magistrate.broker._bash import analyse
from magistrate.broker._bash_wrappers import RUNS_UNSEEN, SHELLS, WRAPPERS


def behavior(policy: RulePolicy, tool: str, tool_input: dict[str, Any], mode: PermissionMode = "default") -> str:
    context = CallContext(cwd="/proj", permission_mode=mode)
    return anyio.run(policy.decide, ToolCall(tool, tool_input), context).behavior


def bash(policy: RulePolicy, command: str) -> str:
    return behavior(policy, "Bash", {"command": command})


def read(path: str) -> tuple[str, dict[str, Any]]:
    return "Read", {"file_path": path}


def edit(path: str) -> tuple[str, dict[str, Any]]:
    return "Edit", {"file_path": path, "old_string": "a", "new_string": "b"}


def write(path: str) -> tuple[str, dict[str, Any]]:
    return "Write", {"file_path": path, "content": "x"}


# -- one-segment file patterns -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "path", "denied"),
    [
        ("Read(./src/**)", "src/x.txt", True),
        ("Read(./src/**)", "a/src/x.txt", True),
        ("Read(./src/**)", "a/b/src/x.txt", True),
        ("Read(./src/**)", "x/src", True),
        ("Read(./src/**)", "a/srcx/y.txt", False),
        ("Read(./.env)", "a/b/.env", True),
        ("Read(./.env)", "a/b/.envrc", False),
        ("Read(./s10/)", "a/s10/x", True),
        ("Read(./*.key)", "a/b/id.key", True),
        ("Read(./s12*/**)", "a/s12z/x", True),
        # Anchored, as in the CLI: a leading `/`, two segments, or a glob below the folder.
        ("Read(/src/**)", "a/src/x", False),
        ("Read(./a4/s4/**)", "b/a4/s4/x", False),
        ("Read(./s5/*)", "a/s5/x", False),
        ("Read(./s5/*)", "s5/d/x", True),
        ("Read(./s11/**/*.txt)", "a/s11/x.txt", False),
    ],
)
def test_one_segment_deny_patterns_match_at_any_depth(rule: str, path: str, denied: bool) -> None:
    policy = RulePolicy(default="allow", deny=[rule])
    assert behavior(policy, *read(path)) == ("deny" if denied else "allow")


def test_one_segment_ask_patterns_match_at_any_depth_and_allows_stay_anchored() -> None:
    ask = RulePolicy(default="allow", ask=["Read(./src/**)"])
    assert behavior(ask, *read("a/src/x")) == "ask"
    allow = RulePolicy(default="deny", allow=["Edit(./src/**)"])
    assert behavior(allow, *edit("src/x")) == "allow"
    assert behavior(allow, *edit("a/src/x")) == "deny"


_SEGMENT = st.from_regex(r"[a-z][a-z0-9_]{0,7}", fullmatch=True).filter(lambda s: s not in {"src", "env"})


_FOLDER_DENY = RulePolicy(default="allow", deny=["Read(./src/**)", "Read(./.env)"], allow=["Bash", "Edit", "Read"])


@settings(max_examples=80, deadline=None)
@given(above=st.lists(_SEGMENT, max_size=6), below=st.lists(_SEGMENT, min_size=1, max_size=4))
def test_a_folder_deny_holds_at_every_depth_for_every_tool_that_reaches_it(above: list[str], below: list[str]) -> None:
    policy = _FOLDER_DENY
    target = "/".join([*above, "src", *below])
    env = "/".join([*above, ".env"])
    for tool, tool_input in (read(target), edit(target), write(target), read(env), write(env)):
        assert behavior(policy, tool, tool_input) == "deny", (tool, tool_input)
    for command in (f"cat {target}", f"head -1 {env}", f"ls {'/'.join([*above, 'src'])}"):
        assert bash(policy, command) == "deny", command
    near = "/".join([*above, "srcx", *below])
    assert behavior(policy, *read(near)) == "allow"
    assert behavior(policy, *edit(near)) == "allow"


# -- a Read deny covers editing ----------------------------------------------------------------------


def test_a_read_deny_also_denies_edits_and_an_edit_deny_covers_write() -> None:
    policy = RulePolicy(default="allow", deny=["Read(./src/**)", "Edit(./lk/**)"])
    assert behavior(policy, *edit("src/a.txt")) == "deny"
    assert behavior(policy, *write("a/src/new.txt")) == "deny"
    assert behavior(policy, "NotebookEdit", {"notebook_path": "/proj/src/n.ipynb", "new_source": ""}) == "deny"
    assert bash(policy, "echo x > a/src/y") == "deny"
    assert behavior(policy, *write("a/lk/n")) == "deny"
    assert bash(policy, "touch a/lk/t") == "deny"
    assert behavior(policy, *read("a/lk/x")) == "allow"
    assert bash(policy, "cat a/lk/x") == "allow"


def test_a_read_ask_asks_for_reading_only() -> None:
    policy = RulePolicy(default="allow", ask=["Read(./src/**)"])
    assert behavior(policy, *read("a/src/x")) == "ask"
    assert behavior(policy, *edit("a/src/x")) == "allow"


# -- tool-name globs ---------------------------------------------------------------------------------


def test_tool_name_globs_deny_by_prefix_and_case() -> None:
    policy = RulePolicy(default="allow", deny=["mcp__s*", "Bas*"])
    assert behavior(policy, "mcp__srv__echo", {"text": "a"}) == "deny"
    assert behavior(policy, "mcp__other__x", {}) == "allow"
    assert bash(policy, "ls") == "deny"
    assert behavior(policy, "BashOutput", {"bash_id": "1"}) == "deny"
    assert behavior(policy, *read("a")) == "allow"


def test_mcp_star_removes_every_mcp_tool_and_star_every_tool() -> None:
    mcp = RulePolicy(default="allow", deny=["mcp__*"])
    assert behavior(mcp, "mcp__a__b", {}) == "deny"
    assert bash(mcp, "ls") == "allow"
    everything = RulePolicy(default="allow", deny=["*"])
    assert bash(everything, "ls") == "deny"
    assert behavior(everything, "mcp__a__b", {}) == "deny"


def test_a_tool_glob_that_names_read_or_edit_covers_the_family() -> None:
    policy = RulePolicy(default="allow", deny=["Rea*"], ask=["Edi*"])
    assert behavior(policy, "Grep", {"pattern": "x"}) == "deny"
    assert behavior(policy, *write("a")) == "ask"


def test_tool_globs_ask_too() -> None:
    policy = RulePolicy(default="allow", ask=["Bas*", "mcp__*__echo"])
    assert bash(policy, "ls") == "ask"
    assert behavior(policy, "mcp__srv__echo", {"text": "a"}) == "ask"
    assert behavior(policy, "mcp__srv__secret", {}) == "allow"


@pytest.mark.parametrize(
    ("rule", "list_name", "reason"),
    [
        ("Bas*", "allow", "skips a tool-name glob in an allow"),
        ("mcp__s*", "allow", "skips a tool-name glob in an allow"),
        ("bas*", "deny", "capitalised"),
        ("Bas*(ls:*)", "deny", "no parentheses"),
        ("Ba$*", "ask", "not a tool-name glob"),
    ],
)
def test_tool_globs_the_cli_skips_are_refused(rule: str, list_name: str, reason: str) -> None:
    with pytest.raises(PolicyLoadError) as caught:
        RulePolicy(**{list_name: [rule]})  # type: ignore[arg-type]
    [problem] = caught.value.errors
    assert reason in problem.reason


# -- compound Bash rules -----------------------------------------------------------------------------


def test_a_compound_allow_allows_exactly_that_line() -> None:
    policy = RulePolicy(default="ask", allow=["Bash(touch a && mkdir b)", "Bash(make c || make d)", "Bash(x; y)"])
    assert bash(policy, "touch a && mkdir b") == "allow"
    assert bash(policy, "  touch a && mkdir b ") == "allow"
    assert bash(policy, "make c || make d") == "allow"
    assert bash(policy, "x; y") == "allow"
    for other in ("touch a", "mkdir b", "mkdir b && touch a", "touch a && mkdir b && rm c", "touch a || mkdir b"):
        assert bash(policy, other) == "ask", other


def test_a_compound_allow_still_yields_to_denies_and_sensitive_files() -> None:
    policy = RulePolicy(default="ask", allow=["Bash(touch .git/x && ls)", "Bash(touch a && ls)"], deny=["Bash(ls:*)"])
    assert bash(policy, "touch a && ls") == "deny"
    policy = RulePolicy(default="ask", allow=["Bash(touch .git/x && ls)"])
    assert bash(policy, "touch .git/x && ls") == "ask"


def test_a_compound_deny_matches_any_line_that_runs_all_its_commands() -> None:
    policy = RulePolicy(default="allow", deny=["Bash(mytool a && othertool b)", "Bash(p | q)"])
    lines = ("mytool a && othertool b", "mytool a&&othertool b", "othertool b && mytool a", "x; mytool a; othertool b")
    for line in lines:
        assert bash(policy, line) == "deny", line
    assert bash(policy, "p | q") == "deny"
    assert bash(policy, "mytool a") == "allow"
    assert bash(policy, "othertool b") == "allow"


_SHELL_WORDS = {"if", "then", "else", "elif", "fi", "do", "done", "while", "until", "for", "case", "esac", "in"}
_SHELL_WORDS |= {"select", "coproc", "function", "time"}
_PROGRAM_RUNNERS = RUNS_UNSEEN | SHELLS | set(WRAPPERS) | {"eval", "source", "exec", "env", "busybox", "npx", "find"}
"""Words that run another program: an allow never covers a line that starts with one."""
_WORD = st.from_regex(r"[a-z][a-z0-9]{0,5}", fullmatch=True).filter(
    lambda w: w not in _SHELL_WORDS and analyse(w).hidden is None and w not in _PROGRAM_RUNNERS
)
_OPERATOR = st.sampled_from([" && ", " || ", "; "])


@settings(max_examples=100, deadline=None)
@given(parts=st.lists(st.lists(_WORD, min_size=1, max_size=3), min_size=2, max_size=4), joins=st.data())
def test_a_compound_allow_covers_its_own_line_and_nothing_else(parts: list[list[str]], joins: st.DataObject) -> None:
    ops = [joins.draw(_OPERATOR) for _ in parts[1:]]
    commands = [" ".join(words) for words in parts]

    def joined(order: list[str]) -> str:
        return order[0] + "".join(op + command for op, command in zip(ops, order[1:], strict=True))

    line = joined(commands)
    policy = RulePolicy(default="ask", allow=[f"Bash({line})"])
    assert bash(policy, line) == "allow"
    assert bash(policy, commands[0]) == "ask"
    assert bash(policy, f"{line} && extra") == "ask"
    swapped = joined(commands[::-1])
    assert bash(policy, swapped) == ("allow" if swapped == line else "ask")


# -- `Bash(x :*)` ------------------------------------------------------------------------------------


def test_a_space_before_the_prefix_star_allows_nothing_and_warns() -> None:
    policy = RulePolicy(default="ask", allow=["Bash(touch :*)"])
    for command in ("touch m1", "touch", "touch :x"):
        assert bash(policy, command) == "ask", command
    [warning] = policy.warnings
    assert warning.rule == "Bash(touch :*)"
    assert "matches nothing" in warning.reason


def test_a_space_before_the_prefix_star_in_a_deny_fails_closed_and_warns() -> None:
    policy = RulePolicy(default="allow", deny=["Bash(othertool :*)"])
    assert bash(policy, "othertool a") == "deny"
    assert bash(policy, "othertoolx") == "allow"
    assert [w.list for w in policy.warnings] == ["deny"]


# -- sensitive files ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", [".claude/x.json", ".git/config", ".bashrc", "sub/.vscode/s.json", ".GIT/y", ".config/git/x", "a/.npmrc"]
)
def test_no_allow_rule_covers_writing_a_sensitive_file(path: str) -> None:
    policy = RulePolicy(default="ask", allow=["Edit", "Write", "Bash", "Read", "Edit(./.claude/**)"])
    assert behavior(policy, *write(path)) == "ask"
    assert behavior(policy, *edit(path)) == "ask"
    assert bash(policy, f"touch {path}") == "ask"
    assert bash(policy, f"mytool > {path}") == "ask"
    assert behavior(policy, *read(path)) == "allow"  # only writing is sensitive
    assert behavior(policy, *write("plain.txt")) == "allow"
    assert behavior(policy, *write(path), mode="bypassPermissions") == "ask"  # a written policy never widens
