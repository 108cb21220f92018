"""A database written by another schema version is refused on open, with an error that says what to do.

Reading a trail or a store whose layout this magistrate does not know could misread records or write rows
an older reader cannot verify, so every store checks its version before anything else, on SQLite and on
PostgreSQL alike.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from magistrate.broker import AuditError, Flavor, SchemaVersionError, Trail, TrailReader, open_database
from magistrate.servers import DatabaseError, open_compliance, open_documents
from magistrate.servers._approval_queue import ApprovalQueue


@pytest.fixture(params=["sqlite", "postgres"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "store.sqlite3")
    url: str = request.getfixturevalue("postgres_database")
    return url


def _set(location: str, sql: str, params: tuple[str, ...]) -> None:
    db = open_database(location, Flavor(AuditError, SchemaVersionError))
    try:
        db.write(sql, params)
    finally:
        db.close()


def test_a_trail_of_an_unknown_schema_version_is_refused(location: str) -> None:
    Trail.open(location).close()
    _set(location, "UPDATE trail_meta SET value = ? WHERE key = 'schema_version'", ("999",))
    with pytest.raises(SchemaVersionError) as caught:
        Trail.open(location)
    message = str(caught.value)
    assert "999" in message
    assert "1" in message


def test_a_known_schema_version_opens_again(location: str) -> None:
    Trail.open(location).close()
    Trail.open(location).close()


def _compliance(location: str) -> None:
    with open_compliance(location, seed=False):
        pass


def _documents(location: str) -> None:
    with open_documents(location):
        pass


def _queue(location: str) -> None:
    ApprovalQueue(location)


@pytest.mark.parametrize(
    ("component", "opener"), [("compliance", _compliance), ("documents", _documents), ("approvals", _queue)]
)
def test_a_store_of_an_unknown_schema_version_is_refused(
    location: str, component: str, opener: Callable[[str], None]
) -> None:
    opener(location)
    _set(location, "UPDATE magistrate_schema SET version = ? WHERE component = ?", ("999", component))
    with pytest.raises(DatabaseError) as caught:
        opener(location)
    assert isinstance(caught.value, SchemaVersionError)
    assert "999" in str(caught.value)


def test_a_reader_of_a_trail_of_an_unknown_schema_version_is_refused(location: str) -> None:
    Trail.open(location).close()
    _set(location, "UPDATE trail_meta SET value = ? WHERE key = 'schema_version'", ("999",))
    with pytest.raises(SchemaVersionError, match="999"):
        TrailReader.open(location)


@pytest.mark.parametrize(
    ("component", "command"),
    [
        ("approvals", ["approvals", "list", "--db"]),
        ("compliance", ["compliance", "--db", "{}", "frameworks"]),
        ("documents", ["documents", "--db", "{}", "list"]),
    ],
)
def test_the_command_line_refuses_a_store_of_an_unknown_schema_version_without_a_traceback(
    location: str, component: str, command: list[str]
) -> None:
    {"approvals": _queue, "compliance": _compliance, "documents": _documents}[component](location)
    _set(location, "UPDATE magistrate_schema SET version = ? WHERE component = ?", ("999", component))
    argv = [location if part == "{}" else part for part in command]
    if argv[-1] == "--db":
        argv.append(location)
    done = subprocess.run(
        [sys.executable, "-m", "magistrate.cli", *argv], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2  # a store the command cannot read, as for an unreadable trail
    assert "schema version '999'" in done.stderr
    assert "Traceback" not in done.stderr


def test_audit_refuses_a_trail_of_an_unknown_schema_version_without_a_traceback(location: str) -> None:
    Trail.open(location).close()
    _set(location, "UPDATE trail_meta SET value = ? WHERE key = 'schema_version'", ("999",))
    done = subprocess.run(
        [sys.executable, "-m", "magistrate.cli", "audit", "tail", "--db", location],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2  # `magistrate audit`: the trail cannot be read
    assert "schema version '999'" in done.stderr
    assert "Traceback" not in done.stderr
