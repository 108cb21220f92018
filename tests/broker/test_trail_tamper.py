"""Every attack on the stored trail is caught, and the first bad record is named.

The attacker here has the database (both backends) but not the private key; the verifier has only the public
key, the database, and (for truncation) the witness or an expected size.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from magistrate.broker import (
    AuditError,
    CallContext,
    Checkpoint,
    Decision,
    DecisionRecord,
    ToolCall,
    Trail,
    TrailVerificationError,
)
from magistrate.broker._merkle import Frontier, MerkleLevels, leaf_hash
from magistrate.broker._signing import load_public_key, public_key_pem
from magistrate.broker._storage import Store, open_store
from magistrate.broker._trail_verify import VerifyReport, verify_trail

N = 10


@dataclass
class Setup:
    db: str
    public_key: Ed25519PublicKey
    witness: Checkpoint | None

    def sql(self, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        if self.db.startswith("postgresql://"):
            import psycopg

            with psycopg.connect(self.db, autocommit=True) as conn:
                cur = conn.execute(statement.replace("?", "%s"), params)
                return list(cur.fetchall()) if cur.description else []
        import sqlite3

        lite = sqlite3.connect(self.db, isolation_level=None)
        try:
            return list(lite.execute(statement, params).fetchall())
        finally:
            lite.close()

    def verify(self, **kwargs: Any) -> VerifyReport:
        store = open_store(self.db)
        try:
            return verify_trail(store, [self.public_key], **kwargs)
        finally:
            store.close()

    def fails(self, **kwargs: Any) -> TrailVerificationError:
        with pytest.raises(TrailVerificationError) as info:
            self.verify(**kwargs)
        return info.value

    def body(self, seq: int) -> bytes:
        return bytes(self.sql("SELECT body FROM trail_records WHERE seq = ?", (seq,))[0][0])

    def leaves(self) -> list[bytes]:
        return [bytes(r[0]) for r in self.sql("SELECT leaf FROM trail_records ORDER BY seq")]

    def rehash_everything(self, *, checkpoints: bool = True) -> None:
        """What an attacker without the key can do: make every hash consistent with the edited records."""
        for seq, body in self.sql("SELECT seq, body FROM trail_records ORDER BY seq"):
            self.sql("UPDATE trail_records SET leaf = ? WHERE seq = ?", (leaf_hash(bytes(body)), seq))
        leaves = self.leaves()
        levels = MerkleLevels(leaves)
        for (size,) in self.sql("SELECT tree_size FROM trail_checkpoints") if checkpoints else []:
            if size <= len(leaves):
                self.sql("UPDATE trail_checkpoints SET root = ? WHERE tree_size = ?", (levels.root(size), size))
        frontier = Frontier()
        for leaf in leaves:
            frontier = frontier.append(leaf)
        self.sql("UPDATE trail_head SET tree_size = ?, frontier = ? WHERE id = 1", (frontier.size, frontier.encode()))


@pytest.fixture(params=["sqlite", "postgres"])
def trail(request: pytest.FixtureRequest, tmp_path: Path) -> Setup:
    db = str(tmp_path / "trail.sqlite3") if request.param == "sqlite" else request.getfixturevalue("postgres_database")
    key_path = tmp_path / "keys" / "trail.key"

    async def fill() -> Setup:
        with anyio.fail_after(60):
            return await _fill()

    async def _fill() -> Setup:
        async with Trail.open(db, key_path=key_path) as t:
            for i in range(N):
                call = ToolCall("Bash", {"command": f"echo {i}"}, tool_use_id=f"tu{i}")
                await t.append(DecisionRecord.of(call, CallContext(session_id="s"), Decision("allow", call.tool_input)))
            assert t.witness is not None
            return Setup(db, t.public_key, t.witness.read(t.log_id))

    setup = anyio.run(fill)
    assert setup.verify(witness=setup.witness, full=True).size == N
    return setup


def edited(body: bytes) -> bytes:
    return body.replace(b'"allow"', b'"deny"')


def test_an_edited_record_is_named(trail: Setup) -> None:
    trail.sql("UPDATE trail_records SET body = ? WHERE seq = 3", (edited(trail.body(3)),))
    error = trail.fails()
    assert (error.seq, error.problem) == (3, "edited")
    assert "record 3" in str(error)


def test_an_edited_record_with_its_leaf_recomputed_is_named(trail: Setup) -> None:
    body = edited(trail.body(3))
    trail.sql("UPDATE trail_records SET body = ?, leaf = ? WHERE seq = 3", (body, leaf_hash(body)))
    error = trail.fails()
    assert (error.seq, error.problem) == (3, "edited")


def test_a_log_whose_hashes_were_all_recomputed_without_the_key_fails(trail: Setup) -> None:
    trail.sql("UPDATE trail_records SET body = ? WHERE seq = 3", (edited(trail.body(3)),))
    trail.rehash_everything()
    error = trail.fails()
    assert (error.seq, error.problem) == (3, "forged")


def test_a_deleted_record_is_named(trail: Setup) -> None:
    trail.sql("DELETE FROM trail_records WHERE seq = 4")
    error = trail.fails()
    assert (error.seq, error.problem) == (4, "missing")


def test_a_deleted_record_with_the_rest_renumbered_is_named(trail: Setup) -> None:
    trail.sql("DELETE FROM trail_records WHERE seq = 4")
    for seq in range(5, N):
        trail.sql("UPDATE trail_records SET seq = ? WHERE seq = ?", (seq - 1, seq))
    trail.rehash_everything()
    error = trail.fails()
    assert error.seq == 4


def test_an_inserted_record_is_named(trail: Setup) -> None:
    for seq in range(N - 1, 5, -1):
        trail.sql("UPDATE trail_records SET seq = ? WHERE seq = ?", (seq + 1, seq))
    fake = trail.body(2).replace(b"echo 2", b"rm -rf /")
    trail.sql(
        "INSERT INTO trail_records (seq, kind, time, session_id, tool_use_id, tool_name, body, leaf)"
        " VALUES (6, 'decision', 't', 's', 'x', 'Bash', ?, ?)",
        (fake, leaf_hash(fake)),
    )
    error = trail.fails()
    assert error.seq == 6


def test_a_record_appended_without_the_key_is_unsigned(trail: Setup) -> None:
    fake = trail.body(0)
    trail.sql(  # a copy of record 0, its lookup columns included, so only the signature is missing
        "INSERT INTO trail_records (seq, kind, time, session_id, tool_use_id, tool_name, body, leaf)"
        " SELECT ?, kind, time, session_id, tool_use_id, tool_name, ?, ? FROM trail_records WHERE seq = 0",
        (N, fake, leaf_hash(fake)),
    )
    error = trail.fails()
    assert (error.seq, error.problem) == (N, "unsigned")
    # ...and giving it a checkpoint with a copied signature does not help
    root = MerkleLevels(trail.leaves()).root()
    trail.sql(
        "INSERT INTO trail_checkpoints (tree_size, root, time, key_id, signature)"
        " SELECT ?, ?, time, key_id, signature FROM trail_checkpoints WHERE tree_size = ?",
        (N + 1, root, N),
    )
    error = trail.fails()
    assert (error.seq, error.problem) == (N, "forged")


def test_reordered_records_are_named(trail: Setup) -> None:
    columns = "kind, time, session_id, tool_use_id, tool_name, body, leaf"
    two, five = (trail.sql(f"SELECT {columns} FROM trail_records WHERE seq = ?", (seq,))[0] for seq in (2, 5))
    assign = "kind = ?, time = ?, session_id = ?, tool_use_id = ?, tool_name = ?, body = ?, leaf = ?"
    trail.sql(f"UPDATE trail_records SET {assign} WHERE seq = 2", five)  # whole rows swapped, columns too
    trail.sql(f"UPDATE trail_records SET {assign} WHERE seq = 5", two)
    error = trail.fails()
    assert (error.seq, error.problem) == (2, "edited")


def test_deleting_the_tail_but_not_its_checkpoints_is_truncation(trail: Setup) -> None:
    trail.sql("DELETE FROM trail_records WHERE seq >= 7")
    error = trail.fails()
    assert (error.seq, error.problem) == (7, "truncated")


def test_deleting_the_tail_with_its_checkpoints_needs_the_witness(trail: Setup) -> None:
    trail.sql("DELETE FROM trail_records WHERE seq >= 7")
    trail.sql("DELETE FROM trail_checkpoints WHERE tree_size > 7")
    trail.rehash_everything()  # puts the head back where a shorter trail would have it
    # The database alone is a perfectly signed shorter trail: this is the documented limit.
    assert trail.verify().size == 7
    error = trail.fails(witness=trail.witness)
    assert (error.seq, error.problem) == (7, "truncated")
    error = trail.fails(expected_size=N)
    assert (error.seq, error.problem) == (7, "truncated")


def test_an_altered_latest_checkpoint_leaves_its_record_unvouched(trail: Setup) -> None:
    trail.sql("UPDATE trail_checkpoints SET time = '2000-01-01T00:00:00.000000Z' WHERE tree_size = ?", (N,))
    error = trail.fails()
    assert (error.seq, error.problem) == (N - 1, "forged")


def test_an_altered_earlier_checkpoint_is_caught_by_full_verification(trail: Setup) -> None:
    trail.sql("UPDATE trail_checkpoints SET time = '2000-01-01T00:00:00.000000Z' WHERE tree_size = 4")
    trail.verify()
    error = trail.fails(full=True)
    assert error.problem == "checkpoint"
    assert "4 records" in str(error)


def test_full_verification_checks_every_checkpoint(trail: Setup) -> None:
    trail.sql("DELETE FROM trail_checkpoints WHERE tree_size = 4")
    trail.verify()  # the latest checkpoint still covers everything
    error = trail.fails(full=True)
    assert error.problem == "checkpoint"
    assert "4 records" in str(error)


def test_another_key_does_not_verify(trail: Setup) -> None:
    trail.public_key = Ed25519PrivateKey.generate().public_key()
    error = trail.fails()
    assert error.problem == "untrusted-key"
    assert "not among the trusted keys" in str(error)


def test_the_public_key_alone_is_enough(trail: Setup, tmp_path: Path) -> None:
    pem = tmp_path / "trail.pub"
    pem.write_text(public_key_pem(trail.public_key))
    trail.public_key = load_public_key(pem)
    assert trail.verify(witness=trail.witness).size == N


def test_verification_reads_one_snapshot(trail: Setup) -> None:
    store: Store = open_store(trail.db)
    try:
        with store.snapshot() as view:
            first = hashlib.sha256(b"".join(body for _, body, _ in view.scan())).hexdigest()
        assert first
    finally:
        store.close()


@pytest.mark.parametrize("attack", ["rehash", "head_only", "drop_checkpoints"])
def test_a_writer_never_signs_over_a_rewritten_trail(trail: Setup, tmp_path: Path, attack: str) -> None:
    if attack in ("rehash", "head_only"):
        trail.sql("UPDATE trail_records SET body = ? WHERE seq = 3", (edited(trail.body(3)),))
        # head_only: the checkpoints keep their signed roots; only the leaves and the head are recomputed
        trail.rehash_everything(checkpoints=attack == "rehash")
    else:
        trail.sql("DELETE FROM trail_checkpoints")

    async def append_one() -> None:
        with anyio.fail_after(30):
            async with Trail.open(trail.db, key_path=tmp_path / "keys" / "trail.key") as t:
                call = ToolCall("Bash", {"command": "echo after"}, tool_use_id="late")
                await t.append(DecisionRecord.of(call, CallContext(), Decision("allow", call.tool_input)))

    with pytest.raises(AuditError, match="refusing to sign over it"):
        anyio.run(append_one)
    error = trail.fails()  # and the tampering still shows
    assert error.seq in (0, 3)
