"""Opening a database by its location: a SQLite file or a `postgresql://` URL.

Apart from `_database` so the base class does not import its own backends; each backend is imported only
when a location names it, so a SQLite run never loads the PostgreSQL driver.
"""

from __future__ import annotations

from magistrate.broker._database import Database, Flavor, is_postgres_url


def open_database(
    location: str,
    flavor: Flavor,
    *,
    busy_timeout: float = 5.0,
    write_lock_file: bool = False,
    create: bool = True,
    lock_timeout: float | None = None,
) -> Database:
    """Open a SQLite file (created with its directory unless `create` is False) or a `postgresql://` URL.

    `busy_timeout`: how long SQLite waits for another process's write. `write_lock_file`: writers of this
    SQLite file first queue on an advisory lock beside it (see `_database_sqlite`). `lock_timeout`: how long
    a PostgreSQL statement waits for another transaction's lock (None: the server's setting)."""
    if is_postgres_url(location):
        from magistrate.broker._database_postgres import open_postgres

        return open_postgres(location, flavor, lock_timeout=lock_timeout)
    if location.startswith("sqlite:///"):
        location = location[len("sqlite:///") :]
    from magistrate.broker._database_sqlite import open_sqlite

    return open_sqlite(location, flavor, busy_timeout=busy_timeout, write_lock_file=write_lock_file, create=create)
