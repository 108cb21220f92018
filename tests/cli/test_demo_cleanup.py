"""`magistrate demo | head -N`: whenever the reader goes away, the demo leaves no process and no workspace."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests._bounded import poll, read_lines


def _processes_mentioning(marker: bytes) -> list[int]:
    """Live processes whose command line or environment names `marker` (the demo's workspace)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            seen = (entry / "cmdline").read_bytes() + (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker in seen and state != "Z":
            found.append(int(entry.name))
    return found


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="reads other processes through /proc")
@pytest.mark.parametrize("lines", [1, 3, 8])
def test_a_closed_pipe_at_any_line_leaves_no_process_and_no_workspace(tmp_path: Path, lines: int) -> None:
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    demo = subprocess.Popen(
        [sys.executable, "-m", "magistrate.cli", "demo"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert demo.stdout is not None
    assert demo.stderr is not None
    try:
        read_lines(demo.stdout, lines, timeout=120)
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
    marker = str(tmp_path).encode()
    assert poll(lambda: _processes_mentioning(marker) == [], timeout=20), _processes_mentioning(marker)
    assert list(tmp_path.glob("magistrate-demo-*")) == []
