"""`magistrate demo`, the README's first command, runs the whole governed flow and verifies its trail."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests._bounded import read_lines


def test_the_demo_runs_every_kind_of_decision_and_verifies_the_trail() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "magistrate.cli", "demo"], capture_output=True, text=True, timeout=180, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    table = out.split("Decisions in the audit trail:")[1].split("Verifying the trail")[0]
    rows = [line.split() for line in table.splitlines() if line.strip()[:1].isdigit()]
    decisions = [row[2] for row in rows]
    assert decisions.count("allow") >= 4
    assert {"deny", "rewrite", "ask->allow"} <= set(decisions)
    denied = next(row for row in rows if row[2] == "deny")
    assert denied[3] == "Bash(curl:*)"
    assert denied[-1] == "-"
    assert all(row[-1] == "success" for row in rows if row[2] != "deny")
    assert "\nOK: " in out
    assert "records intact" in out


def _workspaces(text: str) -> list[Path]:
    return [Path(word.rstrip("/").rsplit("/policy.py", 1)[0]) for word in text.split() if "magistrate-demo-" in word]


def test_a_closed_pipe_ends_the_demo_its_cli_and_its_workspace(tmp_path: Path) -> None:
    # `magistrate demo | head -3`: the reader goes away after three lines.
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    demo = subprocess.Popen(
        [sys.executable, "-m", "magistrate.cli", "demo"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert demo.stdout is not None
    assert demo.stderr is not None
    try:
        head = read_lines(demo.stdout, 3, timeout=120)
        demo.stdout.close()
        code = demo.wait(timeout=60)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait(timeout=10)
    stderr = demo.stderr.read().decode()
    demo.stderr.close()
    assert code == 141, stderr
    assert "Traceback" not in stderr
    [workspace] = _workspaces(b"".join(head).decode())
    assert workspace.parent == tmp_path
    assert not workspace.exists()
    assert list(tmp_path.glob("magistrate-demo-*")) == []


def test_keep_keeps_the_workspace_it_names(tmp_path: Path) -> None:
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "magistrate.cli", "demo", "--keep"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    kept = Path(done.stdout.rsplit("workspace kept at ", 1)[1].strip())
    assert kept.parent == tmp_path
    assert (kept / "trail.sqlite3").is_file()
    assert (kept / "policy.py").is_file()
