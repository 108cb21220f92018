"""`magistrate demo`, the README's first command, runs the whole governed flow and verifies its trail."""

from __future__ import annotations

import subprocess
import sys


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
