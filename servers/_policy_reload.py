"""A policy that follows its file: an edit is in force on the next call, a broken edit never is.

A long-lived broker must not need a restart to apply an edited policy, and must not fall open (or closed for
everyone) when an edit does not load. `ReloadingPolicy` checks the file's size, modification time and
content hash; a changed file is loaded afresh, and only a policy that loads replaces the one in force. A
failed load keeps the old policy, and its error is kept for `/v1/health` and logged. Decisions carry the
version of the policy that made them, so every record after a reload names the new version.

Only the policy file itself is watched: a `policy.py` that imports other local modules is reloaded when the
file itself changes.

`CwdPolicy` serves a broker started without a policy: each call is decided by the permissions the CLI
itself would apply in the call's working directory, as the command hook did.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import anyio.to_thread

from magistrate.broker import get_logger

if TYPE_CHECKING:
    from magistrate.broker import CallContext, Decision, Policy, ToolCall

_log = get_logger("magistrate.servers.policy_reload")
RELOAD_INTERVAL = 1.0
"""Seconds between two looks at the policy file."""


def _stamp(path: Path) -> tuple[int, int, str]:
    stat = path.stat()
    return stat.st_mtime_ns, stat.st_size, hashlib.sha256(path.read_bytes()).hexdigest()


class ReloadingPolicy:
    """The policy loaded from `path`, replaced whenever the file changes and the new text loads."""

    def __init__(self, path: str | Path) -> None:
        from magistrate.broker import load_policy

        self.path = Path(path).expanduser().absolute()
        self._stamp = _stamp(self.path)
        self.current: Policy = load_policy(self.path)
        self.error: str | None = None
        """Why the latest edit did not load; None when the file in force is the file on disk."""
        self.reloaded_at: float | None = None
        """When the policy was last replaced (`time.time()`); None when it is the one loaded at start."""

    @property
    def version(self) -> str:
        return self.current.version

    async def decide(self, call: ToolCall, context: CallContext) -> Decision:
        return await self.current.decide(call, context)

    def check(self) -> bool:
        """Load the file again if it changed; True when a new policy is now in force. Blocking."""
        from magistrate.broker import load_policy

        try:
            stamp = _stamp(self.path)
        except OSError as exc:
            self._failed(f"the policy file cannot be read: {exc}")
            return False
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        try:
            fresh = load_policy(self.path)
        except Exception as exc:  # noqa: BLE001 - a broken edit keeps the old policy; the error is reported
            self._failed(str(exc))
            return False
        old, self.current, self.error, self.reloaded_at = self.current.version, fresh, None, time.time()
        _log.warning("policy_reloaded", policy=str(self.path), old_version=old, policy_version=fresh.version)
        return True

    def _failed(self, error: str) -> None:
        if error != self.error:
            _log.error(
                "policy_reload_failed_old_policy_kept", policy=str(self.path), policy_version=self.version, error=error
            )
        self.error = error

    async def watch(self, interval: float = RELOAD_INTERVAL) -> None:
        """Check the file every `interval` seconds, until cancelled."""
        while True:
            await anyio.sleep(interval)
            await anyio.to_thread.run_sync(self.check)


class CwdPolicy:
    """The permissions the CLI itself would apply, worked out for each call's working directory."""

    error: str | None = None

    def __init__(self, limit: int = 256) -> None:
        self._limit = limit
        self._by_cwd: OrderedDict[str, Policy] = OrderedDict()
        self.version = ""

    def _for(self, cwd: str) -> Policy:
        from magistrate.broker import claude_code_policy

        found = self._by_cwd.get(cwd)
        if found is None:
            found = self._by_cwd[cwd] = claude_code_policy(cwd)
            while len(self._by_cwd) > self._limit:
                self._by_cwd.popitem(last=False)
        self._by_cwd.move_to_end(cwd)
        return found

    async def decide(self, call: ToolCall, context: CallContext) -> Decision:
        policy = await anyio.to_thread.run_sync(self._for, context.cwd or ".")
        self.version = policy.version
        return await policy.decide(call, context)
