"""The session functions on the CLI's own transcript files: list, read, rename, tag, delete and fork.

Sessions are found under the project key of `directory` (the current directory when None); `list_sessions`
without a directory lists every project. Renaming and tagging append an entry, as the CLI does, so the CLI
and these functions agree on a session's title; forking writes a new transcript with new ids.
"""

import json
import os
import shutil
import uuid as uuidlib
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from magistrate.sdk._transcripts import (
    SDKSessionInfo,
    SessionMessage,
    conversation,
    page,
    project_key_for_directory,
    projects_dir,
    read_entries,
    session_info,
)


@dataclass
class ForkSessionResult:
    """The new session a fork made."""

    session_id: str


Directory = str | os.PathLike[str] | None


def _session_file(session_id: str, directory: Directory) -> Path | None:
    if not session_id or "/" in session_id or session_id.startswith("."):
        raise ValueError(f"{session_id!r} is not a session id")
    if directory is not None:
        candidate = projects_dir() / project_key_for_directory(directory) / f"{session_id}.jsonl"
        return candidate if candidate.is_file() else None
    root = projects_dir()
    found = sorted(root.glob(f"*/{session_id}.jsonl")) if root.is_dir() else []
    return found[0] if found else None


def _info_of(path: Path) -> SDKSessionInfo | None:
    stat = path.stat()
    return session_info(path.stem, read_entries(path), int(stat.st_mtime * 1000), stat.st_size)


def list_sessions(
    directory: Directory = None, limit: int | None = None, offset: int = 0, include_worktrees: bool = True
) -> list[SDKSessionInfo]:
    """Sessions, most recently changed first: of `directory`'s project (with the other git worktrees of its
    repository when `include_worktrees`), or of every project when None."""
    root = projects_dir()
    if directory is not None:
        places = [os.fspath(directory), *(_worktrees(directory) if include_worktrees else [])]
        folders = sorted({root / project_key_for_directory(place) for place in places})
    else:
        folders = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    found = [info for folder in folders if folder.is_dir() for f in folder.glob("*.jsonl") if (info := _info_of(f))]
    infos = list({info.session_id: info for info in sorted(found, key=lambda i: i.last_modified)}.values())
    infos.sort(key=lambda info: info.last_modified, reverse=True)
    return page(infos, limit, offset)


def _worktrees(directory: str | os.PathLike[str]) -> list[str]:
    """The folders of the git worktrees of `directory`'s repository; none when it is not in one."""
    import subprocess

    try:
        done = subprocess.run(
            ["git", "-C", os.fspath(directory), "worktree", "list", "--porcelain"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    if done.returncode != 0:
        return []
    return [line[len("worktree ") :] for line in done.stdout.splitlines() if line.startswith("worktree ")]


def get_session_info(session_id: str, directory: Directory = None) -> SDKSessionInfo | None:
    path = _session_file(session_id, directory)
    return None if path is None else _info_of(path)


def get_session_messages(
    session_id: str, directory: Directory = None, limit: int | None = None, offset: int = 0
) -> list[SessionMessage]:
    """The session's conversation, oldest first; empty when there is no such session."""
    path = _session_file(session_id, directory)
    return [] if path is None else page(conversation(read_entries(path), session_id), limit, offset)


def _subagent_files(session_id: str, directory: Directory) -> dict[str, Path]:
    path = _session_file(session_id, directory)
    if path is None:
        return {}
    folder = path.with_suffix("") / "subagents"
    files = sorted(folder.rglob("agent-*.jsonl")) if folder.is_dir() else []
    return {f.stem[len("agent-") :]: f for f in files}


def list_subagents(session_id: str, directory: Directory = None) -> list[str]:
    """The ids of the sub-agents the session ran."""
    return list(_subagent_files(session_id, directory))


def get_subagent_messages(
    session_id: str, agent_id: str, directory: Directory = None, limit: int | None = None, offset: int = 0
) -> list[SessionMessage]:
    path = _subagent_files(session_id, directory).get(agent_id)
    if path is None:
        return []
    return page(conversation(read_entries(path), session_id, subagent=True), limit, offset)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _require(session_id: str, directory: Directory) -> Path:
    path = _session_file(session_id, directory)
    if path is None:
        raise FileNotFoundError(f"no session {session_id!r}" + (f" in {directory}" if directory else ""))
    return path


def _append(path: Path, entry: dict[str, Any]) -> None:
    with path.open("a", encoding="utf-8") as out:
        out.write(json.dumps(entry, separators=(",", ":")) + "\n")


def title_entry(session_id: str, title: str) -> dict[str, Any]:
    title = title.strip()
    if not title:
        raise ValueError("a session title cannot be empty")
    return {"type": "custom-title", "customTitle": title, "sessionId": session_id, "timestamp": _now()}


def tag_entry(session_id: str, tag: str | None) -> dict[str, Any]:
    return {"type": "tag", "tag": (tag or "").strip(), "sessionId": session_id, "timestamp": _now()}


def rename_session(session_id: str, title: str, directory: Directory = None) -> None:
    """Give the session a title, shown by `list_sessions` and the CLI's resume picker."""
    _append(_require(session_id, directory), title_entry(session_id, title))


def tag_session(session_id: str, tag: str | None, directory: Directory = None) -> None:
    """Tag the session; None (or "") clears its tag."""
    _append(_require(session_id, directory), tag_entry(session_id, tag))


def delete_session(session_id: str, directory: Directory = None) -> None:
    """Delete the transcript and its sub-agents' transcripts."""
    path = _require(session_id, directory)
    path.unlink()
    shutil.rmtree(path.with_suffix(""), ignore_errors=True)


def forked_entries(
    entries: list[dict[str, Any]], new_id: str, up_to_message_id: str | None, title: str | None
) -> list[dict[str, Any]]:
    """A copy of the entries for a new session: cut after `up_to_message_id`, every uuid new, links kept."""
    if up_to_message_id is not None:
        cut = next((i for i, e in enumerate(entries) if e.get("uuid") == up_to_message_id), None)
        if cut is None:
            raise ValueError(f"no message {up_to_message_id!r} in the session")
        entries = entries[: cut + 1]
    renamed: dict[str, str] = {}
    out: list[dict[str, Any]] = []
    for entry in entries:
        if not isinstance(entry.get("uuid"), str):
            continue  # bookkeeping of the old session (queue, requests, costs) stays with it
        copy = {**entry, "sessionId": new_id}
        copy["uuid"] = renamed.setdefault(entry["uuid"], str(uuidlib.uuid4()))
        parent = entry.get("parentUuid")
        if isinstance(parent, str):
            copy["parentUuid"] = renamed.setdefault(parent, str(uuidlib.uuid4()))
        out.append(copy)
    if title:
        out.append(title_entry(new_id, title))
    return out


def fork_session(
    session_id: str, directory: Directory = None, up_to_message_id: str | None = None, title: str | None = None
) -> ForkSessionResult:
    """A new session with this one's conversation (up to `up_to_message_id`), to resume on its own."""
    path = _require(session_id, directory)
    new_id = str(uuidlib.uuid4())
    lines = forked_entries(read_entries(path), new_id, up_to_message_id, title)
    (path.parent / f"{new_id}.jsonl").write_text("".join(json.dumps(e) + "\n" for e in lines), encoding="utf-8")
    return ForkSessionResult(session_id=new_id)
