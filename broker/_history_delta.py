"""A broker's memory of the histories remote clients sent, so a client need only send what is new.

A `RemoteGovernor` resends its session's history (up to a thousand entries) with every call, and reading
it was the largest part of a shared broker's work per decision. With `POST /v1/decide-delta` the client
sends only the entries after the `base` it last had answered, and the fingerprint this broker gave it for
the history through `base`. `HistoryCache.resolve` rebuilds the whole history from its copy, or gives None:
the broker then answers 409 and decides nothing, and the client sends the history in full.

- A fingerprint is a keyed hash chain over the entries, seeded with the session id and the number of the
  first entry, under a key this process draws at random. A client holds only the fingerprints of histories
  it sent itself; it cannot name another session's history (the copy is looked up by the session id its
  request carries, and the seed binds the id), nor guess a fingerprint, nor reuse one of another broker.
- Rules see exactly what the full request would have carried: each entry the client sent, at its place.
  Two requests of one session built on the same base (calls in flight side by side) both resolve; where
  they disagree about an entry, the later one's entries replace the rest of the copy.
- Bounded: `entries` per session (the oldest are dropped; a request that reaches past them gets a 409) and
  `sessions` sessions, the least recently used forgotten first (its next request gets a 409).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections import OrderedDict

from magistrate.broker._call import PriorDecision
from magistrate.broker._decision_wire import PRIOR_ADAPTER, HistoryDelta
from magistrate.broker._defaults import HISTORY_LIMIT
from magistrate.broker._immutable import frozen_mapping

_DIGEST = 16


class _Chain:
    """One session's copy: entries `start`, `start + 1`, ... and the fingerprint through each."""

    __slots__ = ("entries", "prints", "start")

    def __init__(self, start: int, seed: bytes) -> None:
        self.start = start
        self.entries: list[PriorDecision] = []
        self.prints: list[bytes] = [seed]
        """`prints[i]` is the fingerprint of the history through entry `start + i` (`prints[0]`: the seed)."""


class HistoryCache:
    """The histories remote clients sent, per session id, keyed by fingerprints only this process can make."""

    def __init__(self, *, sessions: int = 1024, entries: int = HISTORY_LIMIT) -> None:
        self._key = secrets.token_bytes(32)
        self._sessions: OrderedDict[str, _Chain] = OrderedDict()
        self._session_limit = sessions
        self._entry_limit = entries

    def __len__(self) -> int:
        return len(self._sessions)

    def _hash(self, data: bytes) -> bytes:
        return hashlib.blake2b(data, key=self._key, digest_size=_DIGEST).digest()

    def resolve(self, session_id: str, delta: HistoryDelta) -> tuple[tuple[PriorDecision, ...], str] | None:
        """The whole history `delta` stands for (read-only inputs) and its fingerprint, remembered for the next
        request; None when this cache does not hold the history `delta` builds on (then decide nothing)."""
        if delta.fingerprint is None:
            seed = self._hash(b"%b\0%d" % (session_id.encode(), delta.base))
            chain = self._sessions[session_id] = _Chain(delta.base, seed)
            at = 0
        else:
            found = self._sessions.get(session_id)
            if found is None:
                return None
            chain = found
            at = delta.base - chain.start
            if not 0 <= at < len(chain.prints) or at + len(delta.entries) < delta.length:
                return None  # before the oldest entry kept, after the newest, or reaching past the oldest
            if not hmac.compare_digest(chain.prints[at].hex(), delta.fingerprint):
                return None
        self._sessions.move_to_end(session_id)
        for entry in delta.entries:
            fingerprint = self._hash(chain.prints[at] + PRIOR_ADAPTER.dump_json(entry))
            if at < len(chain.entries) and chain.prints[at + 1] == fingerprint:
                at += 1  # the copy holds this entry already (a request of the session that ran ahead)
                continue
            del chain.entries[at:], chain.prints[at + 1 :]
            chain.entries.append(
                PriorDecision(entry.tool_name, frozen_mapping(entry.tool_input), entry.behavior, entry.rule_id)
            )
            chain.prints.append(fingerprint)
            at += 1
        history = tuple(chain.entries[at - delta.length : at])
        fingerprint_hex = chain.prints[at].hex()
        if len(chain.entries) > self._entry_limit:
            drop = len(chain.entries) - self._entry_limit
            del chain.entries[:drop], chain.prints[:drop]
            chain.start += drop
        while len(self._sessions) > self._session_limit:
            self._sessions.popitem(last=False)
        return history, fingerprint_hex
