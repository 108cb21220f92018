"""Storage for the document store: immutable versions addressed by SHA-256, tombstones, labels, search.

A put never overwrites: it appends a version, so what an agent read and cited can be read again exactly, by
number or by hash. A delete appends a tombstone; the history stays. Labels are kept on each version and on the
document row, so `labels()` (what a policy rule calls before a read) is a single indexed lookup. SQLite
searches an FTS5 index of each live document's latest text; PostgreSQL a generated tsvector over the first
`_PG_INDEXED_CHARS` characters (its tsvector has a size cap).
"""

from __future__ import annotations

import hashlib
import json

from magistrate.servers._compliance_repo import now
from magistrate.servers._db import Database, Row, ensure_schema
from magistrate.servers._db_fts import match_expression, terms
from magistrate.servers._documents_models import MAX_CONTENT_BYTES, DocumentHit, DocumentInfo, VersionInfo
from magistrate.servers._errors import InvalidInputError, LimitExceededError, NotFoundError
from magistrate.servers._like import like_json_member, like_prefix

_PG_INDEXED_CHARS = 400_000
_VERSIONS = (
    "CREATE TABLE IF NOT EXISTS document_versions (name TEXT NOT NULL, version INTEGER NOT NULL, sha256 TEXT,"
    " content TEXT, labels TEXT NOT NULL, size INTEGER NOT NULL, created_at TEXT NOT NULL, deleted BOOLEAN NOT NULL,"
    " PRIMARY KEY (name, version){search})"
)
_DOCUMENTS = (
    "CREATE TABLE IF NOT EXISTS documents (name TEXT PRIMARY KEY, version INTEGER NOT NULL, sha256 TEXT,"
    " labels TEXT NOT NULL, size INTEGER NOT NULL, updated_at TEXT NOT NULL, deleted BOOLEAN NOT NULL)"
)
_SQLITE = [
    _VERSIONS.format(search=""),
    _DOCUMENTS,
    "CREATE VIRTUAL TABLE IF NOT EXISTS documents_fts USING fts5(name UNINDEXED, content, tokenize='porter unicode61')",
]
_POSTGRES = [
    _VERSIONS.format(
        search=f", search tsvector GENERATED ALWAYS AS (to_tsvector('english', left(coalesce(content, ''),"
        f" {_PG_INDEXED_CHARS}))) STORED"
    ),
    _DOCUMENTS,
    "CREATE INDEX IF NOT EXISTS document_versions_search ON document_versions USING GIN (search)",
]
_INFO = "name, version, sha256, labels, size, updated_at"


def sha256_of(content: str) -> str:
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


def _info(row: Row) -> DocumentInfo:
    return DocumentInfo(
        name=row[0], version=row[1], sha256=row[2], labels=json.loads(row[3]), size=row[4], created_at=row[5]
    )


SCHEMA_VERSION = "1"
"""The version of these tables; a database of any other version is refused on open."""


