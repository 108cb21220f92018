"""magistrate.sdk against the public surface of claude_agent_sdk, as snapshotted by scripts/agent_sdk_surface.py.

The snapshot is generated from the official package (never written by hand); both sides are described by the
script's own `describe`, so a name matches when its kind, fields, keys, parameters and defaults agree.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

import magistrate.sdk

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOT = json.loads((Path(__file__).with_name("agent_sdk_surface.json")).read_text())

# magistrate's own fields on the options, after the official ones (see sdk/_options.py).
MAGISTRATE_OPTIONS = {
    "control_timeout",
    "governed",
    "policy",
    "audit",
    "approver",
    "approval_timeout",
    "labels",
    "governor",
    "broker",
}


def _describe() -> Any:
    spec = importlib.util.spec_from_file_location("agent_sdk_surface", ROOT / "scripts" / "agent_sdk_surface.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.describe


describe = _describe()


def mismatch(name: str, official: dict[str, Any]) -> str | None:
    """Why magistrate.sdk's `name` differs from the official one, or None when it matches."""
    if not hasattr(magistrate.sdk, name):
        return "missing"
    ours = describe(getattr(magistrate.sdk, name))
    if ours["kind"] != official["kind"]:
        return f"kind {ours['kind']} != {official['kind']}"
    kind = official["kind"]
    if kind == "dataclass":
        fields = ours["fields"]
        if name == "ClaudeAgentOptions":
            fields = [item for item in fields if item[0] not in MAGISTRATE_OPTIONS]
        if fields != official["fields"]:
            return f"fields {fields} != {official['fields']}"
    elif kind in ("typeddict", "function", "protocol"):
        key = {"typeddict": "keys", "function": "parameters", "protocol": "methods"}[kind]
        if ours[key] != official[key] or ours.get("async") != official.get("async"):
            return f"{key} {ours[key]} != {official[key]}"
    elif kind == "class":
        missing = set(official["methods"]) - set(ours["methods"])
        if missing:
            return f"methods missing: {sorted(missing)}"
    elif kind == "exception":
        if not set(official["bases"]) <= set(ours["bases"]):
            return f"bases {ours['bases']} lack some of {official['bases']}"
    elif kind == "alias":
        if ours.get("literal") != official.get("literal"):
            return f"literal {ours.get('literal')} != {official.get('literal')}"
    elif kind == "constant" and name != "__version__" and ours["value"] != official["value"]:
        return f"value {ours['value']} != {official['value']}"
    return None


@pytest.mark.parametrize("name", sorted(SNAPSHOT["names"]))
def test_name_matches_the_official_package(name: str) -> None:
    why = mismatch(name, SNAPSHOT["names"][name])
    assert why is None, f"{name}: {why}"


def test_magistrate_options_follow_the_official_fields_in_both_generations() -> None:
    # The additions come after every official field (so positional use of the official ones is unchanged)
    # and are the same on ClaudeCodeOptions and ClaudeAgentOptions, so both are governed alike.
    agent = [item[0] for item in describe(magistrate.sdk.ClaudeAgentOptions)["fields"]]
    official = [item[0] for item in SNAPSHOT["names"]["ClaudeAgentOptions"]["fields"]]
    assert agent[: len(official)] == official
    assert set(agent[len(official) :]) == MAGISTRATE_OPTIONS
    code = {item[0] for item in describe(magistrate.sdk.ClaudeCodeOptions)["fields"]}
    assert code >= MAGISTRATE_OPTIONS
