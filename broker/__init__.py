"""magistrate.broker: decides every tool call by policy and records every decision in a tamper-evident trail.

The package re-exports lazily: the SDK imports the error root on every `import magistrate.sdk`, and that
must not pay for the policy engine or the trail's storage. Add a public name to `_EXPORTS`, `__all__` and the
TYPE_CHECKING block; `tests/broker/test_public_api.py` fails when the two drift.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from magistrate.broker._call import CallContext, PermissionMode, PriorDecision, ToolCall
    from magistrate.broker._decision import Behavior, Decision, RuleRef, RuleSource
    from magistrate.broker._errors import MagistrateError
    from magistrate.broker._interfaces import Approval, Governor, Policy, ToolOutcome

_EXPORTS: dict[str, str] = {
    "Approval": "magistrate.broker._interfaces",
    "Behavior": "magistrate.broker._decision",
    "CallContext": "magistrate.broker._call",
    "Decision": "magistrate.broker._decision",
    "Governor": "magistrate.broker._interfaces",
    "MagistrateError": "magistrate.broker._errors",
    "PermissionMode": "magistrate.broker._call",
    "Policy": "magistrate.broker._interfaces",
    "PriorDecision": "magistrate.broker._call",
    "RuleRef": "magistrate.broker._decision",
    "RuleSource": "magistrate.broker._decision",
    "ToolCall": "magistrate.broker._call",
    "ToolOutcome": "magistrate.broker._interfaces",
}

__all__ = [
    "Approval",
    "Behavior",
    "CallContext",
    "Decision",
    "Governor",
    "MagistrateError",
    "PermissionMode",
    "Policy",
    "PriorDecision",
    "RuleRef",
    "RuleSource",
    "ToolCall",
    "ToolOutcome",
]


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'magistrate.broker' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
