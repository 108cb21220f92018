"""The session functions over a `SessionStore` instead of the CLI's files, and moving a session into one.

A store holds the same entries the files do, so each function here is its file counterpart reading through
`store.load` (and `list_sessions` / `list_session_summaries` / `list_subkeys` / `delete` where the store has
them: a store without the method a function needs gets a `NotImplementedError` naming it).
"""

import os
import time
import uuid as uuidlib
from pathlib import Path
from typing import Any

from magistrate.sdk._session_store import SessionKey, SessionStore, SessionSummaryEntry
from magistrate.sdk._sessions import ForkSessionResult, forked_entries, tag_entry, title_entry
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

Directory = str | os.PathLike[str] | None
_SUBAGENT = "subagents/agent-"


def _key(session_id: str, directory: Directory, subpath: str | None = None) -> SessionKey:
    key: SessionKey = {"project_key": project_key_for_directory(directory), "session_id": session_id}
    if subpath:
        key["subpath"] = subpath
    return key


def _has(store: SessionStore, method: str) -> bool:
    return callable(getattr(store, method, None))


async def _entries(store: SessionStore, key: SessionKey) -> list[dict[str, Any]]:
    return [dict(e) for e in (await store.load(key) or [])]


def _from_summary(summary: SessionSummaryEntry) -> SDKSessionInfo | None:
    data = summary["data"]
    entries: list[dict[str, Any]] = []
    if data.get("custom_title"):
        entries.append({"type": "custom-title", "customTitle": data["custom_title"]})
    elif data.get("ai_title"):
        entries.append({"type": "ai-title", "aiTitle": data["ai_title"]})
    if data.get("summary"):
        entries.append({"type": "summary", "summary": data["summary"]})
    if data.get("tag"):
        entries.append({"type": "tag", "tag": data["tag"]})
    facts = {k: data.get(v) for k, v in (("gitBranch", "git_branch"), ("cwd", "cwd"), ("timestamp", "first_timestamp"))}
    entries.insert(0, {**{k: v for k, v in facts.items() if v}})
    if data.get("first_prompt"):
        entries.append({"type": "user", "message": {"role": "user", "content": data["first_prompt"]}})
    return session_info(summary["session_id"], entries, summary["mtime"], None)


async def list_sessions_from_store(
    session_store: SessionStore, directory: Directory = None, limit: int | None = None, offset: int = 0
) -> list[SDKSessionInfo]:
    project = project_key_for_directory(directory)
    infos: list[SDKSessionInfo] = []
    if _has(session_store, "list_session_summaries"):
        try:
            summaries = await session_store.list_session_summaries(project)
            infos = [info for s in summaries if (info := _from_summary(s))]
        except NotImplementedError:
            summaries = None
        if summaries is not None:
            infos.sort(key=lambda info: info.last_modified, reverse=True)
            return page(infos, limit, offset)
    if not _has(session_store, "list_sessions"):
        raise NotImplementedError("the session store has no list_sessions")
    for listed in await session_store.list_sessions(project):
        entries = await _entries(session_store, _key(listed["session_id"], directory))
        if info := session_info(listed["session_id"], entries, listed["mtime"], None):
            infos.append(info)
    infos.sort(key=lambda info: info.last_modified, reverse=True)
    return page(infos, limit, offset)


async def get_session_info_from_store(
    session_store: SessionStore, session_id: str, directory: Directory = None
) -> SDKSessionInfo | None:
    entries = await _entries(session_store, _key(session_id, directory))
    return session_info(session_id, entries, int(time.time() * 1000), None) if entries else None


async def get_session_messages_from_store(
    session_store: SessionStore,
    session_id: str,
    directory: Directory = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[SessionMessage]:
    entries = await _entries(session_store, _key(session_id, directory))
    return page(conversation(entries, session_id), limit, offset)


async def list_subagents_from_store(
    session_store: SessionStore, session_id: str, directory: Directory = None
) -> list[str]:
    if not _has(session_store, "list_subkeys"):
        raise NotImplementedError("the session store has no list_subkeys")
    key = _key(session_id, directory)
    subkeys = await session_store.list_subkeys({"project_key": key["project_key"], "session_id": session_id})
    return [sub.rsplit("/", 1)[-1][len("agent-") :] for sub in subkeys if sub.rsplit("/", 1)[-1].startswith("agent-")]


async def get_subagent_messages_from_store(  # noqa: PLR0917 - the official signature
    session_store: SessionStore,
    session_id: str,
    agent_id: str,
    directory: Directory = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[SessionMessage]:
    entries = await _entries(session_store, _key(session_id, directory, f"{_SUBAGENT}{agent_id}"))
    return page(conversation(entries, session_id, subagent=True), limit, offset)


async def rename_session_via_store(
    session_store: SessionStore, session_id: str, title: str, directory: Directory = None
) -> None:
    await session_store.append(_key(session_id, directory), [title_entry(session_id, title)])  # type: ignore[list-item]


async def tag_session_via_store(
    session_store: SessionStore, session_id: str, tag: str | None, directory: Directory = None
) -> None:
    await session_store.append(_key(session_id, directory), [tag_entry(session_id, tag)])  # type: ignore[list-item]


async def delete_session_via_store(session_store: SessionStore, session_id: str, directory: Directory = None) -> None:
    if not _has(session_store, "delete"):
        raise NotImplementedError("the session store has no delete")
    await session_store.delete(_key(session_id, directory))


async def fork_session_via_store(
    session_store: SessionStore,
    session_id: str,
    directory: Directory = None,
    up_to_message_id: str | None = None,
    title: str | None = None,
) -> ForkSessionResult:
    entries = await _entries(session_store, _key(session_id, directory))
    if not entries:
        raise FileNotFoundError(f"no session {session_id!r} in the store")
    new_id = str(uuidlib.uuid4())
    copied = forked_entries(entries, new_id, up_to_message_id, title)
    await session_store.append(_key(new_id, directory), copied)  # type: ignore[arg-type]
    return ForkSessionResult(session_id=new_id)


async def import_session_to_store(
    session_id: str,
    store: SessionStore,
    *,
    directory: Directory = None,
    include_subagents: bool = True,
    batch_size: int = 500,
) -> None:
    """Copy a session's transcript (and its sub-agents') from the CLI's files into `store`, in batches."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    root = projects_dir()
    key_dir = root / project_key_for_directory(directory) if directory is not None else None
    path = key_dir / f"{session_id}.jsonl" if key_dir else next(iter(sorted(root.glob(f"*/{session_id}.jsonl"))), None)
    if path is None or not path.is_file():
        raise FileNotFoundError(f"no session {session_id!r} to import")
    project = path.parent.name
    files: list[tuple[str | None, Path]] = [(None, path)]
    if include_subagents and path.with_suffix("").is_dir():
        folder = path.with_suffix("")
        files += [(str(f.relative_to(folder).with_suffix("")), f) for f in sorted(folder.rglob("agent-*.jsonl"))]
    for subpath, file in files:
        key: SessionKey = {"project_key": project, "session_id": session_id}
        if subpath:
            key["subpath"] = subpath
        entries = read_entries(file)
        for start in range(0, len(entries), batch_size):
            await store.append(key, entries[start : start + batch_size])  # type: ignore[arg-type]
