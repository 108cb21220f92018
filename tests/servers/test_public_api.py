"""The servers package publishes exactly what it names, under its own name; importing it (or the labels lookup)
skips `mcp`."""

from __future__ import annotations

import importlib
import subprocess
import sys
import traceback
from pathlib import Path

import magistrate.servers as servers
from tests._public_api import misnamed, round_trip, type_checking_names, unevaluated_annotations, unpicklable_errors


def test_every_export_resolves() -> None:
    for name in servers.__all__:
        assert getattr(servers, name) is not None


def test_all_is_sorted_and_matches_exports() -> None:
    assert servers.__all__ == sorted(servers._EXPORTS)


def test_type_checking_block_matches_exports() -> None:
    assert type_checking_names(servers) == servers._EXPORTS


def test_exports_point_at_defining_modules() -> None:
    for module_name, attribute in servers._EXPORTS.values():
        assert hasattr(importlib.import_module(module_name), attribute)


def test_exports_carry_the_package_name() -> None:
    assert misnamed(servers) == []
    assert repr(servers.ToolSpec) == "<class 'magistrate.servers.ToolSpec'>"
    assert traceback.format_exception_only(servers.NotFoundError("no")) == ["magistrate.servers.NotFoundError: no\n"]


def test_a_function_exported_under_another_name_keeps_its_module() -> None:
    # A pickle finds a function by its own name, which the package does not have.
    assert servers.build_compliance_server.__module__ == "magistrate.servers._compliance"
    assert round_trip(servers.build_compliance_server) is servers.build_compliance_server


def test_annotations_are_evaluated_where_they_were_written() -> None:
    assert unevaluated_annotations(servers) == []


def test_pickled_errors_come_back_with_their_attributes() -> None:
    make = {
        "InvalidInputError": lambda: servers.InvalidInputError("bad input", ["limit: not a number"]),
        "LimitExceededError": lambda: servers.LimitExceededError("the file", 10, 20),
        "ImportRowsError": lambda: servers.ImportRowsError("f.csv", ["row 2: no id"]),
    }
    assert unpicklable_errors(servers, make) == []


def test_labels_lookup_and_manifests_do_not_import_mcp(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from magistrate.servers import open_documents\n"
        "from magistrate.servers._compliance_tools import manifest as m1\n"
        "from magistrate.servers._documents_tools import manifest as m2\n"
        f"store = open_documents({str(tmp_path / 'd.sqlite3')!r})\n"
        "store.put('a.md', 'x', ['confidential'])\n"
        "assert store.labels('a.md') == {'confidential'}\n"
        "assert len(m1()) == 5 and len(m2()) == 5\n"
        "assert not [m for m in sys.modules if m == 'mcp' or m.startswith('mcp.')], 'mcp was imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
