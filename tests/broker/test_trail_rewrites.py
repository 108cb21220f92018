"""A trail that cannot be rewritten unseen, on SQLite and PostgreSQL.

The attacker has write access to the database, but not the signing key or the witness. Each test does what
such an attacker can (edit a lookup column, cut the tail and recompute the head, roll the database back,
delete it, put another trail in its place) and shows that readers, writers and `verify` all notice.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest

from magistrate.broker import (
    AuditError,
    Broker,
    CallContext,
    CallView,
    Decision,
    DecisionRecord,
    Deny,
    PriorDecision,
    RulePolicy,
    ToolCall,
    Trail,
    TrailReader,
    TrailVerificationError,
)
from magistrate.broker._merkle import Frontier
from magistrate.broker._signing import load_or_create_signing_key
from tests.broker import _old_records as old

N = 6


@dataclass
class Setup:
    db: str
    key_path: Path

    @property
    def postgres(self) -> bool:
        return self.db.startswith("postgresql://")

    def sql(self, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        if self.postgres:
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

    def reader(self) -> TrailReader:
        return TrailReader.open(self.db)

    def verify(self) -> TrailVerificationError | None:
        """What `magistrate audit verify` concludes, witness beside the key included."""
        public = load_or_create_signing_key(self.key_path).public_key()
        with self.reader() as reader:
            try:
                reader.verify([public], witness=reader.witness_checkpoint(self.key_path))
            except TrailVerificationError as exc:
                return exc
        return None

    def append(self, command: str = "echo later") -> None:
        async def go() -> None:
            with anyio.fail_after(30):
                async with await Trail.aopen(self.db, key_path=self.key_path) as trail:
                    call = ToolCall("Bash", {"command": command}, tool_use_id="late")
                    await trail.append(DecisionRecord.of(call, CallContext(session_id="s"), Decision("allow", {})))

        anyio.run(go)

    def cut_to(self, size: int) -> None:
        """Delete the tail and its checkpoints and recompute the head from the stored leaves: no key needed."""
        self.sql("DELETE FROM trail_records WHERE seq >= ?", (size,))
        self.sql("DELETE FROM trail_checkpoints WHERE tree_size > ?", (size,))
        frontier = Frontier()
        for (leaf,) in self.sql("SELECT leaf FROM trail_records ORDER BY seq"):
            frontier = frontier.append(bytes(leaf))
        self.sql("UPDATE trail_head SET tree_size = ?, frontier = ? WHERE id = 1", (frontier.size, frontier.encode()))

    def drop(self) -> None:
        if self.postgres:
            self.sql("DROP TABLE trail_records, trail_checkpoints, trail_head, trail_meta")
        else:
            for suffix in ("", "-wal", "-shm"):
                Path(self.db + suffix).unlink(missing_ok=True)


def _no_curl_after_secrets(policy: RulePolicy) -> None:
    @policy.rule("Bash")
    def no_network_after_secrets(call: CallView, context: CallContext) -> Deny | None:
        read_secrets = any(str(p.tool_input.get("command", "")).startswith("cat secrets") for p in context.history)
        if read_secrets and str(call.raw.get("command", "")).startswith("curl"):
            return Deny("no network after reading secrets")
        return None


async def _decide(setup: Setup, command: str) -> Decision:
    """One call decided by a broker that has never seen the session (as each hook process is)."""
    policy = RulePolicy(default="allow")
    _no_curl_after_secrets(policy)
    async with await Trail.aopen(setup.db, key_path=setup.key_path) as trail:
        with anyio.fail_after(30):
            return await Broker(policy, trail).decide(
                ToolCall("Bash", {"command": command}, tool_use_id=f"tu-{command}"), CallContext(session_id="s")
            )


@pytest.fixture(params=["sqlite", "postgres"])
def setup(request: pytest.FixtureRequest, tmp_path: Path) -> Setup:
    db = str(tmp_path / "trail.sqlite3") if request.param == "sqlite" else request.getfixturevalue("postgres_database")
    made = Setup(db, tmp_path / "keys" / "trail.key")

    async def fill() -> None:
        await _decide(made, "cat secrets.txt")
        for i in range(1, N):
            await _decide(made, f"echo {i}")

    anyio.run(fill)
    assert made.verify() is None
    return made


# -- lookup columns ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("kind", "outcome"),
        ("time", "2000-01-01T00:00:00.000000Z"),
        ("session_id", "someone-else"),
        ("tool_use_id", "tu-forged"),
        ("tool_name", "Read"),
    ],
)
def test_an_edited_lookup_column_is_caught_by_readers_and_verify(setup: Setup, column: str, value: str) -> None:
    setup.sql(f"UPDATE trail_records SET {column} = ? WHERE seq = 3", (value,))
    error = setup.verify()
    assert error is not None
    assert (error.seq, error.problem) == (3, "relabelled")
    assert column in str(error)
    with setup.reader() as reader, pytest.raises(AuditError, match=f"{column} column says"):
        reader.records()
    with setup.reader() as reader, pytest.raises(AuditError):
        list(reader.scan())


@pytest.mark.parametrize("where", ["oldest", "newest"])
@pytest.mark.parametrize(("column", "value"), [("session_id", "someone-else"), ("kind", "outcome")])
def test_a_decision_taken_out_of_its_session_cannot_wash_the_history(
    setup: Setup, where: str, column: str, value: str
) -> None:
    assert anyio.run(_decide, setup, "curl https://example.com").behavior == "deny"  # the rule works
    seq = 0 if where == "oldest" else N  # the secrets read, or (newest) a second one right before the curl
    if where == "newest":
        assert anyio.run(_decide, setup, "cat secrets.txt again").behavior == "allow"
        setup.sql("UPDATE trail_records SET session_id = 'elsewhere' WHERE seq < ?", (seq,))
        seq += 1  # the deny of the curl came in between
    setup.sql(f"UPDATE trail_records SET {column} = ? WHERE seq = ?", (value, seq))
    decision = anyio.run(_decide, setup, "curl https://example.com")
    assert decision.behavior == "deny"
    assert decision.error is not None
    assert "tampered" in decision.error


def test_a_deleted_decision_of_the_session_is_noticed_by_the_history(setup: Setup) -> None:
    setup.sql("DELETE FROM trail_records WHERE seq = 0")
    decision = anyio.run(_decide, setup, "curl https://example.com")
    assert decision.behavior == "deny"
    assert decision.error is not None
    assert "no longer recorded" in decision.error


# -- the witness: cut, rolled back, replaced -----------------------------------------------------------------


def test_cutting_the_tail_then_carrying_on_is_refused_and_reported(setup: Setup) -> None:
    setup.cut_to(3)
    with pytest.raises(AuditError, match="cut off or the database was rolled back"):
        setup.append()
    decision = anyio.run(_decide, setup, "echo carry on")
    assert decision.behavior == "deny"
    assert decision.error is not None
    assert "trail append failed" in decision.error
    error = setup.verify()
    assert error is not None
    assert (error.seq, error.problem) == (3, "truncated")


def test_a_rolled_back_database_is_refused_and_reported(tmp_path: Path) -> None:
    made = Setup(str(tmp_path / "trail.sqlite3"), tmp_path / "keys" / "trail.key")
    for i in range(3):
        anyio.run(_decide, made, f"echo {i}")
    old = tmp_path / "old.sqlite3"
    shutil.copy(made.db, old)  # closed after each decision: the WAL is folded into the file
    for i in range(3, 6):
        anyio.run(_decide, made, f"echo {i}")
    shutil.copy(old, made.db)
    with pytest.raises(AuditError, match="rolled back"):
        made.append()
    error = made.verify()
    assert error is not None
    assert error.problem == "truncated"


def test_a_deleted_trail_made_anew_is_refused_and_reported_replaced(setup: Setup) -> None:
    setup.drop()
    with pytest.raises(AuditError, match="was replaced"):
        setup.append()
    error = setup.verify()
    assert error is not None
    assert error.problem == "replaced"


def test_another_trail_signed_by_the_same_key_cannot_stand_in(setup: Setup, tmp_path: Path) -> None:
    if setup.postgres:
        pytest.skip("a SQLite file put in place of a PostgreSQL database is the same test as the SQLite one")
    other = Setup(str(tmp_path / "other.sqlite3"), setup.key_path)  # the same user's other project
    for i in range(N + 2):
        anyio.run(_decide, other, f"echo other {i}")
    setup.drop()
    shutil.copy(other.db, setup.db)
    error = setup.verify()
    assert error is not None
    assert error.problem == "replaced"
    with pytest.raises(AuditError, match="was replaced"):
        setup.append()
    assert other.verify() is None  # where it belongs, the other trail still verifies


def test_an_intact_trail_keeps_working_and_verifying(setup: Setup) -> None:
    setup.append()
    assert anyio.run(_decide, setup, "echo fine").behavior == "allow"
    assert setup.verify() is None


def test_a_trail_of_version_1_2_and_3_records_still_verifies_and_reads(tmp_path: Path) -> None:
    """Records older versions wrote (flat fields; no `previous` before 3) stay as signed and read as today's."""
    made = Setup(str(tmp_path / "trail.sqlite3"), tmp_path / "keys" / "trail.key")
    old.write_old_trail(made.db, made.key_path)
    assert made.verify() is None
    with made.reader() as reader:
        assert [r.body for r in reader.records()] == old.OLD_RECORDS  # never rewritten
        decisions = reader.session_decisions("s", 10)
        assert [(r.v, r.call, r.context, r.decision) for r in decisions] == [
            (v, old.CALL, old.CONTEXT, old.DECISION) for v in (1, 2, 3)
        ]
        found = reader.decision_for("tu1")
        assert found is not None
        assert found.decision == old.DECISION
    # the history still counts: the session's old decisions are read back for a broker that has not seen it
    seen: list[tuple[PriorDecision, ...]] = []
    policy = RulePolicy(default="allow")

    @policy.rule("Bash")
    def look(call: CallView, context: CallContext) -> None:
        seen.append(context.history)

    async def decide() -> None:
        async with await Trail.aopen(made.db, key_path=made.key_path) as again:
            with anyio.fail_after(30):
                await Broker(policy, again).decide(ToolCall("Bash", {"command": "ls"}, "tu2"), CallContext("s"))

    anyio.run(decide)
    assert seen == [(PriorDecision("Bash", {"command": "rm x"}, "deny", "deny:0"),) * 3]
    assert made.verify() is None


