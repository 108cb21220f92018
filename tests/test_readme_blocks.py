"""Every example in the README runs as written: its code blocks are read from the README itself and run.

- `python` blocks are compiled, and run (each in a fresh folder, with the scripted model's variables set, so
  an SDK example talks to the scripted model through the real CLI);
- `bash` blocks run line by line in a fresh folder with this installation's `magistrate` first on PATH. A line
  ending in `# exit N` must exit N, and a comment line after a command is a line its output must contain; a
  comment that is a JSON object (ending `, ...}` when it shows only some keys) must match the output's
  object key by key, where a value `"...rest"` matches any string that ends with `rest`;
- `json` blocks are parsed.

Before a block, `<!-- file: PATH -->` saves it as PATH in every folder the examples run in (the policy the
other examples use), and `<!-- not-run: reason -->` says why it cannot run offline; the test holds each such
block to having a reason and counts them. Blocks without a language are output or diagrams. The blocks of
"Changing a policy safely" are run in order by `tests/cli/test_readme_walkthrough.py`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from ast import PyCF_ALLOW_TOP_LEVEL_AWAIT
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from magistrate.sdk.scripted_model import ScriptedModel

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
WALKTHROUGH = "Changing a policy safely"
_MARKER = re.compile(r"^<!-- (not-run|file): (.+?) -->$")
_EXIT = re.compile(r"\s+#\s*exit (\d+)\s*$")
_LANGUAGES = {"python", "bash", "json"}


@dataclass(frozen=True)
class Block:
    line: int
    """The line of the opening fence."""
    language: str
    body: str
    section: str
    """The `## ` section the block is in."""
    not_run: str | None = None
    file: str | None = None

    @property
    def runs_here(self) -> bool:
        return self.language in _LANGUAGES and self.not_run is None and self.section != WALKTHROUGH

    def __str__(self) -> str:
        return f"README.md:{self.line} ({self.language})"


def blocks() -> list[Block]:
    found: list[Block] = []
    lines = README.read_text(encoding="utf-8").splitlines()
    section, i = "", 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("## "):
            section = line[3:].strip()
        if line.startswith("```"):
            end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
            marker = _MARKER.match(lines[i - 1]) if i else None
            kind, value = (marker.group(1), marker.group(2).strip()) if marker else ("", "")
            body = "\n".join(lines[i + 1 : end]) + "\n"
            found.append(
                Block(
                    i + 1,
                    line[3:].strip(),
                    body,
                    section,
                    not_run=value if kind == "not-run" else None,
                    file=value if kind == "file" else None,
                )
            )
            i = end
        i += 1
    return found


def of(language: str) -> list[Block]:
    return [b for b in blocks() if b.language == language and b.runs_here]


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A fresh folder holding the README's files and the shipped examples, as a reader's checkout would."""
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "examples").symlink_to(ROOT / "examples")
    for block in blocks():
        if block.file:
            target = folder / block.file
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(block.body, encoding="utf-8")
    return folder


@pytest.fixture
def env(workspace: Path) -> Any:
    with ScriptedModel({"default": {"turns": ["The contract is reviewed."]}}) as model:
        environ = {**os.environ, **model.env()}
        environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
        for name in ("MAGISTRATE_POLICY", "MAGISTRATE_AUDIT"):
            environ.pop(name, None)
        yield environ


def test_every_block_runs_or_says_why_not() -> None:
    every = blocks()
    unknown = [str(b) for b in every if b.language and b.language not in _LANGUAGES]
    assert unknown == []
    not_run = [b for b in every if b.not_run is not None]
    assert all(len(b.not_run or "") > 10 for b in not_run)
    assert not any(b.not_run is not None and b.file is not None for b in every)
    here = [b for b in every if b.runs_here]
    walkthrough = [b for b in every if b.section == WALKTHROUGH and b.language == "bash"]
    assert (ROOT / "tests" / "cli" / "test_readme_walkthrough.py").exists()
    assert walkthrough
    # the count is held so that a new example that cannot run is a decision someone sees in review
    assert len(not_run) <= 14, [str(b) for b in not_run]
    assert len(here) >= 11
    assert {b.language for b in here} == _LANGUAGES
    assert {b.file for b in every if b.file} == {"policy.py", ".claude/settings.json"}


