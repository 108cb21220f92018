"""Shared test plugins: each lives in its own module and is registered here."""

from __future__ import annotations

pytest_plugins = ["tests._harness", "tests._postgres"]


import pytest  # noqa: E402 - after the plugin list, which pytest reads first


@pytest.fixture(autouse=True)
def _private_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads or writes the developer's own HOME: trails, keys, queues and the CLI's state go here."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    for name, sub in (
        ("XDG_CONFIG_HOME", ".config"),
        ("XDG_STATE_HOME", ".local/state"),
        ("XDG_DATA_HOME", ".local/share"),
    ):
        monkeypatch.setenv(name, str(home / sub))
    for name in ("MAGISTRATE_POLICY", "MAGISTRATE_AUDIT", "MAGISTRATE_TRAIL_KEY", "MAGISTRATE_APPROVAL_QUEUE"):
        monkeypatch.delenv(name, raising=False)
