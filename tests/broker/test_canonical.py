"""The fast canonical encoder writes RFC 8785's bytes exactly, or fails where RFC 8785 fails."""

from __future__ import annotations

from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from magistrate.broker._canonical import canonical_json

_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=12)
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**60), 2**60)
    | st.sampled_from([2**53 - 1, -(2**53 - 1), 2**53, -(2**53)])
    | st.floats(allow_nan=True, allow_infinity=True)
    | _text
)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6) | _text, inner, max_size=4),
    max_leaves=20,
)


def _reference(value: Any) -> bytes | type[BaseException]:
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        return type(exc)


@settings(max_examples=300, deadline=None)
@given(_values)
def test_the_same_bytes_as_rfc8785_or_the_same_refusal(value: Any) -> None:
    expected = _reference(value)
    if isinstance(expected, bytes):
        assert canonical_json(value) == expected
    else:
        with pytest.raises(expected):
            canonical_json(value)


@pytest.mark.parametrize(
    "value",
    [
        {"b": 1, "a": [True, None, -5], "c": {"z": "", "y": '\x00\x1f\b\f\n\r\t"\\\x7f\u2028é€𝄞'}},
        {"\ue000": 1, "\U0001f600": 2},  # code-point order and UTF-16 order differ here
        {"safe": 2**53 - 1, "float": 1.0, "exp": 1e21, "small": 5e-324, "neg": -0.0},
    ],
)
def test_the_awkward_cases(value: Any) -> None:
    assert canonical_json(value) == rfc8785.dumps(value)


def test_a_lone_surrogate_is_refused_as_rfc8785_refuses_it() -> None:
    with pytest.raises(rfc8785.CanonicalizationError):
        canonical_json({"s": "\ud800"})
