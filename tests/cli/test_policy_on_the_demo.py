"""`magistrate policy test` and `policy replay` on what `magistrate demo --dir` leaves: its policy, cases and trail.

The demo runs once for the module (the real CLI on the scripted model); each test works on a copy of its
folder, so no test sees another's candidate policies.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from magistrate.cli import main

ALL_KINDS = ("allow-to-deny", "allow-to-ask", "deny-to-allow", "deny-to-ask", "ask-to-allow", "ask-to-deny")
ASK_LINE = '    ask=["Bash(touch:*)"],\n'
DENY_LINE = '    deny=["Bash(curl:*)", "Bash(wget:*)"],\n'


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("demo") / "review"
    done = subprocess.run(
        [sys.executable, "-m", "magistrate.cli", "demo", "--dir", str(root)],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"workspace kept at {root}" in done.stdout
    return root


@pytest.fixture
def demo(demo_run: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "review"
    shutil.copytree(demo_run, copy, ignore=shutil.ignore_patterns("*.lock"))
    return copy


def candidate(demo: Path, name: str, *, ask: str, deny: str, allow_also: str = "") -> Path:
    """The demo's policy with its ask and deny lists replaced (and rules added to its allow list)."""
    source = (demo / "policy.py").read_text()
    assert ASK_LINE in source
    assert DENY_LINE in source
    source = source.replace(ASK_LINE, f"    ask=[{ask}],\n").replace(DENY_LINE, f"    deny=[{deny}],\n")
    source = source.replace('        "Bash(head:*)",\n', f'        "Bash(head:*)",\n{allow_also}')
    path = demo / name
    path.write_text(source)
    return path


def loosened(demo: Path) -> Path:
    """wc denied, curl and touch allowed: allow-to-deny, deny-to-allow, ask-to-allow."""
    allow = '        "Bash(curl:*)",\n        "Bash(touch:*)",\n'
    return candidate(demo, "loosened.py", ask="", deny='"Bash(wc:*)", "Bash(wget:*)"', allow_also=allow)


def asking(demo: Path) -> Path:
    """wc and curl ask, touch denied: allow-to-ask, deny-to-ask, ask-to-deny."""
    return candidate(demo, "asking.py", ask='"Bash(wc:*)", "Bash(curl:*)"', deny='"Bash(touch:*)", "Bash(wget:*)"')


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def replay(capsys: pytest.CaptureFixture[str], demo: Path, policy: Path, *args: str) -> tuple[int, str, str]:
    trail = ["--db", str(demo / "trail.sqlite3"), "--public-key", str(demo / "trail.pub")]
    return cli(capsys, "policy", "replay", *trail, "--policy", str(policy), *args)


def json_lines(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines()]


# -- the demo's workspace ----------------------------------------------------------------------------------


def test_the_demo_leaves_its_policy_cases_trail_and_key(demo_run: Path) -> None:
    for name in ("policy.py", "policy.cases.json", "trail.sqlite3", "trail.pub"):
        assert (demo_run / name).is_file(), name
    assert "PUBLIC KEY" in (demo_run / "trail.pub").read_text()


