"""The compliance database's tables, for SQLite and PostgreSQL side by side.

Timestamps are `YYYY-MM-DDTHH:MM:SSZ` text in both, so they compare the same way everywhere. Search differs:
SQLite keeps FTS5 tables (one for whole requirements, one for titles alone, since FTS5's bm25 normalises by
the whole row and a long summary would bury a short, exact title), PostgreSQL a weighted generated tsvector.
"""

from __future__ import annotations

COMMON = [
    "CREATE TABLE IF NOT EXISTS frameworks (id TEXT PRIMARY KEY, name TEXT NOT NULL, version TEXT NOT NULL,"
    " description TEXT NOT NULL, source TEXT NOT NULL)",
]
SQLITE = [
    *COMMON,
    "CREATE TABLE IF NOT EXISTS requirements (id TEXT PRIMARY KEY, framework_id TEXT NOT NULL REFERENCES"
    " frameworks(id), ref TEXT NOT NULL, title TEXT NOT NULL, text TEXT NOT NULL, tags TEXT NOT NULL,"
    " position INTEGER NOT NULL)",
    "CREATE VIRTUAL TABLE IF NOT EXISTS requirements_fts USING fts5(id UNINDEXED, title, text, tags,"
    " tokenize='porter unicode61')",
    # FTS5's bm25 normalises by the whole row's length, so a long summary buries a short, exact title;
    # titles get their own index and their own bm25, added to the row's score.
    "CREATE VIRTUAL TABLE IF NOT EXISTS requirement_titles USING fts5(id UNINDEXED, title,"
    " tokenize='porter unicode61')",
    "CREATE TABLE IF NOT EXISTS findings (id INTEGER PRIMARY KEY AUTOINCREMENT, requirement_id TEXT NOT NULL"
    " REFERENCES requirements(id), summary TEXT NOT NULL, severity TEXT NOT NULL, status TEXT NOT NULL,"
    " document TEXT, evidence TEXT, run_id TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS finding_notes (id INTEGER PRIMARY KEY AUTOINCREMENT, finding_id INTEGER NOT NULL"
    " REFERENCES findings(id), status TEXT NOT NULL, note TEXT NOT NULL, at TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS waivers (id INTEGER PRIMARY KEY AUTOINCREMENT, requirement_id TEXT NOT NULL"
    " REFERENCES requirements(id), document TEXT, reason TEXT NOT NULL, approved_by TEXT NOT NULL,"
    " expires_at TEXT NOT NULL, created_at TEXT NOT NULL)",
]
POSTGRES = [
    *COMMON,
    "CREATE TABLE IF NOT EXISTS requirements (id TEXT PRIMARY KEY, framework_id TEXT NOT NULL REFERENCES"
    " frameworks(id), ref TEXT NOT NULL, title TEXT NOT NULL, text TEXT NOT NULL, tags TEXT NOT NULL,"
    " position INTEGER NOT NULL, search tsvector GENERATED ALWAYS AS (setweight(to_tsvector('english', title),"
    " 'A') || setweight(to_tsvector('english', text), 'B') || setweight(to_tsvector('english', tags), 'C'))"
    " STORED)",
    "CREATE INDEX IF NOT EXISTS requirements_search ON requirements USING GIN (search)",
    "CREATE TABLE IF NOT EXISTS findings (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, requirement_id TEXT"
    " NOT NULL REFERENCES requirements(id), summary TEXT NOT NULL, severity TEXT NOT NULL, status TEXT NOT NULL,"
    " document TEXT, evidence TEXT, run_id TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS finding_notes (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, finding_id"
    " BIGINT NOT NULL REFERENCES findings(id), status TEXT NOT NULL, note TEXT NOT NULL, at TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS waivers (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, requirement_id TEXT"
    " NOT NULL REFERENCES requirements(id), document TEXT, reason TEXT NOT NULL, approved_by TEXT NOT NULL,"
    " expires_at TEXT NOT NULL, created_at TEXT NOT NULL)",
]
