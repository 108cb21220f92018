"""The CLI is found in a fixed order, and its absence says how to install it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from magistrate.broker import Environment
from magistrate.sdk import CLINotFoundError
from magistrate.sdk._discovery import find_cli

ENV_VAR = "MAGISTRATE_CLI_PATH"


def _executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


def test_explicit_path_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    explicit = _executable(tmp_path / "mine" / "claude")
    monkeypatch.setenv(ENV_VAR, str(_executable(tmp_path / "env" / "claude")))
    assert find_cli(explicit) == str(explicit)


def test_environment_comes_before_the_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from_env = _executable(tmp_path / "env" / "claude")
    _executable(tmp_path / "proj" / "node_modules" / ".bin" / "claude")
    monkeypatch.setenv(ENV_VAR, str(from_env))
    assert find_cli(None, tmp_path / "proj") == str(from_env)


def test_the_environment_a_run_read_is_the_one_that_counts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    read = _executable(tmp_path / "read" / "claude")
    monkeypatch.setenv(ENV_VAR, str(_executable(tmp_path / "later" / "claude")))
    assert find_cli(None, tmp_path, env=Environment.read({ENV_VAR: str(read)})) == str(read)


def test_project_node_modules_is_found_from_a_subdirectory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    local = _executable(tmp_path / "proj" / "node_modules" / ".bin" / "claude")
    (tmp_path / "proj" / "src").mkdir()
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert find_cli(None, tmp_path / "proj" / "src") == str(local)


def test_a_bad_explicit_path_is_not_silently_replaced(tmp_path: Path) -> None:
    with pytest.raises(CLINotFoundError, match="npm install") as caught:
        find_cli(tmp_path / "nope")
    assert caught.value.cli_path == str(tmp_path / "nope")


def test_nothing_found_says_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr("magistrate.sdk._discovery._project_candidates", lambda start: [])
    with pytest.raises(CLINotFoundError, match="npm install @anthropic-ai/claude-code"):
        find_cli(None, tmp_path)
    assert os.environ["PATH"] == str(tmp_path)
