"""`magistrate policy check` in scripts: an exit code per decision, stdin, MAGISTRATE_POLICY, clear errors."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from magistrate.cli import main

POLICY = """\
from magistrate.broker import RulePolicy

policy = RulePolicy(
    default="deny",
    allow=["Bash(npm run test:*)", "Bash(ls:*)"],
    ask=["Bash(git push:*)"],
    deny=["Bash(curl:*)"],
)
"""


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "policy.py"
    path.write_text(POLICY)
    return path


def check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any], str]:
    code = main(["policy", "check", *args])
    captured = capsys.readouterr()
    return code, json.loads(captured.out) if captured.out else {}, captured.err


def bash(policy: Path, command: str) -> list[str]:
    return ["--policy", str(policy), "--tool", "Bash", "--input", json.dumps({"command": command})]


@pytest.mark.parametrize(("command", "code"), [("ls", 0), ("curl x", 1), ("make", 1), ("git push", 3)])
def test_the_exit_code_is_the_decision(
    policy_file: Path, capsys: pytest.CaptureFixture[str], command: str, code: int
) -> None:
    got, out, _ = check(capsys, *bash(policy_file, command))
    assert got == code
    assert out["behavior"] == {0: "allow", 1: "deny", 3: "ask"}[code]


def test_no_exit_code_exits_zero_whatever_the_decision(policy_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = check(capsys, *bash(policy_file, "curl x"), "--no-exit-code")
    assert (code, out["behavior"]) == (0, "deny")


def test_input_dash_reads_standard_input(
    policy_file: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO('{"command": "git push origin main"}'))
    code, out, _ = check(capsys, "--policy", str(policy_file), "--tool", "Bash", "--input", "-")
    assert (code, out["rule"]) == (3, "Bash(git push:*)")


def test_magistrate_policy_is_the_default_policy(
    policy_file: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAGISTRATE_POLICY", str(policy_file))
    code, out, _ = check(capsys, "--tool", "Bash", "--input", '{"command": "npm run test"}')
    assert (code, out["rule"]) == (0, "Bash(npm run test:*)")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--cwd", "/nonexistent/folder"], "--cwd /nonexistent/folder: no such folder"),
        (["--cwd", "policy.py"], "--cwd policy.py: not a folder"),
        (["--input", "{nope"], "--input is not JSON"),
        (["--input", '["ls"]'], "--input must be a JSON object, not list"),
        (["--label", "team"], "--label takes KEY=VALUE, not 'team'"),
        (["--tool", " "], "--tool names a tool"),
    ],
)
def test_bad_arguments_are_named_and_exit_2(
    policy_file: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(policy_file.parent)
    base = {"--policy": str(policy_file), "--tool": "Bash", "--input": '{"command": "ls"}'}
    for flag, value in zip(args[::2], args[1::2], strict=True):
        base[flag] = value
    code, out, err = check(capsys, *[part for pair in base.items() for part in pair])
    assert (code, out) == (2, {})
    assert err.startswith(f"magistrate policy check: {message}")
    assert err.count("\n") == 1


def test_no_policy_at_all_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = check(capsys, "--tool", "Bash", "--input", "{}")
    assert code == 2
    assert "no policy: pass --policy FILE or set MAGISTRATE_POLICY" in err


def test_a_missing_policy_file_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = check(capsys, *bash(tmp_path / "nope.py", "ls"))
    assert (code, err) == (2, f"{tmp_path / 'nope.py'}: no such policy file\n")


@pytest.mark.parametrize(
    ("command", "why"),
    [
        (
            "npm run test > out.txt",
            ["`npm run test > out.txt` writes out.txt through a redirection, which no allow rule can cover"],
        ),
        ("npm run test && make", ["`make`: no allow rule covers it"]),
        ("ls | X=1 npm run test", ["`X=1 npm run test` sets X for the command, which no allow rule can cover"]),
        (
            "ls; bash -c 'rm x'",
            ["`bash -c 'rm x'` runs a command string through `bash -c`, which no allow rule can cover"],
        ),
    ],
)
def test_a_denied_compound_command_names_the_part_that_failed_and_why(
    policy_file: Path, capsys: pytest.CaptureFixture[str], command: str, why: list[str]
) -> None:
    code, out, _ = check(capsys, *bash(policy_file, command))
    assert (code, out["behavior"], out["why"]) == (1, "deny", why)
    assert out["message"] == "No rule allows this call: " + "; ".join(why)


def test_a_deny_by_a_rule_needs_no_explanation(policy_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = check(capsys, *bash(policy_file, "ls && curl x"))
    assert (out["rule"], out["why"]) == ("Bash(curl:*)", [])


def test_the_installed_command_reads_stdin_and_exits_by_the_decision(policy_file: Path) -> None:
    done = subprocess.run(
        [str(Path(sys.executable).parent / "magistrate"), "policy", "check", "--tool", "Bash", "--input", "-"],
        input='{"command": "curl https://example.com"}',
        env={**os.environ, "MAGISTRATE_POLICY": str(policy_file)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert json.loads(done.stdout)["rule"] == "Bash(curl:*)"
    assert "Traceback" not in done.stderr
