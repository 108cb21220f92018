"""A session store of your own: transcripts kept in SQLite, so a session can be resumed on another machine.

The store implements the `SessionStore` protocol (`append` and `load`, plus the optional listing and
deleting). The first run is mirrored into it; then the CLI's own file is deleted, and the second run
resumes the session from the store alone.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import anyio

from magistrate.sdk import (
    AssistantMessage,
    ClaudeAgentOptions,
    ResultMessage,
    SessionKey,
    SessionListSubkeysKey,
    SessionStore,
    SessionStoreEntry,
    SessionStoreListEntry,
    TextBlock,
    delete_session,
    get_session_messages_from_store,
    list_sessions_from_store,
    query,
)


class SQLiteSessionStore(SessionStore):
    """One row per transcript entry, keyed by project, session and subpath ('' for the main transcript)."""

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS entries (project TEXT, session TEXT, subpath TEXT, body TEXT, mtime INTEGER)"
        )

    def close(self) -> None:
        self._db.close()

    @staticmethod
    def _where(key: SessionKey) -> tuple[str, str, str]:
        return key["project_key"], key["session_id"], key.get("subpath", "")

    async def append(self, key: SessionKey, entries: list[SessionStoreEntry]) -> None:
        now = int(time.time() * 1000)
        rows = [(*self._where(key), json.dumps(dict(entry)), now) for entry in entries]
        with self._db:
            self._db.executemany("INSERT INTO entries VALUES (?, ?, ?, ?, ?)", rows)

    async def load(self, key: SessionKey) -> list[SessionStoreEntry] | None:
        query = "SELECT body FROM entries WHERE project = ? AND session = ? AND subpath = ? ORDER BY rowid"
        rows = self._db.execute(query, self._where(key)).fetchall()
        return [json.loads(body) for (body,) in rows] or None

    async def list_sessions(self, project_key: str) -> list[SessionStoreListEntry]:
        query = "SELECT session, MAX(mtime) FROM entries WHERE project = ? AND subpath = '' GROUP BY session"
        return [{"session_id": s, "mtime": m} for s, m in self._db.execute(query, (project_key,))]

    async def list_subkeys(self, key: SessionListSubkeysKey) -> list[str]:
        query = "SELECT DISTINCT subpath FROM entries WHERE project = ? AND session = ? AND subpath != ''"
        return [s for (s,) in self._db.execute(query, (key["project_key"], key["session_id"]))]

    async def delete(self, key: SessionKey) -> None:
        with self._db:
            self._db.execute("DELETE FROM entries WHERE project = ? AND session = ?", self._where(key)[:2])


async def ask(prompt: str, options: ClaudeAgentOptions) -> str:
    session = ""
    async for message in query(prompt=prompt, options=options):
        if isinstance(message, AssistantMessage):
            for block in message.content:
                if isinstance(block, TextBlock):
                    print(f"Claude: {block.text}")
        elif isinstance(message, ResultMessage):
            session = message.session_id
    return session


async def main() -> None:
    store = SQLiteSessionStore(Path("sessions.sqlite3"))
    try:
        session = await ask("My favourite colour is teal", ClaudeAgentOptions(session_store=store))
        listed: list[Any] = await list_sessions_from_store(store)
        print(f"Sessions in the store: {len(listed)}")
        delete_session(session)  # the CLI's own copy is gone; the store still has it
        await ask("What is my favourite colour?", ClaudeAgentOptions(session_store=store, resume=session))
        messages = await get_session_messages_from_store(store, session)
        print(f"Messages in the resumed session: {len(messages)}")
    finally:
        store.close()


if __name__ == "__main__":
    anyio.run(main)
