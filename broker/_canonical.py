"""RFC 8785 canonical JSON, at the speed of the standard library's C encoder for the values records hold.

Every record is hashed over its canonical bytes, on the path of every call. `rfc8785.dumps` is exact but
walks the value in Python; for JSON made of strings, safe integers, booleans, null, lists and objects with
ASCII keys, `json.dumps(sort_keys=True)` writes exactly the same bytes (the same escapes, UTF-8 as it is,
keys in the same order, since for ASCII keys code-point order is UTF-16 order). Anything else (a float, an
integer beyond 2**53, a key with non-ASCII characters, a string that is not valid UTF-8) goes through
`rfc8785` itself, so the output is always RFC 8785's. A property test holds the two to the same bytes.
"""

from __future__ import annotations

import json
from typing import Any

import rfc8785

MAX_SAFE_INT = 2**53 - 1
_encode = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False).encode


def _plain(value: Any) -> bool:
    """True when `json.dumps` writes `value` exactly as RFC 8785 does (see the module's docstring)."""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        return bool(-MAX_SAFE_INT <= value <= MAX_SAFE_INT)
    if kind is dict:
        return all(type(key) is str and key.isascii() and _plain(item) for key, item in value.items())
    if kind is list:
        return all(_plain(item) for item in value)
    return False


def canonical_json(value: Any) -> bytes:
    """The RFC 8785 bytes of a JSON value; raises `rfc8785.CanonicalizationError` (or `TypeError`,
    `ValueError`) for one RFC 8785 cannot encode, as `rfc8785.dumps` does."""
    if _plain(value):
        try:
            return _encode(value).encode()
        except UnicodeEncodeError:
            pass  # a lone surrogate: rfc8785 names the problem
    return rfc8785.dumps(value)
