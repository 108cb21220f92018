"""Reading the CLI's session transcripts: where they live, and what a list of their entries says.

The CLI writes each session to `<config>/projects/<project key>/<session id>.jsonl` (config is
`$CLAUDE_CONFIG_DIR`, else `~/.claude`), one JSON entry a line, and its sub-agents' to
`<session id>/subagents/agent-<id>.jsonl` beside it. The project key is the working directory with every
character that is not a letter or digit replaced by `-`; past 200 characters it is cut and a hash of the
whole path appended, as the CLI does. Everything here works on entries, so the session functions read the
same way from files and from a `SessionStore`.
"""

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

_UNSAFE = re.compile(r"[^a-zA-Z0-9]")
_MAX_KEY = 200
_PROMPT_CHARS = 200


@dataclass
class SDKSessionInfo:
    """One session as `list_sessions` shows it; times are Unix epoch milliseconds."""

    session_id: str
    summary: str
    """Its title: the custom title, else the generated one, else the CLI's summary, else the first prompt."""
    last_modified: int
    file_size: int | None = None
    custom_title: str | None = None
    first_prompt: str | None = None
    git_branch: str | None = None
    cwd: str | None = None
    tag: str | None = None
    created_at: int | None = None


@dataclass
class SessionMessage:
    """A user or assistant message of a transcript; `message` is the API message (role, content)."""

    type: Literal["user", "assistant"]
    uuid: str
    session_id: str
    message: Any
    parent_tool_use_id: str | None = None
    parent_agent_id: str | None = None


def _path_hash(text: str) -> str:
    """The CLI's 32-bit string hash (as JavaScript computes it), in base 36."""
    value = 0
    for char in text:
        value = (value * 31 + ord(char)) & 0xFFFFFFFF
    if value >= 0x80000000:
        value -= 0x100000000
    value = abs(value)
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        value, rest = divmod(value, 36)
        out = digits[rest] + out
        if value == 0:
            return out


def project_key_for_directory(directory: str | os.PathLike[str] | None = None) -> str:
    """The key the CLI files a directory's sessions under (the current directory when None)."""
    path = os.path.realpath(os.fspath(directory) if directory is not None else Path.cwd())
    key = _UNSAFE.sub("-", path)
    return key if len(key) <= _MAX_KEY else f"{key[:_MAX_KEY]}-{_path_hash(path)}"


def projects_dir(env: Mapping[str, str] | None = None) -> Path:
    """Where the CLI keeps transcripts; `env` is a run's own environment, which wins over this process's."""
    base = (env or {}).get("CLAUDE_CONFIG_DIR") or os.environ.get("CLAUDE_CONFIG_DIR")
    return (Path(base).expanduser() if base else Path.home() / ".claude") / "projects"


def read_entries(path: Path) -> list[dict[str, Any]]:
    """A transcript's entries; lines that are not JSON objects (a torn last line) are skipped."""
    entries: list[dict[str, Any]] = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(entry, dict):
            entries.append(entry)
    return entries


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text")
    return ""


def first_prompt(entries: list[dict[str, Any]]) -> str | None:
    for entry in entries:
        if entry.get("type") != "user" or entry.get("isMeta") or entry.get("isSidechain"):
            continue
        message = entry.get("message")
        text = _text_of(message.get("content") if isinstance(message, dict) else None).strip()
        if text and not text.startswith("<"):
            return text if len(text) <= _PROMPT_CHARS else text[:_PROMPT_CHARS].rstrip() + "\u2026"
    return None


def _last(entries: list[dict[str, Any]], kind: str, key: str) -> Any:
    for entry in reversed(entries):
        if entry.get("type") == kind and key in entry:
            return entry[key]
    return None


def _millis(timestamp: Any) -> int | None:
    from datetime import datetime

    if not isinstance(timestamp, str):
        return None
    try:
        return int(datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None


def session_info(
    session_id: str, entries: list[dict[str, Any]], last_modified: int, file_size: int | None
) -> SDKSessionInfo | None:
    """What a session's entries say about it; None when nothing names it (a metadata-only file)."""
    custom = _last(entries, "custom-title", "customTitle") or _last(entries, "ai-title", "aiTitle")
    prompt = first_prompt(entries)
    summary = custom or _last(entries, "summary", "summary") or prompt
    if not summary:
        return None
    tag = _last(entries, "tag", "tag")
    branch = next((e["gitBranch"] for e in reversed(entries) if isinstance(e.get("gitBranch"), str)), None)
    cwd = next((e["cwd"] for e in entries if isinstance(e.get("cwd"), str)), None)
    created = next((_millis(e.get("timestamp")) for e in entries if "timestamp" in e), None)
    return SDKSessionInfo(
        session_id=session_id,
        summary=str(summary),
        last_modified=last_modified,
        file_size=file_size,
        custom_title=custom if isinstance(custom, str) else None,
        first_prompt=prompt,
        git_branch=branch,
        cwd=cwd,
        tag=tag or None,
        created_at=created,
    )


def conversation(
    entries: list[dict[str, Any]], session_id: str, *, subagent: bool = False, parent_tool_use_id: str | None = None
) -> list[SessionMessage]:
    """The messages on the path to the transcript's last message, oldest first (branches left by a rewind
    or an edit are not on it); meta entries are left out."""
    linked = [e for e in entries if isinstance(e.get("uuid"), str) and (subagent or not e.get("isSidechain"))]
    messages = [e for e in linked if e.get("type") in ("user", "assistant")]
    if not messages:
        return []
    by_uuid = {e["uuid"]: e for e in linked}
    chain: list[dict[str, Any]] = []
    current: dict[str, Any] | None = messages[-1]
    seen: set[str] = set()
    while current is not None and current["uuid"] not in seen:
        seen.add(current["uuid"])
        chain.append(current)
        parent = current.get("parentUuid")
        current = by_uuid.get(parent) if isinstance(parent, str) else None
    chain.reverse()
    return [
        SessionMessage(
            type=e["type"],
            uuid=e["uuid"],
            session_id=str(e.get("sessionId", session_id)),
            message=e.get("message"),
            parent_tool_use_id=parent_tool_use_id,
        )
        for e in chain
        if e.get("type") in ("user", "assistant") and not e.get("isMeta") and not e.get("isCompactSummary")
    ]


def page(items: list[Any], limit: int | None, offset: int) -> list[Any]:
    return items[offset:] if limit is None else items[offset : offset + limit]
