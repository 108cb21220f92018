"""Turns a person's or model's search words into a safe full-text query for SQLite FTS5 or PostgreSQL.

Raw input is never passed to `MATCH` or `to_tsquery`: both have their own syntax, and a stray quote or
operator would be an SQL error instead of a search. Only word characters survive, each term quoted.
"""

from __future__ import annotations

import re

from magistrate.servers._db import Dialect

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
MAX_TERMS = 16
SNIPPET_START = "**"
SNIPPET_END = "**"


def terms(query: str) -> list[str]:
    """The distinct words of a query, lower-cased, in order, at most `MAX_TERMS`."""
    seen: dict[str, None] = {}
    for word in _WORD.findall(query.lower()):
        seen.setdefault(word, None)
    return list(seen)[:MAX_TERMS]


def match_expression(words: list[str], dialect: Dialect, *, any_word: bool) -> str:
    """An FTS5 MATCH string or a `to_tsquery` string: all words, or any word when `any_word`."""
    if dialect == "sqlite":
        return (" OR " if any_word else " ").join(f'"{w}"' for w in words)
    # `:*` is not used: prefix matches would rank noise above the word asked for.
    return (" | " if any_word else " & ").join(words)
