"""Scenarios: the format, loading from files, errors that name every problem, and the public API."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from magistrate.broker import MagistrateError
from magistrate.sdk.scripted_model import (
    Rule,
    Scenario,
    ScenarioError,
    ScriptedModel,
    ScriptedModelError,
    Text,
    Thinking,
    ToolCall,
    Turn,
)
from tests._harness import REPO_ROOT

EXAMPLES = sorted((REPO_ROOT / "examples" / "scenarios").glob("*.json"))


def test_a_string_is_a_text_turn() -> None:
    rule = Rule.model_validate({"turns": ["hi", {"text": "there", "delay": 0.5}]})
    assert rule.turns[0] == Turn(text="hi")
    assert rule.turns[1].delay == 0.5
    assert rule.turns[0].effective_stop_reason() == "end_turn"


def test_blocks_are_sent_thinking_text_blocks_then_tool_calls() -> None:
    turn = Turn(
        tool_calls=(ToolCall(name="Bash", input={"command": "ls"}),),
        blocks=(Text(text="middle"),),
        text="first",
        thinking="hmm",
    )
    assert [type(b) for b in turn.content()] == [Thinking, Text, Text, ToolCall]
    assert turn.effective_stop_reason() == "tool_use"
    assert Turn(text="x", stop_reason="max_tokens").effective_stop_reason() == "max_tokens"


def test_rules_first_match_wins_then_default() -> None:
    scenario = Scenario(
        rules=(
            Rule(name="a", contains="deploy", turns=(Turn(text="a"),)),
            Rule(name="b", regex=r"deploy \w+", turns=(Turn(text="b"),)),
            Rule(name="c", exact="status", turns=(Turn(text="c"),)),
        ),
        default=Rule(name="d", turns=(Turn(text="d"),)),
    )
    assert scenario.select("deploy prod").name == "a"  # type: ignore[union-attr]
    assert scenario.select("  status\n").name == "c"  # type: ignore[union-attr]
    assert scenario.select("status please").name == "d"  # type: ignore[union-attr]
    assert Scenario().select("anything") is None


def test_matchers_combine() -> None:
    rule = Rule(contains="deploy", regex=r"\bprod\b", turns=(Turn(text="x"),))
    assert rule.matches("deploy to prod")
    assert not rule.matches("deploy to staging")


def test_invalid_scenario_names_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"rules": [{"regex": "(", "turns": [{}]}, {"turns": []}], "extra": 1}))
    with pytest.raises(ScenarioError) as caught:
        Scenario.load(path)
    message = str(caught.value)
    assert message.startswith(str(path))
    assert "rules.0.regex" in message
    assert "rules.0.turns.0" in message
    assert "rules.1.turns" in message
    assert "extra" in message
    assert isinstance(caught.value, MagistrateError)


def test_unreadable_files_are_scenario_errors(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="cannot read"):
        Scenario.load(tmp_path / "missing.json")
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(ScenarioError, match="invalid JSON"):
        Scenario.load(tmp_path / "broken.json")
    (tmp_path / "broken.yaml").write_text("rules: [")
    with pytest.raises(ScenarioError, match="invalid YAML"):
        Scenario.load(tmp_path / "broken.yaml")


def test_yaml_scenario(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        "rules:\n  - contains: hi\n    turns:\n      - Hello.\n"
        "      - tool_calls: [{name: Bash, input: {command: ls}}]\n"
    )
    scenario = Scenario.load(path)
    assert scenario.rules[0].turns[1].tool_calls[0].input == {"command": "ls"}


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_scenarios_load(path: Path) -> None:
    assert Scenario.load(path).rules


def test_model_accepts_a_path_or_a_dict(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"default": {"turns": ["x"]}}))
    assert ScriptedModel(path).scenario == ScriptedModel({"default": {"turns": ["x"]}}).scenario
    with pytest.raises(ScenarioError):
        ScriptedModel({"rules": "nope"})


def test_import_stays_light() -> None:
    code = "import sys, magistrate.sdk.scripted_model; print(sorted(m for m in sys.modules if m.split('.')[0] in {m0}))"
    # h11 too: it is loaded when a server starts, not by building a scenario.
    heavy = "{'uvicorn', 'starlette', 'httpx', 'mcp', 'structlog', 'yaml', 'h11'}"
    out = subprocess.run(
        [sys.executable, "-c", code.replace("{m0}", heavy)], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"


@pytest.mark.anyio
async def test_command_serves_a_scenario_file(tmp_path: Path) -> None:
    scenario = REPO_ROOT / "examples" / "scenarios" / "greeting.json"
    argv = [sys.executable, "-c", "from magistrate.cli import main; raise SystemExit(main())"]
    with anyio.fail_after(30):
        async with await anyio.open_process(
            [*argv, "scripted-model", "--scenario", str(scenario), "--port", "0"]
        ) as proc:
            assert proc.stdout is not None
            buffer = b""
            while b"\n" not in buffer:
                buffer += await proc.stdout.receive()
            base_url = buffer.split(b"\n", 1)[0].decode()
            assert base_url.startswith("http://127.0.0.1:")
            host, port = base_url.removeprefix("http://").split(":")
            stream = await anyio.connect_tcp(host, int(port))
            async with stream:
                payload = json.dumps({"model": "m", "messages": [{"role": "user", "content": "hello"}]}).encode()
                head = f"POST /v1/messages HTTP/1.1\r\nhost: x\r\ncontent-length: {len(payload)}\r\n"
                head += "connection: close\r\n\r\n"
                await stream.send(head.encode() + payload)
                response = b""
                try:
                    while True:
                        response += await stream.receive()
                except anyio.EndOfStream:
                    pass
            proc.terminate()
            await proc.wait()
    assert response.startswith(b"HTTP/1.1 200")
    assert b"I am the scripted model" in response


def test_command_reports_a_bad_scenario(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from magistrate.cli import main

    assert main(["scripted-model", "--scenario", str(tmp_path / "missing.json")]) == 2
    assert "cannot read scenario" in capsys.readouterr().err


def test_a_busy_port_is_a_clear_error() -> None:
    with ScriptedModel({}) as first:
        with pytest.raises(ScriptedModelError, match=f"cannot listen on 127.0.0.1:{first.port}"):
            ScriptedModel({}, port=first.port).start()
        with pytest.raises(ScriptedModelError, match="already running"):
            first.start()