@pytest.mark.parametrize("block", [b for b in blocks() if b.language == "python"], ids=str)
def test_python_blocks_compile(block: Block) -> None:
    compile(block.body, str(block), "exec", flags=PyCF_ALLOW_TOP_LEVEL_AWAIT)


@pytest.mark.parametrize("block", [b for b in blocks() if b.language == "json"], ids=str)
def test_json_blocks_parse(block: Block) -> None:
    json.loads(block.body)


@pytest.mark.parametrize("block", of("python"), ids=str)
def test_python_blocks_run(block: Block, workspace: Path, env: dict[str, str]) -> None:
    script = workspace / "example.py"
    script.write_text(block.body, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(script)], cwd=workspace, env=env, capture_output=True, text=True, timeout=180, check=False
    )
    assert done.returncode == 0, f"{block}\n{done.stdout}{done.stderr}"
    if "query(" in block.body:
        assert "The contract is reviewed." in done.stdout  # the scripted model answered through the CLI


def commands(body: str) -> list[tuple[str, int, list[str]]]:
    """(command, expected exit code, comment lines after it) for each command of a bash block."""
    found: list[tuple[str, int, list[str]]] = []
    joined = body.replace("\\\n", " ")
    for line in joined.splitlines():
        if not line.strip():
            continue
        if line.startswith("#"):
            found[-1][2].append(line[1:].strip())
            continue
        code = _EXIT.search(line)
        found.append((line[: code.start()] if code else line, int(code.group(1)) if code else 0, []))
    return found


def _matches(shown: Any, actual: Any) -> bool:
    if isinstance(shown, str) and shown.startswith("..."):
        return isinstance(actual, str) and actual.endswith(shown[3:])
    return bool(shown == actual)


def check_shown(comment: str, output: str) -> None:
    if not comment.startswith("{"):
        assert comment in [line.rstrip() for line in output.splitlines()], comment
        return
    shown = json.loads(re.sub(r",\s*\.\.\.\s*}$", "}", comment))
    actual = json.loads(output)
    for key, value in shown.items():
        assert key in actual, key
        assert _matches(value, actual[key]), (key, value, actual[key])


@pytest.mark.parametrize("block", of("bash"), ids=str)
def test_bash_blocks_run(block: Block, workspace: Path, env: dict[str, str]) -> None:
    steps = commands(block.body)
    assert steps
    for command, code, shown in steps:
        done = subprocess.run(
            ["bash", "-c", command], cwd=workspace, env=env, capture_output=True, text=True, timeout=180, check=False
        )
        said = f"{block}\n$ {command}\n{done.stdout}{done.stderr}"
        assert done.returncode == code, said
        assert "Traceback" not in done.stderr, said
        for comment in shown:
            check_shown(comment, done.stdout)


def test_the_demo_does_not_install_postgresql() -> None:
    """Only the tests need a PostgreSQL server; `./dev demo` sets up the venv and the CLI, nothing more."""
    script = (ROOT / "dev").read_text(encoding="utf-8")
    demo = next(line for line in script.splitlines() if line.strip().startswith("demo)"))
    assert "postgres" not in demo
    setup = script.split("setup() {", 1)[1].split("\n}\n", 1)[0]
    assert "postgres" not in setup


def test_the_example_policy_says_how_to_use_it_truly(env: dict[str, str]) -> None:
    """examples/policy.py's docstring: its commands run and allow, and it names the options class there is."""
    import magistrate.sdk

    doc = (ROOT / "examples" / "policy.py").read_text(encoding="utf-8").split('"""')[1]
    ran = 0
    for line in doc.splitlines():
        label, _, command = line.partition(":")
        if label in {"Check it", "Ask it"}:
            done = subprocess.run(
                ["bash", "-c", command.strip()],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert done.returncode == 0, f"{command}\n{done.stdout}{done.stderr}"
            ran += 1
    assert ran == 2
    named = re.findall(r"options=(\w+)\(", doc)
    assert named
    assert all(name in magistrate.sdk.__all__ for name in named)
