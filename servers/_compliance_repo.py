"""Storage for the compliance database: frameworks, requirements, findings with their history, and waivers.

Kept apart from the tools so the same queries serve the MCP server, the command line and tests, on SQLite or
PostgreSQL. Only schema and full-text search differ by dialect (FTS5 with bm25 and snippet(), or a weighted
tsvector with ts_rank and ts_headline); both mark matched words with `**` so results read the same.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timezone

from magistrate.servers._compliance_models import (
    Finding,
    FindingNote,
    FrameworkRow,
    FrameworkSummary,
    Requirement,
    RequirementHit,
    Severity,
    Status,
    Waiver,
)
from magistrate.servers._compliance_schema import POSTGRES, SQLITE
from magistrate.servers._db import Database, Row, ensure_schema
from magistrate.servers._db_fts import match_expression, terms
from magistrate.servers._errors import InvalidInputError, NotFoundError

_FINDING_COLUMNS = "id, requirement_id, summary, severity, status, document, evidence, run_id, created_at, updated_at"


def now() -> str:
    """UTC now as `YYYY-MM-DDTHH:MM:SSZ`: sortable as text, the same in both databases."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


SCHEMA_VERSION = "1"
"""The version of these tables; a database of any other version is refused on open."""


class ComplianceRepository:
    """The compliance database's queries; every method is one transaction."""

    def __init__(self, db: Database) -> None:
        self.db = db
        ensure_schema(db, "compliance", SCHEMA_VERSION, SQLITE if db.dialect == "sqlite" else POSTGRES)

    def close(self) -> None:
        """Close the database connection; `with open_...() as store:` does this on leaving the block."""
        self.db.close()

    def __enter__(self) -> ComplianceRepository:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- frameworks and requirements ---------------------------------------------------------------------

    def is_empty(self) -> bool:
        return self.db.one("SELECT 1 FROM frameworks LIMIT 1") is None

    def import_frameworks(self, frameworks: Iterable[FrameworkRow]) -> int:
        """Insert or replace frameworks and their requirements, all in one transaction; returns requirements."""
        count = 0
        with self.db.transaction():
            for fw in frameworks:
                self.db.execute(
                    "INSERT INTO frameworks (id, name, version, description, source) VALUES (?, ?, ?, ?, ?)"
                    " ON CONFLICT (id) DO UPDATE SET name = excluded.name, version = excluded.version,"
                    " description = excluded.description, source = excluded.source",
                    (fw.id, fw.name, fw.version, fw.description, fw.source),
                )
                for position, req in enumerate(fw.requirements):
                    owner = self.db.one("SELECT framework_id FROM requirements WHERE id = ?", (req.id,))
                    if owner is not None and owner[0] != fw.id:
                        raise InvalidInputError(f"requirement {req.id} already belongs to framework {owner[0]}")
                    tags = json.dumps(req.tags)
                    self.db.execute(
                        "INSERT INTO requirements (id, framework_id, ref, title, text, tags, position)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET ref = excluded.ref,"
                        " title = excluded.title, text = excluded.text, tags = excluded.tags,"
                        " position = excluded.position",
                        (req.id, fw.id, req.ref or req.id, req.title, req.text, tags, position),
                    )
                    if self.db.dialect == "sqlite":
                        self.db.execute("DELETE FROM requirements_fts WHERE id = ?", (req.id,))
                        self.db.execute("DELETE FROM requirement_titles WHERE id = ?", (req.id,))
                        self.db.execute("INSERT INTO requirement_titles (id, title) VALUES (?, ?)", (req.id, req.title))
                        self.db.execute(
                            "INSERT INTO requirements_fts (id, title, text, tags) VALUES (?, ?, ?, ?)",
                            (req.id, req.title, req.text, " ".join(req.tags)),
                        )
                    count += 1
        return count

    def frameworks(self) -> list[FrameworkSummary]:
        rows = self.db.execute(
            "SELECT f.id, f.name, f.version, f.description, f.source, COUNT(r.id) FROM frameworks f"
            " LEFT JOIN requirements r ON r.framework_id = f.id"
            " GROUP BY f.id, f.name, f.version, f.description, f.source ORDER BY f.id"
        )
        return [
            FrameworkSummary(id=r[0], name=r[1], version=r[2], description=r[3], source=r[4], requirements=r[5])
            for r in rows
        ]

    def requirements_of(self, framework: str) -> list[Requirement]:
        ids = self.db.execute("SELECT id FROM requirements WHERE framework_id = ? ORDER BY position", (framework,))
        if not ids and self.db.one("SELECT 1 FROM frameworks WHERE id = ?", (framework,)) is None:
            raise NotFoundError(f"no framework {framework!r}")
        return [self.requirement(row[0]) for row in ids]

    def search(self, query: str, framework: str | None, limit: int) -> list[RequirementHit]:
        words = terms(query)
        if not words:
            raise InvalidInputError("query has no words to search for")
        for any_word in (False, True):
            hits = self._search(match_expression(words, self.db.dialect, any_word=any_word), framework, limit)
            if hits or len(words) == 1:
                return hits
        return []

    def _search(self, expression: str, framework: str | None, limit: int) -> list[RequirementHit]:
        if self.db.dialect == "sqlite":
            params: tuple[object, ...] = (expression, expression, framework, framework, limit)
            sql = (
                "SELECT r.id, r.framework_id, r.ref, r.title, snippet(requirements_fts, -1, '**', '**', '…', 16),"
                " -bm25(requirements_fts, 0, 5.0, 1.0, 2.0) + 2 * COALESCE(t.score, 0) AS score, r.tags"
                " FROM requirements_fts JOIN requirements r ON r.id = requirements_fts.id"
                " LEFT JOIN (SELECT id, -bm25(requirement_titles) AS score FROM requirement_titles"
                " WHERE requirement_titles MATCH ?) t ON t.id = r.id"
                " WHERE requirements_fts MATCH ? AND (CAST(? AS TEXT) IS NULL OR r.framework_id = ?)"
                " ORDER BY score DESC, r.id LIMIT ?"
            )
        else:
            params = (expression, framework, framework, limit)
            sql = (
                "SELECT r.id, r.framework_id, r.ref, r.title, ts_headline('english', r.text, q,"
                " 'StartSel=**, StopSel=**, MaxWords=24, MinWords=10, MaxFragments=1'), ts_rank(r.search, q), r.tags"
                " FROM requirements r, to_tsquery('english', ?) q WHERE r.search @@ q"
                " AND (CAST(? AS TEXT) IS NULL OR r.framework_id = ?) ORDER BY 6 DESC, r.id LIMIT ?"
            )
        rows = self.db.execute(sql, params)
        return [
            RequirementHit(
                id=r[0],
                framework=r[1],
                ref=r[2],
                title=r[3],
                snippet=r[4],
                score=round(float(r[5]), 4),
                tags=json.loads(r[6]),
            )
            for r in rows
        ]

    def requirement(self, requirement_id: str) -> Requirement:
        row = self.db.one(
            "SELECT id, framework_id, ref, title, text, tags FROM requirements WHERE id = ?", (requirement_id,)
        )
        if row is None:
            raise NotFoundError(f"no requirement {requirement_id!r}; search_requirements finds ids")
        open_count = self.db.one(
            "SELECT COUNT(*) FROM findings WHERE requirement_id = ? AND status IN ('open', 'in_progress')",
            (requirement_id,),
        )
        return Requirement(
            id=row[0],
            framework=row[1],
            ref=row[2],
            title=row[3],
            text=row[4],
            tags=json.loads(row[5]),
            waivers=self.waivers(requirement_id),
            open_findings=open_count[0] if open_count else 0,
        )

    # --- waivers -----------------------------------------------------------------------------------------

    def add_waiver(
        self, requirement_id: str, reason: str, approved_by: str, expires_at: str, document: str | None = None
    ) -> Waiver:
        self.requirement(requirement_id)
        with self.db.transaction():
            row = self.db.one(
                "INSERT INTO waivers (requirement_id, document, reason, approved_by, expires_at, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                (requirement_id, document, reason, approved_by, expires_at, now()),
            )
        assert row is not None
        return Waiver(
            id=row[0],
            requirement_id=requirement_id,
            document=document,
            reason=reason,
            approved_by=approved_by,
            expires_at=expires_at,
            active=expires_at > now(),
        )

    def waivers(self, requirement_id: str, *, include_expired: bool = False) -> list[Waiver]:
        current = now()
        rows = self.db.execute(
            "SELECT id, requirement_id, document, reason, approved_by, expires_at FROM waivers"
            " WHERE requirement_id = ? AND (? OR expires_at > ?) ORDER BY id",
            (requirement_id, include_expired, current),
        )
        return [
            Waiver(
                id=r[0],
                requirement_id=r[1],
                document=r[2],
                reason=r[3],
                approved_by=r[4],
                expires_at=r[5],
                active=r[5] > current,
            )
            for r in rows
        ]

    # --- findings ----------------------------------------------------------------------------------------

    def record_finding(
        self,
        requirement_id: str,
        summary: str,
        severity: Severity,
        *,
        document: str | None = None,
        evidence: str | None = None,
        run_id: str | None = None,
    ) -> Finding:
        self.requirement(requirement_id)
        stamp = now()
        with self.db.transaction():
            row = self.db.one(
                "INSERT INTO findings (requirement_id, summary, severity, status, document, evidence, run_id,"
                " created_at, updated_at) VALUES (?, ?, ?, 'open', ?, ?, ?, ?, ?) RETURNING id",
                (requirement_id, summary, severity, document, evidence, run_id, stamp, stamp),
            )
        assert row is not None
        return self.finding(int(row[0]))

    def update_finding(self, finding_id: int, status: Status, note: str) -> Finding:
        stamp = now()
        with self.db.transaction():
            self.finding(finding_id)
            self.db.execute("UPDATE findings SET status = ?, updated_at = ? WHERE id = ?", (status, stamp, finding_id))
            self.db.execute(
                "INSERT INTO finding_notes (finding_id, status, note, at) VALUES (?, ?, ?, ?)",
                (finding_id, status, note, stamp),
            )
        return self.finding(finding_id)

    def finding(self, finding_id: int) -> Finding:
        row = self.db.one(f"SELECT {_FINDING_COLUMNS} FROM findings WHERE id = ?", (finding_id,))  # noqa: S608
        if row is None:
            raise NotFoundError(f"no finding {finding_id}; list_findings shows existing ones")
        return self._finding(row)

    def list_findings(
        self,
        *,
        requirement_id: str | None = None,
        framework: str | None = None,
        document: str | None = None,
        severity: Severity | None = None,
        status: Status | None = None,
        limit: int = 50,
    ) -> list[Finding]:
        clauses: list[str] = []
        params: list[object] = []
        for column, value in (
            ("f.requirement_id", requirement_id),
            ("r.framework_id", framework),
            ("f.document", document),
            ("f.severity", severity),
            ("f.status", status),
        ):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        columns = ", ".join(f"f.{c.strip()}" for c in _FINDING_COLUMNS.split(","))
        rows = self.db.execute(
            f"SELECT {columns} FROM findings f JOIN requirements r ON r.id = f.requirement_id {where}"  # noqa: S608
            " ORDER BY f.id DESC LIMIT ?",
            [*params, limit],
        )
        return [self._finding(row) for row in rows]

    def _finding(self, row: Row) -> Finding:
        notes = self.db.execute(
            "SELECT status, note, at FROM finding_notes WHERE finding_id = ? ORDER BY id", (row[0],)
        )
        waived = self.db.one(
            "SELECT 1 FROM waivers WHERE requirement_id = ? AND (document IS NULL OR document = ?)"
            " AND expires_at > ? LIMIT 1",
            (row[1], row[5], now()),
        )
        return Finding(
            id=row[0],
            requirement_id=row[1],
            summary=row[2],
            severity=row[3],
            status=row[4],
            document=row[5],
            evidence=row[6],
            run_id=row[7],
            created_at=row[8],
            updated_at=row[9],
            waived=waived is not None,
            history=[FindingNote(status=n[0], note=n[1], at=n[2]) for n in notes],
        )
