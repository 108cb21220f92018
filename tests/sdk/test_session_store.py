"""The session-store protocol on the in-memory store, and the session functions over a store."""

from __future__ import annotations

import pytest

from magistrate.sdk import (
    InMemorySessionStore,
    SessionKey,
    delete_session_via_store,
    fork_session_via_store,
    get_session_info_from_store,
    get_session_messages_from_store,
    list_sessions_from_store,
    list_subagents_from_store,
    project_key_for_directory,
    rename_session_via_store,
    tag_session_via_store,
)

DIRECTORY = "/srv/project"


def transcript(session: str) -> list[dict[str, object]]:
    return [
        {"type": "user", "uuid": "u1", "parentUuid": None, "sessionId": session, "cwd": DIRECTORY,
         "timestamp": "2026-01-02T03:04:05.000Z", "message": {"role": "user", "content": "hello there"}},
        {"type": "assistant", "uuid": "a1", "parentUuid": "u1", "sessionId": session,
         "message": {"role": "assistant", "content": [{"type": "text", "text": "hi"}]}},
    ]  # fmt: skip


@pytest.mark.anyio
async def test_a_session_written_to_the_store_reads_back_renamed_tagged_forked_and_deleted() -> None:
    store = InMemorySessionStore()
    key: SessionKey = {"project_key": project_key_for_directory(DIRECTORY), "session_id": "s1"}
    await store.append(key, transcript("s1"))  # type: ignore[arg-type]
    await store.append({**key, "subpath": "subagents/agent-x1"}, transcript("s1"))  # type: ignore[arg-type]
    [listed] = await list_sessions_from_store(store, DIRECTORY)
    assert (listed.session_id, listed.summary, listed.cwd) == ("s1", "hello there", DIRECTORY)
    assert [m.uuid for m in await get_session_messages_from_store(store, "s1", DIRECTORY)] == ["u1", "a1"]
    assert await list_subagents_from_store(store, "s1", DIRECTORY) == ["x1"]
    await rename_session_via_store(store, "s1", "Greeting", DIRECTORY)
    await tag_session_via_store(store, "s1", "demo", DIRECTORY)
    info = await get_session_info_from_store(store, "s1", DIRECTORY)
    assert info is not None
    assert (info.summary, info.tag, info.custom_title) == ("Greeting", "demo", "Greeting")
    fork = await fork_session_via_store(store, "s1", DIRECTORY, up_to_message_id="u1", title="Fork")
    forked = await get_session_messages_from_store(store, fork.session_id, DIRECTORY)
    assert [m.type for m in forked] == ["user"]
    assert forked[0].uuid != "u1"
    await delete_session_via_store(store, "s1", DIRECTORY)
    assert await get_session_info_from_store(store, "s1", DIRECTORY) is None
    assert store.get_entries({**key, "subpath": "subagents/agent-x1"}) == []


def test_a_long_directory_gets_a_cut_key_with_a_hash() -> None:
    assert project_key_for_directory("/srv/project") == "-srv-project"
    long_key = project_key_for_directory("/" + "a" * 300)
    assert len(long_key) > 200
    assert long_key.startswith("-" + "a" * 199 + "-")
