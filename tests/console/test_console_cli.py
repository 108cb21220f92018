"""`magistrate console` says what keeps it from starting, in one line and exit 2, never a traceback."""

from __future__ import annotations

import contextlib
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path


def console(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "magistrate.cli", "console", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_database_that_is_not_a_trail_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "other.sqlite3"
    with contextlib.closing(sqlite3.connect(other)) as db:
        db.execute("CREATE TABLE t (x)")
    done = console("--db", str(other), "--port", "0")
    assert done.returncode == 2
    assert done.stderr == f"magistrate console: {other} is not a magistrate trail (it has no trail_meta table)\n"


def test_a_port_in_use_is_said(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = console("--db", str(tmp_path / "trail.sqlite3"), "--port", str(port))
    assert done.returncode == 2
    assert done.stderr.endswith(f"magistrate console: cannot listen on 127.0.0.1:{port}: Address already in use\n")
    assert "Traceback" not in done.stderr
