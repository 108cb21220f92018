"""Tables a person reads in a terminal: columns aligned, and the wide ones cut with `…` to fit its width.

Only a terminal gets cut: when standard output is a pipe or a file the rows are written whole (a script
should use `--json`, which always carries the full values), whatever `COLUMNS` says, since libraries such as
readline export it to every child process. In a terminal, `COLUMNS` overrides the width it reports.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

ELLIPSIS = "…"
_MIN_FLEX = 8
"""A cut column keeps at least this many characters, so it still says something."""


def terminal_width() -> int | None:
    """The width to fit when standard output is a terminal (`COLUMNS`, else what it reports), else None."""
    try:
        if not sys.stdout.isatty():
            return None
        given = os.environ.get("COLUMNS", "")
        if given.isdigit() and int(given) > 0:
            return int(given)
        return os.get_terminal_size(sys.stdout.fileno()).columns or None
    except (OSError, ValueError):
        return None


def cut(text: str, width: int) -> str:
    """`text` in at most `width` characters, ending in `…` when it was longer."""
    if len(text) <= width:
        return text
    return text[: max(width - 1, 0)] + ELLIPSIS if width > 0 else ""


def render(
    header: Sequence[str], rows: Sequence[Sequence[str]], *, flexible: Sequence[int] = (), width: int | None = None
) -> list[str]:
    """The lines of a table: `header`, then `rows`, columns two spaces apart.

    When the lines would be wider than `width` the `flexible` columns (by index) are cut, widest first, until
    they fit or reach a few characters each; the other columns always show in full."""
    table = [list(header), *[list(r) for r in rows]]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    if width is not None:
        over = sum(widths) + 2 * (len(widths) - 1) - width
        while over > 0:
            candidates = [i for i in flexible if widths[i] > _MIN_FLEX]
            if not candidates:
                break
            widest = max(candidates, key=lambda i: widths[i])
            others = [widths[i] for i in candidates if i != widest]
            step = min(over, widths[widest] - max([_MIN_FLEX, *others]) or 1)
            widths[widest] -= max(step, 1)
            over -= max(step, 1)
    last = len(header) - 1
    lines = []
    for line in table:
        cells = [cut(cell, widths[i]) for i, cell in enumerate(line)]
        lines.append("  ".join(c if i == last else c.ljust(widths[i]) for i, c in enumerate(cells)).rstrip())
    return lines


def write(header: Sequence[str], rows: Sequence[Sequence[str]], *, flexible: Sequence[int] = ()) -> None:
    """Write a table to standard output, fitted to the terminal (see `render`)."""
    for line in render(header, rows, flexible=flexible, width=terminal_width()):
        sys.stdout.write(line + "\n")
