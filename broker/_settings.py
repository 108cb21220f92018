"""Claude Code settings files as policy sources: their `permissions` block becomes rules, unchanged.

A team's `.claude/settings.json` already says what may run; reading it as-is means magistrate governs by the
same rules the CLI would, with the same anchors (`/p` is relative to the project root for a project's
`.claude/settings*.json`, to `~/.claude` for user settings, to the file's folder for any other file). Every
rule keeps its file and line so a decision can point at it. Keys outside `permissions` are not policy and
are ignored.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from magistrate.broker._call import PERMISSION_MODES
from magistrate.broker._decision import RuleSource
from magistrate.broker._policy_errors import RuleProblem
from magistrate.broker._rules import ListName

_LISTS: tuple[ListName, ...] = ("deny", "ask", "allow")


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """A rule string before parsing, with where it was written and what anchors its `/p` paths."""

    text: str
    list: ListName
    source: RuleSource
    root: str


@dataclass(frozen=True, slots=True)
class SettingsPermissions:
    """The `permissions` block of one settings file."""

    path: str
    specs: tuple[RuleSpec, ...]
    additional_directories: tuple[str, ...]
    default_mode: str | None
    problems: tuple[RuleProblem, ...]
    digest: str
    """sha256 of the file's bytes, part of the policy's version."""


def settings_root(path: Path, home: Path) -> Path:
    """What a leading `/` in this file's rules is relative to."""
    folder = path.parent
    if folder.name == ".claude" and folder != home / ".claude":
        return folder.parent
    return folder


def _lines_of(text: str, list_name: str, rules: list[Any]) -> list[int | None]:
    """1-based line of each rule string, found in order after the list's key (best effort)."""
    start = text.find('"permissions"')
    start = text.find(f'"{list_name}"', max(start, 0))
    lines: list[int | None] = []
    pos = max(start, 0)
    for rule in rules:
        found = -1
        for needle in (json.dumps(rule), json.dumps(rule, ensure_ascii=False)):
            found = text.find(needle, pos)
            if found >= 0:
                break
        if found < 0:
            lines.append(None)
            continue
        lines.append(text.count("\n", 0, found) + 1)
        pos = found + 1
    return lines


def key_line(text: str, key: str, *, within: str | None = None) -> int | None:
    """1-based line of `"key":` in a settings file's text (inside the `"within"` object's text when given)."""
    start = 0
    if within is not None:
        start = text.find(f'"{within}"')
        if start < 0:
            return None
    found = text.find(json.dumps(key), start)
    return None if found < 0 else text.count("\n", 0, found) + 1


def read_settings(path: str | Path, *, home: Path | None = None) -> SettingsPermissions:
    """Read one settings file; problems are collected, never raised (a missing file is a problem too)."""
    file = Path(path).expanduser().absolute()
    home = home or Path.home()
    root = str(settings_root(file, home))
    shown = str(file)
    problems: list[RuleProblem] = []

    def empty(reason: str, line: int | None = None) -> SettingsPermissions:
        problems.append(RuleProblem("", RuleSource("settings", shown, line), reason))
        return SettingsPermissions(shown, (), (), None, tuple(problems), "")

    try:
        raw = file.read_bytes()
    except OSError as exc:
        return empty(f"cannot read the settings file: {exc.strerror or exc}")
    digest = hashlib.sha256(raw).hexdigest()
    try:
        text = raw.decode("utf-8")
        data = json.loads(text) if text.strip() else {}
    except UnicodeDecodeError:
        return empty("the settings file is not UTF-8")
    except json.JSONDecodeError as exc:
        return empty(f"not valid JSON: {exc.msg} (column {exc.colno})", exc.lineno)
    if not isinstance(data, dict):
        return empty("a settings file holds a JSON object")
    permissions = data.get("permissions", {})
    if not isinstance(permissions, dict):
        return empty("'permissions' must be an object", key_line(text, "permissions"))

    def at(key: str) -> RuleSource:
        return RuleSource("settings", shown, key_line(text, key, within="permissions"))

    specs: list[RuleSpec] = []
    for list_name in _LISTS:
        rules = permissions.get(list_name, [])
        if not isinstance(rules, list):
            problems.append(RuleProblem("", at(list_name), f"'permissions.{list_name}' must be a list"))
            continue
        for rule, line in zip(rules, _lines_of(text, list_name, rules), strict=True):
            source = RuleSource("settings", shown, line)
            if not isinstance(rule, str):
                problems.append(RuleProblem(repr(rule), source, "a rule must be a string", list_name))
                continue
            specs.append(RuleSpec(rule, list_name, source, root))
    dirs = permissions.get("additionalDirectories", [])
    if not isinstance(dirs, list) or not all(isinstance(d, str) for d in dirs):
        problems.append(RuleProblem("", at("additionalDirectories"), "'additionalDirectories' must list paths"))
        dirs = []
    resolved = tuple(str((Path(root) / Path(d).expanduser()).resolve()) for d in dirs)
    mode = permissions.get("defaultMode")
    if mode is not None and mode not in PERMISSION_MODES:
        modes = ", ".join(sorted(PERMISSION_MODES))
        problems.append(RuleProblem("", at("defaultMode"), f"'defaultMode' {mode!r} is not one of {modes}"))
        mode = None
    return SettingsPermissions(shown, tuple(specs), resolved, mode, tuple(problems), digest)
