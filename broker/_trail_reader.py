"""The questions readers ask of the trail, answered as values: no cursor or SQL leaves the trail.

The broker asks for a session's history when it resumes one, the approval prompt for the decision the hook
recorded for a call, `magistrate audit` for ranges of records, checkpoints, proofs and a verification. Each
method reads one consistent snapshot and returns parsed records (`parse_record`) or `StoredRecord`s, which
keep the signed bytes and leaf hash for export and proofs. Every row read has its lookup columns checked
against the signed body, so an edited `session_id`, `kind`, `tool_name`, ... is an `AuditError`, never a
record shown or judged under a forged label. Calls block; from async code run them in a thread.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from magistrate.broker._audit_records import DecisionRecord, parse_record
from magistrate.broker._merkle import MerkleLevels
from magistrate.broker._signing import Checkpoint, default_key_path
from magistrate.broker._storage import Store, StoredRecord, open_store
from magistrate.broker._trail_errors import AuditError
from magistrate.broker._trail_verify import VerifyReport, verify_trail
from magistrate.broker._trail_witness import Witness


@dataclass(frozen=True, slots=True)
class InclusionProof:
    """That record `seq` is in the tree a signed checkpoint covers; checkable without the other records."""

    seq: int
    leaf: bytes
    """The record's leaf hash."""
    proof: list[bytes]
    """The audit path (RFC 6962), from the leaf up."""
    checkpoint: Checkpoint
    """The latest signed checkpoint, whose root the proof leads to."""


@dataclass(frozen=True, slots=True)
class ConsistencyProof:
    """That the latest signed tree extends an earlier one (nothing before it was changed or removed)."""

    proof: list[bytes]
    old: Checkpoint
    """The earlier checkpoint (the one for the size asked for)."""
    checkpoint: Checkpoint
    """The latest signed checkpoint."""


def _decision(body: bytes, what: str) -> DecisionRecord:
    try:
        record = parse_record(body)
    except ValueError as exc:
        raise AuditError(f"{what} is unreadable: {exc}") from exc
    if not isinstance(record, DecisionRecord):
        raise AuditError(f"{what} is stored as a decision but reads as a {record.kind}")
    return record


