"""`magistrate policy lint`: the mistakes that load fine, each named with its file and line."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from magistrate.broker import lint_policy
from magistrate.cli import main
from magistrate.sdk.scripted_model import ScriptedModel
from tests._harness import run_cli

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def lint(capsys: pytest.CaptureFixture[str], path: Path) -> tuple[int, list[str]]:
    code = main(["policy", "lint", str(path)])
    return code, capsys.readouterr().out.splitlines()


def write_policy(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "policy.py"
    path.write_text("from magistrate.broker import RulePolicy\n\n" + body)
    return path


def test_a_misspelt_settings_key_is_named_with_its_line_and_what_was_meant(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = tmp_path / "settings.json"
    settings.write_text('{\n  "model": "x",\n  "permisions": {\n    "allow": ["Bash(ls:*)"]\n  }\n}\n')
    code, lines = lint(capsys, settings)
    assert code == 1
    assert lines == [
        f"{settings}:3: unknown settings key 'permisions': did you mean 'permissions'? "
        "(the key and what it holds are ignored)"
    ]


def test_an_unknown_key_inside_permissions_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"permissions": {"allow": [], "denny": ["Bash(rm:*)"]}}, indent=1))
    code, lines = lint(capsys, settings)
    assert code == 1
    assert lines == [f"{settings}:4: unknown key 'permissions.denny': did you mean 'deny'?; it is ignored"]


def test_an_unknown_settings_key_that_resembles_none_is_left_to_newer_clis(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"someFutureSetting": True, "permissions": {"allow": ["Bash(ls:*)"]}}))
    assert lint(capsys, settings)[0] == 0


def test_a_settings_file_a_policy_reads_is_checked_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "team.json").write_text('{"permission": {"allow": ["Bash(ls:*)"]}}')
    policy = write_policy(tmp_path, 'policy = RulePolicy(settings=["team.json"])\n')
    code, lines = lint(capsys, policy)
    assert code == 1
    assert lines[0].startswith(f"{tmp_path / 'team.json'}:1: unknown settings key 'permission': did you mean")


def test_an_mcp_rule_for_a_tool_the_bundled_server_lacks_says_which_tool_it_has(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = write_policy(tmp_path, 'policy = RulePolicy(\n    allow=["mcp__documents__search"],\n)\n')
    code, lines = lint(capsys, policy)
    assert code == 1
    [line] = lines
    assert line.startswith(f"{policy}:4: rule 'mcp__documents__search' in allow: matches no tool of the bundled")
    assert line.endswith("did you mean 'mcp__documents__search_documents'?")


def test_an_mcp_rule_for_a_near_miss_of_a_bundled_server_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = write_policy(tmp_path, 'policy = RulePolicy(ask=["mcp__compliance", "mcp__github__create_issue"])\n')
    code, lines = lint(capsys, policy)
    assert code == 1
    assert lines == [
        f"{policy}:3: rule 'mcp__compliance' in ask: no MCP server 'compliance' is bundled; "
        "did you mean 'mcp__compliance_db'?"
    ]


def test_rules_for_tools_that_do_not_exist_are_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    body = 'policy = RulePolicy(allow=["WebSerch"])\n\n\n@policy.rule("Bahs")\ndef r(call):\n    return None\n'
    code, lines = lint(capsys, write_policy(tmp_path, body))
    assert code == 1
    assert "rule 'WebSerch' in allow: matches no tool: Claude Code 2.1.330 has no tool 'WebSerch'" in lines[0]
    assert lines[0].endswith("did you mean 'WebSearch'?")
    assert ":6: rule 'r': 'Bahs' matches no tool" in lines[1]


def test_shadowed_redundant_and_duplicate_rules_are_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    body = """policy = RulePolicy(
    allow=[
        "Bash(curl -s:*)",
        "Bash(git:*)",
        "Bash(git status)",
        "Read(./secrets/token.txt)",
        "Bash(ls:*)",
        "Bash(ls:*)",
        "mcp__documents__get_document",
    ],
    ask=["mcp__documents"],
    deny=["Bash(curl:*)", "Read(secrets/**)"],
)
"""
    policy = write_policy(tmp_path, body)
    code, lines = lint(capsys, policy)
    assert code == 1
    where = f"{policy}:"
    assert lines == [
        f"{where}5: rule 'Bash(curl -s:*)' in allow: never decides: deny rule 'Bash(curl:*)' ({where}14) matches "
        "every call it matches, and deny comes first",
        f"{where}7: rule 'Bash(git status)' in allow: redundant: the earlier allow rule 'Bash(git:*)' ({where}6) "
        "matches every call it matches",
        f"{where}8: rule 'Read(./secrets/token.txt)' in allow: never decides: deny rule 'Read(secrets/**)' "
        f"({where}14) matches every call it matches, and deny comes first",
        f"{where}10: rule 'Bash(ls:*)' in allow: duplicate of allow rule 'Bash(ls:*)' ({where}9)",
        f"{where}11: rule 'mcp__documents__get_document' in allow: never decides: ask rule 'mcp__documents' "
        f"({where}13) matches every call it matches, and ask comes first",
    ]


def test_a_narrow_deny_under_a_wide_allow_is_no_shadow(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    body = 'policy = RulePolicy(allow=["Read(./**)", "Bash(git:*)"], deny=["Read(.env)", "Bash(git push --force:*)"])\n'
    assert lint(capsys, write_policy(tmp_path, body))[0] == 0


def test_a_bad_default_is_named_with_its_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy = write_policy(tmp_path, 'policy = RulePolicy(\n    allow=["Bash(ls:*)"],\n    default="allwo",\n)\n')
    code, lines = lint(capsys, policy)
    assert code == 1
    assert lines == [f"{policy}:5: default must be allow, deny or ask, not 'allwo'"]


def test_a_bad_default_mode_in_settings_is_named_with_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = tmp_path / "settings.json"
    settings.write_text('{\n  "permissions": {\n    "defaultMode": "yolo"\n  }\n}\n')
    code, lines = lint(capsys, settings)
    assert code == 1
    assert lines[0].startswith(f"{settings}:3: 'defaultMode' 'yolo' is not one of")


def test_lint_reads_magistrate_policy_when_no_file_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAGISTRATE_POLICY", str(write_policy(tmp_path, 'policy = RulePolicy(allow=["Bash(ls:*)"])\n')))
    assert main(["policy", "lint"]) == 0
    assert capsys.readouterr().out.startswith("ok: ")
    monkeypatch.delenv("MAGISTRATE_POLICY")
    assert main(["policy", "lint"]) == 2
    assert "no policy" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["policy.py", "settings.json"])
def test_the_shipped_examples_lint_clean(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = lint(capsys, EXAMPLES / name)
    assert code == 0, lines
    assert lines[0].startswith("ok: ")


def test_the_examples_old_mistakes_are_exactly_what_lint_catches(tmp_path: Path) -> None:
    # examples/policy.py once named a tool the documents server does not have and a server that is not bundled.
    source = (EXAMPLES / "policy.py").read_text()
    broken = tmp_path / "policy.py"
    broken.write_text(
        source.replace('"mcp__documents__search_documents"', '"mcp__documents__search"').replace(
            '"mcp__compliance_db"', '"mcp__compliance"'
        )
    )
    servers = {"documents": ["search_documents", "get_document"], "compliance_db": ["record_finding"]}
    found = [(f.kind, f.rule) for f in lint_policy(broken, servers=servers).findings]
    assert found == [("tool", "mcp__documents__search"), ("tool", "mcp__compliance")]


def _listed_tools(model: ScriptedModel) -> set[str]:
    names: set[str] = set()
    for body in model.message_requests():
        names.update(str(tool.get("name")) for tool in body.tools or ())
        text = json.dumps(body.model_dump(mode="json"))
        deferred = re.search(r"before calling them:((?:\\n[A-Za-z]+)+)", text)
        if deferred:
            names.update(deferred.group(1).split("\\n")[1:])
    return names


def test_every_tool_the_pinned_cli_lists_is_a_known_tool(
    claude_cli: Path,
    scripted_model: Callable[[dict[str, Any]], ScriptedModel],
    isolated_home: Path,
    tmp_path: Path,
) -> None:
    from magistrate.broker._tool_names import CLI_TOOLS, KNOWN_TOOLS

    model = scripted_model({"default": {"turns": [{"text": "done"}]}})
    run = run_cli("hello", model=model, home=isolated_home, cwd=tmp_path, claude=claude_cli)
    assert run.returncode == 0, run.stderr[-2000:]
    listed = _listed_tools(model)
    assert "Bash" in listed
    assert listed <= KNOWN_TOOLS, sorted(listed - KNOWN_TOOLS)
    assert listed == CLI_TOOLS, sorted(listed ^ CLI_TOOLS)
