"""RFC 6962 Merkle tree hashing, so one signed root commits to every record before it, in order.

Leaves are `SHA-256(0x00 || record)`, interior nodes `SHA-256(0x01 || left || right)`; the tree over n
leaves splits at the largest power of two below n (RFC 6962 section 2.1). Three shapes of the same
arithmetic are needed:

- `Frontier`: the roots of the perfect subtrees along the right edge. Appending a leaf and computing the
  root both cost O(log n), so a writer never rereads the log; verification streams through it.
- `MerkleLevels`: every level of a tree held in memory, for prefix roots (which record first broke a
  signed checkpoint?) and inclusion proofs.
- `verify_inclusion`: checks an audit path against a root, with nothing but hashes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

_sha256 = hashlib.sha256
EMPTY_ROOT = _sha256(b"").digest()
"""MTH({}) = SHA-256(), the root of the empty tree."""


def leaf_hash(data: bytes) -> bytes:
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return _sha256(b"\x01" + left + right).digest()


@dataclass(frozen=True, slots=True)
class Frontier:
    """The right edge of a tree of `size` leaves: one subtree root per set bit of `size`, largest first."""

    size: int = 0
    hashes: tuple[bytes, ...] = ()

    def append(self, leaf: bytes) -> Frontier:
        """The frontier after one more leaf hash."""
        stack = list(self.hashes)
        carry = leaf
        size = self.size
        while size & 1:  # each trailing set bit is a full subtree of the same height to merge with
            carry = node_hash(stack.pop(), carry)
            size >>= 1
        stack.append(carry)
        return Frontier(self.size + 1, tuple(stack))

    def root(self) -> bytes:
        return fold_right(self.hashes)

    def encode(self) -> bytes:
        return b"".join(self.hashes)

    @classmethod
    def decode(cls, size: int, data: bytes) -> Frontier:
        count = size.bit_count()
        if len(data) != 32 * count:
            raise ValueError(f"a frontier of size {size} has {count} hashes, got {len(data)} bytes")
        return cls(size, tuple(data[i * 32 : (i + 1) * 32] for i in range(count)))


def fold_right(hashes: Sequence[bytes]) -> bytes:
    """Combine subtree roots (largest, leftmost first) the way RFC 6962 shapes an unbalanced tree."""
    if not hashes:
        return EMPTY_ROOT
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = node_hash(h, acc)
    return acc


class StreamingRoot:
    """Accumulates leaf hashes one at a time with O(log n) memory; the fast path of verification."""

    __slots__ = ("_size", "_stack")

    def __init__(self) -> None:
        self._stack: list[bytes] = []
        self._size = 0

    @property
    def size(self) -> int:
        return self._size

    def add(self, leaf: bytes) -> None:
        stack = self._stack
        size = self._size
        while size & 1:
            leaf = node_hash(stack.pop(), leaf)
            size >>= 1
        stack.append(leaf)
        self._size += 1

    def root(self) -> bytes:
        return fold_right(self._stack)


class MerkleLevels:
    """All levels of a tree over known leaf hashes: prefix roots and inclusion proofs in O(log n)."""

    def __init__(self, leaves: Iterable[bytes]) -> None:
        level = list(leaves)
        self.levels: list[list[bytes]] = [level]
        while len(level) > 1:
            level = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
            self.levels.append(level)

    @property
    def size(self) -> int:
        return len(self.levels[0])

    def root(self, size: int | None = None) -> bytes:
        """MTH of the first `size` leaves (all of them by default)."""
        size = self.size if size is None else size
        if not 0 <= size <= self.size:
            raise ValueError(f"size {size} outside 0..{self.size}")
        return self._subtree_root(0, size)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """The audit path of leaf `index` in the tree of the first `size` leaves (RFC 6962 PATH)."""
        size = self.size if size is None else size
        if not 0 <= index < size <= self.size:
            raise ValueError(f"no leaf {index} in a tree of {size}")
        return self._path(index, 0, size)

    def _subtree_root(self, start: int, size: int) -> bytes:
        # RFC 6962 only ever splits at powers of two, so such a subtree is a run of aligned perfect subtrees.
        hashes: list[bytes] = []
        offset = start
        for height in range(size.bit_length() - 1, -1, -1):
            if size >> height & 1:
                hashes.append(self.levels[height][offset >> height])
                offset += 1 << height
        return fold_right(hashes)

    def consistency_proof(self, old: int, new: int | None = None) -> list[bytes]:
        """Hashes showing the tree of `old` leaves is a prefix of the tree of `new` leaves (RFC 6962 PROOF)."""
        new = self.size if new is None else new
        if not 0 < old <= new <= self.size:
            raise ValueError(f"no consistency proof from {old} to {new} in a tree of {self.size}")
        return self._subproof(old, 0, new, complete=True)

    def _subproof(self, m: int, start: int, size: int, *, complete: bool) -> list[bytes]:
        if m == size:
            return [] if complete else [self._subtree_root(start, size)]
        k = 1 << ((size - 1).bit_length() - 1)
        if m <= k:
            return [*self._subproof(m, start, k, complete=complete), self._subtree_root(start + k, size - k)]
        return [*self._subproof(m - k, start + k, size - k, complete=False), self._subtree_root(start, k)]

    def _path(self, index: int, start: int, size: int) -> list[bytes]:
        if size == 1:
            return []
        k = 1 << ((size - 1).bit_length() - 1)
        if index < k:
            return [*self._path(index, start, k), self._subtree_root(start + k, size - k)]
        return [*self._path(index - k, start + k, size - k), self._subtree_root(start, k)]


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> bool:
    """True when `proof` places leaf hash `leaf` at `index` in the tree of `size` leaves with `root` (RFC 9162)."""
    if not 0 <= index < size:
        return False
    fn, sn = index, size - 1
    acc = leaf
    for sibling in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            acc = node_hash(sibling, acc)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            acc = node_hash(acc, sibling)
        fn >>= 1
        sn >>= 1
    return sn == 0 and acc == root


def verify_consistency(old: int, new: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> bool:
    """True when `proof` shows the tree (`old`, `old_root`) is a prefix of (`new`, `new_root`) (RFC 9162)."""
    if not 0 < old <= new:
        return False
    if old == new:
        return not proof and old_root == new_root
    path = list(proof)
    if old & (old - 1) == 0:  # an exact power of two: the old root is itself a node of the new tree
        path.insert(0, old_root)
    if not path:
        return False
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root
