"""Every storage test runs on both backends: a SQLite file and a fresh PostgreSQL database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from magistrate.broker import Trail


@pytest.fixture(params=["sqlite", "postgres"])
def db_location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        url: str = request.getfixturevalue("postgres_database")
        return url
    return str(tmp_path / "store.sqlite3")


@pytest.fixture
def trail(tmp_path: Path) -> Iterator[Trail]:
    """A trail in the test's folder, closed afterwards (the approval tests record into it)."""
    opened = Trail.open(tmp_path / "trail.sqlite3")
    yield opened
    opened.close()
