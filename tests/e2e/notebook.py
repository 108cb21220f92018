"""Run Python files the way a notebook runs cells: top-level `await` allowed, one namespace for all cells.

`python tests/e2e/notebook.py CELL [CELL ...]`. Each file is one cell; a file that compiles without top-level
`await` runs as plain code. The cells' folder is on `sys.path`, so a cell may import an earlier example.
"""

from __future__ import annotations

import ast
import asyncio
import sys
import types
from pathlib import Path
from typing import Any


async def _run(cells: list[Path]) -> None:
    namespace: dict[str, Any] = {"__name__": "__notebook__"}
    for cell in cells:
        code = compile(cell.read_text(), str(cell), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
        result = eval(code, namespace)
        if isinstance(result, types.CoroutineType):
            await result


def main(argv: list[str]) -> None:
    cells = [Path(arg).resolve() for arg in argv]
    for folder in {cell.parent for cell in cells}:
        sys.path.insert(0, str(folder))
    asyncio.run(_run(cells))


if __name__ == "__main__":
    main(sys.argv[1:])
