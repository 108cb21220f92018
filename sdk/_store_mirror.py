"""`ClaudeAgentOptions.session_store`: the run's transcript copied into the store, and resumed from it.

The CLI keeps writing its own transcript file; the mirror copies what is new in it (the session's file and
its sub-agents' files) to the store after every result and when the run closes. A run that resumes a
session the CLI has no file for gets the file written from the store first, so `resume` works on a machine
that never saw the session. A store that fails to take entries does not stop the run: the failure comes as a
`MirrorErrorMessage` in the stream (when the run is still being read) and copying is tried again next time.
"""

from pathlib import Path
from typing import Any

import anyio

from magistrate.broker import get_logger
from magistrate.sdk._agent_options import ClaudeAgentOptions
from magistrate.sdk._errors import OptionsError
from magistrate.sdk._session_store import SessionKey, SessionStore

log = get_logger("magistrate.sdk.session_mirror")


def check_store_options(options: ClaudeAgentOptions) -> None:
    if options.session_store is not None and options.enable_file_checkpointing:
        raise OptionsError(
            "session_store cannot be combined with enable_file_checkpointing: checkpoints live only in local files",
            "session_store",
        )


async def materialize(options: ClaudeAgentOptions, cwd: str) -> None:
    """Write the transcript of the session to resume from the store, when the CLI has no file for it."""
    store, session = options.session_store, options.resume
    if store is None or not session:
        return
    from magistrate.sdk._transcripts import project_key_for_directory, projects_dir

    folder = projects_dir(options.env) / project_key_for_directory(cwd)
    target = folder / f"{session}.jsonl"
    if target.exists():
        return
    key: SessionKey = {"project_key": project_key_for_directory(cwd), "session_id": session}
    with anyio.fail_after(options.load_timeout_ms / 1000):
        entries = await store.load(key)
        try:
            subkeys = await store.list_subkeys(key) if callable(getattr(store, "list_subkeys", None)) else []
        except NotImplementedError:
            subkeys = []
        subagents = {sub: await store.load({**key, "subpath": sub}) or [] for sub in subkeys}
    if not entries:
        return  # the CLI reports the unknown session itself
    _write(target, entries)
    for sub, sub_entries in subagents.items():
        _write(folder / session / f"{sub}.jsonl", sub_entries)


def _write(path: Path, entries: list[Any]) -> None:
    import json

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(dict(entry)) + "\n" for entry in entries), encoding="utf-8")


class StoreMirror:
    """Copies a run's transcript files to a session store as they grow."""

    def __init__(self, store: SessionStore, cwd: str, env: dict[str, str] | None = None) -> None:
        from magistrate.sdk._transcripts import project_key_for_directory

        self._env = env or {}
        self._store = store
        self._project = project_key_for_directory(cwd)
        self._session: str | None = None
        self._copied: dict[Path, int] = {}

    def observe(self, raw: dict[str, Any]) -> bool:
        """Learn the session id; True when the line ends a response (time to flush)."""
        if self._session is None and isinstance(raw.get("session_id"), str):
            self._session = raw["session_id"]
        return raw.get("type") == "result"

    def _files(self) -> list[tuple[str | None, Path]]:
        if self._session is None:
            return []
        from magistrate.sdk._transcripts import projects_dir

        main = projects_dir(self._env) / self._project / f"{self._session}.jsonl"
        files: list[tuple[str | None, Path]] = [(None, main)]
        folder = main.with_suffix("")
        if folder.is_dir():
            files += [(str(f.relative_to(folder).with_suffix("")), f) for f in sorted(folder.rglob("agent-*.jsonl"))]
        return files

    async def flush(self) -> list[dict[str, Any]]:
        """Copy what is new; returns a `mirror_error` system line for each transcript the store refused."""
        from magistrate.sdk._transcripts import read_entries

        failures: list[dict[str, Any]] = []
        for subpath, path in self._files():
            if not path.is_file():
                continue
            entries = read_entries(path)
            fresh = entries[self._copied.get(path, 0) :]
            if not fresh:
                continue
            key: SessionKey = {"project_key": self._project, "session_id": str(self._session)}
            if subpath:
                key["subpath"] = subpath
            try:
                await self._store.append(key, fresh)  # type: ignore[arg-type]
            except Exception as exc:  # noqa: BLE001 - the run goes on; the entries are tried again next time
                log.error("session_mirror_failed", session_id=self._session, error=repr(exc))
                failures.append({"type": "system", "subtype": "mirror_error", "key": dict(key), "error": repr(exc)})
                continue
            self._copied[path] = len(entries)
        return failures
