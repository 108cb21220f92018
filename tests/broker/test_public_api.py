"""The broker's lazy exports must name exactly what it publishes, under the package's own name."""

from __future__ import annotations

import importlib
import pickle
import subprocess
import sys
import traceback
import typing
from collections.abc import Awaitable

import magistrate.broker as broker
from tests._public_api import (
    misnamed,
    round_trip,
    type_checking_names,
    unevaluated_annotations,
    unpicklable_errors,
)


def test_every_export_resolves() -> None:
    for name in broker.__all__:
        assert getattr(broker, name) is not None


def test_type_checking_block_matches_exports() -> None:
    assert set(type_checking_names(broker)) == set(broker.__all__)


def test_all_matches_exports() -> None:
    assert broker.__all__ == sorted(broker._EXPORTS)


def test_exports_point_at_defining_modules() -> None:
    for name, module_name in broker._EXPORTS.items():
        assert hasattr(importlib.import_module(module_name), name)


def test_exports_carry_the_package_name() -> None:
    assert misnamed(broker) == []
    assert repr(broker.Decision) == "<class 'magistrate.broker.Decision'>"
    assert traceback.format_exception_only(broker.PolicyError("no")) == ["magistrate.broker.PolicyError: no\n"]


def test_annotations_are_evaluated_where_they_were_written() -> None:
    assert unevaluated_annotations(broker) == []
    # An alias with a string inside (`Callable[[AskRequest], "bool | Verdict | ..."]`) is resolved too.
    callback = typing.get_type_hints(broker.CallbackApprover)["callback"]
    assert typing.get_args(callback)[1] == bool | broker.Verdict | Awaitable[bool | broker.Verdict]


def test_a_pickled_decision_names_the_package_and_comes_back() -> None:
    rule = broker.RuleRef("r1", "Bash(ls)", broker.RuleSource("settings", "s.json", 3), "allow")
    decision = broker.Decision("allow", {"command": "ls"}, rule=rule, matched=(rule,))
    data = pickle.dumps(decision)
    assert b"magistrate.broker" in data
    assert b"_decision" not in data
    assert pickle.loads(data) == decision
    call = broker.ToolCall("Bash", {"command": "ls"}, "t1")
    assert round_trip(call) == call


def test_pickled_errors_come_back_with_their_attributes() -> None:
    make = {
        "RemoteBrokerError": lambda: broker.RemoteBrokerError("refused", url="http://b", status=403),
        "SchemaVersionError": lambda: broker.SchemaVersionError("trail", "t.sqlite3", "9", "1-2"),
        "TrailVerificationError": lambda: broker.TrailVerificationError("bad", seq=3, problem="hash"),
        "PolicyLoadError": lambda: broker.PolicyLoadError(
            [broker.RuleProblem("Bash(", broker.RuleSource("settings", "s.json"), "unclosed")]
        ),
    }
    assert unpicklable_errors(broker, make) == []


def test_wire_formats_validate_when_their_values_were_published_first() -> None:
    # Resolving a name through the package renames its module before any pydantic schema is built over it.
    script = (
        "import sys\n"
        "import magistrate.broker as b\n"
        "values = ['Decision', 'RuleRef', 'RuleSource', 'ToolCall', 'CallContext', 'PriorDecision', 'Approval']\n"
        "assert all(getattr(b, name).__module__ == 'magistrate.broker' for name in values)\n"
        "assert 'magistrate.broker._decision_wire' not in sys.modules\n"
        "assert 'magistrate.broker._audit_records' not in sys.modules\n"
        "decision = b.Decision('deny', {'a': 1}, rule=b.RuleRef('i', 't', b.RuleSource('cli'), 'deny'))\n"
        "assert b.DECISION_ADAPTER.validate_json(b.DECISION_ADAPTER.dump_json(decision)) == decision\n"
        "request = b.DecideRequest.model_validate({'call': {'tool_name': 'Bash', 'tool_input': {}},\n"
        "    'context': {'history': [{'tool_name': 'Read', 'tool_input': {}, 'behavior': 'allow'}]}})\n"
        "assert request.context.history[0].tool_name == 'Read'\n"
        "record = b.DecisionRecord.of(request.call, request.context, decision)\n"
        "assert b.DecisionRecord.model_validate_json(record.model_dump_json()).decision == decision\n"
        "approval = b.Approval('t1', 'Bash', 's', 'allow', 'alice')\n"
        "assert b.APPROVAL_ADAPTER.validate_python(b.APPROVAL_ADAPTER.dump_python(approval)) == approval\n"
        "hook = b.HookInput.model_validate({'hook_event_name': 'PreToolUse', 'tool_name': 'Bash'})\n"
        "assert hook.tool_name == 'Bash'\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
