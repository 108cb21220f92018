"""magistrate.broker: decides every tool call by policy and records every decision in a tamper-evident trail.

The package re-exports lazily: the SDK imports the error root on every `import magistrate.sdk`, and that
must not pay for the policy engine or the trail's storage. Add a public name to `_EXPORTS`, `__all__` and the
TYPE_CHECKING block; `tests/broker/test_public_api.py` fails when the two drift.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from magistrate.broker._approval import (
        DEFAULT_TIMEOUT,
        INPUT_SCHEMA,
        PROMPT_TOOL,
        SERVER_NAME,
        TOOL_DESCRIPTION,
        TOOL_NAME,
        ApprovalCallback,
        Approver,
        AskRequest,
        CallbackApprover,
        PromptRequest,
        PromptResolver,
        Recalled,
        Verdict,
        prompt_text,
    )
    from magistrate.broker._approval_terminal import TerminalApprover, terminal_available
    from magistrate.broker._audit_records import ApprovalRecord, DecisionRecord, OutcomeRecord
    from magistrate.broker._broker import Broker
    from magistrate.broker._call import CallContext, PermissionMode, PriorDecision, ToolCall
    from magistrate.broker._database import (
        Database,
        Dialect,
        Flavor,
        SchemaVersionError,
        Snapshot,
        is_postgres_url,
        open_database,
    )
    from magistrate.broker._decision import Behavior, Decision, RuleRef, RuleSource
    from magistrate.broker._errors import MagistrateError
    from magistrate.broker._interfaces import Approval, Governor, Policy, ToolOutcome
    from magistrate.broker._log import get_logger
    from magistrate.broker._policy import RulePolicy
    from magistrate.broker._policy_errors import PolicyError, PolicyLoadError, RuleProblem
    from magistrate.broker._policy_explain import explain_bash
    from magistrate.broker._policy_sources import claude_code_policy, load_policy
    from magistrate.broker._policy_testing import (
        CaseResult,
        Expectation,
        PolicyCase,
        PolicyTestReport,
        assert_decides,
        find_case_files,
        load_cases,
        merge_reports,
        run_cases,
    )
    from magistrate.broker._python_rules import Allow, Ask, CallView, Deny, RuleResult
    from magistrate.broker._redact import Redactor
    from magistrate.broker._remote import RemoteBrokerError, RemoteGovernor
    from magistrate.broker._replay import ReplayChange, ReplayReport, parse_when, replay_trail
    from magistrate.broker._signing import (
        Checkpoint,
        default_key_path,
        load_or_create_signing_key,
        load_public_key,
        public_key_pem,
    )
    from magistrate.broker._storage import StoredRecord, default_db
    from magistrate.broker._tool_inputs import (
        AgentInput,
        BashInput,
        EditInput,
        GlobInput,
        GrepInput,
        MultiEditInput,
        NotebookEditInput,
        ReadInput,
        TodoWriteInput,
        ToolInput,
        WebFetchInput,
        WebSearchInput,
        WriteInput,
    )
    from magistrate.broker._trail import Receipt, Trail
    from magistrate.broker._trail_errors import AuditError, TrailVerificationError
    from magistrate.broker._trail_reader import ConsistencyProof, InclusionProof, TrailReader
    from magistrate.broker._trail_verify import VerifyReport, verify_trail

_EXPORTS: dict[str, str] = {
    "AgentInput": "magistrate.broker._tool_inputs",
    "Allow": "magistrate.broker._python_rules",
    "Approval": "magistrate.broker._interfaces",
    "ApprovalCallback": "magistrate.broker._approval",
    "ApprovalRecord": "magistrate.broker._audit_records",
    "Approver": "magistrate.broker._approval",
    "Ask": "magistrate.broker._python_rules",
    "AskRequest": "magistrate.broker._approval",
    "AuditError": "magistrate.broker._trail_errors",
    "BashInput": "magistrate.broker._tool_inputs",
    "Behavior": "magistrate.broker._decision",
    "Broker": "magistrate.broker._broker",
    "CallContext": "magistrate.broker._call",
    "CallView": "magistrate.broker._python_rules",
    "CallbackApprover": "magistrate.broker._approval",
    "CaseResult": "magistrate.broker._policy_testing",
    "Checkpoint": "magistrate.broker._signing",
    "ConsistencyProof": "magistrate.broker._trail_reader",
    "DEFAULT_TIMEOUT": "magistrate.broker._approval",
    "Database": "magistrate.broker._database",
    "Decision": "magistrate.broker._decision",
    "DecisionRecord": "magistrate.broker._audit_records",
    "Deny": "magistrate.broker._python_rules",
    "Dialect": "magistrate.broker._database",
    "EditInput": "magistrate.broker._tool_inputs",
    "Expectation": "magistrate.broker._policy_testing",
    "Flavor": "magistrate.broker._database",
    "GlobInput": "magistrate.broker._tool_inputs",
    "Governor": "magistrate.broker._interfaces",
    "GrepInput": "magistrate.broker._tool_inputs",
    "INPUT_SCHEMA": "magistrate.broker._approval",
    "InclusionProof": "magistrate.broker._trail_reader",
    "MagistrateError": "magistrate.broker._errors",
    "MultiEditInput": "magistrate.broker._tool_inputs",
    "NotebookEditInput": "magistrate.broker._tool_inputs",
    "OutcomeRecord": "magistrate.broker._audit_records",
    "PROMPT_TOOL": "magistrate.broker._approval",
    "PermissionMode": "magistrate.broker._call",
    "Policy": "magistrate.broker._interfaces",
    "PolicyCase": "magistrate.broker._policy_testing",
    "PolicyError": "magistrate.broker._policy_errors",
    "PolicyLoadError": "magistrate.broker._policy_errors",
    "PolicyTestReport": "magistrate.broker._policy_testing",
    "PriorDecision": "magistrate.broker._call",
    "PromptRequest": "magistrate.broker._approval",
    "PromptResolver": "magistrate.broker._approval",
    "ReadInput": "magistrate.broker._tool_inputs",
    "Recalled": "magistrate.broker._approval",
    "Receipt": "magistrate.broker._trail",
    "Redactor": "magistrate.broker._redact",
    "RemoteBrokerError": "magistrate.broker._remote",
    "RemoteGovernor": "magistrate.broker._remote",
    "ReplayChange": "magistrate.broker._replay",
    "ReplayReport": "magistrate.broker._replay",
    "RulePolicy": "magistrate.broker._policy",
    "RuleProblem": "magistrate.broker._policy_errors",
    "RuleRef": "magistrate.broker._decision",
    "RuleResult": "magistrate.broker._python_rules",
    "RuleSource": "magistrate.broker._decision",
    "SERVER_NAME": "magistrate.broker._approval",
    "SchemaVersionError": "magistrate.broker._database",
    "Snapshot": "magistrate.broker._database",
    "StoredRecord": "magistrate.broker._storage",
    "TOOL_DESCRIPTION": "magistrate.broker._approval",
    "TOOL_NAME": "magistrate.broker._approval",
    "TerminalApprover": "magistrate.broker._approval_terminal",
    "TodoWriteInput": "magistrate.broker._tool_inputs",
    "ToolCall": "magistrate.broker._call",
    "ToolInput": "magistrate.broker._tool_inputs",
    "ToolOutcome": "magistrate.broker._interfaces",
    "Trail": "magistrate.broker._trail",
    "TrailReader": "magistrate.broker._trail_reader",
    "TrailVerificationError": "magistrate.broker._trail_errors",
    "Verdict": "magistrate.broker._approval",
    "VerifyReport": "magistrate.broker._trail_verify",
    "WebFetchInput": "magistrate.broker._tool_inputs",
    "WebSearchInput": "magistrate.broker._tool_inputs",
    "WriteInput": "magistrate.broker._tool_inputs",
    "assert_decides": "magistrate.broker._policy_testing",
    "claude_code_policy": "magistrate.broker._policy_sources",
    "default_db": "magistrate.broker._storage",
    "default_key_path": "magistrate.broker._signing",
    "explain_bash": "magistrate.broker._policy_explain",
    "find_case_files": "magistrate.broker._policy_testing",
    "get_logger": "magistrate.broker._log",
    "is_postgres_url": "magistrate.broker._database",
    "load_cases": "magistrate.broker._policy_testing",
    "load_or_create_signing_key": "magistrate.broker._signing",
    "load_policy": "magistrate.broker._policy_sources",
    "load_public_key": "magistrate.broker._signing",
    "merge_reports": "magistrate.broker._policy_testing",
    "open_database": "magistrate.broker._database",
    "parse_when": "magistrate.broker._replay",
    "prompt_text": "magistrate.broker._approval",
    "public_key_pem": "magistrate.broker._signing",
    "replay_trail": "magistrate.broker._replay",
    "run_cases": "magistrate.broker._policy_testing",
    "terminal_available": "magistrate.broker._approval_terminal",
    "verify_trail": "magistrate.broker._trail_verify",
}

__all__ = [  # noqa: RUF022 - plain sorted(), which the public API test holds
    "AgentInput",
    "Allow",
    "Approval",
    "ApprovalCallback",
    "ApprovalRecord",
    "Approver",
    "Ask",
    "AskRequest",
    "AuditError",
    "BashInput",
    "Behavior",
    "Broker",
    "CallContext",
    "CallView",
    "CallbackApprover",
    "CaseResult",
    "Checkpoint",
    "ConsistencyProof",
    "DEFAULT_TIMEOUT",
    "Database",
    "Decision",
    "DecisionRecord",
    "Deny",
    "Dialect",
    "EditInput",
    "Expectation",
    "Flavor",
    "GlobInput",
    "Governor",
    "GrepInput",
    "INPUT_SCHEMA",
    "InclusionProof",
    "MagistrateError",
    "MultiEditInput",
    "NotebookEditInput",
    "OutcomeRecord",
    "PROMPT_TOOL",
    "PermissionMode",
    "Policy",
    "PolicyCase",
    "PolicyError",
    "PolicyLoadError",
    "PolicyTestReport",
    "PriorDecision",
    "PromptRequest",
    "PromptResolver",
    "ReadInput",
    "Recalled",
    "Receipt",
    "Redactor",
    "RemoteBrokerError",
    "RemoteGovernor",
    "ReplayChange",
    "ReplayReport",
    "RulePolicy",
    "RuleProblem",
    "RuleRef",
    "RuleResult",
    "RuleSource",
    "SERVER_NAME",
    "SchemaVersionError",
    "Snapshot",
    "StoredRecord",
    "TOOL_DESCRIPTION",
    "TOOL_NAME",
    "TerminalApprover",
    "TodoWriteInput",
    "ToolCall",
    "ToolInput",
    "ToolOutcome",
    "Trail",
    "TrailReader",
    "TrailVerificationError",
    "Verdict",
    "VerifyReport",
    "WebFetchInput",
    "WebSearchInput",
    "WriteInput",
    "assert_decides",
    "claude_code_policy",
    "default_db",
    "default_key_path",
    "explain_bash",
    "find_case_files",
    "get_logger",
    "is_postgres_url",
    "load_cases",
    "load_or_create_signing_key",
    "load_policy",
    "load_public_key",
    "merge_reports",
    "open_database",
    "parse_when",
    "prompt_text",
    "public_key_pem",
    "replay_trail",
    "run_cases",
    "terminal_available",
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
