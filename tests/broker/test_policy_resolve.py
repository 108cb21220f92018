"""One resolution of "which policy decides", shared by the SDK, `magistrate hook` and the approval server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest

from magistrate.broker import (
    CallContext,
    Decision,
    Environment,
    Policy,
    PolicyError,
    PolicyLoadError,
    RulePolicy,
    ToolCall,
    resolve_policy,
)


def decide(policy: Policy, tool: str, tool_input: dict[str, Any], cwd: Path) -> Decision:
    return anyio.run(policy.decide, ToolCall(tool, tool_input), CallContext(cwd=str(cwd)))


def _settings(path: Path, **permissions: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"permissions": permissions}))
    return path


def test_a_policy_object_is_used_as_it_is(tmp_path: Path) -> None:
    policy = RulePolicy(allow=["Bash(ls)"])
    assert resolve_policy(policy, cwd=str(tmp_path), env=Environment()) is policy


def test_a_path_is_loaded_and_comes_before_the_environment(tmp_path: Path) -> None:
    chosen = _settings(tmp_path / "chosen.json", allow=["Bash(ls)"])
    named = _settings(tmp_path / "named.json", deny=["Bash(ls)"])
    policy = resolve_policy(chosen, cwd=str(tmp_path), env=Environment(policy=str(named)))
    assert decide(policy, "Bash", {"command": "ls"}, tmp_path).behavior == "allow"


def test_the_environment_given_is_the_one_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAGISTRATE_POLICY", str(tmp_path / "missing.json"))
    named = _settings(tmp_path / "named.json", deny=["Bash(ls)"])
    policy = resolve_policy(cwd=str(tmp_path), env=Environment(policy=str(named)))
    assert decide(policy, "Bash", {"command": "ls"}, tmp_path).behavior == "deny"
    with pytest.raises(PolicyLoadError, match=r"missing\.json"):
        resolve_policy(cwd=str(tmp_path))  # no Environment given: this process's, read now


def test_with_no_policy_the_cli_permissions_of_the_directory_apply(tmp_path: Path) -> None:
    _settings(tmp_path / ".claude" / "settings.json", allow=["Bash(ls)"])
    policy = resolve_policy(cwd=str(tmp_path), env=Environment())
    assert decide(policy, "Bash", {"command": "ls"}, tmp_path).behavior == "allow"
    assert decide(policy, "Bash", {"command": "rm -rf x"}, tmp_path).behavior == "ask"


def test_disallowed_tools_deny_over_a_chosen_policy(tmp_path: Path) -> None:
    policy = resolve_policy(
        RulePolicy(allow=["Bash(ls)"]), cwd=str(tmp_path), env=Environment(), disallowed_tools=["Bash(ls)"]
    )
    assert decide(policy, "Bash", {"command": "ls"}, tmp_path).behavior == "deny"


def test_what_is_neither_a_policy_nor_a_path_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="a policy object or a file path, got int") as caught:
        resolve_policy(42, cwd=str(tmp_path), env=Environment())  # type: ignore[arg-type]
    assert not isinstance(caught.value, PolicyLoadError)


def test_the_approval_server_refuses_a_bad_policy_before_opening_the_trail(tmp_path: Path) -> None:
    from magistrate.servers._approval_server import open_broker

    trail = tmp_path / "trail.sqlite3"
    with pytest.raises(PolicyLoadError):
        open_broker(str(trail), policy=tmp_path / "missing.py", cwd=str(tmp_path), env=Environment())
    with pytest.raises(PolicyError):
        open_broker(str(trail), policy=object(), cwd=str(tmp_path), env=Environment())  # type: ignore[arg-type]
    assert not trail.exists()


def test_the_sdk_names_the_option_that_is_wrong(tmp_path: Path) -> None:
    from magistrate.sdk import ClaudeCodeOptions, OptionsError
    from magistrate.sdk._governed import _resolve_policy

    with pytest.raises(OptionsError, match="got int") as caught:
        _resolve_policy(ClaudeCodeOptions(policy=42), str(tmp_path), Environment())
    assert caught.value.option == "policy"
    with pytest.raises(PolicyLoadError):
        _resolve_policy(ClaudeCodeOptions(policy=tmp_path / "missing.py"), str(tmp_path), Environment())
