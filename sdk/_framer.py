"""Splitting the CLI's stdout into lines, whatever the chunking, with no practical cap on a line's size.

The official SDK gives up on lines over 1 MiB; a tool result holding a large file easily exceeds that.
Here a line is kept as a list of chunks until its newline arrives and joined once, so a 20 MB line costs
one copy. The cap exists only to turn a runaway stream into an error instead of exhausted memory.
"""

from __future__ import annotations

DEFAULT_MAX_LINE = 512 * 1024 * 1024


class LineTooLongError(ValueError):
    """A single line grew past the framer's cap without a newline."""


class LineFramer:
    """Feed chunks, get complete non-blank lines (without the newline)."""

    __slots__ = ("_max", "_parts", "_size")

    def __init__(self, max_line: int = DEFAULT_MAX_LINE) -> None:
        self._parts: list[bytes] = []
        self._size = 0
        self._max = max_line

    def feed(self, chunk: bytes) -> list[bytes]:
        lines: list[bytes] = []
        start = 0
        while (newline := chunk.find(b"\n", start)) >= 0:
            piece = chunk[start:newline]
            if self._parts:
                self._parts.append(piece)
                line = b"".join(self._parts)
                self._parts.clear()
                self._size = 0
            else:
                line = piece
            if line.strip():
                lines.append(line)
            start = newline + 1
        if start < len(chunk):
            rest = chunk[start:]
            self._size += len(rest)
            if self._size > self._max:
                self._parts.clear()
                self._size = 0
                raise LineTooLongError(f"a line from the CLI exceeded {self._max} bytes")
            self._parts.append(rest)
        return lines

    def finish(self) -> bytes | None:
        """What is left at end of stream: a last line without a newline, if any."""
        line = b"".join(self._parts)
        self._parts.clear()
        self._size = 0
        return line if line.strip() else None
