"""Policy test cases as data and as pytest assertions: what passes, what fails and why, and what no case covers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest

from magistrate.broker import (
    Behavior,
    PolicyError,
    PolicyLoadError,
    PolicyTestReport,
    RulePolicy,
    assert_decides,
    find_case_files,
    load_cases,
    load_policy,
    run_case_files,
)

POLICY = """\
from magistrate.broker import Allow, Deny, RulePolicy

policy = RulePolicy(
    default="deny",
    allow=["Bash(npm run test:*)", "Read(./src/**)"],
    ask=["Bash(git push:*)"],
    deny=["Read(.env)"],
)


@policy.rule("Bash")
def quiet_tests(call):
    if call.input.command == "npm run test":
        return Allow(updated_input={"command": "npm run test --silent"})
    return None


@policy.rule("WebFetch")
def no_network_after_secrets(call, context):
    if any(".env" in str(p.tool_input.get("file_path", "")) for p in context.history):
        return Deny("this session touched secrets")
    return None
"""


def case(tool: str, tool_input: dict[str, Any], behavior: str, **more: Any) -> dict[str, Any]:
    expect = {"behavior": behavior, **more.pop("expect", {})}
    return {"tool": tool, "input": tool_input, "expect": expect, **more}


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "policy.py"
    path.write_text(POLICY)
    return path


def run(paths: list[Path], **kwargs: Any) -> list[PolicyTestReport]:
    return anyio.run(lambda: run_case_files(paths, **kwargs))


def write_cases(path: Path, cases: list[dict[str, Any]], **top: Any) -> Path:
    path.write_text(json.dumps({**top, "cases": cases}))
    return path


def test_a_case_file_tests_the_policy_it_is_named_after(policy_file: Path, tmp_path: Path) -> None:
    cases = write_cases(
        tmp_path / "policy.cases.json",
        [
            case("Bash", {"command": "git push"}, "ask", expect={"rule": "Bash(git push:*)"}),
            case("Read", {"file_path": "src/a.py"}, "allow"),
            case("Read", {"file_path": "sub/.env"}, "deny", expect={"rule": "Read(.env)"}),
            case("Bash", {"command": "make"}, "deny", expect={"rule": "default", "message": "No rule allows"}),
        ],
    )
    [report] = run([cases])
    assert report.policy == str(policy_file)
    assert [r.passed for r in report.results] == [True] * 4
    assert [r.where for r in report.results] == [f"{cases}#{n}" for n in (1, 2, 3, 4)]


def test_every_mismatch_of_a_failing_case_is_explained(policy_file: Path, tmp_path: Path) -> None:
    cases = write_cases(
        tmp_path / "policy.cases.json",
        [
            case(
                "Bash",
                {"command": "npm run test"},
                "deny",
                expect={"rule": "Bash(npm run test:*)", "input": {"command": "npm run test"}, "message": "quiet"},
            )
        ],
    )
    [report] = run([cases])
    [result] = report.failed
    assert result.failures == (
        "expected deny, got allow",
        f"expected rule 'Bash(npm run test:*)' to decide, got quiet_tests ({policy_file}:11)",
        'expected input {"command": "npm run test"}, got {"command": "npm run test --silent"}',
        "expected the message to contain 'quiet', got ''",
    )


def test_coverage_names_every_rule_no_case_exercised_by_file_and_line(policy_file: Path, tmp_path: Path) -> None:
    cases = write_cases(tmp_path / "policy.cases.json", [case("Bash", {"command": "git push"}, "ask")])
    [report] = run([cases])
    assert report.rules == 6
    uncovered = [(r.text, r.list, r.source.path, r.source.line) for r in report.uncovered]
    assert uncovered == [
        ("Read(.env)", "deny", str(policy_file), 7),
        ("Bash(npm run test:*)", "allow", str(policy_file), 5),
        ("Read(./src/**)", "allow", str(policy_file), 5),
        ("quiet_tests", "python", str(policy_file), 11),
        ("no_network_after_secrets", "python", str(policy_file), 18),
    ]
    assert report.to_json()["coverage"]["uncovered"][0] == {
        "rule": "Read(.env)",
        "id": report.uncovered[0].id,
        "list": "deny",
        "file": str(policy_file),
        "line": 7,
        "source": f"{policy_file}:7",
    }


def test_coverage_counts_a_rule_covered_in_any_case_file_of_the_policy(policy_file: Path, tmp_path: Path) -> None:
    first = write_cases(tmp_path / "policy.cases.json", [case("Bash", {"command": "git push"}, "ask")])
    (tmp_path / "more").mkdir()
    second = write_cases(
        tmp_path / "more" / "reads.cases.json",
        [case("Read", {"file_path": "src/a.py"}, "allow", cwd="..")],
        policy="../policy.py",
    )
    [report] = run([first, second])
    assert len(report.results) == 2
    assert report.results[1].passed  # a cwd is relative to its case file's folder
    assert "Read(./src/**)" not in [r.text for r in report.uncovered]


def test_a_case_sees_the_history_it_declares(policy_file: Path, tmp_path: Path) -> None:
    fetch = {"url": "https://example.com", "prompt": "read"}
    read_env = {"tool": "Read", "input": {"file_path": ".env"}, "behavior": "deny"}
    cases = write_cases(
        tmp_path / "policy.cases.json",
        [
            case("WebFetch", fetch, "deny", history=[read_env], expect={"rule": "no_network_after_secrets"}),
            case("WebFetch", fetch, "deny", expect={"rule": "default"}),
        ],
    )
    [report] = run([cases])
    assert [r.failures for r in report.results] == [(), ()]


def test_yaml_case_files_work_too(policy_file: Path, tmp_path: Path) -> None:
    cases = tmp_path / "policy.cases.yaml"
    cases.write_text(
        "cases:\n"
        "  - name: pushes ask\n"
        "    tool: Bash\n"
        "    input: {command: git push}\n"
        "    expect: {behavior: ask, rule: 'Bash(git push:*)'}\n"
    )
    [report] = run([tmp_path])
    assert [(r.case.name, r.passed) for r in report.results] == [("pushes ask", True)]


def test_policy_overrides_the_policy_each_file_names(policy_file: Path, tmp_path: Path) -> None:
    cases = write_cases(tmp_path / "policy.cases.json", [case("Bash", {"command": "git push"}, "ask")])
    candidate = tmp_path / "candidate.py"
    candidate.write_text(POLICY.replace('ask=["Bash(git push:*)"]', 'deny=["Bash(git push:*)"], ask=[]'))
    candidate.write_text(candidate.read_text().replace('    deny=["Read(.env)"],\n', ""))
    [report] = run([cases], policy=candidate)
    assert report.policy == str(candidate)
    assert report.failed[0].failures[0].startswith("expected ask, got deny")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{", "not valid JSON"),
        ('{"cases": [{"tool": "Bash", "expect": {"behavior": "allwo"}}]}', "case 1: expect.behavior: Input should be"),
        ('[{"name": "x", "tool": "Bash", "expect": {"behavior": "deny"}, "inptu": {}}]', "case 1 ('x'): inptu"),
        ('{"cases": []', "not valid JSON"),
    ],
)
def test_a_bad_case_file_is_an_error_naming_the_file_and_the_case(tmp_path: Path, content: str, message: str) -> None:
    file = tmp_path / "policy.cases.json"
    file.write_text(content)
    with pytest.raises(PolicyError) as raised:
        load_cases(file)
    assert str(raised.value).startswith(f"{file}: ")
    assert message in str(raised.value)


def test_where_the_case_files_are(policy_file: Path, tmp_path: Path) -> None:
    cases = write_cases(tmp_path / "policy.cases.json", [case("Bash", {"command": "git push"}, "ask")])
    assert find_case_files([policy_file]) == [cases]
    assert find_case_files([tmp_path]) == [cases]
    (tmp_path / "empty").mkdir()
    for path, reason in [
        (tmp_path / "empty", "no case files"),
        (tmp_path / "missing.cases.json", "no such file or folder"),
        (tmp_path / "notes.txt", "no such file or folder"),
    ]:
        with pytest.raises(PolicyError, match=reason):
            find_case_files([path])


def test_a_case_file_without_a_policy_is_an_error_unless_a_fallback_is_given(policy_file: Path, tmp_path: Path) -> None:
    lonely = write_cases(tmp_path / "lonely.cases.json", [case("Bash", {"command": "git push"}, "ask")])
    with pytest.raises(PolicyError, match="which policy does it test"):
        run([lonely])
    [report] = run([lonely], fallback=policy_file)
    assert report.results[0].passed


def test_a_policy_that_does_not_load_is_a_load_error(tmp_path: Path) -> None:
    (tmp_path / "policy.py").write_text(
        'from magistrate.broker import RulePolicy\npolicy = RulePolicy(allow=["bash"])\n'
    )
    cases = write_cases(tmp_path / "policy.cases.json", [case("Bash", {"command": "ls"}, "deny")])
    with pytest.raises(PolicyLoadError):
        run([cases])


def test_assert_decides_returns_the_decision_or_explains_the_mismatch(policy_file: Path, tmp_path: Path) -> None:
    policy = load_policy(policy_file)
    decision = assert_decides(
        policy, "Bash", {"command": "npm run test"}, "allow", updated_input={"command": "npm run test --silent"}
    )
    assert decision.rule is not None
    assert decision.rule.text == "quiet_tests"
    assert_decides(policy_file, "Read", {"file_path": str(tmp_path / "src" / "a.py")}, "allow", cwd=tmp_path)
    with pytest.raises(AssertionError) as raised:
        assert_decides(policy, "Bash", {"command": "git push"}, "allow", rule="Bash(git push:*)")
    assert str(raised.value).startswith('Bash {"command": "git push"}: expected allow, got ask')


def test_assert_decides_reads_history_and_labels() -> None:
    policy = RulePolicy(default="allow")

    @policy.rule("Bash")
    def staging_only(call: Any, context: Any) -> Any:
        from magistrate.broker import Deny

        if context.labels.get("env") == "prod" or len(context.history) > 1:
            return Deny("no")
        return None

    assert_decides(policy, "Bash", {"command": "ls"}, "allow")
    assert_decides(policy, "Bash", {"command": "ls"}, "deny", labels={"env": "prod"}, rule="staging_only")
    history: list[tuple[str, dict[str, Any], Behavior]] = [
        ("Bash", {"command": "ls"}, "allow"),
        ("Bash", {"command": "pwd"}, "allow"),
    ]
    assert_decides(policy, "Bash", {"command": "ls"}, "deny", history=history)
