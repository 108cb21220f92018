"""Every example of the Claude Code SDK's Python page runs on magistrate.sdk, against the real CLI.

The examples live in examples/reference/ exactly as the page prints them, with only the import line
changed (or added). Scripts run as scripts; the top-level-`await` ones run as notebook cells. Each runs
governed by default, on the scripted model, and the test checks that the example's prompts reached the
model and that its output is what the page's code prints for the scripted answers.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from magistrate.sdk.scripted_model import ScriptedModel

REFERENCE = Path(__file__).resolve().parents[2] / "examples" / "reference"
NOTEBOOK = Path(__file__).with_name("notebook.py")
SCENARIO = {"default": {"turns": ["Scripted answer to: {prompt}"]}}

# example -> prompts the model must receive (from the page's code), or None for an example that only builds options
EXPECTED: dict[str, tuple[str, ...]] = {
    "legal_agent": ("Review this contract clause",),
    "quick_start_notebook_cell": ("Review this contract clause",),
    "client_basic": ("Analyze system performance",),
    "query_basic": ("Analyze system performance",),
    "options_parameters": (),
    "structured_messages": ("Analyze this code for security issues", "Finally, generate implementation code"),
    "multi_turn": ("Let's refactor the payment module", "Now add comprehensive error handling"),
    "custom_system_prompts": ("API is down, investigate", "Refactor this function"),
    "custom_tools_mcp": ("Review this contract for compliance risks",),
    "custom_permission_prompt": ("Analyze and fix the security issues",),
    "output_text_streaming": ("Explain file src/components/Header.tsx",),
    "output_json_metadata": ("How does the data layer work?",),
    "input_formats": ("Explain this code", "Generate improved version"),
    "sre_incident_agent": ("Incident: Payment API returning 500 errors (Severity: high)",),
    "security_review": ("diff --git a/app.py b/app.py",),
    "legal_assistant": ("Review contract.pdf for liability clauses", "Generate executive summary of risks"),
    "best_practices": ("Analyze this code",),
    "notebook_tips": ("Analyze data.csv",),
}
# What each example prints for the scripted answers (a fragment of its output).
PRINTS: dict[str, str] = {
    "legal_agent": "Scripted answer to: Review this contract clause",
    "client_basic": "Scripted answer to: Analyze system performance",
    "query_basic": "Scripted answer to: Analyze system performance",
    "custom_system_prompts": "Scripted answer to: API is down, investigate",
    "custom_tools_mcp": "Review complete. Total cost: $",
    "output_json_metadata": "'result': 'Scripted answer to: How does the data layer work?'",
    "sre_incident_agent": "Investigation complete. Cost: $",
    "security_review": "Audit complete. Severity: medium",
    "legal_assistant": "Legal review complete. Total cost: $",
}


def _is_notebook(path: Path) -> bool:
    try:
        compile(path.read_text(), str(path), "exec")
    except SyntaxError:
        return True
    return False


def _command(name: str) -> list[str]:
    path = REFERENCE / f"{name}.py"
    if _is_notebook(path):
        return [sys.executable, str(NOTEBOOK), str(path)]
    return [sys.executable, str(path)]


def _fake_gh(folder: Path) -> None:
    """The security-review example shells out to GitHub's `gh`; this one prints a fixed diff."""
    gh = folder / "gh"
    gh.write_text("#!/bin/sh\nprintf 'diff --git a/app.py b/app.py\\n+password = \"hunter2\"\\n'\n")
    gh.chmod(0o755)


def test_every_example_on_the_page_is_covered() -> None:
    on_disk = {p.stem for p in REFERENCE.glob("*.py")}
    assert on_disk == set(EXPECTED) | {"advanced_configuration"}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs(name: str, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _fake_gh(bin_dir)
    with ScriptedModel(SCENARIO) as model:
        env = {**os.environ, **model.env(), "PATH": f"{bin_dir}:{os.environ['PATH']}"}
        done = subprocess.run(
            _command(name), check=False, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
        )
        prompts = [m.prompt_text() for body in model.message_requests() for m in body.messages if m.role == "user"]
    assert done.returncode == 0, done.stderr
    for expected in EXPECTED[name]:
        assert any(expected in prompt for prompt in prompts), (expected, prompts)
    if name in PRINTS:
        assert PRINTS[name] in done.stdout, done.stdout


def test_advanced_configuration_names_the_directory_that_does_not_exist(tmp_path: Path) -> None:
    # The page's example points at /project/root and /shared/libs; whether those exist depends on the machine,
    # so it runs here with them moved under tmp_path, where they are known not to exist.
    source = (REFERENCE / "advanced_configuration.py").read_text()
    missing = tmp_path / "missing"
    for page_path in ("/project/root", "/shared/libs", "/common/utils"):
        assert f'"{page_path}"' in source
        source = source.replace(f'"{page_path}"', repr(str(missing / page_path.lstrip("/"))))
    script = tmp_path / "advanced_configuration.py"
    script.write_text(source)
    with ScriptedModel(SCENARIO) as model:
        env = {**os.environ, **model.env()}
        done = subprocess.run(
            [sys.executable, str(script)],
            check=False,
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert model.message_requests() == []
    assert done.returncode != 0
    cwd = str(missing / "project" / "root")
    # An OptionsError that is also the CLIConnectionError the official SDK raises for a missing cwd.
    assert f"magistrate.sdk.WorkingDirectoryError: cwd={cwd!r}: the directory does not exist" in done.stderr
