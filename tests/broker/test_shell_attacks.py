"""A corpus of ways around the rules, each class with variants, under two policies; none may get through.

The narrow policy allows only `git status` and `ls`: nothing else may be allowed. The wide one allows bare
`Bash`, `Read`, `Write`, `Edit`, `Grep` and `WebFetch` and denies `curl`, `rm`, reading `./secrets/**`,
writing `./locked/**` and fetching from evil.com: every attack must be denied. The controls are commands
people really run, which must stay allowed. The corpus (`shell_corpus.json`) is grown with every bypass
found; each entry names its class, and each class is built from how bash, the CLI and the tools behave.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest

from magistrate.broker import CallContext, RulePolicy, ToolCall
from magistrate.broker._bash import analyse
from magistrate.broker._paths import bounded_glob

_CORPUS: list[dict[str, Any]] = json.loads((Path(__file__).with_name("shell_corpus.json")).read_text())
_POLICIES = {
    "narrow": RulePolicy(default="ask", allow=["Bash(git status:*)", "Bash(ls:*)"]),
    "wide": RulePolicy(
        default="ask",
        allow=["Bash", "Read", "Write", "Edit", "Grep", "WebFetch"],
        deny=["Bash(curl:*)", "Bash(rm:*)", "Read(./secrets/**)", "Write(./locked/**)", "WebFetch(domain:evil.com)"],
    ),
}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project folder that is not the test process's own working directory (so `/proc/self` differs)."""
    cwd = tmp_path_factory.mktemp("attacks") / "proj"
    for folder in ("secrets", "locked", "sub", "src"):
        (cwd / folder).mkdir(parents=True)
    (cwd / "secrets" / "k").write_text("key")
    (cwd / "README.md").write_text("readme")
    (cwd / "curl").write_text("")  # a file a glob in the command's place could name
    assert Path.cwd() != cwd
    return cwd


def _decide(case: dict[str, Any], cwd: Path) -> str:
    tool_input = json.loads(json.dumps(case["input"]).replace("$CWD", str(cwd)))
    context = CallContext(cwd=str(cwd))
    decision = anyio.run(_POLICIES[case["policy"]].decide, ToolCall(case["tool"], tool_input), context)
    return decision.behavior


@pytest.mark.parametrize("kind", sorted({c["class"] for c in _CORPUS}))
def test_no_attack_of_a_class_gets_through(kind: str, project: Path) -> None:
    failed: list[str] = []
    for case in (c for c in _CORPUS if c["class"] == kind):
        behavior = _decide(case, project)
        expect = case["expect"]
        ok = {
            "deny": behavior == "deny",
            "not_allow": behavior != "allow",
            "allow": behavior == "allow",
            "any": True,
        }[expect]
        if not ok:
            failed.append(f"{case['policy']} {case['tool']} {json.dumps(case['input'])}: {behavior}, not {expect}")
    assert not failed, "\n".join(failed)


def test_the_corpus_covers_every_class_the_rules_must_close() -> None:
    classes = {c["class"] for c in _CORPUS}
    expected = {"heredoc", "evaluated-subscript", "depth", "brace", "keyword", "stdin-shell", "computed", "wrapper"}
    expected |= {"glob-command", "path-read", "path-write", "path-tool", "url", "bounded", "control"}
    assert expected <= classes
    assert sum(c["class"] == "control" for c in _CORPUS) >= 30


def test_a_glob_that_reaches_too_far_is_not_walked(tmp_path: Path) -> None:
    """Counted in directory entries, not seconds: the walk stops at its budget and the caller refuses."""
    for i in range(30):
        (tmp_path / f"d{i}" / "e").mkdir(parents=True)
    assert bounded_glob(f"{tmp_path}/*/*/x", max_entries=20) is None
    found = bounded_glob(f"{tmp_path}/d1/*")
    assert found == [f"{tmp_path}/d1/e"]
    assert bounded_glob(f"{tmp_path}/nothing*/x") == []


def test_hidden_lines_say_why() -> None:
    for line, word in [
        ("echo curl | bash", "stdin"),
        ("case x in a) b;; esac", "case"),
        ("f() { :; }", "function"),
        ("echo " + "$(" * 20 + "x" + ")" * 20, "nesting"),
        ("${x:-curl} y", "computes"),
        ("watch -n 1 'a'; at now", "at"),
    ]:
        hidden = analyse(line).hidden
        assert hidden is not None, line
        assert word in hidden, (line, hidden)


def test_the_broker_process_folder_is_not_the_calls(project: Path) -> None:
    """`/proc/self/cwd` is the tool's folder, the call's cwd; the broker's own folder holds no secrets here."""
    assert Path.cwd() != project
    case = {"policy": "wide", "tool": "Read", "input": {"file_path": "/proc/self/cwd/secrets/k"}}
    assert _decide(case, project) == "deny"
    case = {"policy": "wide", "tool": "Read", "input": {"file_path": "/proc/self/cwd/README.md"}}
    assert _decide(case, project) == "allow"


def test_reading_wrappers_is_bounded_per_command() -> None:
    """Guessing through unknown options tries each suffix once; past the step budget the line is refused."""
    assert ("curl",) in analyse("strace --x " * 40 + "curl").deny_forms
    assert analyse("strace --x " * 300 + "curl").hidden is not None
    assert analyse("a && " * 3000 + "b").hidden is None  # many plain commands are no harder to read


def test_a_line_with_many_globs_walks_only_a_few(project: Path) -> None:
    line = "cat " + " ".join(f"/*/*/*/nothing{i}" for i in range(40))
    case = {"policy": "wide", "tool": "Bash", "input": {"command": line}}
    assert _decide(case, project) == "deny"
