"""Rule strings: what loads, what is refused (every problem at once, with its line), and what each form matches."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from magistrate.broker import CallContext, PolicyLoadError, RulePolicy, ToolCall

SOURCE = Path(__file__).read_text().splitlines()


def behavior(policy: RulePolicy, tool: str, tool_input: dict[str, Any], cwd: str = "/proj") -> str:
    decision = anyio.run(policy.decide, ToolCall(tool, tool_input), CallContext(cwd=cwd))
    return decision.behavior


def bash(policy: RulePolicy, command: str) -> str:
    return behavior(policy, "Bash", {"command": command})


@pytest.mark.parametrize(
    ("rule", "reason"),
    [
        ("bash", "capitalised"),
        ("Bash(:*)", "needs a command"),
        ("Bash()", "empty parentheses"),
        ("Bash(npm test", "missing ')'"),
        ("Bash(npm:* test)", "may only end"),
        ("Bash(a | b)", "never matches a compound allow"),
        ("Bash(a && b:*)", "no prefix or glob"),
        ("Bash(a && b > f)", "redirection"),
        ("Bash(a $(b))", "no substitutions"),
        ("Bash(echo > f)", "redirection"),
        ("WebFetch(https://example.com)", "a URL where a domain belongs"),
        ("WebFetch(example.com)", "domain:host"),
        ("WebFetch(domain:)", "empty domain"),
        ("Read(./src:*)", "':*' belongs to Bash"),
        ("mcp__srv(x)", "no parentheses"),
        ("mcp__*", "skips a tool-name glob in an allow"),
        ("Bash*", "skips a tool-name glob in an allow"),
        ("*", "skips a tool-name glob in an allow"),
        ("Bas*(ls)", "no parentheses"),
        ("Write(./src/**)", "ignores Write"),
        ("WebSearch(query:x)", "deny and ask"),
        (" Bash", "whitespace"),
    ],
)
def test_invalid_allow_rules_are_refused_with_a_reason(rule: str, reason: str) -> None:
    with pytest.raises(PolicyLoadError) as caught:
        RulePolicy(allow=[rule])
    [problem] = caught.value.errors
    assert problem.rule == rule
    assert problem.list == "allow"
    assert reason in problem.reason


def test_every_problem_is_reported_at_once_with_file_and_line() -> None:
    with pytest.raises(PolicyLoadError) as caught:
        RulePolicy(
            allow=["Bash(npm test)", "bash"],
            deny=["Bash(:*)", "Read(.env)", "mcp__*(x)"],
        )
    errors = caught.value.errors
    assert [e.rule for e in errors] == ["bash", "Bash(:*)", "mcp__*(x)"]
    assert all(e.source.path == __file__ for e in errors)
    allow_line = next(i for i, text in enumerate(SOURCE, 1) if 'allow=["Bash(npm test)", "bash"]' in text)
    assert [e.source.line for e in errors] == [allow_line, allow_line + 1, allow_line + 1]
    assert "3 problems" in str(caught.value)


def test_write_deny_is_read_as_the_edit_rule_it_means() -> None:
    policy = RulePolicy(default="allow", deny=["Write(./secret/**)"])
    assert behavior(policy, "Edit", {"file_path": "secret/a", "old_string": "a", "new_string": "b"}) == "deny"
    assert behavior(policy, "Write", {"file_path": "/proj/secret/b", "content": ""}) == "deny"


@pytest.mark.parametrize(
    ("rule", "command", "expected"),
    [
        # Verified against CLI 2.1.330 (tests/broker/test_cli_agreement.py runs the same cases).
        ("Bash(npm run test:*)", "npm run test", "allow"),
        ("Bash(npm run test:*)", "npm run test --watch", "allow"),
        ("Bash(npm run test:*)", "npm run testing", "deny"),
        ("Bash(npm run test:*)", "npm run test:unit", "deny"),
        ("Bash(npm run test *)", "npm run test", "allow"),
        ("Bash(npm run test *)", "npm run test x", "allow"),
        ("Bash(npm run test *)", "npm run testx", "deny"),
        ("Bash(ls*)", "lsof", "allow"),
        ("Bash(ls*)", "ls -la", "allow"),
        ("Bash(git * main)", "git push origin main", "allow"),
        ("Bash(git * main)", "git push origin dev", "deny"),
        ("Bash(git status)", "git status", "allow"),
        ("Bash(git status)", "git status -s", "deny"),
        ("Bash(git status)", "git  status", "deny"),
        ("Bash(git status)", "git 'status'", "deny"),
        ("Bash(git status)", "git status && git status", "allow"),
        ("Bash", "anything at all $(x)", "allow"),
    ],
)
def test_bash_allow_forms(rule: str, command: str, expected: str) -> None:
    assert bash(RulePolicy(allow=[rule]), command) == expected


def test_a_bare_deny_removes_the_tool_whatever_allows_it() -> None:
    policy = RulePolicy(allow=["Bash(ls:*)", "Bash"], deny=["Bash"])
    assert bash(policy, "ls") == "deny"


def test_precedence_is_deny_then_ask_then_allow() -> None:
    policy = RulePolicy(allow=["Bash(git:*)"], ask=["Bash(git push:*)"], deny=["Bash(git push --force:*)"])
    assert bash(policy, "git status") == "allow"
    assert bash(policy, "git push origin") == "ask"
    assert bash(policy, "git push --force origin") == "deny"


def test_webfetch_domains_after_url_parsing() -> None:
    policy = RulePolicy(allow=["WebFetch(domain:example.com)", "WebFetch(domain:*.docs.org)"])

    def fetch(url: str) -> str:
        return behavior(policy, "WebFetch", {"url": url, "prompt": "p"})

    assert fetch("https://example.com/a") == "allow"
    assert fetch("https://EXAMPLE.com./a") == "allow"
    assert fetch("https://user@example.com:8443/a") == "allow"
    assert fetch("https://example.com@evil.org/") == "deny"
    assert fetch("https://evil.org\\@example.com/") == "deny"
    assert fetch("https://sub.example.com/") == "deny"
    assert fetch("https://api.docs.org/") == "allow"
    assert fetch("https://docs.org/") == "deny"
    assert fetch("not a url") == "deny"


def test_a_plain_domain_deny_also_covers_subdomains() -> None:
    policy = RulePolicy(default="allow", deny=["WebFetch(domain:example.com)"])
    assert behavior(policy, "WebFetch", {"url": "https://a.example.com/", "prompt": "p"}) == "deny"
    assert behavior(policy, "WebFetch", {"url": "https://notexample.com/", "prompt": "p"}) == "allow"


@pytest.mark.parametrize(
    ("rule", "tool", "expected"),
    [
        ("mcp__docs", "mcp__docs__get", "allow"),
        ("mcp__docs__get", "mcp__docs__get", "allow"),
        ("mcp__docs__get", "mcp__docs__put", "deny"),
        ("mcp__docs__*", "mcp__docs__put", "allow"),
        ("mcp__docs__ge*", "mcp__docs__get", "allow"),
        ("mcp__docs__ge*", "mcp__docs__put", "deny"),
        ("mcp__doc", "mcp__docs__get", "deny"),
        ("mcp__docs", "mcp__docsx__get", "deny"),
    ],
)
def test_mcp_rule_forms(rule: str, tool: str, expected: str) -> None:
    assert behavior(RulePolicy(allow=[rule]), tool, {}) == expected


def test_param_rules_in_deny_and_ask() -> None:
    policy = RulePolicy(default="allow", deny=["WebSearch(query:*password*)"], ask=["mcp__docs__get"])
    assert behavior(policy, "WebSearch", {"query": "admin password list"}) == "deny"
    assert behavior(policy, "WebSearch", {"query": "weather"}) == "allow"
    assert behavior(policy, "mcp__docs__get", {"id": 1}) == "ask"


def test_agent_rules_name_the_subagent() -> None:
    policy = RulePolicy(allow=["Task(reviewer)"])
    assert behavior(policy, "Agent", {"description": "d", "prompt": "p", "subagent_type": "reviewer"}) == "allow"
    assert behavior(policy, "Agent", {"description": "d", "prompt": "p", "subagent_type": "other"}) == "deny"


def test_rule_ids_are_stable_across_loads(tmp_path: Path) -> None:
    first = RulePolicy(allow=["Bash(ls:*)"], source_file=str(tmp_path / "p.py"))
    second = RulePolicy(allow=["Bash(ls:*)"], source_file=str(tmp_path / "p.py"))
    assert [r.ref.id for r in first.string_rules] == [r.ref.id for r in second.string_rules]
    assert first.version == second.version
    third = RulePolicy(allow=["Bash(ls:*)", "Read"], source_file=str(tmp_path / "p.py"))
    assert third.version != first.version


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ('{\n  "permissions": {\n    "allow": ["Bash(ls)",]\n  }\n}', 3, "not valid JSON"),
        ('{"permissions": []}', None, "'permissions' must be an object"),
        ('{"permissions": {"allow": "Bash"}}', None, "must be a list"),
        ('{"permissions": {"defaultMode": "yolo"}}', None, "'defaultMode' 'yolo'"),
        ('{"permissions": {"deny": [42]}}', 1, "a rule must be a string"),
        ('{"permissions": {"additionalDirectories": "/x"}}', None, "must list paths"),
    ],
)
def test_settings_file_problems_name_the_file(tmp_path: Path, text: str, line: int | None, reason: str) -> None:
    from magistrate.broker import load_policy

    path = tmp_path / "settings.json"
    path.write_text(text)
    with pytest.raises(PolicyLoadError) as caught:
        load_policy(path)
    [problem] = caught.value.errors
    assert problem.source.path == str(path)
    assert reason in problem.reason
    if line is not None:
        assert problem.source.line == line


def test_settings_rules_carry_their_lines(tmp_path: Path) -> None:
    from magistrate.broker import load_policy

    path = tmp_path / "settings.json"
    path.write_text(
        '{\n "permissions": {\n  "deny": [\n   "Bash(x)",\n   "bash",\n   "Bash(x)"\n  ],\n  "allow": ["Bash()"]\n }\n}'
    )
    with pytest.raises(PolicyLoadError) as caught:
        load_policy(path)
    assert [(e.rule, e.source.line) for e in caught.value.errors] == [("bash", 5), ("Bash()", 8)]
    with pytest.raises(PolicyLoadError, match="cannot read the settings file"):
        load_policy(tmp_path / "missing.json")


@pytest.mark.parametrize(
    "url",
    [
        "https://evil%2Ecom/",
        "https://EVIL%2ecom./x",
        "https:evil.com",
        "https:///evil.com",
        "https:\\\\evil.com/",
        "https://good.com@evil.com/",
        "https://ev\til.com/",
        " https://evil.com",
        "https://\uff45\uff56\uff49\uff4c.com/",  # fullwidth letters
        "https://evil\u3002com/",  # an ideographic full stop
        "https://a.evil.com:443/",
        "evil.com/path",
    ],
)
def test_a_domain_deny_sees_the_host_node_connects_to(url: str) -> None:
    policy = RulePolicy(allow=["WebFetch"], deny=["WebFetch(domain:evil.com)"])
    assert behavior(policy, "WebFetch", {"url": url, "prompt": "p"}) == "deny"


@pytest.mark.parametrize(
    ("url", "host"),
    [("http://0x7f.1/", "127.0.0.1"), ("http://2130706433/", "127.0.0.1"), ("http://0177.0.0.1/", "127.0.0.1")],
)
def test_ipv4_forms_are_normalised_as_node_does(url: str, host: str) -> None:
    policy = RulePolicy(allow=["WebFetch"], deny=[f"WebFetch(domain:{host})"])
    assert behavior(policy, "WebFetch", {"url": url, "prompt": "p"}) == "deny"


@pytest.mark.parametrize("url", ["https://a%00b.com/", "javascript:alert(1)", "file:///etc/passwd", "https://"])
def test_a_url_without_a_host_is_denied_under_any_policy(url: str) -> None:
    policy = RulePolicy(allow=["WebFetch"], deny=["WebFetch(domain:evil.com)"])
    assert behavior(policy, "WebFetch", {"url": url, "prompt": "p"}) == "deny"
    assert behavior(RulePolicy(allow=["WebFetch"]), "WebFetch", {"url": url, "prompt": "p"}) == "deny"
    assert behavior(RulePolicy(default="allow"), "WebFetch", {"url": url, "prompt": "p"}) == "deny"


def test_webfetch_allow_still_covers_ordinary_urls() -> None:
    policy = RulePolicy(allow=["WebFetch(domain:good.com)"], deny=["WebFetch(domain:evil.com)"])
    for url in ("https://good.com/a?b=c#d", "https://GOOD.com:8443/x", "http://user:pw@good.com/"):
        assert behavior(policy, "WebFetch", {"url": url, "prompt": "p"}) == "allow"


@pytest.mark.parametrize(
    ("tool", "tool_input"),
    [
        ("Bash", {"command": ["rm", "-rf", "/"]}),
        ("Bash", {}),
        ("Read", {"file_path": None}),
        ("Write", {"file_path": "a", "content": 3}),
        ("Edit", {"file_path": "a", "old_string": "x"}),
        ("Grep", {"pattern": "x", "-A": "many"}),
        ("WebFetch", {"url": {"host": "evil.com"}, "prompt": "p"}),
        ("TodoWrite", {"todos": [{"content": "x"}]}),
    ],
)
def test_malformed_input_of_a_built_in_tool_is_denied_without_any_python_rule(
    tool: str, tool_input: dict[str, Any]
) -> None:
    policy = RulePolicy(default="allow", allow=["Bash", "Read", "Edit", "Grep", "WebFetch", "TodoWrite"])
    decision = anyio.run(policy.decide, ToolCall(tool, tool_input), CallContext(cwd="/proj"))
    assert decision.behavior == "deny"
    assert decision.error is not None
    assert "schema" in decision.error
