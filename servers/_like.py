"""LIKE patterns built from user text, with `%`, `_` and the escape character taken literally.

A filter such as `confidentia_` must not match `confidential`: every pattern the servers build goes through
here and is used with `ESCAPE '\\'`, which SQLite and PostgreSQL read the same way.
"""

from __future__ import annotations

import json

# The clause to write after each LIKE whose pattern comes from these helpers.
ESCAPE = "ESCAPE '\\'"


def like_literal(text: str) -> str:
    """`text` as a LIKE pattern that matches only itself."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def like_prefix(text: str) -> str:
    """A pattern for values that start with `text`."""
    return like_literal(text) + "%"


def like_json_member(value: str) -> str:
    """A pattern for a JSON array column (as the repositories store labels) that holds the string `value`."""
    return "%" + like_literal(json.dumps(value)) + "%"
