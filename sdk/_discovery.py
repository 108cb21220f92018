"""Finding the CLI: an explicit path, then the environment, then the project's own install, then PATH.

The project's `node_modules/.bin/claude` comes before PATH so that a checkout runs the CLI version it pins
and tests against, not whatever happens to be installed globally.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from magistrate.sdk._errors import CLINotFoundError

if TYPE_CHECKING:
    from magistrate.broker import Environment

_INSTALL_HINT = (
    "Install it with `npm install @anthropic-ai/claude-code` in your project (or `npm install -g "
    "@anthropic-ai/claude-code`), or point ClaudeCodeOptions(cli_path=...) or $MAGISTRATE_CLI_PATH at it"
)


def _project_candidates(start: Path) -> list[Path]:
    """node_modules/.bin/claude in the start directory and each parent, then beside this package."""
    seen: list[Path] = []
    for base in [start, *start.parents, Path(__file__).resolve().parent.parent]:
        candidate = base / "node_modules" / ".bin" / "claude"
        if candidate not in seen:
            seen.append(candidate)
    return seen


def find_cli(
    explicit: str | Path | None = None, cwd: str | Path | None = None, *, env: Environment | None = None
) -> str:
    """Return the path of the CLI to run, or raise CLINotFoundError saying how to install it. The environment's
    choice is `$MAGISTRATE_CLI_PATH` in `env`, this process's environment by default."""
    if explicit is not None:
        path = Path(explicit).expanduser()
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
        raise CLINotFoundError(f"cli_path does not name an executable file. {_INSTALL_HINT}", str(path))
    if env is None:
        from magistrate.broker import Environment

        env = Environment.read()
    from_env = env.cli_path
    if from_env:
        path = Path(from_env).expanduser()
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
        raise CLINotFoundError(f"$MAGISTRATE_CLI_PATH does not name an executable file. {_INSTALL_HINT}", str(path))
    start = Path(cwd).resolve() if cwd is not None and Path(cwd).is_dir() else Path.cwd()
    for candidate in _project_candidates(start):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    on_path = shutil.which("claude")
    if on_path:
        return on_path
    raise CLINotFoundError(f"Claude Code CLI not found. {_INSTALL_HINT}")
