"""Policy test cases as data: what a case file holds, where case files are, and which policy each one tests.

A case file sits next to the policy it tests and is named after it: `policy.cases.json` tests `policy.py`
(or `policy.json`, a settings file), unless it names its policy itself (`"policy": "../policy.py"`, relative
to the case file). JSON always works; `.cases.yaml`/`.cases.yml` need pyyaml (the `ingest` extra). A file is
an object with `cases` (and optionally `policy`), or just the list of cases:

    {"policy": "policy.py",
     "cases": [{"name": "tests run", "tool": "Bash", "input": {"command": "npm run test"},
                "expect": {"behavior": "allow", "rule": "Bash(npm run test:*)"}}]}
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from magistrate.broker._call import PermissionMode
from magistrate.broker._decision import Behavior
from magistrate.broker._policy_errors import PolicyError

CASE_SUFFIXES = (".cases.json", ".cases.yaml", ".cases.yml")
_POLICY_SUFFIXES = (".py", ".json")


class Expectation(BaseModel):
    """What must come of a case's call."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    behavior: Behavior
    rule: str | None = None
    """The deciding rule's text (`Bash(npm run test:*)`, a Python rule's name), its id, or `default`."""
    input: dict[str, Any] | None = None
    """The input the decision lets run (the rewritten one, when a rule rewrote it)."""
    message: str | None = None
    """A part of the decision's message."""


class PriorCall(BaseModel):
    """A call made earlier in the case's session, for rules that read the history."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tool: str
    input: dict[str, Any] = Field(default_factory=dict)
    behavior: Behavior = "allow"


class PolicyCase(BaseModel):
    """One tool call and what the policy must decide about it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = ""
    tool: str
    input: dict[str, Any] = Field(default_factory=dict)
    cwd: str | None = None
    """The call's working directory, relative to the case file (default: the case file's folder)."""
    mode: PermissionMode = "default"
    labels: dict[str, str] = Field(default_factory=dict)
    history: list[PriorCall] = Field(default_factory=list)
    """The session's earlier calls, oldest first."""
    expect: Expectation


class CaseFile(BaseModel):
    """A case file: the policy it tests (relative to the file) and its cases."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    policy: str | None = None
    cases: list[PolicyCase]


def _yaml(file: Path, text: str) -> Any:
    try:
        import yaml  # type: ignore[import-untyped]
    except ImportError:
        raise PolicyError(f"{file}: YAML case files need pyyaml (pip install 'magistrate[ingest]')") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PolicyError(f"{file}: not valid YAML: {exc}") from None


def _where(data: Any, loc: tuple[Any, ...]) -> str:
    """`case 3 ("tests run"): expect.behavior` for a validation error's location."""
    if len(loc) >= 2 and loc[0] == "cases" and isinstance(loc[1], int):
        name = ""
        cases = data.get("cases") if isinstance(data, dict) else None
        if isinstance(cases, list) and loc[1] < len(cases) and isinstance(cases[loc[1]], dict):
            name = str(cases[loc[1]].get("name") or "")
        rest = ".".join(str(p) for p in loc[2:])
        return f"case {loc[1] + 1}{f' ({name!r})' if name else ''}" + (f": {rest}" if rest else "")
    return ".".join(str(p) for p in loc) or "the file"


def load_cases(path: str | Path) -> CaseFile:
    """Read a case file (JSON, or YAML when the name ends in .yaml/.yml); raises PolicyError naming the file."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise PolicyError(f"{file}: cannot read the case file: {reason}") from None
    if file.suffix in {".yaml", ".yml"}:
        data = _yaml(file, text)
    else:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise PolicyError(f"{file}: not valid JSON: {exc}") from None
    if isinstance(data, list):
        data = {"cases": data}
    try:
        return CaseFile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = _where(data, tuple(first.get("loc", ())))
        raise PolicyError(f"{file}: {where}: {first.get('msg', 'invalid')}") from None


def _siblings(policy: Path) -> list[Path]:
    stem = policy.name.rsplit(".", 1)[0]
    return [policy.with_name(stem + suffix) for suffix in CASE_SUFFIXES if policy.with_name(stem + suffix).is_file()]


def find_case_files(paths: Iterable[str | Path]) -> list[Path]:
    """The case files `paths` name: case files as given, folders searched for `*.cases.{json,yaml,yml}`, and for
    a policy file (`policy.py`) the case files named after it. Raises PolicyError for a path with none."""
    found: list[Path] = []
    for item in paths:
        path = Path(item)
        if path.is_dir():
            inside = sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith(CASE_SUFFIXES))
            if not inside:
                raise PolicyError(f"{path}: no case files ({', '.join('*' + s for s in CASE_SUFFIXES)}) in it")
            found.extend(inside)
        elif not path.exists():
            raise PolicyError(f"{path}: no such file or folder")
        elif path.name.endswith(CASE_SUFFIXES):
            found.append(path)
        elif path.suffix in _POLICY_SUFFIXES:
            siblings = _siblings(path)
            if not siblings:
                raise PolicyError(f"{path}: no case file next to it (write {path.with_suffix('')}.cases.json)")
            found.extend(siblings)
        else:
            raise PolicyError(f"{path}: not a case file (a case file's name ends in {', '.join(CASE_SUFFIXES)})")
    return list(dict.fromkeys(normal(p) for p in found))


def normal(path: str | Path) -> Path:
    """An absolute path without `..` (symlinks kept), so one file has one name."""
    return Path(os.path.normpath(Path(path).expanduser().absolute()))


def policy_of(case_file: str | Path, cases: CaseFile) -> Path | None:
    """The policy a case file tests: the one it names, else the one it is named after; None if neither."""
    file = normal(case_file)
    if cases.policy is not None:
        return normal(file.parent / Path(cases.policy).expanduser())
    stem = next(file.name[: -len(s)] for s in CASE_SUFFIXES if file.name.endswith(s))
    return next((file.with_name(stem + s) for s in _POLICY_SUFFIXES if file.with_name(stem + s).is_file()), None)