class TrailReader:
    """Reads a trail (no key needed); `Trail` is a reader that also appends."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.log_id = store.log_id()

    @classmethod
    def open(cls, db: str | Path | None = None) -> TrailReader:
        """Open an existing trail at `db` (a path or `postgresql://` URL; the per-user trail by default) to
        read it; a missing trail, or one of an unknown schema version, is an `AuditError`."""
        store = open_store(db, create=False)
        try:
            return cls(store)
        except BaseException:
            store.close()
            raise

    @property
    def url(self) -> str:
        """Where the trail is (a PostgreSQL URL with its password masked)."""
        return self.store.url

    # -- the broker and the approval prompt ----------------------------------------------------------------
    def session_decisions(self, session_id: str, limit: int) -> list[DecisionRecord]:
        """A session's last `limit` decisions, oldest first (what its rules judge a new call against)."""
        return [record for _, record in self.session_log(session_id, limit)]

    def session_log(self, session_id: str, limit: int) -> list[tuple[int, DecisionRecord]]:
        """`session_decisions` with each decision's position in the trail."""
        with self.store.snapshot() as view:
            found = view.session_decisions(session_id, limit)
        return [(r.seq, _decision(r.body, f"a recorded decision of session {session_id!r}")) for r in found]

    def decision_for(self, tool_use_id: str) -> DecisionRecord | None:
        """The latest decision recorded for a tool call, if the trail holds one."""
        with self.store.snapshot() as view:
            found = view.decision_for(tool_use_id)
        return None if found is None else _decision(found.body, f"the recorded decision of call {tool_use_id!r}")

    # -- ranges of records ---------------------------------------------------------------------------------
    def size(self) -> int:
        """How many records the trail holds."""
        with self.store.snapshot() as view:
            return view.count()

    def record(self, seq: int) -> StoredRecord | None:
        with self.store.snapshot() as view:
            found = view.records(start=seq, limit=1)
        return found[0] if found and found[0].seq == seq else None

    def records(self, *, start: int = 0, limit: int | None = None, session_id: str | None = None) -> list[StoredRecord]:
        """Records from `start` in order, at most `limit`, only `session_id`'s when given."""
        with self.store.snapshot() as view:
            return view.records(start=start, limit=limit, session_id=session_id)

    def of_calls(self, tool_use_ids: Iterable[str]) -> list[StoredRecord]:
        """Every record of these tool calls, in order: what links a decision to its approval and outcome."""
        ids = sorted(set(tool_use_ids))
        with self.store.snapshot() as view:
            return view.of_calls(ids)

    def tail(self, n: int, *, session_id: str | None = None) -> list[StoredRecord]:
        """The last `n` records (of one session when given), oldest first."""
        with self.store.snapshot() as view:
            start = max(0, view.count() - n) if session_id is None else 0
            found = view.records(start=start, session_id=session_id)
        return found[-n:]

    def scan(self, *, start: int = 0) -> Iterator[StoredRecord]:
        """Every record from `start`, streamed from one snapshot (held until the iterator is exhausted or closed)."""
        with self.store.snapshot() as view:
            yield from view.stream(start=start)

    # -- checkpoints, proofs, verification -----------------------------------------------------------------
    def latest_checkpoint(self) -> Checkpoint | None:
        with self.store.snapshot() as view:
            return view.latest_checkpoint()

    def checkpoint(self, size: int) -> Checkpoint | None:
        """The signed checkpoint the append that made the trail `size` records long left, if it is there."""
        with self.store.snapshot() as view:
            return view.checkpoint(size)

    def inclusion_proof(self, seq: int) -> InclusionProof:
        """The proof that record `seq` is in the tree of the latest checkpoint."""
        with self.store.snapshot() as view:
            latest = view.latest_checkpoint()
            if latest is None:
                raise AuditError("the trail is empty: no checkpoint yet")
            if not 0 <= seq < latest.size:
                raise AuditError(f"record {seq} is not covered by a signed checkpoint")
            levels = MerkleLevels(leaf for s, _, leaf in view.scan() if s < latest.size)
        return InclusionProof(seq, levels.levels[0][seq], levels.inclusion_proof(seq, latest.size), latest)

    def consistency_proof(self, since: int) -> ConsistencyProof:
        """The proof that the latest tree extends the one of `since` records."""
        with self.store.snapshot() as view:
            latest = view.latest_checkpoint()
            old = view.checkpoint(since)
            if latest is None:
                raise AuditError("the trail is empty: no checkpoint yet")
            if old is None or not 0 < since <= latest.size:
                raise AuditError(f"the trail has no checkpoint for {since} records")
            levels = MerkleLevels(leaf for s, _, leaf in view.scan() if s < latest.size)
        return ConsistencyProof(levels.consistency_proof(since, latest.size), old, latest)

    def witness_checkpoint(self, key_path: str | Path | None = None) -> Checkpoint | None:
        """The witness checkpoint kept beside the signing key (default key path) for this trail, if any."""
        path = Path(key_path).expanduser() if key_path is not None else default_key_path()
        return Witness.beside(path).for_database(self.log_id, self.url)

    def verify(
        self,
        public_keys: Iterable[Ed25519PublicKey],
        *,
        witness: Checkpoint | None = None,
        expected_size: int | None = None,
        full: bool = False,
    ) -> VerifyReport:
        """`verify_trail` on this trail: a report when intact, else `TrailVerificationError` naming the fault."""
        return verify_trail(self.store, public_keys, witness=witness, expected_size=expected_size, full=full)

    # -- lifetime ------------------------------------------------------------------------------------------
    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> TrailReader:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