def test_the_demo_will_not_run_in_a_folder_that_holds_something(tmp_path: Path) -> None:
    (tmp_path / "x").write_text("mine")
    done = subprocess.run(
        [sys.executable, "-m", "magistrate.cli", "demo", "--dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "not a new or empty folder" in done.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["x"]


# -- policy test -------------------------------------------------------------------------------------------


def test_the_demo_policys_cases_pass_and_exercise_every_rule(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "policy", "test", str(demo))
    assert code == 0, out
    assert out.splitlines() == [
        f"policy {demo / 'policy.py'}: 13 cases, 13 passed",
        "  coverage: 11 of 11 rules exercised",
    ]


def test_a_case_the_candidate_breaks_fails_with_exit_1(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "policy", "test", "--policy", str(loosened(demo)), str(demo / "policy.cases.json"))
    assert code == 1
    failing = [line.strip() for line in out.splitlines() if line.strip().startswith("FAIL")]
    assert [line.split("(", 1)[1] for line in failing] == [
        "counting words is fine)",
        "writing the count to a file is not)",  # now denied by Bash(wc:*), not for want of an allow
        "creating a file asks a person)",
        "no uploads)",
    ]
    assert "expected allow, got deny (Denied by rule Bash(wc:*)" in out


def test_json_reports_every_case_and_the_coverage(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy = candidate(demo, "narrow.py", ask='"Bash(touch:*)"', deny='"Bash(curl:*)"')
    code, out, _ = cli(capsys, "policy", "test", "--json", "--policy", str(policy), str(demo))
    report = json.loads(out)
    assert code == 1
    assert (report["ok"], report["passed"], report["failed"]) == (False, 12, 1)
    [tested] = report["policies"]
    assert tested["policy"] == str(policy)
    assert [c["name"] for c in tested["cases"] if not c["passed"]] == ["no downloads"]
    assert tested["coverage"]["rules"] == 10
    assert tested["coverage"]["uncovered"] == []


@pytest.mark.parametrize(
    ("content", "message"),
    [("{", "not valid JSON"), ('{"cases": [{"tool": "Bash"}]}', "case 1: expect: Field required")],
)
def test_a_bad_case_file_exits_2_naming_it(
    demo: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    cases = demo / "policy.cases.json"
    cases.write_text(content)
    code, out, err = cli(capsys, "policy", "test", str(cases))
    assert (code, out) == (2, "")
    assert err.startswith(f"magistrate policy test: {cases}: ")
    assert message in err


def test_a_policy_that_does_not_load_exits_2(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = demo / "broken.py"
    broken.write_text('from magistrate.broker import RulePolicy\npolicy = RulePolicy(default="allwo")\n')
    code, _, err = cli(capsys, "policy", "test", "--policy", str(broken), str(demo))
    assert code == 2
    assert err == f"{broken}:2: default must be allow, deny or ask, not 'allwo'\n"


def test_no_case_files_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "policy", "test", str(tmp_path))
    assert code == 2
    assert "no case files" in err


def test_the_shipped_examples_cases_pass(capsys: pytest.CaptureFixture[str]) -> None:
    examples = Path(__file__).resolve().parents[2] / "examples"
    code, out, _ = cli(capsys, "policy", "test", str(examples))
    assert code == 0, out
    assert "failed" not in out


# -- policy replay -----------------------------------------------------------------------------------------


def test_replaying_the_same_policy_changes_nothing(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = replay(capsys, demo, demo / "policy.py")
    assert code == 0
    assert out.splitlines()[1:] == ["0 would change"]
    assert out.startswith("replayed 8 recorded calls of ")


def test_loosening_shows_allow_to_deny_deny_to_allow_and_ask_to_allow(
    demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = replay(capsys, demo, loosened(demo))
    assert code == 1
    lines = out.splitlines()
    assert lines[1] == "3 would change: 1 allow-to-deny, 1 deny-to-allow, 1 ask-to-allow"
    header, *rows = lines[2:]
    assert header.split() == ["seq", "tool", "input", "old", "new", "old", "rule", "new", "rule"]
    assert [row.split()[0:2] for row in rows] == [["6", "Bash"], ["8", "Bash"], ["13", "Bash"]]
    wc = ["6", "Bash", '{"command":', '"wc', "-w", 'contract.md"}', "allow", "deny", "Bash(wc:*)", "Bash(wc:*)"]
    assert rows[0].split() == wc


def test_json_gives_one_object_a_line_per_change_with_the_promised_keys(
    demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = replay(capsys, demo, asking(demo), "--json")
    assert code == 1
    changes = json_lines(out)
    for change in changes:
        assert {"seq", "tool", "input", "old", "new", "old_rule", "new_rule"} <= set(change)
        assert change["old"] in {"allow", "deny", "ask"}
        assert change["new"] in {"allow", "deny", "ask"}
    assert [(c["seq"], c["kind"], c["input"]["command"].split()[0], c["new_rule"]) for c in changes] == [
        (6, "allow-to-ask", "wc", "Bash(wc:*)"),
        (8, "deny-to-ask", "curl", "Bash(curl:*)"),
        (13, "ask-to-deny", "touch", "Bash(touch:*)"),
    ]
    assert "3 would change: 1 allow-to-ask, 1 deny-to-ask, 1 ask-to-deny" in err


def test_the_two_candidates_cover_every_kind_of_change(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seen = set()
    for policy in (loosened(demo), asking(demo)):
        _, out, _ = replay(capsys, demo, policy, "--json")
        seen |= {c["kind"] for c in json_lines(out)}
    assert seen == set(ALL_KINDS)


@pytest.mark.parametrize(
    ("fail_on", "code"),
    [("deny-to-allow", 1), ("allow-to-ask,deny-to-ask", 0), ("ask-to-allow,ask-to-deny", 1), ("allow-to-deny", 1)],
)
def test_fail_on_narrows_which_changes_fail(
    demo: Path, capsys: pytest.CaptureFixture[str], fail_on: str, code: int
) -> None:
    got, out, _ = replay(capsys, demo, loosened(demo), "--fail-on", fail_on)
    assert got == code
    assert "3 would change" in out


def test_filters_choose_the_calls(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy = loosened(demo)
    code, out, _ = replay(capsys, demo, policy, "--tool", "mcp__*")
    assert (code, out.split(" recorded")[0]) == (0, "replayed 4")
    code, out, _ = replay(capsys, demo, policy, "--session", "no-such-session")
    assert (code, out.split(" recorded")[0]) == (0, "replayed 0")
    code, out, _ = replay(capsys, demo, policy, "--since", "7d", "--until", "2999-01-01")
    assert (code, out.split(" recorded")[0]) == (1, "replayed 8")
    code, out, _ = replay(capsys, demo, policy, "--since", "2999-01-01")
    assert (code, out.split(" recorded")[0]) == (0, "replayed 0")


def _records(db: Path) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(db)) as conn, conn:
        return list(conn.execute("SELECT * FROM trail_records ORDER BY seq"))


def test_replay_never_writes_the_trail(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = _records(demo / "trail.sqlite3")
    replay(capsys, demo, loosened(demo))
    replay(capsys, demo, asking(demo), "--json")
    assert _records(demo / "trail.sqlite3") == before
    verify = ["audit", "verify", "--db", str(demo / "trail.sqlite3"), "--public-key", str(demo / "trail.pub")]
    code, out, _ = cli(capsys, *verify, "--no-witness")
    assert (code, out.startswith("OK: 16 records intact")) == (0, True)


def test_an_unverified_trail_is_replayed_only_with_unverified_and_says_so(
    demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trail = ["--db", str(demo / "trail.sqlite3")]  # no key: the demo's key is in its own HOME
    code, out, err = cli(capsys, "policy", "replay", *trail, "--policy", str(loosened(demo)))
    assert (code, out) == (2, "")
    assert "replay it anyway with --unverified" in err
    code, out, _ = cli(capsys, "policy", "replay", *trail, "--policy", str(loosened(demo)), "--unverified")
    assert code == 1
    assert out.splitlines()[1].startswith("WARNING: the trail was NOT verified (")
    code, out, err = cli(capsys, "policy", "replay", *trail, "--policy", str(asking(demo)), "--unverified", "--json")
    assert code == 1
    assert {c["verified"] for c in json_lines(out)} == {False}
    assert "WARNING: the trail was NOT verified" in err


def test_a_tampered_trail_does_not_replay_without_unverified(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with closing(sqlite3.connect(demo / "trail.sqlite3")) as conn, conn:
        (body,) = conn.execute("SELECT body FROM trail_records WHERE seq = 6").fetchone()
        forged = bytes(body).replace(b'"wc -w', b'"rm -f')
        assert forged != bytes(body)
        conn.execute("UPDATE trail_records SET body = ? WHERE seq = 6", (forged,))
    code, _, err = replay(capsys, demo, demo / "policy.py")
    assert code == 2
    assert "the trail does not verify" in err
    code, out, _ = replay(capsys, demo, demo / "policy.py", "--unverified")
    assert code == 1  # the forged record says `rm -f contract.md` was allowed; the policy denies it
    assert "NOT verified" in out
    assert '{"command": "rm -f contract.md"}' in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--fail-on", "allow-to-maybe"], "--fail-on takes kinds from allow-to-deny, allow-to-ask"),
        (["--since", "last week"], "not a time: 'last week'"),
    ],
)
def test_bad_arguments_exit_2(demo: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
    code, out, err = replay(capsys, demo, demo / "policy.py", *args)
    assert (code, out) == (2, "")
    assert err.startswith("magistrate policy replay: ")
    assert message in err


def test_an_unreadable_trail_or_a_broken_policy_exits_2(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = ["policy", "replay", "--db", str(demo / "none.sqlite3"), "--policy", str(demo / "policy.py")]
    code, _, err = cli(capsys, *missing)
    assert code == 2
    assert "no audit trail at" in err or "no trail" in err or "none.sqlite3" in err
    (demo / "notes.sqlite3").write_text("not a database")
    code, _, err = cli(
        capsys, "policy", "replay", "--db", str(demo / "notes.sqlite3"), "--policy", str(demo / "policy.py")
    )
    assert code == 2
    assert err.startswith("magistrate policy replay: ")
    broken = demo / "broken.py"
    broken.write_text("from magistrate.broker import RulePolicy\npolicy = RulePolicy(allow=['bash'])\n")
    code, _, err = replay(capsys, demo, broken)
    assert code == 2
    assert err.startswith(f"{broken}:2: rule 'bash' in allow")
