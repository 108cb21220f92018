"""The trail appends durably, signs every append, keeps secrets out, and survives concurrent writers.

Every test runs on both backends: SQLite in a temporary directory and PostgreSQL in a fresh database.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import anyio
import pytest

from magistrate.broker import (
    AuditError,
    CallContext,
    Decision,
    DecisionRecord,
    ToolCall,
    ToolOutcome,
    Trail,
    TrailVerificationError,
    verify_trail,
)
from magistrate.broker._audit_records import OutcomeRecord, parse_record
from magistrate.broker._merkle import MerkleLevels, verify_inclusion
from magistrate.broker._signing import Checkpoint, load_or_create_signing_key, public_key_pem
from magistrate.broker._trail_witness import Witness

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "state" / "trail.sqlite3")
    url: str = request.getfixturevalue("postgres_database")
    return url


@pytest.fixture
def key_path(tmp_path: Path) -> Path:
    return tmp_path / "config" / "trail.key"


def decision_record(i: int, **input_: object) -> DecisionRecord:
    call = ToolCall("Bash", {"command": f"echo {i}", **input_}, tool_use_id=f"tu{i}")
    return DecisionRecord.of(call, CallContext(session_id="s1"), Decision("allow", call.tool_input))


async def test_append_returns_sequential_signed_receipts(db: str, key_path: Path) -> None:
    with anyio.fail_after(30):
        async with Trail.open(db, key_path=key_path) as trail:
            receipts = [await trail.append(decision_record(i)) for i in range(5)]
            assert [r.seq for r in receipts] == [0, 1, 2, 3, 4]
            assert [r.checkpoint.size for r in receipts] == [1, 2, 3, 4, 5]
            keys = {receipts[0].checkpoint.key_id: trail.public_key}
            assert all(r.checkpoint.verify(keys) is None for r in receipts)
            assert trail.witness is not None
            report = verify_trail(trail.store, [trail.public_key], witness=trail.witness.read(trail.log_id))
            assert report.size == 5
            assert report.root == receipts[-1].checkpoint.root
            # the receipt's leaf is provably in the signed tree
            levels = MerkleLevels(r.leaf for r in receipts)
            proof = levels.inclusion_proof(2, 5)
            assert verify_inclusion(receipts[2].leaf, 2, 5, proof, receipts[-1].checkpoint.root)


async def test_key_is_created_private_and_reused(db: str, key_path: Path) -> None:
    with anyio.fail_after(30):
        async with Trail.open(db, key_path=key_path) as first:
            await first.append(decision_record(0))
            public = first.public_key
        assert (await anyio.Path(key_path).stat()).st_mode & 0o777 == 0o600
        async with await Trail.aopen(db, key_path=key_path) as second:
            assert second.public_key == public
            receipt = await second.append(decision_record(1))
            assert receipt.seq == 1
            verify_trail(second.store, [public])


async def test_records_are_canonical_and_read_back(db: str, key_path: Path) -> None:
    with anyio.fail_after(30):
        async with Trail.open(db, key_path=key_path) as trail:
            await trail.append(decision_record(0, note="héllo"))
            await trail.append(OutcomeRecord.of(ToolOutcome("tu0", "Bash", "s1", "success", result_size=3)))
            rows = trail.records()
    assert [r.kind for r in rows] == ["decision", "outcome"]
    body = rows[0].body
    assert body == json.dumps(json.loads(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    parsed = parse_record(rows[0].body)
    assert isinstance(parsed, DecisionRecord)
    assert parsed.input["note"] == "héllo"
    assert rows[1].tool_use_id == "tu0"


async def test_secrets_are_replaced_by_comparable_keyed_hashes(db: str, key_path: Path) -> None:
    secret = "ghp_" + "a1B2" * 9
    with anyio.fail_after(30):
        async with Trail.open(db, key_path=key_path) as trail:
            await trail.append(
                decision_record(0, command=f"GITHUB_TOKEN={secret} gh pr list", env={"AWS_PROFILE": "prod"})
            )
            await trail.append(decision_record(1, password="hunter2", token=secret))
            bodies = [r.body.decode() for r in trail.records()]
    assert all(secret not in b and "hunter2" not in b and "prod" not in b for b in bodies)
    first, second = (json.loads(b)["input"] for b in bodies)
    assert first["command"].startswith("GITHUB_TOKEN=[hmac:")
    assert first["command"].endswith(" gh pr list")
    assert list(first["env"]) == ["AWS_PROFILE"]
    assert second["token"] == first["command"].split("=", 1)[1].split(" ")[0]  # same secret, same stand-in


async def test_concurrent_tasks_share_commits_and_stay_ordered(db: str, key_path: Path) -> None:
    with anyio.fail_after(60):
        async with Trail.open(db, key_path=key_path) as trail:
            seqs: list[int] = []

            async def one(i: int) -> None:
                seqs.append((await trail.append(decision_record(i))).seq)

            async with anyio.create_task_group() as tg:
                for i in range(60):
                    tg.start_soon(one, i)
            assert sorted(seqs) == list(range(60))
            assert verify_trail(trail.store, [trail.public_key], full=True).size == 60


_WRITER = textwrap.dedent(
    """
    import sys
    import anyio
    from magistrate.broker import CallContext, Decision, DecisionRecord, ToolCall, Trail

    async def main(db, key, worker, count):
        async with Trail.open(db, key_path=key) as trail:
            for i in range(count):
                call = ToolCall("Read", {"file_path": f"/w{worker}/{i}"}, tool_use_id=f"{worker}-{i}")
                await trail.append(DecisionRecord.of(call, CallContext(session_id=worker), Decision("allow", {})))

    anyio.run(main, sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))
    """
)


def test_several_processes_append_without_breaking_the_chain(db: str, key_path: Path, tmp_path: Path) -> None:
    script = tmp_path / "writer.py"
    script.write_text(_WRITER)
    Trail.open(db, key_path=key_path).close()  # create the key and schema once, as a deployment would
    procs = [
        subprocess.Popen([sys.executable, str(script), db, str(key_path), f"w{n}", "25"], stderr=subprocess.PIPE)
        for n in range(4)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
    trail = Trail.open(db, key_path=key_path)
    try:
        witness = trail.witness.read(trail.log_id) if trail.witness else None
        report = verify_trail(trail.store, [trail.public_key], witness=witness, full=True)
        assert report.size == 100
        assert witness is not None
        assert witness.size == 100
        rows = trail.records()
        per_worker = {f"w{n}": [r.tool_use_id for r in rows if r.session_id == f"w{n}"] for n in range(4)}
        assert all(ids == [f"{w}-{i}" for i in range(25)] for w, ids in per_worker.items())
    finally:
        trail.close()


def test_checkpoint_round_trips_through_json() -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    cp = Checkpoint.sign(key, "log", 3, b"r" * 32, "2026-01-01T00:00:00.000000Z")
    again = Checkpoint.from_json(json.loads(json.dumps(cp.to_json())))
    assert again == cp
    assert again.verify({cp.key_id: key.public_key()}) is None
    other = Ed25519PrivateKey.generate().public_key()
    assert again.verify({cp.key_id: other}) is not None


async def test_writers_with_their_own_keys_share_one_trail(
    db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_a, key_b = tmp_path / "a" / "trail.key", tmp_path / "b" / "trail.key"
    public_a = load_or_create_signing_key(key_a).public_key()
    public_b = load_or_create_signing_key(key_b).public_key()
    with anyio.fail_after(30):
        async with Trail.open(db, key_path=key_a) as alone:
            await alone.append(decision_record(0))
        async with Trail.open(db, key_path=key_b) as stranger:
            with pytest.raises(AuditError, match="not among the trusted keys"):
                await stranger.append(decision_record(0))  # b does not sign over a's checkpoint unasked
        pem_a = tmp_path / "a.pub"
        pem_a.write_text(public_key_pem(public_a))
        monkeypatch.setenv("MAGISTRATE_TRAIL_TRUSTED_KEYS", str(pem_a))  # b learns a's key from the environment
        async with (
            Trail.open(db, key_path=key_a, trusted_keys=[public_b]) as first,
            Trail.open(db, key_path=key_b) as second,
        ):
            for i in range(3):
                await first.append(decision_record(i))
                await second.append(decision_record(i))
            both = [first.public_key, second.public_key]
            assert verify_trail(first.store, both, full=True).size == 7
            with pytest.raises(TrailVerificationError, match="not among the trusted keys"):
                verify_trail(first.store, [first.public_key], full=True)


async def test_cancelled_writers_never_strand_the_others(db: str, key_path: Path) -> None:
    with anyio.fail_after(60):
        async with Trail.open(db, key_path=key_path) as trail:
            done: list[int] = []

            async def one(i: int) -> None:
                done.append((await trail.append(decision_record(i))).seq)

            async with anyio.create_task_group() as outer:
                with anyio.CancelScope() as doomed:
                    async with anyio.create_task_group() as inner:
                        for i in range(10):
                            inner.start_soon(one, i)
                        for i in range(10, 20):
                            outer.start_soon(one, i)
                        await anyio.lowlevel.checkpoint()
                        doomed.cancel()
            # every append that returned has a distinct place; the trail verifies with whatever was written
            assert len(set(done)) == len(done) >= 10
            written = trail.size()
            assert written >= len(done)
            assert verify_trail(trail.store, [trail.public_key], full=True).size == written


async def test_a_sessions_last_decisions_come_back_oldest_first(db: str, key_path: Path) -> None:
    with anyio.fail_after(30):
        async with Trail.open(db, key_path=key_path) as trail:
            for i in range(5):
                await trail.append(decision_record(i))
            await trail.append(OutcomeRecord.of(ToolOutcome("tu4", "Bash", "s1", "success")))
            bodies = trail.session_decisions("s1", 3)
            assert trail.session_decisions("other", 3) == []
    assert [r.input["command"] for r in bodies] == ["echo 2", "echo 3", "echo 4"]


async def test_a_calls_decision_and_ranges_of_records_are_read_as_values(db: str, key_path: Path) -> None:
    with anyio.fail_after(30):
        async with Trail.open(db, key_path=key_path) as trail:
            for i in range(4):
                await trail.append(decision_record(i))
            await trail.append(OutcomeRecord.of(ToolOutcome("tu2", "Bash", "s1", "success")))
            found = trail.decision_for("tu2")
            missing = trail.decision_for("no-such-call")
            size, window, last = trail.size(), trail.records(start=1, limit=2), trail.tail(2)
            one, past_the_end = trail.record(3), trail.record(5)
    assert found is not None
    assert (found.tool_use_id, found.input["command"]) == ("tu2", "echo 2")
    assert missing is None
    assert size == 5
    assert [r.seq for r in window] == [1, 2]
    assert [(r.seq, r.kind) for r in last] == [(3, "decision"), (4, "outcome")]
    assert one is not None
    assert (one.seq, one.tool_use_id) == (3, "tu3")
    assert past_the_end is None


async def test_the_witness_follows_the_commits_and_is_exact_once_closed(tmp_path: Path) -> None:
    """Written off the call's path: another reader may find it behind the commits, never ahead of them; this
    trail's own witness reads exact, and closing writes the latest checkpoint."""
    key_path = tmp_path / "keys" / "trail.key"
    with anyio.fail_after(30):
        trail = Trail.open(tmp_path / "t.sqlite3", key_path=key_path)
        try:
            for i in range(20):
                await trail.append(decision_record(i))
            elsewhere = Witness.beside(key_path).read(trail.log_id)
            assert elsewhere is None or elsewhere.size <= 20
            assert trail.witness is not None
            held = trail.witness.read(trail.log_id)
            assert held is not None
            assert held.size == 20
        finally:
            trail.close()
        closed = Witness.beside(key_path).read(trail.log_id)
        assert closed is not None
        assert closed.size == 20
