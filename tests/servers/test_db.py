"""The database handle: placeholders, transactions, translated errors, and surviving a dropped connection."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from magistrate.servers._db import default_location, open_database
from magistrate.servers._documents import open_documents
from magistrate.servers._errors import DatabaseError


def test_transactions_are_all_or_nothing(db_location: str) -> None:
    db = open_database(db_location)
    db.write("CREATE TABLE t (k TEXT PRIMARY KEY, v TEXT)")

    def insert_twice() -> None:
        with db.transaction():
            db.write("INSERT INTO t (k, v) VALUES (?, ?)", ("a", "100%"))
            db.write("INSERT INTO t (k, v) VALUES (?, ?)", ("a", "duplicate"))

    with pytest.raises(DatabaseError, match="error"):
        insert_twice()
    assert db.read("SELECT k FROM t") == []
    with db.transaction():
        db.write("INSERT INTO t (k, v) VALUES (?, ?)", ("b", "50% off?"))
    assert db.read_one("SELECT v FROM t WHERE k = ?", ("b",)) == ("50% off?",)
    db.close()


def test_a_write_returns_its_rows_and_stands_alone_outside_a_transaction(db_location: str) -> None:
    db = open_database(db_location)
    try:
        db.write("CREATE TABLE t (k TEXT PRIMARY KEY, n INTEGER NOT NULL)")
        assert db.write("INSERT INTO t (k, n) VALUES (?, ?) RETURNING k", ("a", 1)) == [("a",)]
        assert db.write("UPDATE t SET n = n + 1 WHERE k = ? RETURNING n", ("a",)) == [(2,)]
        assert db.write("UPDATE t SET n = n + 1 WHERE k = ? RETURNING n", ("missing",)) == []
        with pytest.raises(DatabaseError):
            db.write("INSERT INTO t (k, n) VALUES (?, ?)", ("a", 3))  # fails alone, and leaves no transaction open
        with db.transaction():
            db.write("INSERT INTO t (k, n) VALUES (?, ?)", ("b", 1))
        assert db.read("SELECT k, n FROM t ORDER BY k") == [("a", 2), ("b", 1)]
    finally:
        db.close()


def _drop_connections(url: str) -> None:
    """End every other session of the database, as a server restart or an idle timeout would."""
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


def test_a_dropped_postgres_connection_is_reopened_for_reads(postgres_database: str) -> None:
    with open_documents(postgres_database) as store:
        store.put("a.md", "text", ["confidential"])
        _drop_connections(postgres_database)
        assert store.labels("a.md") == {"confidential"}
        store.put("b.md", "more", [])
        assert [d.name for d in store.list_documents(None, None, 10)] == ["a.md", "b.md"]


def test_a_dropped_postgres_connection_is_reopened_before_a_write(postgres_database: str) -> None:
    with open_documents(postgres_database) as store:
        store.put("a.md", "text", [])
        _drop_connections(postgres_database)
        info, created = store.put("b.md", "more", [])  # the first statement after the drop is a write
        assert (info.version, created) == (1, True)
        assert [d.name for d in store.list_documents(None, None, 10)] == ["a.md", "b.md"]


def test_a_write_is_not_replayed_when_the_connection_drops_inside_its_transaction(postgres_database: str) -> None:
    db = open_database(postgres_database)
    try:
        db.write("CREATE TABLE t (k TEXT PRIMARY KEY)")

        def insert_across_a_drop() -> None:
            with db.transaction():
                db.write("INSERT INTO t (k) VALUES (?)", ("a",))
                _drop_connections(postgres_database)
                db.write("INSERT INTO t (k) VALUES (?)", ("b",))

        with pytest.raises(DatabaseError):
            insert_across_a_drop()
        assert db.read("SELECT k FROM t") == []  # neither insert: the transaction failed as a whole
        db.write("INSERT INTO t (k) VALUES (?)", ("c",))
        assert db.read("SELECT k FROM t") == [("c",)]
    finally:
        db.close()


def test_unopenable_locations_are_clear_errors(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(DatabaseError, match="cannot open SQLite database"):
        open_database(str(blocker / "sub" / "db.sqlite3"))
    with pytest.raises(DatabaseError, match="cannot connect to PostgreSQL"):
        open_database("postgresql://nobody@127.0.0.1:1/none?connect_timeout=2")


def test_default_location_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_location("documents") == str(tmp_path / "magistrate" / "documents.sqlite3")
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_location("compliance") == str(tmp_path / "home" / ".local/share/magistrate/compliance.sqlite3")


def test_stores_open_concurrently_on_one_empty_database(db_location: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from magistrate.servers._compliance import open_compliance

    with ThreadPoolExecutor(4) as pool:
        repos = list(pool.map(lambda _: open_compliance(db_location), range(4)))
    try:
        assert all(len(repo.frameworks()) == 2 for repo in repos)
        assert len(repos[0].requirements_of("gdpr")) == 99
    finally:
        for repo in repos:
            repo.close()
