"""The servers' database: the broker's database handle, with the servers' errors and default locations.

The repositories write SQL with `?` placeholders and keep dialect-specific statements (schema, full-text
search) side by side; connecting, placeholders, transactions and reconnecting are the broker's one handle
(`magistrate.broker.Database`), shared with the trail and the approval queue. Each store records its schema
version (`magistrate_schema`), and a database of a version this code does not know is refused on open.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from magistrate.broker import Database, Dialect, Environment, Flavor, SchemaVersionError, StoreName, is_postgres_url
from magistrate.broker import open_database as _open_database
from magistrate.servers._errors import DatabaseError

Row = tuple[Any, ...]

__all__ = [
    "Database",
    "Dialect",
    "Row",
    "StoreSchemaError",
    "check_db_folder",
    "default_location",
    "ensure_schema",
    "is_postgres_url",
    "open_database",
]


class StoreSchemaError(SchemaVersionError, DatabaseError):
    """A server's database (or the approval queue) is of a schema version this magistrate does not know."""


FLAVOR = Flavor(DatabaseError, StoreSchemaError)


def default_location(store: StoreName) -> str:
    """Where a store lives when no `--db` is given: `<store>.sqlite3` in the per-user data directory
    (`$XDG_DATA_HOME/magistrate/` on Linux), whatever the environment's variables say."""
    return Environment().store(store)


def open_database(location: str, *, busy_timeout: float = 5.0) -> Database:
    """Open a SQLite file (created with its directory) or a `postgresql://` URL."""
    return _open_database(location, FLAVOR, busy_timeout=busy_timeout)


def check_db_folder(location: str) -> None:
    """Refuse a SQLite location whose folder does not exist. Opening a store creates its file, and for the
    per-user default its folder too; but a `--db` someone typed with a missing folder is most likely a typo,
    and making the folder would hide it behind an empty store."""
    if is_postgres_url(location):
        return
    folder = Path(location.removeprefix("sqlite:///")).expanduser().parent
    if not folder.is_dir():
        if folder.exists():
            raise DatabaseError(f"cannot open {location}: {folder} is not a folder")
        raise DatabaseError(f"cannot open {location}: {folder.resolve()} does not exist; create the folder first")


def ensure_schema(db: Database, component: str, version: str, statements: Sequence[str]) -> None:
    """Create a store's tables unless they exist; refuse a database of another schema version."""
    db.ensure_schema(component, version, statements, what=f"the {component} database")
