"""The command line follows one grammar: `--version`, the shared options after the subcommand on every command,
`--json` wherever data is printed, and the exit codes the README's table documents."""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import pytest

from magistrate.cli import main
from magistrate.cli._main import _GROUPS, _build_parser
from tests.cli._terminal import on_terminal

README = Path(__file__).resolve().parents[2] / "README.md"

NO_DATA = {
    "demo": "a walkthrough for a person; what it leaves is read with `audit` and `policy`",
    "scripted-model": "a server: it prints only where it listens",
    "serve": "a server",
    "hook": "speaks the CLI's hook protocol on stdout, which is JSON by definition",
    "settings": "writes two files and prints the claude command line that uses them",
    "audit key": "prints a PEM key",
    "console": "a web server for a person",
    "audit report": "writes an HTML file",
    "broker run": "a server",
    "broker start": "starts a server; says only why it could not",
    "broker stop": "stops a server; says only why it could not",
}


def leaves() -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """Every command that runs, by its words (`audit show`), with its parser."""

    def walk(words: str, parser: argparse.ArgumentParser) -> Iterator[tuple[str, argparse.ArgumentParser]]:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            yield words, parser
            return
        for name, child in subs[0].choices.items():
            yield from walk(f"{words} {name}".strip(), child)

    for group in _GROUPS:
        top = _build_parser(group)
        sub = next(a for a in top._actions if isinstance(a, argparse._SubParsersAction))
        yield from walk(group, sub.choices[group])


def options(parser: argparse.ArgumentParser) -> set[str]:
    return {flag for action in parser._actions for flag in action.option_strings}


def test_version_names_the_installed_package() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "magistrate.cli", "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, f"magistrate {version('magistrate')}\n", "")


def test_every_command_that_prints_data_takes_json() -> None:
    found = dict(leaves())
    assert "compliance frameworks" in found
    assert "audit show" in found
    missing = [words for words, parser in found.items() if "--json" not in options(parser) and words not in NO_DATA]
    assert missing == []


def test_db_goes_after_the_subcommand_everywhere_and_the_old_place_still_works(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    leaf = dict(leaves())
    for words in ("compliance import", "compliance frameworks", "compliance waive", "documents add", "documents list"):
        assert "--db" in options(leaf[words]), words
    db = str(tmp_path / "compliance.sqlite3")
    assert main(["compliance", "frameworks", "--db", db, "--json"]) == 0
    after = [json.loads(line)["id"] for line in capsys.readouterr().out.splitlines()]
    assert main(["compliance", "--db", db, "frameworks", "--json"]) == 0
    before = [json.loads(line)["id"] for line in capsys.readouterr().out.splitlines()]
    assert after == before == ["gdpr", "soc2"]
    other = tmp_path / "other.sqlite3"
    assert main(["compliance", "--db", str(other), "frameworks", "--db", db]) == 0  # the later one wins
    assert not other.exists()
    capsys.readouterr()
    docs = str(tmp_path / "documents.sqlite3")
    (tmp_path / "note.md").write_text("# a note\n")
    assert main(["documents", "add", str(tmp_path / "note.md"), "--db", docs, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["state"] == "added"
    assert main(["documents", "--db", docs, "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["name"] == "note.md"


def test_tables_fit_the_terminal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "c.sqlite3")
    code, out = on_terminal(["compliance", "frameworks", "--db", db], columns=40)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["framework", "requirements", "name"]
    assert all(len(line) <= 40 for line in lines)
    assert lines[1].endswith("…")
    assert main(["compliance", "frameworks", "--db", db]) == 0  # into a pipe or a file: whole
    assert "General Data Protection Regulation (EU) 2016/679" in capsys.readouterr().out


def test_usage_errors_exit_two_without_a_traceback() -> None:
    for argv in ([], ["audit"], ["audit", "show", "--limit", "many"], ["compliance", "frameworks", "--bogus"]):
        done = subprocess.run(
            [sys.executable, "-m", "magistrate.cli", *argv], capture_output=True, text=True, timeout=60, check=False
        )
        assert done.returncode == 2, argv
        assert "Traceback" not in done.stderr


def test_the_readme_documents_the_exit_codes() -> None:
    text = README.read_text()
    table = text[text.index("### Exit codes") :]
    codes = re.findall(r"^\| `(\d)` \|", table, flags=re.MULTILINE)
    assert codes[:4] == ["0", "1", "2", "3"]
