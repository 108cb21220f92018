"""`magistrate approvals approve|deny` take a short prefix of an ask's id, as a reviewer types it."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from magistrate.broker import AskRequest
from magistrate.cli import main
from magistrate.servers import ApprovalQueue


def ask(command: str) -> AskRequest:
    return AskRequest("Bash", {"command": command}, "toolu_1", "s1", "Rule Bash(touch:*) asks", "Bash(touch:*)")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["approvals", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_unique_prefix_answers_its_ask(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    queue = ApprovalQueue(tmp_path / "asks.sqlite3")
    ask_id = queue.submit(ask("touch a"))
    code, out, err = run(capsys, "approve", ask_id[:4], "--by", "ana", "--db", str(queue.path))
    assert (code, out, err) == (0, f"{ask_id} approved by ana\n", "")
    answered = queue.get(ask_id)
    assert answered is not None
    assert answered.status == "approved"


def test_an_ambiguous_or_unknown_prefix_answers_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    queue = ApprovalQueue(tmp_path / "asks.sqlite3")
    ids = [queue.submit(ask(f"touch {i}")) for i in range(17)]  # 17 ids, 16 first digits: two share one
    shared, _ = Counter(i[0] for i in ids).most_common(1)[0]
    code, out, err = run(capsys, "deny", shared, "--db", str(queue.path))
    assert code == 1
    assert out == ""
    assert f"asks have ids starting with {shared!r}" in err
    assert all(row.status == "pending" for row in queue.list(None))
    code, _, err = run(capsys, "deny", "zz", "--db", str(queue.path))
    assert code == 1
    assert "no ask with id 'zz'" in err


def test_an_answer_prints_json_when_asked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    queue = ApprovalQueue(tmp_path / "asks.sqlite3")
    ask_id = queue.submit(ask("touch a"))
    code, out, _ = run(capsys, "deny", ask_id, "--note", "not now", "--json", "--db", str(queue.path))
    assert code == 0
    answered = json.loads(out)
    assert (answered["id"], answered["status"], answered["note"]) == (ask_id, "denied", "not now")
