"""magistrate.broker: decides every tool call by policy and records every decision in a tamper-evident trail.

The package re-exports lazily: the SDK imports the error root on every `import magistrate.sdk`, and that
must not pay for the policy engine or the trail's storage. Add a public name to `_EXPORTS`, `__all__` and the
TYPE_CHECKING block; `tests/broker/test_public_api.py` fails when the two drift.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from magistrate.broker._audit_records import ApprovalRecord, DecisionRecord, OutcomeRecord
    from magistrate.broker._broker import Broker
    from magistrate.broker._call import CallContext, PermissionMode, PriorDecision, ToolCall
    from magistrate.broker._decision import Behavior, Decision, RuleRef, RuleSource
    from magistrate.broker._errors import MagistrateError
    from magistrate.broker._interfaces import Approval, Governor, Policy, ToolOutcome
    from magistrate.broker._redact import Redactor
    from magistrate.broker._signing import Checkpoint
    from magistrate.broker._trail import Receipt, Trail
    from magistrate.broker._trail_errors import AuditError, TrailVerificationError
    from magistrate.broker._trail_verify import VerifyReport, verify_trail

_EXPORTS: dict[str, str] = {
    "Approval": "magistrate.broker._interfaces",
    "ApprovalRecord": "magistrate.broker._audit_records",
    "AuditError": "magistrate.broker._trail_errors",
    "Behavior": "magistrate.broker._decision",
    "Broker": "magistrate.broker._broker",
    "CallContext": "magistrate.broker._call",
    "Checkpoint": "magistrate.broker._signing",
    "Decision": "magistrate.broker._decision",
    "DecisionRecord": "magistrate.broker._audit_records",
    "Governor": "magistrate.broker._interfaces",
    "MagistrateError": "magistrate.broker._errors",
    "OutcomeRecord": "magistrate.broker._audit_records",
    "PermissionMode": "magistrate.broker._call",
    "Policy": "magistrate.broker._interfaces",
    "PriorDecision": "magistrate.broker._call",
    "Receipt": "magistrate.broker._trail",
    "Redactor": "magistrate.broker._redact",
    "RuleRef": "magistrate.broker._decision",
    "RuleSource": "magistrate.broker._decision",
    "ToolCall": "magistrate.broker._call",
    "ToolOutcome": "magistrate.broker._interfaces",
    "Trail": "magistrate.broker._trail",
    "TrailVerificationError": "magistrate.broker._trail_errors",
    "VerifyReport": "magistrate.broker._trail_verify",
    "verify_trail": "magistrate.broker._trail_verify",
}

__all__ = [
    "Approval",
    "ApprovalRecord",
    "AuditError",
    "Behavior",
    "Broker",
    "CallContext",
    "Checkpoint",
    "Decision",
    "DecisionRecord",
    "Governor",
    "MagistrateError",
    "OutcomeRecord",
    "PermissionMode",
    "Policy",
    "PriorDecision",
    "Receipt",
    "Redactor",
    "RuleRef",
    "RuleSource",
    "ToolCall",
    "ToolOutcome",
    "Trail",
    "TrailVerificationError",
    "VerifyReport",
    "verify_trail",
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
