"""The PostgreSQL test plugin gives a working cluster and isolated databases."""

from __future__ import annotations

import psycopg


def test_postgres_database_is_fresh_and_usable(postgres_database: str) -> None:
    with psycopg.connect(postgres_database, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (x int)")
        conn.execute("INSERT INTO t VALUES (1)")
        row = conn.execute("SELECT count(*) FROM t").fetchone()
    assert row == (1,)


def test_each_test_gets_its_own_database(postgres_database: str) -> None:
    with psycopg.connect(postgres_database, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM pg_tables WHERE tablename = 't'").fetchone()
    assert row == (0,)
