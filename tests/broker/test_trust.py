"""Workspace trust: a project's own settings widen nothing until the user trusted the folder, as in the CLI."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import anyio
import pytest

from magistrate.broker import CallContext, ToolCall, claude_code_policy
from magistrate.broker._trust import tracked_by_git, workspace_trusted

SETTINGS = {
    "permissions": {
        "allow": ["Bash(mytool:*)"],
        "deny": ["Bash(othertool:*)"],
        "ask": ["Bash(thirdtool:*)"],
        "additionalDirectories": ["../other"],
    }
}


def decide(project: Path, home: Path, command_or_read: str, mode: str = "default") -> str:
    tool, tool_input = (
        ("Read", {"file_path": command_or_read[5:]})
        if command_or_read.startswith("read ")
        else ("Bash", {"command": command_or_read})
    )
    policy = claude_code_policy(project, home=home)
    context = CallContext(cwd=str(project), permission_mode=mode)  # type: ignore[arg-type]
    return anyio.run(policy.decide, ToolCall(tool, tool_input), context).behavior


def trust(home: Path, project: Path, accepted: Any = True) -> None:
    (home / ".claude.json").write_text(json.dumps({"projects": {str(project): {"hasTrustDialogAccepted": accepted}}}))


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    home, project = tmp_path / "home", tmp_path / "proj"
    (project / ".claude").mkdir(parents=True)
    home.mkdir()
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "x.txt").write_text("a\n")
    return project, home


def test_an_untrusted_project_keeps_its_denies_and_asks_but_allows_nothing(dirs: tuple[Path, Path]) -> None:
    project, home = dirs
    (project / ".claude" / "settings.json").write_text(json.dumps(SETTINGS))
    other = str(project.parent / "other" / "x.txt")
    assert [decide(project, home, c) for c in ("mytool a", "othertool b", "thirdtool c", f"read {other}")] == [
        "ask",
        "deny",
        "ask",
        "ask",
    ]
    trust(home, project)
    assert [decide(project, home, c) for c in ("mytool a", "othertool b", "thirdtool c", f"read {other}")] == [
        "allow",
        "deny",
        "ask",
        "allow",
    ]


@pytest.mark.parametrize("record", [False, "yes", None])
def test_only_a_true_trust_record_for_the_folder_itself_counts(dirs: tuple[Path, Path], record: Any) -> None:
    project, home = dirs
    trust(home, project, record)
    assert not workspace_trusted(project, home)
    trust(home, project.parent)
    assert not workspace_trusted(project, home)
    (home / ".claude.json").write_text("{not json")
    assert not workspace_trusted(project, home)
    trust(home, home)
    assert not workspace_trusted(home, home)


def test_a_local_settings_file_counts_unless_git_tracks_it(dirs: tuple[Path, Path]) -> None:
    project, home = dirs
    (project / ".claude" / "settings.local.json").write_text(json.dumps({"permissions": {"allow": ["Bash(mytool:*)"]}}))
    assert decide(project, home, "mytool a") == "allow"  # not a git repository: the user's own file
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    git = ["git", "-c", "user.email=a@b", "-c", "user.name=a"]
    subprocess.run([*git, "init", "-q"], cwd=project, check=True)
    assert not tracked_by_git(project, ".claude/settings.local.json")
    assert decide(project, home, "mytool a") == "allow"
    subprocess.run([*git, "add", "-A"], cwd=project, check=True)
    subprocess.run([*git, "commit", "-qm", "x"], cwd=project, check=True)
    assert tracked_by_git(project, ".claude/settings.local.json")
    assert decide(project, home, "mytool a") == "ask"
    trust(home, project)
    assert decide(project, home, "mytool a") == "allow"


def test_a_project_never_sets_bypass_permissions_but_may_set_other_modes(dirs: tuple[Path, Path]) -> None:
    project, home = dirs
    trust(home, project)
    settings = project / ".claude" / "settings.json"
    settings.write_text(json.dumps({"permissions": {"defaultMode": "bypassPermissions"}}))
    assert decide(project, home, "mytool a") == "ask"
    settings.write_text(json.dumps({"permissions": {"defaultMode": "dontAsk"}}))
    assert decide(project, home, "mytool a") == "deny"
    (home / ".claude.json").unlink()
    assert decide(project, home, "mytool a") == "deny"  # untrusted, and still applied: it only narrows
    (home / ".claude").mkdir()
    (home / ".claude" / "settings.json").write_text(json.dumps({"permissions": {"defaultMode": "bypassPermissions"}}))
    settings.unlink()
    assert decide(project, home, "mytool a") == "allow"  # the user's own settings may
