"""magistrate.cli publishes exactly its `__all__`: the `main` entry point."""

from __future__ import annotations

import magistrate.cli as cli
from tests._public_api import unexported_public_names


def test_all_is_sorted() -> None:
    assert cli.__all__ == sorted(cli.__all__)


def test_every_export_resolves() -> None:
    for name in cli.__all__:
        assert getattr(cli, name) is not None


def test_every_public_name_is_exported() -> None:
    assert unexported_public_names(cli) == set()
