"""The parts share no private code, so each keeps its own copy of `_public_names`; the copies stay one code."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _code(part: str) -> str:
    # After the module docstring, which names the part.
    return (ROOT / part / "_public_names.py").read_text().split('"""', 2)[2]


def test_every_part_has_the_same_copy() -> None:
    assert _code("servers") == _code("broker")
    assert _code("sdk") == _code("broker")
