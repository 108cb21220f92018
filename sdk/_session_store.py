"""The session-store protocol: where a run's transcript is mirrored besides the CLI's own files.

A store keeps transcript entries (the CLI's JSONL lines, as opaque dicts) by `SessionKey`. Only `append` and
`load` are required; the other methods may be left out, and callers check for them before use. The
`InMemorySessionStore` is the reference store, for tests and for short-lived programs.
"""

import time
from typing import Any, NoReturn, Protocol

from typing_extensions import NotRequired, Required, TypedDict


class SessionKey(TypedDict):
    """A session's transcript (no `subpath`) or one of its sub-agents' (`subpath="subagents/agent-<id>"`)."""

    project_key: str
    session_id: str
    subpath: NotRequired[str]


class SessionListSubkeysKey(TypedDict):
    """The key `list_subkeys` takes: a session, without a subpath."""

    project_key: str
    session_id: str


class SessionStoreEntry(TypedDict, total=False):
    """One transcript line; stores pass the fields they do not know through unchanged."""

    type: Required[str]
    uuid: str
    timestamp: str


class SessionStoreListEntry(TypedDict):
    session_id: str
    mtime: int
    """Last change, in Unix epoch milliseconds."""


class SessionSummaryEntry(TypedDict):
    """A session's summary as `fold_session_summary` keeps it; `data` is opaque to the store."""

    session_id: str
    mtime: int
    data: dict[str, Any]


def _absent(store: object, method: str) -> NoReturn:
    raise NotImplementedError(f"{type(store).__name__} has no {method}")


class SessionStore(Protocol):
    """Where transcripts are mirrored. The optional methods raise `NotImplementedError` here, so a store that
    subclasses this protocol and leaves one out is seen as not having it."""

    async def append(self, key: SessionKey, entries: list[SessionStoreEntry]) -> None:
        """Add entries to the end of a transcript."""
        ...

    async def load(self, key: SessionKey) -> list[SessionStoreEntry] | None:
        """The whole transcript, or None when the store has none."""
        ...

    async def list_sessions(self, project_key: str) -> list[SessionStoreListEntry]:
        """The sessions of a project, with their last change."""
        _absent(self, "list_sessions")

    async def list_session_summaries(self, project_key: str) -> list[SessionSummaryEntry]:
        """The summaries kept by `append` for a project's sessions."""
        _absent(self, "list_session_summaries")

    async def delete(self, key: SessionKey) -> None:
        """Forget a transcript (a main key takes its sub-agents with it)."""
        _absent(self, "delete")

    async def list_subkeys(self, key: SessionListSubkeysKey) -> list[str]:
        """The subpaths stored under a session."""
        _absent(self, "list_subkeys")


def fold_session_summary(
    prev: SessionSummaryEntry | None, key: SessionKey, entries: list[SessionStoreEntry]
) -> SessionSummaryEntry:
    """The session's summary after `entries` were appended, from the one before (pure; `mtime` is kept).

    A store calls this in `append` and keeps the result, so `list_sessions_from_store` needs no full loads."""
    from magistrate.sdk._transcripts import first_prompt  # with the first append, not with the SDK

    data: dict[str, Any] = dict(prev["data"]) if prev else {}
    plain = [dict(e) for e in entries]
    for entry in plain:
        kind = entry.get("type")
        if kind == "custom-title" and isinstance(entry.get("customTitle"), str):
            data["custom_title"] = entry["customTitle"]
        elif kind == "ai-title" and isinstance(entry.get("aiTitle"), str):
            data.setdefault("ai_title", entry["aiTitle"])
        elif kind == "summary" and isinstance(entry.get("summary"), str):
            data["summary"] = entry["summary"]
        elif kind == "tag":
            data["tag"] = entry.get("tag") or None
        if isinstance(entry.get("gitBranch"), str):
            data["git_branch"] = entry["gitBranch"]
        if isinstance(entry.get("cwd"), str):
            data.setdefault("cwd", entry["cwd"])
        if isinstance(entry.get("timestamp"), str):
            data.setdefault("first_timestamp", entry["timestamp"])
    if "first_prompt" not in data and (prompt := first_prompt(plain)):
        data["first_prompt"] = prompt
    return {"session_id": key["session_id"], "mtime": prev["mtime"] if prev else 0, "data": data}


def _now_ms() -> int:
    return int(time.time() * 1000)


class InMemorySessionStore:
    """A `SessionStore` in a dict: every method, summaries kept on append. Lost when the process ends."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str, str], list[SessionStoreEntry]] = {}
        self._mtimes: dict[tuple[str, str], int] = {}
        self._summaries: dict[tuple[str, str], SessionSummaryEntry] = {}

    @staticmethod
    def _slot(key: SessionKey) -> tuple[str, str, str]:
        return (key["project_key"], key["session_id"], key.get("subpath", ""))

    async def append(self, key: SessionKey, entries: list[SessionStoreEntry]) -> None:
        slot = self._slot(key)
        self._entries.setdefault(slot, []).extend(dict(entry) for entry in entries)  # type: ignore[misc]
        session = (key["project_key"], key["session_id"])
        self._mtimes[session] = _now_ms()
        if not key.get("subpath"):
            folded = fold_session_summary(self._summaries.get(session), key, entries)
            folded["mtime"] = self._mtimes[session]
            self._summaries[session] = folded

    async def load(self, key: SessionKey) -> list[SessionStoreEntry] | None:
        found = self._entries.get(self._slot(key))
        return None if found is None else [dict(entry) for entry in found]  # type: ignore[misc]

    async def list_sessions(self, project_key: str) -> list[SessionStoreListEntry]:
        return [
            {"session_id": session, "mtime": mtime}
            for (project, session), mtime in self._mtimes.items()
            if project == project_key and (project, session, "") in self._entries
        ]

    async def list_session_summaries(self, project_key: str) -> list[SessionSummaryEntry]:
        return [summary for (project, _), summary in self._summaries.items() if project == project_key]

    async def delete(self, key: SessionKey) -> None:
        project, session, subpath = self._slot(key)
        for slot in list(self._entries):
            if slot[:2] == (project, session) and (not subpath or slot[2] == subpath):
                del self._entries[slot]
        if not subpath:
            self._mtimes.pop((project, session), None)
            self._summaries.pop((project, session), None)

    async def list_subkeys(self, key: SessionListSubkeysKey) -> list[str]:
        return sorted(
            slot[2] for slot in self._entries if slot[:2] == (key["project_key"], key["session_id"]) and slot[2]
        )

    def get_entries(self, key: SessionKey) -> list[SessionStoreEntry]:
        """What the store holds for `key` (empty when nothing), without copying into a coroutine."""
        return list(self._entries.get(self._slot(key), []))

    def clear(self) -> None:
        """Forget everything."""
        self._entries.clear()
        self._mtimes.clear()
        self._summaries.clear()
