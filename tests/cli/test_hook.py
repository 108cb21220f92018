"""`magistrate hook` as the CLI runs it: one process per event, JSON on stdin, the answer on stdout.

Each test runs the real command (`python -m magistrate.cli hook`) on a payload shaped like the CLI's, then
reads the trail back, the way an auditor would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from magistrate.broker import DecisionRecord, OutcomeRecord, TrailRecord
from tests._harness import exported_records

POLICY = textwrap.dedent(
    """
    from magistrate.broker import Allow, Deny, RulePolicy

    policy = RulePolicy(default="allow", deny=["Bash(ls:*)"], ask=["Bash(touch:*)"])

    @policy.rule("Bash")
    def rewrite_and_remember(call, context):
        if call.input.command == "echo hello":
            return Allow(updated_input={**call.raw, "command": "echo hello from the policy"})
        if call.input.command == "curl example.com":
            if any(p.tool_input.get("command") == "cat secrets.txt" for p in context.history):
                return Deny("no network after reading secrets")
        return None
    """
)


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "policy.py"
    path.write_text(POLICY)
    return path


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "trail.sqlite3"


def hook(payload: bytes | dict[str, Any], *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    done = subprocess.run(
        [sys.executable, "-m", "magistrate.cli", "hook", *args],
        input=data,
        capture_output=True,
        env={**os.environ, **(env or {})},
        timeout=60,
        check=False,
    )
    return done.returncode, done.stdout.decode(), done.stderr.decode()


def pre(command: str, tool_use_id: str = "toolu_1", session: str = "s1", cwd: str = "/tmp") -> dict[str, Any]:
    return {
        "hook_event_name": "PreToolUse",
        "session_id": session,
        "cwd": cwd,
        "permission_mode": "default",
        "tool_name": "Bash",
        "tool_input": {"command": command},
        "tool_use_id": tool_use_id,
        "transcript_path": "/tmp/t.jsonl",
    }


def decision_of(stdout: str) -> dict[str, Any]:
    lines = stdout.splitlines()
    assert len(lines) == 1, stdout  # stdout carries the answer and nothing else
    answer: dict[str, Any] = json.loads(lines[0])["hookSpecificOutput"]
    assert answer["hookEventName"] == "PreToolUse"
    return answer


def trail(db: Path) -> list[TrailRecord]:
    done = subprocess.run(
        [sys.executable, "-m", "magistrate.cli", "audit", "export", "--db", str(db)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return exported_records(done.stdout)


def test_allow_deny_ask_and_rewrite_come_from_the_policy(policy_file: Path, db: Path) -> None:
    args = ("--policy", str(policy_file), "--db", str(db))
    answers = {}
    for n, command in enumerate(["ls -la", "echo fine", "touch x", "echo hello"]):
        code, out, _ = hook(pre(command, f"toolu_{n}"), *args)
        assert code == 0
        answers[command] = decision_of(out)
    assert answers["ls -la"]["permissionDecision"] == "deny"
    assert "Bash(ls:*)" in answers["ls -la"]["permissionDecisionReason"]
    assert answers["echo fine"]["permissionDecision"] == "allow"
    assert answers["touch x"]["permissionDecision"] == "ask"
    assert answers["touch x"]["updatedInput"] == {"command": "touch x"}
    assert answers["echo hello"] == {
        "hookEventName": "PreToolUse",
        "permissionDecision": "allow",
        "updatedInput": {"command": "echo hello from the policy"},
    }
    records = [r for r in trail(db) if isinstance(r, DecisionRecord)]
    assert [(r.decision.behavior, r.tool_use_id) for r in records] == [
        ("deny", "toolu_0"),
        ("allow", "toolu_1"),
        ("ask", "toolu_2"),
        ("allow", "toolu_3"),
    ]
    assert (records[3].input, records[3].decision.input) == (
        {"command": "echo hello"},
        {"command": "echo hello from the policy"},
    )


def test_the_policy_comes_from_the_environment_too(policy_file: Path, db: Path) -> None:
    env = {"MAGISTRATE_POLICY": str(policy_file), "MAGISTRATE_AUDIT": str(db)}
    code, out, _ = hook(pre("ls"), env=env)
    assert code == 0
    assert decision_of(out)["permissionDecision"] == "deny"
    assert len(trail(db)) == 1


def test_without_a_policy_the_cli_settings_decide(tmp_path: Path, db: Path) -> None:
    project = tmp_path / "project"
    (project / ".claude").mkdir(parents=True)
    (project / ".claude" / "settings.json").write_text(
        json.dumps({"permissions": {"allow": ["Bash(echo:*)"], "deny": ["Bash(rm:*)"]}})
    )
    behaviors = []
    for command in ("echo hi", "rm -rf x", "make"):
        _, out, _ = hook(pre(command, cwd=str(project)), "--db", str(db))
        behaviors.append(decision_of(out)["permissionDecision"])
    assert behaviors == ["allow", "deny", "ask"]


def test_history_from_earlier_processes_reaches_python_rules(policy_file: Path, db: Path) -> None:
    args = ("--policy", str(policy_file), "--db", str(db))
    _, out, _ = hook(pre("curl example.com", "toolu_a", session="other"), *args)
    assert decision_of(out)["permissionDecision"] == "allow"
    hook(pre("cat secrets.txt", "toolu_b"), *args)
    _, out, _ = hook(pre("curl example.com", "toolu_c"), *args)
    answer = decision_of(out)
    assert answer["permissionDecision"] == "deny"
    assert answer["permissionDecisionReason"] == "no network after reading secrets"


@pytest.mark.parametrize(
    ("policy_text", "suffix"),
    [("this is not python (", ".py"), ("policy = 42\n", ".py"), ("{not json", ".json")],
)
def test_a_broken_policy_is_a_recorded_deny(tmp_path: Path, db: Path, policy_text: str, suffix: str) -> None:
    broken = tmp_path / f"broken{suffix}"
    broken.write_text(policy_text)
    code, out, err = hook(pre("echo fine"), "--policy", str(broken), "--db", str(db))
    assert code == 0
    answer = decision_of(out)
    assert answer["permissionDecision"] == "deny"
    assert "policy" in answer["permissionDecisionReason"]
    assert "hook_policy_not_loaded" in err
    [record] = trail(db)
    assert isinstance(record, DecisionRecord)
    assert record.decision.behavior == "deny"
    assert "PolicyLoadError" in (record.decision.error or "")


def test_a_missing_policy_file_is_a_deny(tmp_path: Path, db: Path) -> None:
    _, out, _ = hook(pre("echo fine"), "--policy", str(tmp_path / "nope.py"), "--db", str(db))
    assert decision_of(out)["permissionDecision"] == "deny"


def test_a_trail_that_cannot_be_opened_is_a_deny(policy_file: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, out, _ = hook(pre("echo fine"), "--policy", str(policy_file), "--db", str(blocker / "trail.sqlite3"))
    assert code == 0
    answer = decision_of(out)
    assert answer["permissionDecision"] == "deny"
    assert "audit trail" in answer["permissionDecisionReason"]


def test_a_trail_that_is_not_a_trail_is_a_deny(policy_file: Path, tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.sqlite3"
    garbage.write_bytes(b"this is not a database" * 100)
    _, out, _ = hook(pre("echo fine"), "--policy", str(policy_file), "--db", str(garbage))
    assert decision_of(out)["permissionDecision"] == "deny"


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"not json",
        b"[1, 2]",
        json.dumps({"hook_event_name": "PreToolUse", "tool_input": {}}).encode(),
        json.dumps({**pre("ls"), "tool_input": "a string"}).encode(),
        json.dumps({**pre("ls"), "hook_event_name": "SessionStart"}).encode(),
    ],
)
def test_input_that_does_not_parse_is_a_deny(payload: bytes, policy_file: Path, db: Path) -> None:
    code, out, err = hook(payload, "--policy", str(policy_file), "--db", str(db))
    assert code == 0
    answer = decision_of(out)
    assert answer["permissionDecision"] == "deny"
    assert "could not read the call" in answer["permissionDecisionReason"]
    assert "hook_input_invalid" in err


def test_an_answer_that_cannot_be_written_exits_2_which_the_cli_treats_as_a_block(policy_file: Path, db: Path) -> None:
    with Path(os.devnull).open("rb") as read_only:  # stdout opened for reading: writing the answer fails
        done = subprocess.run(
            [sys.executable, "-m", "magistrate.cli", "hook", "--policy", str(policy_file), "--db", str(db)],
            input=json.dumps(pre("echo fine")).encode(),
            stdout=read_only,
            stderr=subprocess.PIPE,
            timeout=60,
            check=False,
        )
    assert done.returncode == 2
    assert b"blocking the call" in done.stderr


def test_a_decision_that_does_not_come_in_time_is_a_deny(tmp_path: Path, db: Path) -> None:
    fifo = tmp_path / "never-written"
    os.mkfifo(fifo)
    stuck = tmp_path / "stuck.py"
    stuck.write_text(
        textwrap.dedent(
            f"""
            from magistrate.broker import RulePolicy

            policy = RulePolicy(default="allow")

            @policy.rule("Bash")
            def blocks_forever(call, context):
                open({str(fifo)!r}).read()  # no writer ever comes: a rule stuck outside its own budget
            """
        )
    )
    code, out, err = hook(pre("echo fine"), "--policy", str(stuck), "--db", str(db), "--timeout", "1")
    assert code == 0
    answer = decision_of(out)
    assert answer["permissionDecision"] == "deny"
    assert "no decision within 1 s" in answer["permissionDecisionReason"]
    assert "hook_timed_out" in err


def test_post_events_record_outcomes_linked_to_their_decisions(policy_file: Path, db: Path) -> None:
    args = ("--policy", str(policy_file), "--db", str(db))
    hook(pre("echo fine", "toolu_ok"), *args)
    hook(pre("false", "toolu_bad"), *args)
    response = {"stdout": "fine\n", "stderr": "", "interrupted": False}
    post = {**pre("echo fine", "toolu_ok"), "hook_event_name": "PostToolUse", "tool_response": response}
    failure = {**pre("false", "toolu_bad"), "hook_event_name": "PostToolUseFailure", "error": "Exit code 1"}
    for payload in (post, failure):
        code, out, _ = hook(payload, "--db", str(db))  # a Post event needs no policy
        assert code == 0
        assert json.loads(out) == {}
    outcomes = {r.tool_use_id: r.outcome for r in trail(db) if isinstance(r, OutcomeRecord)}
    assert outcomes["toolu_ok"].status == "success"
    assert outcomes["toolu_ok"].session_id == "s1"
    assert outcomes["toolu_ok"].result_size > 0
    assert len(outcomes["toolu_ok"].result_sha256) == 64
    assert (outcomes["toolu_bad"].status, outcomes["toolu_bad"].error) == ("error", "Exit code 1")
    verify = subprocess.run(
        [sys.executable, "-m", "magistrate.cli", "audit", "verify", "--db", str(db)],
        capture_output=True,
        check=False,
        timeout=60,
    )
    assert verify.returncode == 0


def test_a_post_event_that_does_not_parse_exits_1_and_answers_nothing(db: Path) -> None:
    code, out, err = hook({"hook_event_name": "PostToolUse", "tool_response": "x"}, "--db", str(db))
    assert (code, out) == (1, "")
    assert "could not be read" in err


def test_a_post_event_that_cannot_be_recorded_exits_1(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    post = {**pre("echo fine"), "hook_event_name": "PostToolUse", "tool_response": "fine"}
    code, _, err = hook(post, "--db", str(blocker / "trail.sqlite3"))
    assert code == 1
    assert "not recorded" in err
