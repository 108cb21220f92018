"""File rules: anchors, any-depth patterns, the deny/allow asymmetry, case, `..`, symlinks, and Bash gating."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from magistrate.broker import CallContext, RulePolicy, ToolCall, load_policy
from magistrate.broker._interfaces import Policy
from magistrate.broker._paths import compile_path


def behavior(policy: Policy, tool: str, tool_input: dict[str, Any], cwd: Path | str = "/proj") -> str:
    decision = anyio.run(policy.decide, ToolCall(tool, tool_input), CallContext(cwd=str(cwd)))
    return decision.behavior


def read(policy: Policy, path: str, cwd: Path | str = "/proj") -> str:
    return behavior(policy, "Read", {"file_path": path}, cwd)


@pytest.mark.parametrize(
    ("spec", "deny_side", "path", "expected"),
    [
        (".env", True, "/proj/.env", True),
        (".env", True, "/proj/a/b/.env", True),
        (".env", True, "/elsewhere/.env", True),
        (".env", False, "/proj/a/.env", True),
        (".env", False, "/elsewhere/.env", False),
        ("*.key", True, "/proj/x/ID.KEY", True),
        ("./src/**", False, "/proj/src/a/b.py", True),
        ("./src/**", False, "/proj/srcx/a.py", False),
        ("src/**", False, "/proj/src/a.py", True),
        ("src/**", False, "/proj/lib/src/a.py", False),
        ("src/**", True, "/proj/lib/src/a.py", True),
        ("a/src/**", True, "/proj/b/a/src/x", False),
        ("//etc/**", True, "/etc/passwd", True),
        ("~/.ssh/**", True, "/home/u/.ssh/id_rsa", True),
        ("/config/*.json", False, "/root/config/a.json", True),
        ("/config/*.json", False, "/proj/config/a.json", False),
        ("src/*.py", False, "/proj/src/a/b.py", False),
        ("src/**/*.py", False, "/proj/src/a/b.py", True),
        ("secrets", True, "/proj/secrets/deep/file", True),
    ],
)
def test_pattern_anchors(spec: str, deny_side: bool, path: str, expected: bool) -> None:
    pattern = compile_path(spec, deny_side=deny_side, source_root="/root", home="/home/u")
    assert pattern.matches(path, "/proj") is expected


def test_deny_matches_case_insensitively_and_after_dot_dot() -> None:
    policy = RulePolicy(default="allow", deny=["Read(.env)", "Read(./secrets/**)"])
    assert read(policy, "/proj/SUB/.ENV") == "deny"
    assert read(policy, "sub/../.env") == "deny"
    assert read(policy, "/proj/x/../secrets/k") == "deny"
    assert read(policy, "/proj/public/readme") == "allow"


def test_a_symlink_to_a_denied_file_is_denied_and_never_allowed(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("SECRET=1")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "link.txt").symlink_to(tmp_path / ".env")
    (tmp_path / "src" / "escape.txt").symlink_to("/etc/hostname")
    deny = RulePolicy(default="allow", deny=["Read(.env)"])
    assert read(deny, "src/link.txt", tmp_path) == "deny"
    allow = RulePolicy(default="deny", allow=["Read(./src/**)"])
    assert read(allow, "src/escape.txt", tmp_path) == "deny"


def test_edit_rules_cover_every_editing_tool() -> None:
    policy = RulePolicy(allow=["Edit(./src/**)"])
    assert behavior(policy, "Edit", {"file_path": "src/a", "old_string": "a", "new_string": "b"}) == "allow"
    assert behavior(policy, "Write", {"file_path": "src/b", "content": ""}) == "allow"
    assert behavior(policy, "NotebookEdit", {"notebook_path": "/proj/src/n.ipynb", "new_source": ""}) == "allow"
    assert behavior(policy, "Write", {"file_path": "other", "content": ""}) == "deny"


@pytest.mark.parametrize(
    "command",
    ["cat .env", "head -1 sub/.env", "cp .env /tmp/x", "grep x < .env", "cat $HOME/.ssh/id_rsa", "cat ~/.ssh/id_rsa"],
)
def test_read_denies_gate_the_files_bash_reads(command: str) -> None:
    policy = RulePolicy(default="allow", deny=["Read(.env)", "Read(~/.ssh/**)"], home="/home/u")
    assert behavior(policy, "Bash", {"command": command}) == "deny"


def test_read_denies_see_through_shell_globs(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("x")
    policy = RulePolicy(default="allow", deny=["Read(.env)"])
    assert behavior(policy, "Bash", {"command": "cat .e*"}, tmp_path) == "deny"
    assert behavior(policy, "Bash", {"command": "cat *.txt"}, tmp_path) == "allow"


@pytest.mark.parametrize("command", ["echo x > .git/config", "touch .git/hooks/x", "rm -rf .git", "tee .git/x"])
def test_edit_denies_gate_the_files_bash_writes(command: str) -> None:
    policy = RulePolicy(default="allow", deny=["Edit(.git/**)"])
    assert behavior(policy, "Bash", {"command": command}) == "deny"
    assert behavior(policy, "Bash", {"command": "cat .git/config"}) == "allow"


def test_bash_allow_does_not_cover_writes_outside_the_working_directories() -> None:
    policy = RulePolicy(allow=["Bash(touch:*)", "Bash(cp:*)"], additional_directories=["/shared"])
    assert behavior(policy, "Bash", {"command": "touch a.txt"}) == "allow"
    assert behavior(policy, "Bash", {"command": "touch /shared/a.txt"}) == "allow"
    assert behavior(policy, "Bash", {"command": "touch /etc/a.txt"}) == "deny"
    assert behavior(policy, "Bash", {"command": "cp a.txt ../outside.txt"}) == "deny"


def test_slash_rules_are_relative_to_their_settings_file(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / ".claude").mkdir(parents=True)
    settings = {"permissions": {"deny": ["Read(/config/secret.json)"]}}
    (project / ".claude" / "settings.json").write_text(json.dumps(settings))
    loose = tmp_path / "elsewhere" / "settings.json"
    loose.parent.mkdir()
    loose.write_text(json.dumps(settings))
    in_project = load_policy(project / ".claude" / "settings.json")
    assert read(in_project, str(project / "config" / "secret.json"), project) == "deny"
    by_path = load_policy(loose)
    assert read(by_path, str(tmp_path / "elsewhere" / "config" / "secret.json"), project) == "deny"
    assert read(by_path, str(project / "config" / "secret.json"), project) == "allow"


def test_a_symlink_made_after_a_first_decision_still_counts(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("SECRET=1")
    policy = RulePolicy(default="allow", deny=["Read(.env)"])
    assert read(policy, "notes.txt", tmp_path) == "allow"
    (tmp_path / "notes.txt").symlink_to(tmp_path / ".env")
    assert read(policy, "notes.txt", tmp_path) == "deny"


def test_a_working_directory_behind_a_symlink_keeps_its_allows(tmp_path: Path) -> None:
    (tmp_path / "real" / "src").mkdir(parents=True)
    (tmp_path / "real" / "src" / "a.py").write_text("x")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    policy = RulePolicy(allow=["Read(./src/**)"])
    assert read(policy, "src/a.py", tmp_path / "link") == "allow"


def test_searches_are_judged_by_where_they_start_and_what_they_look_for() -> None:
    deny = RulePolicy(default="allow", deny=["Read(.env)", "Read(./secrets/**)"])
    assert behavior(deny, "Grep", {"pattern": "KEY", "glob": "**/.env"}) == "deny"
    assert behavior(deny, "Glob", {"pattern": "secrets/*.txt"}) == "deny"
    assert behavior(deny, "Grep", {"pattern": "x", "path": "/proj/secrets"}) == "deny"
    assert behavior(deny, "Grep", {"pattern": "x", "glob": "*.py"}) == "allow"
    allow = RulePolicy(allow=["Read(./src/**)"])
    assert behavior(allow, "Glob", {"pattern": "**/*.py", "path": "/proj/src"}) == "allow"
    assert behavior(allow, "Glob", {"pattern": "../**/*.py", "path": "/proj/src"}) == "deny"
    assert behavior(allow, "Glob", {"pattern": "src/**/*.py"}) == "allow"
    assert behavior(allow, "Glob", {"pattern": "**/*.py"}) == "deny"


@pytest.mark.parametrize(
    "command", ["cd ~/.ssh && cat id_rsa", "cd /home/u; cat .ssh/id_rsa", "pushd ~/.ssh >/dev/null; head id_rsa"]
)
def test_relative_paths_after_cd_are_resolved_against_the_new_folder(command: str) -> None:
    policy = RulePolicy(default="allow", deny=["Read(~/.ssh/**)"], home="/home/u")
    assert behavior(policy, "Bash", {"command": command}) == "deny"


def test_an_allowed_line_that_moves_elsewhere_may_not_write_there() -> None:
    policy = RulePolicy(allow=["Bash(cd:*)", "Bash(touch:*)"])
    assert behavior(policy, "Bash", {"command": "cd sub && touch a"}) == "allow"
    assert behavior(policy, "Bash", {"command": "cd /etc && touch a"}) == "deny"


# -- paths as the tool reads them ------------------------------------------------------------------


def test_proc_self_and_tilde_forms_resolve_for_the_calls_folder(tmp_path: Path) -> None:
    from magistrate.broker._paths import resolve, unknowable

    cwd = str(tmp_path)
    assert resolve("/proc/self/cwd/secrets/k", cwd, "/home/u") == (f"{cwd}/secrets/k",)
    assert resolve("/proc/thread-self/cwd", cwd, "/home/u") == (cwd,)
    assert resolve("~+/a", cwd, "/home/u") == (f"{cwd}/a",)
    assert resolve("/proc/self/root/etc/hosts", cwd, "/home/u")[0] == "/etc/hosts"
    assert resolve("~root/x", cwd, "/home/u")[0].endswith("/x")
    assert resolve("~nosuchuser-z/x", cwd, "/home/u")[0] == f"{cwd}/~nosuchuser-z/x"
    for path in ("~-/x", "/proc/1/cwd/x", "/proc/self/fd/3", "/dev/fd/0", "/proc/42/root"):
        assert unknowable(path), path
    for path in ("/proc/self/status", "~/x", "~+/x", "/dev/null"):
        assert not unknowable(path), path


_SEGMENT_CHOICES = st.sampled_from(["a", "b", "c", "l", "m", "..", ".", "", "x"])


@settings(max_examples=150, deadline=None)
@given(segments=st.lists(_SEGMENT_CHOICES, min_size=1, max_size=7), absolute=st.booleans())
def test_the_file_the_kernel_opens_is_among_the_spellings_judged(segments: list[str], absolute: bool) -> None:
    """`l/..` is resolved through the link, as the kernel does, not by dropping a segment."""
    from magistrate.broker._paths import resolve

    root = _TREE
    path = "/".join(segments).lstrip("/") or "."
    word = f"{root}/{path}" if absolute else path
    spellings = resolve(word, str(root), "/home/u")
    kernel = os.path.realpath(f"{root}/{path}")
    assert kernel in spellings, (word, spellings, kernel)


def _tree() -> Path:
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="magistrate-paths-"))
    (root / "a" / "b" / "c").mkdir(parents=True)
    (root / "x").mkdir()
    (root / "l").symlink_to(root / "a" / "b")
    (root / "m").symlink_to(root / "a" / "b" / "c" / "..")
    return Path(os.path.realpath(root))


_TREE = _tree()
