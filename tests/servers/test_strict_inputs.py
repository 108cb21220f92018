"""Tool inputs take exactly what they say: no bool for an int, bounded numbers and text, literal LIKE filters."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from magistrate.servers._compliance import open_compliance
from magistrate.servers._compliance_repo import ComplianceRepository
from magistrate.servers._compliance_tools import TOOLS as COMPLIANCE_TOOLS
from magistrate.servers._compliance_tools import compliance_toolset
from magistrate.servers._documents import open_documents
from magistrate.servers._documents_repo import DocumentStore
from magistrate.servers._documents_tools import TOOLS as DOCUMENT_TOOLS
from magistrate.servers._documents_tools import documents_toolset
from magistrate.servers._like import like_json_member, like_literal, like_prefix
from magistrate.servers._toolspec import MAX_INT, ToolSet


@pytest.fixture
def repo(db_location: str) -> Iterator[ComplianceRepository]:
    with open_compliance(db_location) as repository:
        yield repository


@pytest.fixture
def store(db_location: str) -> Iterator[DocumentStore]:
    with open_documents(db_location) as documents:
        yield documents


def _ok(tools: ToolSet, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    result = tools.call(name, arguments)
    assert not result.is_error, result.text
    assert result.structured is not None
    return result.structured


def _error(tools: ToolSet, name: str, arguments: dict[str, Any]) -> str:
    result = tools.call(name, arguments)
    assert result.is_error, result.text
    return result.text


def _schema_leaves(schema: dict[str, Any], defs: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, field in schema.get("properties", {}).items():
        for option in field.get("anyOf", [field]):
            if "$ref" in option:
                yield from _schema_leaves(defs[option["$ref"].rsplit("/", 1)[1]], defs)
            elif option.get("type") == "array":
                yield f"{name}[]", option["items"]
            else:
                yield name, option


@pytest.mark.parametrize("spec", [*COMPLIANCE_TOOLS, *DOCUMENT_TOOLS], ids=lambda spec: spec.name)
def test_every_integer_and_string_a_tool_takes_is_bounded(spec: Any) -> None:
    schema = spec.input_model.model_json_schema()
    for name, leaf in _schema_leaves(schema, schema.get("$defs", {})):
        if leaf.get("type") == "integer":
            assert leaf.get("maximum", MAX_INT + 1) <= MAX_INT, f"{spec.name}.{name} has no upper bound"
        if leaf.get("type") == "string":
            bounded = "maxLength" in leaf or "enum" in leaf or "const" in leaf or "pattern" in leaf
            assert bounded, f"{spec.name}.{name} takes text of any length"


@pytest.mark.parametrize("finding_id", [True, False, "1", 1.0, 2**31, 2**64, 10**100, -(2**63)])
def test_a_finding_id_is_an_integer_in_range_and_nothing_else(repo: ComplianceRepository, finding_id: Any) -> None:
    tools = compliance_toolset(repo)
    first = _ok(tools, "record_finding", {"requirement_id": "GDPR-17", "summary": "No erasure", "severity": "low"})
    assert first["finding"]["id"] == 1
    change = {"finding_id": finding_id, "status": "resolved", "note": "fixed"}
    assert "finding_id" in _error(tools, "update_finding", change)
    [kept] = _ok(tools, "list_findings", {})["findings"]
    assert kept["status"] == "open"


@pytest.mark.parametrize(
    ("name", "arguments", "field"),
    [
        ("search_requirements", {"query": "erasure", "limit": True}, "limit"),
        ("list_findings", {"limit": 10**30}, "limit"),
        ("record_finding", {"requirement_id": "GDPR-17", "summary": "x" * 10**5, "severity": "low"}, "summary"),
        ("record_finding", {"requirement_id": "GDPR-17", "summary": 7, "severity": "low"}, "summary"),
    ],
)
def test_compliance_inputs_are_strict(
    repo: ComplianceRepository, name: str, arguments: dict[str, Any], field: str
) -> None:
    text = _error(compliance_toolset(repo), name, arguments)
    assert "internal error" not in text
    assert field in text


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"name": "a.md", "version": True}, "version"),
        ({"name": "a.md", "version": 2**63}, "version"),
        ({"name": "a.md", "version": 10**40}, "version"),
        ({"name": "a.md", "offset": 10**40}, "offset"),
        ({"name": "a.md", "max_chars": False}, "max_chars"),
    ],
)
def test_document_reads_take_strict_bounded_integers(
    store: DocumentStore, arguments: dict[str, Any], field: str
) -> None:
    tools = documents_toolset(store)
    _ok(tools, "put_document", {"name": "a.md", "content": "one"})
    text = _error(tools, "get_document", arguments)
    assert "internal error" not in text
    assert field in text


def test_a_label_filter_matches_that_label_only(store: DocumentStore) -> None:
    tools = documents_toolset(store)
    _ok(tools, "put_document", {"name": "secret.md", "content": "the merger terms", "labels": ["confidential"]})
    _ok(tools, "put_document", {"name": "public.md", "content": "the merger rumours", "labels": ["public"]})
    _ok(tools, "put_document", {"name": "odd.md", "content": "the merger odds", "labels": ["a_b"]})
    for wildcard in ("confidentia_", "c_nfidential", "confidential_", "confidentia.", "c:nfidential"):
        assert _ok(tools, "list_documents", {"label": wildcard})["documents"] == []
        assert _ok(tools, "search_documents", {"query": "merger", "label": wildcard})["results"] == []
    assert [d["name"] for d in _ok(tools, "list_documents", {"label": "confidential"})["documents"]] == ["secret.md"]
    assert [d["name"] for d in _ok(tools, "list_documents", {"label": "a_b"})["documents"]] == ["odd.md"]
    assert _ok(tools, "list_documents", {"label": "a-b"})["documents"] == []
    hits = _ok(tools, "search_documents", {"query": "merger", "label": "confidential"})["results"]
    assert [h["name"] for h in hits] == ["secret.md"]


def test_a_name_prefix_and_a_hash_prefix_are_literal(store: DocumentStore) -> None:
    tools = documents_toolset(store)
    made = _ok(tools, "put_document", {"name": "contracts/a_1.md", "content": "alpha"})
    _ok(tools, "put_document", {"name": "contracts/ab1.md", "content": "beta"})
    _ok(tools, "put_document", {"name": "100%/x.md", "content": "gamma"})
    _ok(tools, "put_document", {"name": "1000/x.md", "content": "delta"})
    names = [d["name"] for d in _ok(tools, "list_documents", {"prefix": "contracts/a_"})["documents"]]
    assert names == ["contracts/a_1.md"]
    assert [d["name"] for d in _ok(tools, "list_documents", {"prefix": "100%"})["documents"]] == ["100%/x.md"]
    digest = made["document"]["sha256"]
    got = _ok(tools, "get_document", {"name": "contracts/a_1.md", "version": digest[:8]})
    assert got["content"] == "alpha"


def test_like_helpers_escape_every_wildcard() -> None:
    assert like_literal("a_b%c\\d") == "a\\_b\\%c\\\\d"
    assert like_prefix("50%") == "50\\%%"
    assert like_json_member("x_y") == "%" + like_literal(json.dumps("x_y")) + "%"
