"""The options every `magistrate` command spells the same way, and the one place they go: after the subcommand.

`magistrate audit show --db X`, `magistrate compliance frameworks --db X --json`: a shared option follows the
last command word, on every command. `compliance` and `documents` also took `--db` before their subcommand
(`magistrate compliance --db X frameworks`); that spelling still works, unlisted, so no script breaks; when
both are given the one after the subcommand wins.

`--json` is on every command that prints data: a listing prints one JSON object a line, a single result one
object, and the values are always whole (tables in a terminal may cut them).
"""

from __future__ import annotations

import argparse

DB_METAVAR = "PATH|URL"


def add_db(parser: argparse.ArgumentParser, help_text: str) -> None:
    """`--db` after a subcommand; it leaves an earlier group-level `--db` (see `add_group_db`) alone if absent."""
    parser.add_argument("--db", metavar=DB_METAVAR, default=argparse.SUPPRESS, help=help_text)


def add_group_db(parser: argparse.ArgumentParser) -> None:
    """The older place of `--db`, before the subcommand: still accepted, no longer listed."""
    parser.add_argument("--db", default=None, help=argparse.SUPPRESS)


def add_json(parser: argparse.ArgumentParser, help_text: str = "print JSON: one object a line, values whole") -> None:
    parser.add_argument("--json", action="store_true", help=help_text)
