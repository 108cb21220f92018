"""`magistrate audit ...` keeps its promises to scripts: exit codes, JSONL, and what it names on failure."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest
import rfc8785

from magistrate.broker import CallContext, Decision, DecisionRecord, ToolCall, Trail
from magistrate.broker._merkle import leaf_hash, verify_consistency, verify_inclusion
from magistrate.cli._main import main


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("MAGISTRATE_TRAIL_KEY", raising=False)
    url = str(tmp_path / "trail.sqlite3") if request.param == "sqlite" else request.getfixturevalue("postgres_database")

    async def fill() -> None:
        with anyio.fail_after(30):
            async with Trail.open(url) as trail:
                for i, tool in enumerate(["Bash", "Read", "WebFetch"]):
                    call = ToolCall(tool, {"n": i}, tool_use_id=f"tu{i}")
                    context = CallContext(session_id="s1" if i < 2 else "s2")
                    await trail.append(DecisionRecord.of(call, context, Decision("allow", call.tool_input)))

    anyio.run(fill)
    return url


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["audit", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def sql(db: str, statement: str) -> None:
    if db.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(db, autocommit=True) as conn:
            conn.execute(statement)
        return
    import sqlite3

    lite = sqlite3.connect(db, isolation_level=None)
    lite.execute(statement)
    lite.close()


def test_verify_exits_zero_when_intact(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "verify", "--db", db)
    assert code == 0
    assert out.startswith("OK: 3 records intact")
    assert "witness at 3" in out


def test_verify_exits_one_and_names_the_first_bad_record(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    sql(db, "DELETE FROM trail_records WHERE seq = 1")
    code, out, _ = run(capsys, "verify", "--db", db)
    assert code == 1
    assert out.startswith("FAILED (missing) at record 1:")


def test_verify_uses_the_witness_to_catch_truncation(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    sql(db, "DELETE FROM trail_records WHERE seq = 2")
    sql(db, "DELETE FROM trail_checkpoints WHERE tree_size = 3")
    code, out, _ = run(capsys, "verify", "--db", db, "--no-witness")
    assert code == 0  # the database alone cannot tell
    code, out, _ = run(capsys, "verify", "--db", db)
    assert code == 1
    assert "FAILED (truncated) at record 2" in out
    code, out, _ = run(capsys, "verify", "--db", db, "--no-witness", "--expect-size", "3")
    assert code == 1


def test_a_saved_checkpoint_and_the_public_key_are_enough(
    db: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, pem, _ = run(capsys, "key")
    assert code == 0
    assert pem.startswith("-----BEGIN PUBLIC KEY-----")
    code, checkpoint, _ = run(capsys, "checkpoint", "--db", db)
    assert code == 0
    (tmp_path / "pub.pem").write_text(pem)
    (tmp_path / "cp.json").write_text(checkpoint)
    args = ["--db", db, "--key", str(tmp_path / "absent.key"), "--public-key", str(tmp_path / "pub.pem")]
    code, out, _ = run(capsys, "verify", *args, "--witness", str(tmp_path / "cp.json"))
    assert code == 0, out
    sql(db, "DELETE FROM trail_records WHERE seq = 2")
    sql(db, "DELETE FROM trail_checkpoints WHERE tree_size = 3")
    code, out, _ = run(capsys, "verify", *args, "--witness", str(tmp_path / "cp.json"))
    assert code == 1


def test_verify_exits_two_when_the_trail_cannot_be_read(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "verify", "--db", str(tmp_path / "nothing.sqlite3"))
    assert code == 2
    assert "no trail at" in err
    assert not (tmp_path / "nothing.sqlite3").exists()


def test_export_writes_jsonl_that_rehashes_to_the_leaves(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "export", "--db", db)
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["seq"] for line in lines] == [0, 1, 2]
    assert all(leaf_hash(rfc8785.dumps(line["record"])).hex() == line["leaf"] for line in lines)
    assert lines[2]["record"]["tool_name"] == "WebFetch"
    code, out, _ = run(capsys, "export", "--db", db, "--session", "s2")
    assert [json.loads(line)["seq"] for line in out.splitlines()] == [2]


def test_show_and_tail_list_records(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "show", "--db", db)
    assert code == 0
    assert [line.split()[3] for line in out.splitlines()[1:]] == ["s1", "s1", "s2"]
    code, out, _ = run(capsys, "tail", "--db", db, "-n", "1")
    assert "WebFetch" in out
    assert "Bash" not in out
    code, out, _ = run(capsys, "show", "--db", db, "--seq", "1")
    assert json.loads(out)["record"]["tool_name"] == "Read"


def test_proof_verifies_against_the_signed_root(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    import base64

    code, out, _ = run(capsys, "proof", "--db", db, "1")
    assert code == 0
    proof = json.loads(out)
    root = base64.b64decode(proof["checkpoint"]["root"])
    path = [bytes.fromhex(h) for h in proof["proof"]]
    assert verify_inclusion(bytes.fromhex(proof["leaf"]), 1, proof["checkpoint"]["size"], path, root)


def test_a_trail_replaced_by_a_fresh_one_is_caught(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    if db.startswith("postgresql://"):
        sql(db, "DROP TABLE trail_meta, trail_records, trail_checkpoints, trail_head")
    else:
        for path in Path(db).parent.glob(Path(db).name + "*"):
            path.unlink()
    Trail.open(db).close()  # an empty trail with a new log id, where the old one was
    code, out, _ = run(capsys, "verify", "--db", db)
    assert code == 1
    assert "FAILED (replaced)" in out
    assert "the witness saw 3 records" in out


def test_verify_json_gives_scripts_the_verdict(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "verify", "--db", db, "--json")
    verdict = json.loads(out)
    assert (code, verdict["ok"], verdict["size"], verdict["witness_size"]) == (0, True, 3, 3)
    assert verdict["checkpoint"]["size"] == 3
    sql(db, "DELETE FROM trail_records WHERE seq = 1")
    code, out, _ = run(capsys, "verify", "--db", db, "--json")
    verdict = json.loads(out)
    assert (code, verdict["ok"], verdict["seq"], verdict["problem"]) == (1, False, 1, "missing")


def test_consistency_proof_since_an_earlier_checkpoint(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    import base64

    code, out, _ = run(capsys, "proof", "--db", db, "--since", "2")
    assert code == 0
    proof = json.loads(out)
    old, new = proof["old_checkpoint"], proof["checkpoint"]
    hashes = [bytes.fromhex(h) for h in proof["proof"]]
    roots = base64.b64decode(old["root"]), base64.b64decode(new["root"])
    assert verify_consistency(old["size"], new["size"], *roots, hashes)
    code, _, err = run(capsys, "proof", "--db", db)
    assert code == 2
    assert "either" in err
