"""The audit trail: records go in redacted, hashed and durably committed, each with a signed checkpoint.

`Trail.append` returns only after the record is committed, so the broker can promise that no allow leaves
before its record is durable. The work that needs no lock (redaction, canonical JSON, the leaf hash) happens
before the store is touched; the store's blocking calls run in a worker thread.

Appends from many tasks of one process are committed together: while one batch is being written, the
next ones queue, and the next writer commits everything queued in one transaction (one fsync, still one
signed checkpoint per record). Each caller still waits for its own record's commit.

The witness (`_trail_witness`) follows the commits in the background, so no call waits for its file.

A record nothing waits on (a call's outcome) can be `defer`red instead: it rides in the next append's
transaction, or is committed by `flush` or `close`, so it costs no commit of its own.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import anyio
import anyio.to_thread
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from magistrate.broker._audit_records import ApprovalRecord, DecisionRecord, OutcomeRecord, redacted_record, utc_now
from magistrate.broker._config import Environment
from magistrate.broker._log import get_logger
from magistrate.broker._merkle import Frontier, leaf_hash
from magistrate.broker._redact import Redactor
from magistrate.broker._signing import (
    Checkpoint,
    key_id,
    load_or_create_secret,
    load_or_create_signing_key,
    load_public_key,
)
from magistrate.broker._storage import NewRecord, Store, TrailView, lock_timeout, open_store
from magistrate.broker._trail_errors import AuditError
from magistrate.broker._trail_reader import TrailReader
from magistrate.broker._trail_witness import Witness

_log = get_logger("magistrate.trail")

AnyRecord = DecisionRecord | OutcomeRecord | ApprovalRecord


@dataclass(frozen=True, slots=True)
class Receipt:
    """Proof of a durable append: the record's position, its leaf hash and the checkpoint that signs it."""

    seq: int
    leaf: bytes
    checkpoint: Checkpoint


@dataclass(slots=True)
class _Pending:
    record: NewRecord
    done: anyio.Event = field(default_factory=anyio.Event)
    receipt: Receipt | None = None
    error: BaseException | None = None


