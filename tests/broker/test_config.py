"""magistrate's configuration: the per-user directories and the environment, read in one place."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from magistrate.broker import Environment, default_db, default_key_path, user_dir
from magistrate.broker._config import VARIABLES
from magistrate.servers import default_queue_path

ROOT = Path(__file__).resolve().parent.parent.parent

linux_only = pytest.mark.skipif(sys.platform != "linux", reason="the XDG base directories are Linux's rules")


@linux_only
def test_the_per_user_directories_are_the_xdg_ones(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert user_dir("state") == tmp_path / "state" / "magistrate"
    assert user_dir("config") == tmp_path / "config" / "magistrate"
    assert user_dir("data") == tmp_path / "data" / "magistrate"
    assert default_db() == str(tmp_path / "state" / "magistrate" / "trail.sqlite3")
    assert default_key_path() == tmp_path / "config" / "magistrate" / "trail.key"
    assert default_queue_path() == tmp_path / "state" / "magistrate" / "approvals.sqlite3"


@linux_only
def test_without_xdg_variables_the_directories_are_under_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("XDG_STATE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert user_dir("state") == tmp_path / ".local" / "state" / "magistrate"
    assert user_dir("config") == tmp_path / ".config" / "magistrate"
    assert user_dir("data") == tmp_path / ".local" / "share" / "magistrate"
    assert default_db() == str(tmp_path / ".local" / "state" / "magistrate" / "trail.sqlite3")


# -- the environment, read in one place -----------------------------------------------------------------------

PARTS = ("broker", "servers", "sdk", "cli")
CONFIG_MODULE = ROOT / "broker" / "_config.py"
_NAME = re.compile(r"MAGISTRATE_[A-Z][A-Z0-9_]*")


def _sources() -> dict[Path, str]:
    return {path: path.read_text(encoding="utf-8") for part in PARTS for path in sorted((ROOT / part).rglob("*.py"))}


def _is_environ(node: ast.expr) -> bool:
    """`os.environ` or a bare `environ` (as `from os import environ` gives)."""
    if isinstance(node, ast.Attribute):
        return node.attr == "environ" and isinstance(node.value, ast.Name) and node.value.id == "os"
    return isinstance(node, ast.Name) and node.id == "environ"


def _is_getenv(node: ast.expr) -> bool:
    if isinstance(node, ast.Attribute):
        return node.attr == "getenv" and isinstance(node.value, ast.Name) and node.value.id == "os"
    return isinstance(node, ast.Name) and node.id == "getenv"


def environment_reads(source: str) -> list[tuple[int, str]]:
    """Where `source` reads a `MAGISTRATE_*` variable from the process environment, as (line, name): a literal
    name, a module-level constant holding one, or an f-string starting with one."""
    tree = ast.parse(source)
    constants = {
        target.id: node.value.value
        for node in tree.body
        if isinstance(node, (ast.Assign, ast.AnnAssign))
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(target, ast.Name)
    }

    def name_of(key: ast.expr) -> str | None:
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            text = key.value
        elif isinstance(key, ast.Name):
            text = constants.get(key.id, "")
        elif isinstance(key, ast.JoinedStr) and key.values and isinstance(key.values[0], ast.Constant):
            text = str(key.values[0].value)
        else:
            return None
        return text if text.startswith("MAGISTRATE_") else None

    found: list[tuple[int, str | None]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args:
            func = node.func
            reads_environ = isinstance(func, ast.Attribute) and func.attr in ("get", "pop") and _is_environ(func.value)
            if reads_environ or _is_getenv(func):
                found.append((node.lineno, name_of(node.args[0])))
        elif isinstance(node, ast.Subscript) and _is_environ(node.value):
            found.append((node.lineno, name_of(node.slice)))
        elif isinstance(node, ast.Compare) and any(_is_environ(c) for c in node.comparators):
            found.append((node.lineno, name_of(node.left)))
    return [(line, name) for line, name in found if name is not None]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('import os\nos.environ.get("MAGISTRATE_POLICY")', [(2, "MAGISTRATE_POLICY")]),
        ('import os\nos.getenv("MAGISTRATE_AUDIT", "")', [(2, "MAGISTRATE_AUDIT")]),
        ('import os\nx = os.environ["MAGISTRATE_RUN_ID"]', [(2, "MAGISTRATE_RUN_ID")]),
        (
            'import os\nENV = "MAGISTRATE_TRAIL_KEY"\ndef f():\n    return os.environ.get(ENV)',
            [(4, "MAGISTRATE_TRAIL_KEY")],
        ),
        ('from os import environ\nenviron.get(f"MAGISTRATE_{1}")', [(2, "MAGISTRATE_")]),
        ('import os\nok = "MAGISTRATE_BROKER" in os.environ', [(2, "MAGISTRATE_BROKER")]),
        ('import os\nos.environ.get("HOME")\nchild = {**os.environ, "MAGISTRATE_POLICY": "p"}', []),
    ],
)
def test_the_check_finds_environment_reads(source: str, expected: list[tuple[int, str]]) -> None:
    # Guards the check below: a walk that found nothing would pass it.
    assert environment_reads(source) == expected


def test_only_the_configuration_module_reads_magistrate_variables() -> None:
    sources = _sources()
    assert environment_reads(sources[CONFIG_MODULE]) == []  # it reads them by the names in VARIABLES
    elsewhere = [
        f"{path.relative_to(ROOT)}:{line} reads {name}"
        for path, source in sources.items()
        if path != CONFIG_MODULE
        for line, name in environment_reads(source)
    ]
    assert elsewhere == []


def test_variables_lists_every_magistrate_name_in_the_code() -> None:
    named = {name: path for path, source in _sources().items() for name in _NAME.findall(source)}
    unlisted = {name: str(path.relative_to(ROOT)) for name, path in named.items() if name not in VARIABLES}
    assert unlisted == {}


@pytest.mark.parametrize("name", sorted(VARIABLES))
def test_every_variable_is_read(name: str) -> None:
    value = {"MAGISTRATE_LOG_FORMAT": "json", "MAGISTRATE_LOG_LEVEL": "debug"}.get(name, "/some/where")
    assert Environment.read({name: value}) != Environment(), f"{name} is listed but Environment.read ignores it"


def test_unset_and_empty_are_the_same() -> None:
    assert Environment.read({}) == Environment()
    assert Environment.read(dict.fromkeys(VARIABLES, "")) == Environment()


def test_values_are_read_as_the_readme_says(tmp_path: Path) -> None:
    env = Environment.read(
        {
            "MAGISTRATE_TRAIL_TRUSTED_KEYS": os.pathsep.join(["a.pem", " ", "b.pem"]),
            "MAGISTRATE_LOG_LEVEL": "DEBUG",
            "MAGISTRATE_LOG_FORMAT": "JSON",
            "MAGISTRATE_TRAIL_KEY": "~/keys/trail.key",
            "MAGISTRATE_AUDIT": "postgresql://db/trail",
        }
    )
    assert env.trusted_keys == ("a.pem", "b.pem")
    assert (env.log_level, env.log_format) == ("debug", "json")
    assert env.key_path == Path.home() / "keys" / "trail.key"
    assert env.trail == "postgresql://db/trail"
    assert Environment.read({"MAGISTRATE_LOG_FORMAT": "yaml"}).log_format == "text"


@linux_only
def test_the_defaults_are_in_the_per_user_directories(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    env = Environment()
    assert env.trail == str(tmp_path / "state" / "magistrate" / "trail.sqlite3")
    assert env.queue == str(tmp_path / "state" / "magistrate" / "approvals.sqlite3")
    assert env.key_path == tmp_path / "config" / "magistrate" / "trail.key"
    assert env.store("compliance") == str(tmp_path / "data" / "magistrate" / "compliance.sqlite3")
    assert Environment(documents_db="docs.sqlite3").store("documents") == "docs.sqlite3"


def test_the_readme_lists_every_variable() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = [line for line in readme.splitlines() if line.startswith("| `MAGISTRATE_")]
    expected = [f"| `{name}` | {text} |" for name, text in VARIABLES.items()]
    assert rows == expected, "the README's table of variables, from VARIABLES:\n" + "\n".join(expected)


def test_json_logs_are_one_object_a_line() -> None:
    emit = "from magistrate.broker import get_logger; get_logger('t').warning('hello', n=1)"
    for fmt in ("json", "text"):
        done = subprocess.run(
            [sys.executable, "-c", emit],
            env={**os.environ, "MAGISTRATE_LOG_FORMAT": fmt},
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        line = done.stderr.strip()
        if fmt == "json":
            assert json.loads(line) | {"timestamp": ""} == {
                "event": "hello",
                "level": "warning",
                "logger": "t",
                "n": 1,
                "timestamp": "",
            }
        else:
            assert "event='hello'" in line
            assert "n=1" in line
