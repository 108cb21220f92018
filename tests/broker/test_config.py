"""magistrate's configuration: the per-user directories and the environment, read in one place."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from magistrate.broker import default_db, default_key_path, user_dir
from magistrate.servers import default_queue_path

linux_only = pytest.mark.skipif(sys.platform != "linux", reason="the XDG base directories are Linux's rules")


@linux_only
def test_the_per_user_directories_are_the_xdg_ones(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert user_dir("state") == tmp_path / "state" / "magistrate"
    assert user_dir("config") == tmp_path / "config" / "magistrate"
    assert user_dir("data") == tmp_path / "data" / "magistrate"
    assert default_db() == str(tmp_path / "state" / "magistrate" / "trail.sqlite3")
    assert default_key_path() == tmp_path / "config" / "magistrate" / "trail.key"
    assert default_queue_path() == tmp_path / "state" / "magistrate" / "approvals.sqlite3"


@linux_only
def test_without_xdg_variables_the_directories_are_under_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("XDG_STATE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert user_dir("state") == tmp_path / ".local" / "state" / "magistrate"
    assert user_dir("config") == tmp_path / ".config" / "magistrate"
    assert user_dir("data") == tmp_path / ".local" / "share" / "magistrate"
    assert default_db() == str(tmp_path / ".local" / "state" / "magistrate" / "trail.sqlite3")
