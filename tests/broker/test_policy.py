"""RulePolicy: Python rules with rule strings, rewritten inputs, failing rules, history, defaults and decisions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from magistrate.broker import (
    Allow,
    Ask,
    BashInput,
    CallContext,
    CallView,
    Decision,
    Deny,
    Policy,
    PolicyLoadError,
    PriorDecision,
    RulePolicy,
    ToolCall,
    claude_code_policy,
)


def decide(policy: Policy, tool: str, tool_input: dict[str, Any], **context: Any) -> Decision:
    context.setdefault("cwd", "/proj")
    return anyio.run(policy.decide, ToolCall(tool, tool_input), CallContext(**context))


def test_rule_policy_satisfies_the_policy_protocol() -> None:
    policy: Policy = RulePolicy()
    assert len(policy.version) == 64


def test_nothing_matched_is_the_declared_default() -> None:
    decision = decide(RulePolicy(), "Bash", {"command": "ls"})
    assert (decision.behavior, decision.rule and decision.rule.list) == ("deny", "default")
    assert decide(RulePolicy(default="ask"), "Bash", {"command": "ls"}).behavior == "ask"


def test_a_decision_explains_itself() -> None:
    policy = RulePolicy(allow=["Bash(git:*)"], ask=["Bash(git push:*)"])
    decision = decide(policy, "Bash", {"command": "git push"})
    assert decision.behavior == "ask"
    assert decision.rule is not None
    assert (decision.rule.text, decision.rule.list, decision.rule.source.path) == ("Bash(git push:*)", "ask", __file__)
    assert decision.rule.source.line is not None
    assert [r.text for r in decision.matched] == ["Bash(git:*)"]
    assert decision.policy_version == policy.version
    assert decision.elapsed_ns > 0
    assert decision.error is None


def test_python_rules_receive_typed_views_and_the_context() -> None:
    policy = RulePolicy(default="allow")
    seen: list[tuple[CallView, CallContext]] = []

    @policy.rule("Bash")
    def look(call: CallView, context: CallContext) -> None:
        seen.append((call, context))

    decide(policy, "Bash", {"command": "ls", "timeout": 5}, session_id="s1")
    [(call, context)] = seen
    assert isinstance(call.input, BashInput)
    assert (call.input.command, call.input.timeout, context.session_id) == ("ls", 5, "s1")


def test_mcp_tools_get_their_raw_input_and_glob_registration() -> None:
    policy = RulePolicy(default="allow")

    @policy.rule("mcp__documents__*")
    def only_public(call: CallView) -> Deny | None:
        assert isinstance(call.input, dict)
        assert call.mcp_server == "documents"
        return Deny("private documents stay private") if call.input.get("private") else None

    assert decide(policy, "mcp__documents__get", {"private": True}).message == "private documents stay private"
    assert decide(policy, "mcp__documents__get", {}).behavior == "allow"
    assert decide(policy, "mcp__other__get", {"private": True}).behavior == "allow"


def test_async_rules_are_awaited() -> None:
    policy = RulePolicy()

    @policy.rule("Read")
    async def allow_readme(call: CallView) -> Allow | None:
        await anyio.lowlevel.checkpoint()
        return Allow() if str(call.raw["file_path"]).endswith("README.md") else None

    assert decide(policy, "Read", {"file_path": "README.md"}).behavior == "allow"
    assert decide(policy, "Read", {"file_path": "main.py"}).behavior == "deny"


def test_a_string_deny_is_never_undone_by_a_python_allow() -> None:
    policy = RulePolicy(deny=["Bash(rm:*)"])

    @policy.rule("Bash")
    def allow_everything(call: CallView) -> Allow:
        return Allow()

    assert decide(policy, "Bash", {"command": "rm -rf /"}).behavior == "deny"
    assert decide(policy, "Bash", {"command": "ls"}).behavior == "allow"


def test_a_python_deny_beats_string_allows_and_asks() -> None:
    policy = RulePolicy(allow=["Bash"], ask=["Bash(git:*)"])

    @policy.rule("Bash")
    def no_force(call: CallView) -> Deny | None:
        assert isinstance(call.input, BashInput)
        return Deny("no force pushes") if "--force" in call.input.command else None

    decision = decide(policy, "Bash", {"command": "git push --force"})
    assert (decision.behavior, decision.message) == ("deny", "no force pushes")
    assert decide(policy, "Bash", {"command": "git push"}).behavior == "ask"


def test_python_ask_carries_its_reason() -> None:
    policy = RulePolicy(allow=["Bash"])

    @policy.rule("Bash")
    def review(call: CallView) -> Ask:
        return Ask("a person looks at every command today")

    decision = decide(policy, "Bash", {"command": "ls"})
    assert (decision.behavior, decision.message) == ("ask", "a person looks at every command today")


def test_a_rule_that_raises_is_a_deny_naming_the_error() -> None:
    policy = RulePolicy(default="allow")

    @policy.rule("*")
    def broken(call: CallView) -> None:
        raise KeyError("oops")

    decision = decide(policy, "Read", {"file_path": "x"})
    assert decision.behavior == "deny"
    assert decision.rule is not None
    assert decision.rule.text.endswith("broken")
    assert decision.error is not None
    assert "KeyError" in decision.error


def test_a_rule_that_returns_nonsense_is_a_deny() -> None:
    policy = RulePolicy(default="allow")

    @policy.rule("*")
    def sloppy(call: CallView) -> Any:
        return "allow"

    decision = decide(policy, "Read", {"file_path": "x"})
    assert decision.behavior == "deny"
    assert decision.error is not None
    assert "returned str" in decision.error


def test_an_async_rule_that_overruns_its_budget_is_a_deny() -> None:
    policy = RulePolicy(default="allow", rule_timeout=0.05)

    @policy.rule("Bash")
    async def stuck(call: CallView) -> None:
        await anyio.Event().wait()

    async def bounded() -> Decision:
        with anyio.fail_after(5):
            return await policy.decide(ToolCall("Bash", {"command": "ls"}), CallContext(cwd="/proj"))

    decision = anyio.run(bounded)
    assert decision.behavior == "deny"
    assert decision.error is not None
    assert "timed out" in decision.error


def test_a_malformed_builtin_input_is_denied_before_rules_see_it() -> None:
    policy = RulePolicy(default="allow")

    @policy.rule("Bash")
    def fine(call: CallView) -> None:
        return None

    decision = decide(policy, "Bash", {"cmd": "ls"})
    assert decision.behavior == "deny"
    assert decision.error is not None
    assert "command" in decision.error


def test_a_rewritten_input_is_allowed_after_it_is_checked_again() -> None:
    policy = RulePolicy(deny=["Bash(rm:*)"])

    @policy.rule("Bash")
    def quieter(call: CallView) -> Allow:
        assert isinstance(call.input, BashInput)
        return Allow(updated_input={"command": call.input.command + " --quiet"})

    decision = decide(policy, "Bash", {"command": "make"})
    assert (decision.behavior, dict(decision.input)) == ("allow", {"command": "make --quiet"})


def test_a_rewrite_into_a_denied_call_is_denied() -> None:
    policy = RulePolicy(deny=["Bash(rm:*)"], ask=["Bash(git push:*)"])

    @policy.rule("Bash")
    def sneaky(call: CallView) -> Allow | None:
        command = call.raw["command"]
        return Allow(updated_input={"command": "rm -rf /"} if command == "ls" else {"command": "git push"})

    assert decide(policy, "Bash", {"command": "ls"}).behavior == "deny"
    asked = decide(policy, "Bash", {"command": "make"})
    assert (asked.behavior, dict(asked.input)) == ("ask", {"command": "git push"})


def test_a_rewrite_that_breaks_the_tool_schema_is_denied() -> None:
    policy = RulePolicy()

    @policy.rule("Bash")
    def broken(call: CallView) -> Allow:
        return Allow(updated_input={"command": 42})

    decision = decide(policy, "Bash", {"command": "ls"})
    assert decision.behavior == "deny"
    assert decision.error is not None
    assert "rejects" in decision.error


def test_history_lets_a_rule_block_the_network_after_secrets_were_read() -> None:
    policy = RulePolicy(default="allow")

    @policy.rule("WebFetch", "Bash")
    def no_network_after_secrets(call: CallView, context: CallContext) -> Deny | None:
        read_secret = any(
            p.tool_name == "Read" and str(p.tool_input.get("file_path", "")).endswith(".env") for p in context.history
        )
        return Deny("no network after reading secrets") if read_secret else None

    prior = (PriorDecision("Read", {"file_path": "/proj/.env"}, "allow", None),)
    fetch = {"url": "https://example.com", "prompt": "p"}
    assert decide(policy, "WebFetch", fetch).behavior == "allow"
    assert decide(policy, "WebFetch", fetch, history=prior).behavior == "deny"


def test_dont_ask_mode_turns_an_ask_into_a_deny() -> None:
    policy = RulePolicy(ask=["Bash"])
    assert decide(policy, "Bash", {"command": "ls"}, permission_mode="dontAsk").behavior == "deny"


def test_registration_problems_name_the_rule() -> None:
    policy = RulePolicy()
    with pytest.raises(PolicyLoadError, match=r"capitalised|tool names"):
        policy.rule("bash")(lambda call: None)

    def twice(call: CallView) -> None:
        return None

    policy.rule("Bash")(twice)
    with pytest.raises(PolicyLoadError, match="already registered"):
        policy.rule("Read")(twice)
    with pytest.raises(PolicyLoadError, match=r"\(call\)"):
        policy.rule("Read", id="other")(lambda: None)


def test_claude_code_policy_reads_the_settings_the_cli_reads(tmp_path: Path) -> None:
    home, project = tmp_path / "home", tmp_path / "project"
    (home / ".claude").mkdir(parents=True)
    (project / ".claude").mkdir(parents=True)
    (home / ".claude" / "settings.json").write_text(json.dumps({"permissions": {"deny": ["Bash(curl:*)"]}}))
    (project / ".claude" / "settings.json").write_text(json.dumps({"permissions": {"allow": ["Bash(make:*)"]}}))
    (project / ".claude" / "settings.local.json").write_text(
        json.dumps({"permissions": {"ask": ["Bash(make deploy)"]}})
    )
    # The project's allow list counts once the user has trusted the folder, as in the CLI.
    (home / ".claude.json").write_text(json.dumps({"projects": {str(project): {"hasTrustDialogAccepted": True}}}))
    policy = claude_code_policy(project, ["Bash(ls:*)"], ["Bash(rm:*)"], home=home)
    cwd = str(project)
    results = {
        c: decide(policy, "Bash", {"command": c}, cwd=cwd) for c in ["make", "make deploy", "curl x", "rm x", "ls"]
    }
    assert {c: d.behavior for c, d in results.items()} == {
        "make": "allow",
        "make deploy": "ask",
        "curl x": "deny",
        "rm x": "deny",
        "ls": "allow",
    }
    assert results["rm x"].rule is not None
    assert results["rm x"].rule.source.kind == "option"
    assert results["curl x"].rule is not None
    assert results["curl x"].rule.source.path == str(home / ".claude" / "settings.json")
    assert decide(policy, "Bash", {"command": "terraform apply"}, cwd=cwd).behavior == "ask"
    assert decide(policy, "Read", {"file_path": "src/a.py"}, cwd=cwd).behavior == "allow"
    assert decide(policy, "Read", {"file_path": "/etc/passwd"}, cwd=cwd).behavior == "ask"


def test_settings_default_mode_sets_what_nothing_matched_means(tmp_path: Path) -> None:
    from magistrate.broker import load_policy

    settings = tmp_path / "s.json"
    settings.write_text(json.dumps({"permissions": {"defaultMode": "acceptEdits", "deny": ["Edit(./locked/**)"]}}))
    policy = load_policy(settings)
    cwd = str(tmp_path)
    assert decide(policy, "Write", {"file_path": "a.txt", "content": ""}, cwd=cwd).behavior == "allow"
    assert decide(policy, "Write", {"file_path": "locked/a.txt", "content": ""}, cwd=cwd).behavior == "deny"
    assert decide(policy, "Write", {"file_path": "/elsewhere/a.txt", "content": ""}, cwd=cwd).behavior == "ask"
    assert decide(policy, "Bash", {"command": "make"}, cwd=cwd).behavior == "ask"


def test_a_cli_stand_in_follows_the_session_mode_and_a_written_policy_does_not(tmp_path: Path) -> None:
    cli = claude_code_policy(tmp_path, ["Bash(ls:*)"], ["Bash(rm:*)"], home=tmp_path / "home")
    cwd = str(tmp_path)
    write = {"file_path": "a.txt", "content": ""}
    assert decide(cli, "Write", write, cwd=cwd).behavior == "ask"
    assert decide(cli, "Write", write, cwd=cwd, permission_mode="acceptEdits").behavior == "allow"
    assert decide(cli, "Bash", {"command": "make"}, cwd=cwd, permission_mode="bypassPermissions").behavior == "allow"
    assert decide(cli, "Bash", {"command": "rm x"}, cwd=cwd, permission_mode="bypassPermissions").behavior == "deny"
    written = RulePolicy(default="deny")
    assert decide(written, "Bash", {"command": "make"}, permission_mode="bypassPermissions").behavior == "deny"
