"""The framer must return the same lines however stdout happens to be chunked."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from magistrate.sdk._framer import LineFramer, LineTooLongError


def _frame(chunks: list[bytes]) -> list[bytes]:
    framer = LineFramer()
    lines: list[bytes] = []
    for chunk in chunks:
        lines.extend(framer.feed(chunk))
    last = framer.finish()
    if last is not None:
        lines.append(last)
    return lines


@given(
    st.lists(st.binary(min_size=1, max_size=40).filter(lambda b: b"\n" not in b and b.strip()), max_size=12),
    st.lists(st.integers(min_value=1, max_value=17), min_size=1, max_size=30),
)
def test_any_chunking_yields_the_same_lines(lines: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(line + b"\n" for line in lines)
    chunks: list[bytes] = []
    position = 0
    index = 0
    while position < len(stream):
        size = cuts[index % len(cuts)]
        chunks.append(stream[position : position + size])
        position += size
        index += 1
    assert _frame(chunks) == lines


def test_a_twenty_megabyte_line_arrives_whole() -> None:
    big = b'{"type":"assistant","text":"' + b"x" * (20 * 1024 * 1024) + b'"}'
    chunks = [big[i : i + 65536] for i in range(0, len(big), 65536)] + [b"\n"]
    assert _frame(chunks) == [big]


def test_blank_lines_are_dropped_and_a_last_line_without_newline_is_kept() -> None:
    assert _frame([b"\n\n  \nfirst\n\nlast"]) == [b"first", b"last"]


def test_a_runaway_line_is_an_error_not_exhausted_memory() -> None:
    framer = LineFramer(max_line=100)
    framer.feed(b"a" * 60)
    with pytest.raises(LineTooLongError):
        framer.feed(b"a" * 60)
