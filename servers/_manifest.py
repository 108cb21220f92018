"""The bundled servers' `tools/list`, precomputed, so a run lists their tools without loading them.

Computing the schemas means importing every tool model and building its JSON Schema; reading this file is
one `json.load`. `python -m magistrate.servers._manifest` rewrites it from the definitions, and
`tests/servers/test_manifest.py` fails when the file and the definitions disagree.
"""

from __future__ import annotations

import json
import sys
from functools import cache
from pathlib import Path
from typing import Any

from magistrate.servers._names import COMPLIANCE_SERVER, DOCUMENTS_SERVER

MANIFEST_FILE = Path(__file__).with_name("manifest.json")


def computed() -> dict[str, list[dict[str, Any]]]:
    """The manifest from the servers' own definitions (imports them all)."""
    from magistrate.servers import _compliance_tools, _documents_tools

    return {COMPLIANCE_SERVER: _compliance_tools.manifest(), DOCUMENTS_SERVER: _documents_tools.manifest()}


@cache
def _stored() -> dict[str, list[dict[str, Any]]]:
    data: dict[str, list[dict[str, Any]]] = json.loads(MANIFEST_FILE.read_text(encoding="utf-8"))
    return data


def manifest_of(server: str) -> list[dict[str, Any]]:
    """One server's tools/list entries."""
    return _stored()[server]


def write() -> None:
    MANIFEST_FILE.write_text(json.dumps(computed(), indent=1, sort_keys=True) + "\n", encoding="utf-8")


if __name__ == "__main__":
    write()
    sys.stdout.write(f"wrote {MANIFEST_FILE}\n")