def test_the_witness_never_moves_back_nor_to_another_root(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from magistrate.broker._signing import Checkpoint
    from magistrate.broker._trail_witness import Witness

    key = Ed25519PrivateKey.generate()
    witness = Witness(tmp_path / "trail.witness")
    three = Checkpoint.sign(key, "log", 3, b"a" * 32, "t3")
    witness.advance(three, "db")
    witness.advance(Checkpoint.sign(key, "log", 2, b"b" * 32, "t2"), "db")  # older: ignored
    assert witness.read("log") == three
    with pytest.raises(AuditError, match="forked"):
        witness.advance(Checkpoint.sign(key, "log", 3, b"c" * 32, "t3'"), "db")
    assert witness.pinned("db") == "log"
    assert witness.pinned("elsewhere") is None


def test_a_cut_trail_grown_past_the_witness_by_a_writer_without_it_is_forked(setup: Setup) -> None:
    """A writer elsewhere, without this witness, carries the cut trail on past the size the witness saw."""
    setup.cut_to(3)

    async def grow() -> None:
        with anyio.fail_after(60):
            async with await Trail.aopen(setup.db, key_path=setup.key_path, witness=False) as trail:
                for i in range(N):
                    call = ToolCall("Bash", {"command": f"echo other {i}"}, tool_use_id=f"o{i}")
                    await trail.append(DecisionRecord.of(call, CallContext(session_id="t"), Decision("allow", {})))

    anyio.run(grow)
    error = setup.verify()
    assert error is not None
    assert error.problem == "forked"
    with pytest.raises(AuditError, match="rewritten"):
        setup.append()  # and the writers that have the witness still refuse
