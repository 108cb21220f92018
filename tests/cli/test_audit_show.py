"""`magistrate audit show|tail` as a reader uses them: what was asked, by which session, filtered, and never a
tampered trail shown as if it were sound."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import IO

import anyio
import pytest

from magistrate.broker import CallContext, Decision, DecisionRecord, ToolCall, Trail
from magistrate.cli import main
from tests._bounded import read_lines
from tests.broker import _old_records as old
from tests.cli._terminal import on_terminal

S1 = "3f2a9c1e-0000-4000-8000-000000000001"
S2 = "3f2a9c1e-0000-4000-8000-000000000002"
S3 = "77c0ffee-0000-4000-8000-000000000003"
CALLS = [
    ("Bash", {"command": "git status"}, "allow", S1),
    ("Read", {"file_path": "/work/contract.md"}, "allow", S1),
    ("Bash", {"command": "rm -rf /tmp/x"}, "deny", S2),
    ("mcp__documents__search_documents", {"query": "indemnity"}, "ask", S3),
]


def append(db: Path | str, calls: list[tuple[str, dict[str, str], str, str]], first: int = 0) -> None:
    async def fill() -> None:
        with anyio.fail_after(30):
            async with Trail.open(db) as trail:
                for i, (tool, tool_input, behavior, session) in enumerate(calls, start=first):
                    call = ToolCall(tool, tool_input, tool_use_id=f"tu{i}")
                    decision = Decision(behavior, call.tool_input, message=f"{behavior} by the test")  # type: ignore[arg-type]
                    await trail.append(DecisionRecord.of(call, CallContext(session_id=session), decision))

    anyio.run(fill)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "trail.sqlite3"
    append(path, CALLS)
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["audit", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def rows(out: str) -> list[list[str]]:
    return [line.split() for line in out.splitlines()[1:]]


def test_rows_show_the_input_and_the_full_session_id(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "show", "--db", str(db))
    assert code == 0
    assert out.splitlines()[0].split() == ["seq", "time", "kind", "session", "tool", "result", "input", "rule"]
    assert [r[3] for r in rows(out)] == [S1, S1, S2, S3]
    assert '{"command":"rm -rf /tmp/x"}' in out.splitlines()[3]
    assert "deny by the test" in out.splitlines()[3]


def test_a_session_prefix_selects_its_session(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("show", "tail"):
        code, out, _ = run(capsys, command, "--db", str(db), "--session", "77c0")
        assert code == 0
        assert [r[0] for r in rows(out)] == ["3"]
    code, out, _ = run(capsys, "show", "--db", str(db), "--session", S1)
    assert [r[0] for r in rows(out)] == ["0", "1"]


def test_a_prefix_of_nothing_or_of_several_sessions_is_refused(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "show", "--db", str(db), "--session", "abc")
    assert code == 1
    assert out == ""
    assert "no session is 'abc' or starts with it" in err
    code, out, err = run(capsys, "tail", "--db", str(db), "--session", "3f2a")
    assert code == 1
    assert "2 sessions start with '3f2a'" in err
    assert S1 in err
    assert S2 in err


def test_filters_by_tool_decision_and_time(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def seqs(*argv: str) -> list[str]:
        code, out, err = run(capsys, "show", "--db", str(db), *argv)
        assert code == 0, err
        return [r[0] for r in rows(out)]

    assert seqs("--tool", "Bash") == ["0", "2"]
    assert seqs("--tool", "mcp__documents__*") == ["3"]
    assert seqs("--tool", "Read", "--tool", "Bash") == ["0", "1", "2"]
    assert seqs("--decision", "deny") == ["2"]
    assert seqs("--decision", "deny", "--decision", "ask") == ["2", "3"]
    assert seqs("--since", "1h") == ["0", "1", "2", "3"]
    assert seqs("--until", "1h") == []
    assert seqs("--since", "2000-01-01", "--until", "2999-01-01T00:00:00Z", "--tool", "Bash") == ["0", "2"]
    code, _, err = run(capsys, "tail", "--db", str(db), "--since", "yesterday")
    assert code == 2
    assert "not a time: 'yesterday'" in err


def test_json_lines_carry_every_value_and_the_verdict(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "tail", "--db", str(db), "-n", "2", "--json")
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["seq"] for line in lines] == [2, 3]
    assert all(line["verified"] is True for line in lines)
    assert lines[0]["record"]["input"] == {"command": "rm -rf /tmp/x"}
    assert lines[1]["record"]["session_id"] == S3


def test_a_narrow_terminal_gets_cut_cells_and_json_keeps_them_whole(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    append(db, [("Bash", {"command": "echo " + "long " * 40}, "allow", S1)], first=len(CALLS))
    code, out = on_terminal(["audit", "show", "--db", str(db)], columns=140)
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == len(CALLS) + 2
    assert all(len(line) <= 140 for line in lines)
    assert "…" in lines[-1]
    assert S1 in lines[-1]  # the session is never cut
    code, piped, _ = run(capsys, "show", "--db", str(db))  # not a terminal: whole rows
    assert "echo " + "long " * 39 in piped
    code, piped, _ = run(capsys, "show", "--db", str(db), "--json", "--from", str(len(CALLS)))
    assert json.loads(piped)["record"]["input"]["command"] == "echo " + "long " * 40


def test_every_row_of_a_tampered_trail_is_marked_and_the_exit_is_one(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lite = sqlite3.connect(db, isolation_level=None)
    lite.execute(
        "UPDATE trail_records SET body = CAST(replace(CAST(body AS TEXT), 'rm -rf', 'ls -l') AS BLOB) WHERE seq = 2"
    )
    lite.close()
    code, out, err = run(capsys, "show", "--db", str(db))
    assert code == 1
    assert "the trail does NOT verify" in err
    assert "record 2" in err
    assert out.splitlines()[0].split()[0] == "!"
    assert [r[0] for r in rows(out)] == ["!"] * 4
    code, out, _ = run(capsys, "tail", "--db", str(db), "--json", "-n", "1")
    assert code == 1
    line = json.loads(out)
    assert line["verified"] is False
    assert "record 2" in line["problem"]
    code, out, _ = run(capsys, "show", "--db", str(db), "--no-verify")
    assert code == 0
    assert "!" not in out


def test_without_a_key_the_rows_are_listed_and_stderr_says_they_are_not_verified(
    db: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = run(capsys, "tail", "--db", str(db), "--key", str(tmp_path / "absent.key"), "--json")
    assert code == 0
    assert "not verified: no key" in err
    assert all(json.loads(line)["verified"] is None for line in out.splitlines())


def test_show_seq_and_unknown_records(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "show", "--db", str(db), "--seq", "2")
    assert code == 0
    assert json.loads(out)["record"]["input"] == {"command": "rm -rf /tmp/x"}
    code, _, err = run(capsys, "show", "--db", str(db), "--seq", "99")
    assert code == 1
    assert "no record 99" in err


def stdout_of(child: subprocess.Popen[bytes]) -> IO[bytes]:
    assert child.stdout is not None
    return child.stdout


def test_tail_follow_prints_appended_records_and_ctrl_c_exits_zero(db: Path) -> None:
    command = [sys.executable, "-m", "magistrate.cli", "audit", "tail", "-f", "--db", str(db), "-n", "1"]
    command += ["--interval", "0.05", "--tool", "Bash"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as child:
        try:
            first = read_lines(stdout_of(child), 2, timeout=60)
            assert first[0].split()[0] == b"seq"
            assert b"rm -rf" in first[1]
            append(db, [("Read", {"file_path": "/etc/hosts"}, "allow", S1)], first=len(CALLS))
            append(db, [("Bash", {"command": "echo appended"}, "allow", S1)], first=len(CALLS) + 1)
            later = read_lines(stdout_of(child), 1, timeout=60)
            assert b"echo appended" in later[0]
            assert later[0].split()[0] == str(len(CALLS) + 1).encode()
            child.send_signal(signal.SIGINT)
            assert child.wait(timeout=60) == 0
            assert b"Traceback" not in (child.stderr.read() if child.stderr else b"")
        finally:
            if child.poll() is None:
                child.kill()


def test_export_takes_a_session_prefix_too(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "export", "--db", str(db), "--session", "77c0")
    assert code == 0
    assert [json.loads(line)["seq"] for line in out.splitlines()] == [3]
    code, out, err = run(capsys, "export", "--db", str(db), "--session", "nothing")
    assert (code, out) == (1, "")
    assert "no session is 'nothing'" in err


def test_a_postgres_trail_reads_the_same(postgres_database: str, capsys: pytest.CaptureFixture[str]) -> None:
    append(postgres_database, CALLS)
    code, out, err = run(capsys, "tail", "--db", postgres_database, "--session", "3f2a9c1e-0000-4000-8000-0000000000")
    assert code == 1
    assert "2 sessions start with" in err
    code, out, _ = run(capsys, "show", "--db", postgres_database, "--session", "77c", "--json", "--decision", "ask")
    assert code == 0
    assert [json.loads(line)["seq"] for line in out.splitlines()] == [3]
    assert json.loads(out)["verified"] is True


def test_records_of_older_versions_are_listed_as_todays_and_exported_as_they_were_signed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "old.sqlite3"
    old.write_old_trail(db)
    signed = [json.loads(body) for body in old.OLD_RECORDS]
    append(db, [("Bash", {"command": "rm x"}, "deny", "s")], first=9)  # today's version beside them
    code, out, _ = run(capsys, "show", "--db", str(db))
    assert code == 0
    listed = out.splitlines()[1:]
    for line in listed[:3]:  # versions 1 to 3: the asked input, the rewrite, the rule, as for today's records
        assert line.split()[5] == "deny"
        assert '{"command":"rm x"} -> {"command":"rm -i x"}' in line
        assert "Bash(rm:*)" in line
    assert "by queue:ana: ticket OPS-12" in listed[3]
    assert listed[4].split()[5] == "error"
    assert listed[5].split()[5] == "deny"
    code, out, _ = run(capsys, "show", "--db", str(db), "--decision", "deny", "--json")
    exported = [json.loads(line) for line in out.splitlines()]
    assert [line["seq"] for line in exported] == [0, 1, 2, 5]
    assert [line["record"] for line in exported[:3]] == signed[:3]  # exactly what was signed, in its own shape
    assert exported[3]["record"]["v"] == 4
    assert exported[3]["record"]["decision"]["behavior"] == "deny"
