"""Checks a trail with nothing but the public key(s) and the database (and, when there is one, the witness).

The fast path reads every record once, in one snapshot: positions must run 0, 1, 2, ... without gaps, each
record must hash to its stored leaf, its lookup columns must say what its body says (`relabelled` if not),
and the Merkle root recomputed over the leaves must equal the root in the latest checkpoint, whose signature
must hold. That alone catches any edit, insertion, deletion or
reordering, and a trail whose hashes were all recomputed (the new root carries no valid signature).

When something is wrong, the slow path names the first bad record: with a signed checkpoint after every
append, it binary-searches the checkpoints for the first one that no longer matches the records (prefix
roots come from the tree's levels held in memory), and blames the record just after the last good one.

Truncation (the tail deleted together with its checkpoints) leaves a shorter trail that is still perfectly
signed. Only something outside the database can tell: the witness file, or an `expected_size` (a size
recorded elsewhere, for example in a ticket or another system's log).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from magistrate.broker._merkle import EMPTY_ROOT, MerkleLevels, StreamingRoot, leaf_hash
from magistrate.broker._signing import Checkpoint, key_id
from magistrate.broker._storage import Store, TrailView, column_problem
from magistrate.broker._trail_errors import TrailVerificationError


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """What an intact trail looked like when it was verified."""

    size: int
    root: bytes
    checkpoint: Checkpoint | None
    """The latest signed checkpoint (None for an empty trail)."""
    witness: Checkpoint | None
    """The external checkpoint the trail was checked against, if any."""
    checkpoints_checked: int
    seconds: float


def verify_trail(
    store: Store,
    public_keys: Iterable[Ed25519PublicKey],
    *,
    witness: Checkpoint | None = None,
    expected_size: int | None = None,
    full: bool = False,
) -> VerifyReport:
    """Verify `store`; returns a report when intact, raises `TrailVerificationError` naming the first fault.

    `full` also checks that every append left a checkpoint and that each one's signature and root hold
    (slow: one signature check per record)."""
    started = time.perf_counter()
    keys = {key_id(k): k for k in public_keys}
    with store.snapshot() as view:
        log_id = view.log_id()
        latest = view.latest_checkpoint()
        targets = {s for s in (latest and latest.size, witness and witness.size, expected_size) if s}
        prefix: dict[int, bytes] = {0: EMPTY_ROOT}
        acc = StreamingRoot()
        sha256 = hashlib.sha256
        for seq, columns, body, leaf in view.rows():
            if seq != acc.size:
                raise TrailVerificationError(
                    f"record {acc.size} is missing (the next stored record is {seq})", seq=acc.size, problem="missing"
                )
            if sha256(b"\x00" + body).digest() != leaf:
                raise TrailVerificationError(
                    f"record {seq} was edited: its content no longer matches its stored hash", seq=seq, problem="edited"
                )
            relabelled = column_problem(seq, columns, body)
            if relabelled is not None:
                raise TrailVerificationError(
                    f"{relabelled}: a lookup column was edited, so readers would show or judge it under a forged value",
                    seq=seq,
                    problem="relabelled",
                )
            acc.add(leaf)
            if acc.size in targets:
                prefix[acc.size] = acc.root()
        size, root = acc.size, acc.root()
        prefix[size] = root
        checker = _Checker(view, keys, size)
        checked = 1

        if latest is not None and latest.key_id not in keys:
            raise TrailVerificationError(
                f"the trail is signed by key {latest.key_id}, which is not among the trusted keys"
                f" ({', '.join(keys) or 'none'}): verify with its public key",
                problem="untrusted-key",
            )
        if latest is None:
            if size:
                raise TrailVerificationError(
                    f"the trail has {size} records but no signed checkpoint", seq=0, problem="unsigned"
                )
        elif latest.verify(keys) is not None or latest.size > size or prefix[latest.size] != latest.root:
            checker.localize()
            # Every checkpoint up to the records' end holds: the fault is past the end of the records.
            if latest.size > size:
                raise TrailVerificationError(
                    f"the latest checkpoint signs {latest.size} records but only {size} remain:"
                    f" records {size}..{latest.size - 1} were deleted",
                    seq=size,
                    problem="truncated",
                )
            raise TrailVerificationError(f"the latest checkpoint {latest.verify(keys)}", problem="checkpoint")
        elif latest.size < size:
            raise TrailVerificationError(
                f"records {latest.size}..{size - 1} are not covered by any signed checkpoint (added without the key)",
                seq=latest.size,
                problem="unsigned",
            )

        if witness is not None:
            checked += 1
            _check_witness(witness, keys, log_id, size, prefix)
        if expected_size is not None and size < expected_size:
            raise TrailVerificationError(
                f"truncated: {expected_size} records were expected but the trail has only {size}",
                seq=size,
                problem="truncated",
            )
        if full:
            checked += checker.check_all(latest.size if latest else 0)
    return VerifyReport(size, root, latest, witness, checked, time.perf_counter() - started)


def _check_witness(
    witness: Checkpoint, keys: dict[str, Ed25519PublicKey], log_id: str, size: int, prefix: dict[int, bytes]
) -> None:
    """The trail must be the witness's trail and extend the tree head it holds: the root recomputed over the
    first `witness.size` records must be the witness's root (a consistency check from the records themselves,
    so a rewrite followed by new appends shows, however many appends followed)."""
    problem = witness.verify(keys)
    if problem is not None:
        raise TrailVerificationError(f"the witness checkpoint {problem}", problem="witness")
    if witness.log_id != log_id:
        raise TrailVerificationError(
            f"replaced: the witness pins trail {witness.log_id} at this location, but this is trail {log_id}"
            f" (the witness saw {witness.size} records at {witness.time}): the trail was deleted and made anew,"
            " or another trail was put in its place",
            seq=0,
            problem="replaced",
        )
    if witness.size > size:
        raise TrailVerificationError(
            f"truncated: the witness saw a signed checkpoint of {witness.size} records at {witness.time},"
            f" but the trail has only {size}; records {size}..{witness.size - 1} were deleted"
            " (or the database was rolled back)",
            seq=size,
            problem="truncated",
        )
    if prefix[witness.size] != witness.root:
        raise TrailVerificationError(
            f"forked: the trail's first {witness.size} records differ from the witness checkpoint of"
            f" {witness.time} (rewritten, then appended to)",
            problem="forked",
        )


class _Checker:
    """The slow path: checkpoints against prefix roots of the recomputed tree."""

    def __init__(self, view: TrailView, keys: dict[str, Ed25519PublicKey], size: int) -> None:
        self._view, self._keys, self._size = view, keys, size
        self._levels: MerkleLevels | None = None

    def levels(self) -> MerkleLevels:
        if self._levels is None:
            self._levels = MerkleLevels(leaf_hash(body) for _, body, _ in self._view.scan())
        return self._levels

    def _fault(self, size: int) -> tuple[Checkpoint, str | None, bool] | None:
        """None when the checkpoint for `size` is absent; else (checkpoint, signature problem, root matches)."""
        cp = self._view.checkpoint(size)
        if cp is None:
            return None
        return cp, cp.verify(self._keys), self.levels().root(size) == cp.root

    def localize(self) -> None:
        """Raise for the first checkpoint (up to the records' end) that does not hold; return if all hold."""
        sizes = [s for s in self._view.checkpoint_sizes() if s <= self._size]
        lo, hi = 0, len(sizes)  # invariant: sizes[:lo] hold, sizes[hi:] do not
        while lo < hi:
            mid = (lo + hi) // 2
            fault = self._fault(sizes[mid])
            if fault is not None and fault[1] is None and fault[2]:
                lo = mid + 1
            else:
                hi = mid
        if lo == len(sizes):
            return
        bad = sizes[lo]
        good = sizes[lo - 1] if lo else 0
        fault = self._fault(bad)
        assert fault is not None
        signature_problem = fault[1]
        if signature_problem is not None:
            raise TrailVerificationError(
                f"record {good} onwards is not vouched for by a valid signature: the checkpoint for {bad} records"
                f" {signature_problem} (records rewritten and rehashed, or the checkpoint altered, without the key)",
                seq=good,
                problem="forged",
            )
        raise TrailVerificationError(
            f"record {good} was changed: records {good}..{bad - 1} no longer match the signed checkpoint for"
            f" {bad} records (an edit, insertion, deletion or reordering)",
            seq=good,
            problem="edited",
        )

    def check_all(self, latest_size: int) -> int:
        sizes = self._view.checkpoint_sizes()
        missing = sorted(set(range(1, latest_size + 1)) - set(sizes))
        if missing:
            raise TrailVerificationError(
                f"the checkpoint for {missing[0]} records is missing", seq=missing[0] - 1, problem="checkpoint"
            )
        for size in sizes:
            fault = self._fault(size)
            assert fault is not None
            if fault[1] is not None or not fault[2]:
                reason = fault[1] or "its root does not match the records"
                raise TrailVerificationError(
                    f"the checkpoint for {size} records does not hold: {reason}", problem="checkpoint"
                )
        return len(sizes)
