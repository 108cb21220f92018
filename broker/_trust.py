"""Workspace trust: whether the CLI lets a project folder's own settings widen what runs.

A cloned repository may ship `.claude/settings.json`; the CLI (2.1.330) keeps its deny and ask rules but
ignores its `allow` and `additionalDirectories` until the user has trusted the folder (the trust dialog, or
`projects[<folder>].hasTrustDialogAccepted: true` in `~/.claude.json`), also in `-p` runs. The same holds for
`.claude/settings.local.json` when git tracks it; an untracked one is the user's own and counts. A project's
`defaultMode: bypassPermissions` never counts, trusted or not. Each of these was observed on the real CLI
(tests/broker/test_cli_agreement.py).

magistrate reads trust the same way or more narrowly: only the folder's own record counts (not a parent's),
the home folder is never trusted, and a git that cannot answer counts as tracking the file.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

_GIT_TIMEOUT = 2.0


def workspace_trusted(project: Path, home: Path) -> bool:
    """Has the user trusted this folder, as recorded in `~/.claude.json`?"""
    folder = project.expanduser().absolute()
    spellings = {str(folder), os.path.realpath(folder)}
    if spellings & {str(home.expanduser().absolute()), os.path.realpath(home)}:
        return False
    try:
        data = json.loads((home / ".claude.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    projects = data.get("projects") if isinstance(data, dict) else None
    if not isinstance(projects, dict):
        return False
    for key in spellings:
        record = projects.get(key)
        if isinstance(record, dict) and record.get("hasTrustDialogAccepted") is True:
            return True
    return False


def tracked_by_git(project: Path, relative: str) -> bool:
    """Does git track this file of the project? Not a repository: no. git cannot say: yes (fail closed)."""
    try:
        done = subprocess.run(
            ["git", "ls-files", "--error-unmatch", "--", f":(icase){relative}"],
            cwd=project,
            capture_output=True,
            text=True,
            timeout=_GIT_TIMEOUT,
            check=False,
            env={**os.environ, "LC_ALL": "C"},
        )
    except (OSError, subprocess.SubprocessError):
        return True
    if done.returncode == 1:
        return False
    return not (done.returncode == 128 and "not a git repository" in done.stderr)