class DocumentStore:
    """The document store's queries; every write is one transaction."""

    def __init__(self, db: Database) -> None:
        self.db = db
        ensure_schema(db, "documents", SCHEMA_VERSION, _SQLITE if db.dialect == "sqlite" else _POSTGRES)

    def close(self) -> None:
        """Close the database connection; `with open_...() as store:` does this on leaving the block."""
        self.db.close()

    def __enter__(self) -> DocumentStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def labels(self, name: str) -> frozenset[str]:
        """The labels of a document's latest version (kept after a delete); empty for an unknown name.

        One indexed lookup, cheap enough for a policy rule to call on every `get_document`.
        """
        row = self.db.one("SELECT labels FROM documents WHERE name = ?", (name,))
        return frozenset(json.loads(row[0])) if row else frozenset()

    def put(self, name: str, content: str, labels: list[str]) -> tuple[DocumentInfo, bool]:
        """Append a version (or return the latest unchanged when content and labels are the same)."""
        size = len(content.encode("utf-8"))
        if size > MAX_CONTENT_BYTES:
            raise LimitExceededError(f"document {name!r}", MAX_CONTENT_BYTES, size)
        if "\x00" in content:
            raise InvalidInputError("content must not contain NUL bytes")
        digest = sha256_of(content)
        label_text = json.dumps(sorted(set(labels)))
        stamp = now()
        with self.db.transaction():
            row = self.db.one("SELECT version, sha256, labels, deleted FROM documents WHERE name = ?", (name,))
            if row is not None and not row[3] and row[1] == digest and row[2] == label_text:
                return self.info(name), False
            version = 1 if row is None else int(row[0]) + 1
            self.db.execute(
                "INSERT INTO document_versions (name, version, sha256, content, labels, size, created_at, deleted)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (name, version, digest, content, label_text, size, stamp, False),
            )
            self._set_current(
                name, version=version, digest=digest, labels=label_text, size=size, stamp=stamp, deleted=False
            )
            if self.db.dialect == "sqlite":
                self.db.execute("DELETE FROM documents_fts WHERE name = ?", (name,))
                self.db.execute("INSERT INTO documents_fts (name, content) VALUES (?, ?)", (name, content))
        return self.info(name), True

    def _set_current(
        self, name: str, *, version: int, digest: str | None, labels: str, size: int, stamp: str, deleted: bool
    ) -> None:
        self.db.execute(
            "INSERT INTO documents (name, version, sha256, labels, size, updated_at, deleted)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET version = excluded.version,"
            " sha256 = excluded.sha256, labels = excluded.labels, size = excluded.size,"
            " updated_at = excluded.updated_at, deleted = excluded.deleted",
            (name, version, digest, labels, size, stamp, deleted),
        )

    def info(self, name: str) -> DocumentInfo:
        row = self.db.one(f"SELECT {_INFO} FROM documents WHERE name = ? AND NOT deleted", (name,))  # noqa: S608
        if row is None:
            raise NotFoundError(self._missing(name))
        return _info(row)

    def _missing(self, name: str) -> str:
        row = self.db.one("SELECT version FROM documents WHERE name = ? AND deleted", (name,))
        if row is None:
            return f"no document {name!r}; list_documents or search_documents shows what exists"
        return (
            f"document {name!r} was deleted (tombstone version {row[0]}); earlier versions stay readable"
            " with the version argument"
        )

    def get(self, name: str, version: int | str | None) -> tuple[DocumentInfo, str, int, bool]:
        """A version's info and content, the latest version number, and whether the document is now deleted."""
        latest = self.db.one("SELECT version, deleted FROM documents WHERE name = ?", (name,))
        if latest is None or (version is None and latest[1]):
            raise NotFoundError(self._missing(name))
        columns = "name, version, sha256, labels, size, created_at, content"
        if version is None:
            where, params = "version = ?", (name, latest[0])
        elif isinstance(version, int):
            where, params = "version = ?", (name, version)
        else:
            where, params = "sha256 LIKE ? ESCAPE '\\'", (name, like_prefix(version))
        rows = self.db.execute(
            f"SELECT {columns} FROM document_versions WHERE name = ? AND {where} AND NOT deleted",  # noqa: S608
            params,
        )
        if not rows:
            raise NotFoundError(f"document {name!r} has no version {version}; its history lists the versions")
        if len(rows) > 1:
            raise InvalidInputError(f"{version!r} matches {len(rows)} versions of {name!r}; give more hex digits")
        return _info(rows[0]), rows[0][6], int(latest[0]), bool(latest[1])

    def history(self, name: str) -> list[VersionInfo]:
        rows = self.db.execute(
            "SELECT version, sha256, size, created_at, deleted FROM document_versions WHERE name = ? ORDER BY version",
            (name,),
        )
        return [VersionInfo(version=r[0], sha256=r[1], size=r[2], created_at=r[3], deleted=bool(r[4])) for r in rows]

    def delete(self, name: str) -> tuple[int, int]:
        """Append a tombstone; returns its version and how many earlier versions are kept."""
        stamp = now()
        with self.db.transaction():
            current = self.info(name)
            version = current.version + 1
            labels = json.dumps(current.labels)
            self.db.execute(
                "INSERT INTO document_versions (name, version, sha256, content, labels, size, created_at, deleted)"
                " VALUES (?, ?, NULL, NULL, ?, 0, ?, ?)",
                (name, version, labels, stamp, True),
            )
            self._set_current(name, version=version, digest=None, labels=labels, size=0, stamp=stamp, deleted=True)
            if self.db.dialect == "sqlite":
                self.db.execute("DELETE FROM documents_fts WHERE name = ?", (name,))
        return version, current.version

    def list_documents(self, prefix: str | None, label: str | None, limit: int) -> list[DocumentInfo]:
        pattern = None if prefix is None else like_prefix(prefix)
        rows = self.db.execute(
            f"SELECT {_INFO} FROM documents WHERE NOT deleted"  # noqa: S608
            " AND (CAST(? AS TEXT) IS NULL OR name LIKE ? ESCAPE '\\')"
            " AND (CAST(? AS TEXT) IS NULL OR labels LIKE ? ESCAPE '\\') ORDER BY name LIMIT ?",
            (pattern, pattern, label, None if label is None else like_json_member(label), limit),
        )
        return [_info(row) for row in rows]

    def search(self, query: str, limit: int, label: str | None = None) -> list[DocumentHit]:
        words = terms(query)
        if not words:
            raise InvalidInputError("query has no words to search for")
        for any_word in (False, True):
            hits = self._search(match_expression(words, self.db.dialect, any_word=any_word), limit, label)
            if hits or len(words) == 1:
                return hits
        return []

    def _search(self, expression: str, limit: int, label: str | None) -> list[DocumentHit]:
        params = (expression, label, None if label is None else like_json_member(label), limit)
        if self.db.dialect == "sqlite":
            sql = (
                "SELECT d.name, d.version, d.sha256, d.labels, snippet(documents_fts, 1, '**', '**', '…', 24),"
                " -bm25(documents_fts) FROM documents_fts JOIN documents d ON d.name = documents_fts.name"
                " WHERE documents_fts MATCH ? AND NOT d.deleted"
                " AND (CAST(? AS TEXT) IS NULL OR d.labels LIKE ? ESCAPE '\\')"
                " ORDER BY bm25(documents_fts), d.name LIMIT ?"
            )
        else:
            sql = (
                "SELECT d.name, d.version, d.sha256, d.labels, ts_headline('english', left(v.content, 400000), q,"
                " 'StartSel=**, StopSel=**, MaxWords=30, MinWords=12, MaxFragments=1'), ts_rank(v.search, q)"
                " FROM documents d JOIN document_versions v ON v.name = d.name AND v.version = d.version,"
                " to_tsquery('english', ?) q WHERE v.search @@ q AND NOT d.deleted"
                " AND (CAST(? AS TEXT) IS NULL OR d.labels LIKE ? ESCAPE '\\') ORDER BY 6 DESC, d.name LIMIT ?"
            )
        return [
            DocumentHit(
                name=r[0], version=r[1], sha256=r[2], labels=json.loads(r[3]), snippet=r[4], score=round(float(r[5]), 4)
            )
            for r in self.db.execute(sql, params)
        ]
