"""magistrate.broker: decides every tool call by policy and records every decision in a tamper-evident trail.

The package re-exports lazily: the SDK imports the error root on every `import magistrate.sdk`, and that
must not pay for the policy engine or the trail's storage. Add a public name to `_EXPORTS`, `__all__` and the
TYPE_CHECKING block; `tests/broker/test_public_api.py` fails when the two drift.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from magistrate.broker._errors import MagistrateError

_EXPORTS: dict[str, str] = {
    "MagistrateError": "magistrate.broker._errors",
}

__all__ = ["MagistrateError"]


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'magistrate.broker' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