class Trail(TrailReader):
    """An append-only, signed log of decisions, outcomes and approvals; also a `TrailReader` of itself."""

    def __init__(
        self,
        store: Store,
        signing_key: Ed25519PrivateKey,
        *,
        redactor: Redactor | None = None,
        witness: Witness | None = None,
        trusted_keys: Iterable[Ed25519PublicKey] = (),
    ) -> None:
        """`trusted_keys`: the public keys of other writers of the same trail (the own key is always trusted);
        an append refuses to extend a trail whose latest checkpoint none of them signed."""
        super().__init__(store)
        self._key = signing_key
        self._key_id = key_id(signing_key.public_key())
        self._trusted = {key_id(k): k for k in (signing_key.public_key(), *trusted_keys)}
        self._last_signed: Checkpoint | None = None
        self._redactor = redactor or Redactor.disabled()
        self.witness = witness
        if witness is not None:
            witness.on_error = self._witness_failed
        self._queue: list[_Pending] = []
        self._flush_lock = anyio.Lock()
        self._deferred: list[NewRecord] = []
        self.inline_writes = False
        """Commit on the event loop's own thread instead of a worker thread. For a caller with nothing else to
        do while it waits for the commit (an SDK run answering a hook), this saves the two thread hand-offs,
        which cost more than the sub-millisecond commit itself on a busy machine."""

    @classmethod
    def open(
        cls,
        db: str | Path | None = None,
        *,
        key_path: str | Path | None = None,
        witness: bool = True,
        redact: bool = True,
        redact_fields: Iterable[str] = (),
        redact_patterns: Iterable[str] = (),
        trusted_keys: Iterable[Ed25519PublicKey] = (),
        env: Environment | None = None,
    ) -> Trail:
        """Open (creating if needed) the trail at `db` (a path or `postgresql://` URL; else the one `env`
        names), signing with the key at `key_path` (else the one `env` names). `redact_fields` (regexes for
        field names) and `redact_patterns` (regexes for secrets in strings) add to the default redaction.
        `trusted_keys` are other writers' public keys (default: the PEM files `env` lists). `env` is the
        configuration the caller read, this process's environment by default: `$MAGISTRATE_AUDIT`, else the
        per-user SQLite trail; `$MAGISTRATE_TRAIL_KEY`, else `~/.config/magistrate/trail.key`;
        `$MAGISTRATE_TRAIL_TRUSTED_KEYS`; `$MAGISTRATE_TRAIL_TIMEOUT` (seconds an append waits for a database
        another writer holds locked before it fails, which makes the call a deny). Blocking: call it before
        the event loop gets busy, or in a thread."""
        env = env or Environment.read()
        key_path = Path(key_path).expanduser() if key_path else env.key_path
        key = load_or_create_signing_key(key_path)
        redactor = None
        if redact:
            secret = load_or_create_secret(key_path.with_name(key_path.stem + ".redact.key"))
            redactor = Redactor(secret, extra_fields=redact_fields, extra_patterns=redact_patterns)
        witness_files = Witness.beside(key_path) if witness else None
        trusted = list(trusted_keys) or [load_public_key(Path(p).expanduser()) for p in env.trusted_keys]
        store = open_store(db if db is not None else env.trail, timeout=lock_timeout(env))
        try:
            return cls(store, key, redactor=redactor, witness=witness_files, trusted_keys=trusted)
        except BaseException:
            store.close()  # a trail refused on opening leaves no connection behind
            raise

    @classmethod
    async def aopen(
        cls,
        db: str | Path | None = None,
        *,
        key_path: str | Path | None = None,
        witness: bool = True,
        redact: bool = True,
        redact_fields: Iterable[str] = (),
        redact_patterns: Iterable[str] = (),
        trusted_keys: Iterable[Ed25519PublicKey] = (),
        env: Environment | None = None,
    ) -> Trail:
        """`Trail.open` in a worker thread, for callers already inside an event loop."""
        opener = functools.partial(
            cls.open,
            db,
            key_path=key_path,
            witness=witness,
            redact=redact,
            redact_fields=redact_fields,
            redact_patterns=redact_patterns,
            trusted_keys=trusted_keys,
            env=env,
        )
        return await anyio.to_thread.run_sync(opener)

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self._key.public_key()

    def prepare(self, record: AnyRecord) -> NewRecord:
        """Redact, canonicalise and hash a record (no I/O). The lookup columns are the body's own values (after
        redaction), so readers can check each row against what was signed."""
        signed, body = redacted_record(record, self._redactor)
        return NewRecord(
            kind=str(signed.get("kind", record.kind)),
            time=str(signed.get("time", record.time)),
            session_id=str(signed.get("session_id", "")),
            tool_use_id=signed.get("tool_use_id"),
            tool_name=str(signed.get("tool_name", "")),
            body=body,
            leaf=leaf_hash(body),
        )

    def session_log(self, session_id: str, limit: int) -> list[tuple[int, DecisionRecord]]:
        """A session's last `limit` decisions with their positions, oldest first; a session id that redaction
        would replace is looked up by its stand-in, as it was recorded."""
        recorded = self._redactor.text(session_id) if session_id else session_id
        return super().session_log(recorded, limit)

    def defer(self, record: AnyRecord) -> None:
        """Queue `record` for the next append's commit (or `flush`, or `close`), ahead of that append's record.

        For records whose writer need not wait: they share a commit instead of paying one each. Until then
        they are only in memory, so a crash loses them; a decision must never be deferred."""
        self._deferred.append(self.prepare(record))

    async def flush(self) -> None:
        """Commit the deferred records now. Raises `AuditError` when they are not committed."""
        if not self._deferred:
            return
        carried = self._carry()
        async with self._flush_lock:
            if not carried[-1].done.is_set():
                batch, self._queue = self._queue, []
                with anyio.CancelScope(shield=True):
                    await self._flush(batch)
        failed = next((p.error for p in carried if p.error is not None), None)
        if failed is not None:
            raise AuditError(f"the trail did not record {len(carried)} deferred record(s): {failed}") from failed

    def _carry(self) -> list[_Pending]:
        carried = [_Pending(record) for record in self._deferred]
        self._deferred = []
        self._queue.extend(carried)
        return carried

    async def append(self, record: AnyRecord) -> Receipt:
        """Append a record; returns once it is durably committed. Raises `AuditError` when it is not."""
        pending = _Pending(self.prepare(record))
        carried = self._carry() if self._deferred else []
        self._queue.append(pending)
        async with self._flush_lock:
            if not pending.done.is_set():
                batch, self._queue = self._queue, []
                # Shielded: once a batch is taken, every waiter in it must learn its result, even if the
                # task that happens to write it is cancelled.
                with anyio.CancelScope(shield=True):
                    await self._flush(batch)
        if pending.error is not None:
            if carried:
                _log.error("trail_deferred_lost", records=len(carried), error=str(pending.error))
            raise AuditError(f"the trail did not record the {record.kind}: {pending.error}") from pending.error
        assert pending.receipt is not None
        return pending.receipt

    async def _flush(self, batch: list[_Pending]) -> None:
        records = [p.record for p in batch]
        try:
            results = (
                self._write(records) if self.inline_writes else await anyio.to_thread.run_sync(self._write, records)
            )
        except Exception as exc:  # noqa: BLE001 - every waiter learns of the failure; none is left hanging
            for p in batch:
                p.error = exc
                p.done.set()
            return
        for p, (seq, checkpoint) in zip(batch, results, strict=True):
            p.receipt = Receipt(seq, p.record.leaf, checkpoint)
            p.done.set()

    def _seal(self, log_id: str, size: int, root: bytes) -> Checkpoint:
        return Checkpoint.sign(self._key, log_id, size, root, utc_now(), signer=self._key_id)

    def _vouch(self, view: TrailView, head: Frontier) -> None:
        """Refuse to extend a tree that does not match its latest signed checkpoint, or that is not the one
        pinned at this location or does not extend the tree head the witness saw (fail closed)."""
        advice = "refusing to sign over it; run `magistrate audit verify`"
        latest = view.latest_checkpoint()
        root = head.root()
        if latest is None:
            if head.size:
                raise AuditError(f"the trail has {head.size} records but no checkpoint: {advice}")
        elif latest.size != head.size or latest.root != root:
            raise AuditError(f"the trail's head does not match its checkpoint for {latest.size} records: {advice}")
        elif latest != self._last_signed:  # what this process signed last needs no second signature check
            problem = latest.verify(self._trusted)
            if problem is not None:
                raise AuditError(f"the trail's latest checkpoint {problem}: {advice}")
        if self.witness is not None:

            def signed_root(size: int) -> bytes | None:
                found = view.checkpoint(size)
                return None if found is None else found.root

            self.witness.check(self.store.url, view.log_id(), head.size, root, signed_root)

    def _write(self, records: list[NewRecord]) -> list[tuple[int, Checkpoint]]:
        results = self.store.append(records, self._seal, self._vouch)
        if results:
            self._last_signed = results[-1][1]
        if self.witness is not None and results:
            # Off the call's path: the record is durable already, and the witness only has to follow.
            self.witness.advance_soon(results[-1][1], self.store.url)
        return results

    def _witness_failed(self, exc: BaseException) -> None:
        # The records are durable; a witness left behind only weakens the checks that read it.
        where = str(self.witness.directory) if self.witness is not None else ""
        _log.error("trail_witness_not_updated", error=str(exc), witness=where)

    def close(self) -> None:
        """Commit what is still deferred, write the witness, then close the store."""
        deferred, self._deferred = self._deferred, []
        if deferred:
            try:
                self._write(deferred)
            except Exception as exc:  # noqa: BLE001 - closing must go on; the loss is logged
                _log.error("trail_deferred_lost", records=len(deferred), error=str(exc))
        if self.witness is not None:
            self.witness.close()
        super().close()

    async def aclose(self) -> None:
        try:
            await self.flush()
        except AuditError as exc:  # closing must go on; the loss is logged
            _log.error("trail_deferred_lost", error=str(exc))
        await anyio.to_thread.run_sync(self.close)

    async def __aenter__(self) -> Trail:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
