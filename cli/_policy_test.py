"""`magistrate policy test [PATH...]`: run a policy's test cases, and say which rules no case exercised.

Exit 0 when every case passes, 1 when one fails, 2 when a case file or a policy cannot be read. The text
report lists the failures and the coverage; `--json` prints one object instead:
`{"ok", "passed", "failed", "policies": [{"policy", "passed", "failed", "cases": [...], "coverage": {...}}]}`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from magistrate.cli._policy_common import EXIT_ERROR, fail, policy_path


def shown(path: str | Path | None) -> str:
    """A path as the user most likely wrote it: relative to the current folder when it is inside it."""
    if path is None:
        return ""
    text = str(path)
    try:
        relative = os.path.relpath(text)
    except ValueError:
        return text
    return text if relative.startswith("..") else relative


def _where(source: Any) -> str:
    return f"{shown(source.path)}:{source.line}" if source.path and source.line else shown(source.path) or source.kind


def _text(reports: list[Any], verbose: bool) -> None:
    out = sys.stdout
    for report in reports:
        results = report.results
        failed = report.failed
        out.write(f"policy {shown(report.policy)}: {len(results)} cases, {len(results) - len(failed)} passed")
        out.write(f", {len(failed)} failed\n" if failed else "\n")
        for result in results:
            if result.passed and not verbose:
                continue
            file, _, number = result.where.rpartition("#")
            name = f" ({result.case.name})" if result.case.name else ""
            mark = "ok  " if result.passed else "FAIL"
            out.write(f"  {mark} {shown(file)}#{number}{name}\n")
            for failure in result.failures:
                out.write(f"         {failure}\n")
        covered = report.rules - len(report.uncovered)
        out.write(f"  coverage: {covered} of {report.rules} rules exercised")
        if report.uncovered:
            out.write("; no case exercised:\n")
            for ref in report.uncovered:
                out.write(f"    {_where(ref.source):<28} {ref.list:<7} {ref.text}\n")
        else:
            out.write("\n")


def _test(args: argparse.Namespace) -> int:
    import anyio

    from magistrate.broker import PolicyError, PolicyLoadError, run_case_files

    paths = args.paths or ["."]
    fallback = policy_path(None)
    try:
        reports = anyio.run(lambda: run_case_files(paths, policy=args.policy, fallback=fallback))
    except PolicyLoadError as exc:
        for problem in exc.errors:
            sys.stderr.write(f"{problem}\n")
        return EXIT_ERROR
    except PolicyError as exc:
        return fail("test", str(exc))
    failed = sum(len(r.failed) for r in reports)
    if args.json:
        passed = sum(len(r.results) for r in reports) - failed
        out = {"ok": not failed, "passed": passed, "failed": failed, "policies": [r.to_json() for r in reports]}
        sys.stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
    else:
        _text(reports, args.verbose)
    return 1 if failed else 0


def register(sub: Any) -> None:
    """Add `test` to the `policy` subcommands."""
    test = sub.add_parser(
        "test",
        help="run policy test cases (*.cases.json); exit 1 if one fails",
        description="Run policy test cases and report the rules no case exercised. Exit 0 when all pass, 1 when "
        "one fails, 2 when a case file or a policy cannot be read.",
    )
    test.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="case files, folders to search for *.cases.json/.yaml, or policy files (their NAME.cases.json); "
        "default: the current folder",
    )
    test.add_argument("--policy", metavar="FILE", help="test this policy instead of the one each case file names")
    test.add_argument("--json", action="store_true", help="print the report as one JSON object")
    test.add_argument("-v", "--verbose", action="store_true", help="list every case, not only the failures")
    test.set_defaults(func=_test)
