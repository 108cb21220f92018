"""The Merkle tree agrees with RFC 6962's recursive definition, and its proofs hold exactly where they should."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from magistrate.broker._merkle import (
    EMPTY_ROOT,
    Frontier,
    MerkleLevels,
    StreamingRoot,
    leaf_hash,
    node_hash,
    verify_consistency,
    verify_inclusion,
)


def mth(leaves: list[bytes]) -> bytes:
    """RFC 6962 section 2.1, written as the RFC writes it."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaves[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


def leaves_of(data: list[bytes]) -> list[bytes]:
    return [leaf_hash(d) for d in data]


def test_known_shapes() -> None:
    a, b, c = leaves_of([b"a", b"b", b"c"])
    assert leaf_hash(b"a") == hashlib.sha256(b"\x00a").digest()
    assert MerkleLevels([a, b, c]).root() == node_hash(node_hash(a, b), c)
    assert MerkleLevels([]).root() == EMPTY_ROOT
    assert Frontier().root() == EMPTY_ROOT


@given(st.lists(st.binary(max_size=8), max_size=70))
def test_every_construction_gives_the_rfc_root(data: list[bytes]) -> None:
    leaves = leaves_of(data)
    frontier = Frontier()
    stream = StreamingRoot()
    levels = MerkleLevels(leaves)
    for i, leaf in enumerate(leaves):
        frontier = frontier.append(leaf)
        stream.add(leaf)
        assert frontier.root() == stream.root() == levels.root(i + 1) == mth(leaves[: i + 1])
    assert Frontier.decode(frontier.size, frontier.encode()) == frontier


@given(st.lists(st.binary(max_size=4), min_size=1, max_size=40), st.data())
def test_inclusion_proofs_hold_for_every_leaf_and_prefix(data: list[bytes], draw: st.DataObject) -> None:
    leaves = leaves_of(data)
    levels = MerkleLevels(leaves)
    size = draw.draw(st.integers(1, len(leaves)))
    index = draw.draw(st.integers(0, size - 1))
    root = mth(leaves[:size])
    proof = levels.inclusion_proof(index, size)
    assert verify_inclusion(leaves[index], index, size, proof, root)
    assert not verify_inclusion(leaf_hash(b"other"), index, size, proof, root)
    if size > 1:
        assert not verify_inclusion(leaves[index], (index + 1) % size, size, proof, root) or (
            leaves[index] == leaves[(index + 1) % size]
        )
    assert not verify_inclusion(leaves[index], size, size, proof, root)


@given(st.lists(st.binary(max_size=4), min_size=2, max_size=30), st.data())
def test_any_change_to_the_leaves_changes_the_root(data: list[bytes], draw: st.DataObject) -> None:
    leaves = leaves_of(data)
    root = mth(leaves)
    i = draw.draw(st.integers(0, len(leaves) - 1))
    j = draw.draw(st.integers(0, len(leaves) - 1))
    edited = [*leaves[:i], leaf_hash(data[i] + b"!"), *leaves[i + 1 :]]
    assert mth(edited) != root
    assert mth(leaves[:i] + leaves[i + 1 :]) != root
    assert mth([*leaves[:i], leaf_hash(b"inserted" + data[i]), *leaves[i:]]) != root
    swapped = list(leaves)
    swapped[i], swapped[j] = swapped[j], swapped[i]
    assert (mth(swapped) == root) == (swapped == leaves)


@given(st.lists(st.binary(max_size=4), min_size=1, max_size=40), st.data())
def test_consistency_proofs_hold_for_prefixes_and_fail_for_rewrites(data: list[bytes], draw: st.DataObject) -> None:
    leaves = leaves_of(data)
    levels = MerkleLevels(leaves)
    new = draw.draw(st.integers(1, len(leaves)))
    old = draw.draw(st.integers(1, new))
    proof = levels.consistency_proof(old, new)
    old_root, new_root = mth(leaves[:old]), mth(leaves[:new])
    assert verify_consistency(old, new, old_root, new_root, proof)
    # a different history of the same length is not consistent with the new tree
    forged = mth([leaf_hash(b"forged"), *leaves[1:old]])
    if forged != old_root:
        assert not verify_consistency(old, new, forged, new_root, proof)
    if old < new:
        assert not verify_consistency(old, new, old_root, mth([*leaves[: new - 1], leaf_hash(b"x")]), proof) or (
            leaves[new - 1] == leaf_hash(b"x")
        )
