from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """The run's working directory, with a file the policy keeps from being read."""
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "notes.txt").write_text("private notes\n")
    return ws
