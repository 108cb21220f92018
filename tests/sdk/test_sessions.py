"""The session functions on transcript files laid out as the CLI lays them out (no CLI needed)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from magistrate.sdk import (
    InMemorySessionStore,
    get_session_info,
    get_subagent_messages,
    import_session_to_store,
    list_sessions,
    list_subagents,
    list_subagents_from_store,
    project_key_for_directory,
    tag_session,
)


def transcript(path: Path, session: str, prompt: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    entries = [
        {"type": "user", "uuid": "u1", "parentUuid": None, "sessionId": session, "isSidechain": False,
         "message": {"role": "user", "content": prompt}, "gitBranch": "main"},
        {"type": "assistant", "uuid": "a1", "parentUuid": "u1", "sessionId": session, "isSidechain": False,
         "message": {"role": "assistant", "content": [{"type": "text", "text": "ok"}]}},
    ]  # fmt: skip
    path.write_text("".join(json.dumps(e) + "\n" for e in entries))


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "config"))
    return tmp_path / "config" / "projects"


def test_sessions_of_the_other_worktrees_are_listed_unless_asked_not_to(config: Path, tmp_path: Path) -> None:
    repo, other = tmp_path / "repo", tmp_path / "repo-feature"
    repo.mkdir()
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-C", str(repo)]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "start"], check=True)
    subprocess.run([*git, "worktree", "add", "-q", str(other)], check=True)
    transcript(config / project_key_for_directory(repo) / "s-main.jsonl", "s-main", "on main")
    transcript(config / project_key_for_directory(other) / "s-feature.jsonl", "s-feature", "on the feature")
    assert {s.session_id for s in list_sessions(repo)} == {"s-main", "s-feature"}
    assert {s.session_id for s in list_sessions(repo, include_worktrees=False)} == {"s-main"}
    assert len(list_sessions(limit=1)) == 1


@pytest.mark.anyio
async def test_subagents_tags_and_an_import_into_a_store(config: Path, tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    folder = config / project_key_for_directory(project)
    transcript(folder / "s1.jsonl", "s1", "review the code")
    transcript(folder / "s1" / "subagents" / "agent-r1.jsonl", "s1", "look at app.py")
    assert list_subagents("s1", project) == ["r1"]
    assert [m.type for m in get_subagent_messages("s1", "r1", project)] == ["user", "assistant"]
    tag_session("s1", "urgent", project)
    info = get_session_info("s1", project)
    assert info is not None
    assert (info.tag, info.git_branch, info.first_prompt) == ("urgent", "main", "review the code")
    store = InMemorySessionStore()
    await import_session_to_store("s1", store, directory=project, batch_size=1)
    assert await list_subagents_from_store(store, "s1", project) == ["r1"]
    with pytest.raises(ValueError, match="not a session id"):
        get_session_info("../etc/passwd", project)
