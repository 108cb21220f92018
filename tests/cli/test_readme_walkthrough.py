"""The README's "Changing a policy safely" runs as written: every command, its exit code and the output shown.

The walk-through's shell blocks are read from the README itself and run in order in one fresh folder, with
this installation's `magistrate` first on PATH. A command ends with `# exit N` when it should not exit 0,
and the comment lines after a command are lines its output must contain.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"
_EXIT = re.compile(r"\s+#\s*exit (\d+)\s*$")


@dataclass
class Step:
    command: str
    code: int = 0
    shows: list[str] = field(default_factory=list)


def walkthrough() -> list[Step]:
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Changing a policy safely\n", 1)[1].split("\n## ", 1)[0]
    steps: list[Step] = []
    for block in re.findall(r"```bash\n(.*?)```", section, re.DOTALL):
        for line in block.splitlines():
            if not line.strip():
                continue
            if line.startswith("#"):
                steps[-1].shows.append(line[2:].rstrip())
                continue
            found = _EXIT.search(line)
            command = line[: found.start()] if found else line
            steps.append(Step(command.strip(), int(found.group(1)) if found else 0))
    return steps


def test_the_walkthrough_has_every_step() -> None:
    commands = [s.command.split()[:3] for s in walkthrough()]
    assert ["magistrate", "demo", "--dir"] in commands
    assert ["magistrate", "policy", "test"] in commands
    assert ["magistrate", "policy", "replay"] in commands
    assert {s.code for s in walkthrough()} == {0, 1}


def test_the_walkthrough_runs_as_written(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("MAGISTRATE_POLICY", None)
    for step in walkthrough():
        done = subprocess.run(
            ["bash", "-c", step.command],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        said = f"$ {step.command}\n{done.stdout}{done.stderr}"
        assert done.returncode == step.code, said
        lines = [line.rstrip() for line in done.stdout.splitlines()]
        for shown in step.shows:
            assert shown in lines, said
