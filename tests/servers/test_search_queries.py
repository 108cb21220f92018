"""No query text, however strange, reaches FTS5 as syntax: a search returns hits or says it has no words."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from magistrate.servers._compliance import open_compliance
from magistrate.servers._compliance_repo import ComplianceRepository
from magistrate.servers._db_fts import MAX_TERMS, match_expression, terms
from magistrate.servers._errors import InvalidInputError


@pytest.fixture(scope="module")
def repo() -> Iterator[ComplianceRepository]:
    with open_compliance(":memory:") as repository:
        yield repository


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=80))
def test_any_text_is_a_safe_query(repo: ComplianceRepository, query: str) -> None:
    if not terms(query):
        with pytest.raises(InvalidInputError, match="no words"):
            repo.search(query, None, 5)
        return
    assert len(repo.search(query, None, 5)) <= 5


@given(st.text(max_size=200))
def test_terms_are_bounded_distinct_words(query: str) -> None:
    words = terms(query)
    assert len(words) <= MAX_TERMS
    assert len(set(words)) == len(words)
    assert all(word.isalnum() for word in words)
    assert '"' not in match_expression(words, "postgres", any_word=True)


NASTY = [
    "the a of",
    "NEAR(a b)",
    "x:y",
    "a & b | !c",
    "'quoted' \"double\"",
    "ǅungla 北京 данные",
    "17",
    "**b**",
    "é\u0301",
]


@pytest.mark.parametrize("query", NASTY)
def test_nasty_queries_on_both_backends(db_location: str, query: str) -> None:
    with open_compliance(db_location) as repository:
        assert len(repository.search(query, None, 5)) <= 5
