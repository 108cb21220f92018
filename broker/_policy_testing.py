"""Policy tests: cases that say what a policy must decide, so a change is checked before it ships.

A case names one tool call (tool, input, and optionally cwd, permission mode and labels) and what must come
of it: the behaviour, and optionally the deciding rule (its text or id), the rewritten input and a part of
the message. Cases live in a data file next to the policy (`*.cases.json`, or `.yaml`/`.yml` with pyyaml
installed, the `ingest` extra), or in plain pytest through `assert_decides`. Running them also reports
coverage: every rule of the policy that no case exercised, with its file and line, because a rule nobody
tested is a rule nobody knows still does what it says.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from magistrate.broker._call import CallContext, PermissionMode, ToolCall
from magistrate.broker._decision import Behavior, Decision, RuleRef
from magistrate.broker._interfaces import Policy
from magistrate.broker._policy_errors import PolicyError

CASE_SUFFIXES = (".cases.json", ".cases.yaml", ".cases.yml")


class Expectation(BaseModel):
    """What must come of a case's call."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    behavior: Behavior
    rule: str | None = None
    """The deciding rule's text (`Bash(npm run test:*)`, a Python rule's name) or its id."""
    input: dict[str, Any] | None = None
    """The input the decision lets run (the rewritten one, when a rule rewrote it)."""
    message: str | None = None
    """A part of the decision's message."""


class PolicyCase(BaseModel):
    """One tool call and what the policy must decide about it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = ""
    tool: str
    input: dict[str, Any] = Field(default_factory=dict)
    cwd: str | None = None
    """The call's working directory; relative to the case file (default: the case file's folder)."""
    mode: PermissionMode = "default"
    labels: dict[str, str] = Field(default_factory=dict)
    expect: Expectation


class CaseFile(BaseModel):
    """A case file: the policy it tests (relative to the file) and its cases."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    policy: str | None = None
    cases: list[PolicyCase]


@dataclass(frozen=True, slots=True)
class CaseResult:
    """A case run: the decision, and what did not match the expectation (empty when it passed)."""

    case: PolicyCase
    decision: Decision
    failures: tuple[str, ...]
    where: str = ""
    """`file#index` of the case, for the report."""

    @property
    def passed(self) -> bool:
        return not self.failures


@dataclass(frozen=True, slots=True)
class PolicyTestReport:
    """Every case's result, and the rules no case exercised."""

    results: tuple[CaseResult, ...]
    uncovered: tuple[RuleRef, ...]
    rules: int
    """How many rules the policy has (rule strings and Python rules)."""

    @property
    def failed(self) -> tuple[CaseResult, ...]:
        return tuple(r for r in self.results if not r.passed)

    def to_json(self) -> dict[str, Any]:
        return {
            "passed": sum(r.passed for r in self.results),
            "failed": len(self.failed),
            "cases": [
                {
                    "case": r.where or r.case.name,
                    "name": r.case.name,
                    "passed": r.passed,
                    "failures": list(r.failures),
                    "behavior": r.decision.behavior,
                    "rule": r.decision.rule.text if r.decision.rule else None,
                }
                for r in self.results
            ],
            "coverage": {
                "rules": self.rules,
                "covered": self.rules - len(self.uncovered),
                "uncovered": [
                    {"rule": u.text, "id": u.id, "list": u.list, "source": str(u.source)} for u in self.uncovered
                ],
            },
        }


def _yaml(file: Path, text: str) -> Any:
    try:
        import yaml  # type: ignore[import-untyped]
    except ImportError:
        raise PolicyError(f"{file}: YAML case files need pyyaml (pip install 'magistrate[ingest]')") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PolicyError(f"{file}: not valid YAML: {exc}") from None


def load_cases(path: str | Path) -> CaseFile:
    """Read a case file (JSON, or YAML when the name ends in .yaml/.yml); raises PolicyError naming the file."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"{file}: cannot read the case file: {exc.strerror or exc}") from None
    if file.suffix in {".yaml", ".yml"}:
        data = _yaml(file, text)
    else:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise PolicyError(f"{file}: not valid JSON: {exc}") from None
    if isinstance(data, list):
        data = {"cases": data}
    try:
        return CaseFile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise PolicyError(f"{file}: {where}: {first.get('msg', 'invalid')}") from None


def find_case_files(paths: Iterable[str | Path]) -> list[Path]:
    """Case files among `paths`: files as given, folders searched for `*.cases.{json,yaml,yml}`."""
    found: list[Path] = []
    for item in paths:
        path = Path(item)
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith(CASE_SUFFIXES)))
        else:
            found.append(path)
    return found


def _rules_of(policy: Policy) -> tuple[RuleRef, ...]:
    strings = getattr(policy, "string_rules", ())
    python = getattr(policy, "python_rules", ())
    return tuple([r.ref for r in strings] + [r.ref for r in python])


def _failures(case: PolicyCase, decision: Decision) -> tuple[str, ...]:
    want = case.expect
    out: list[str] = []
    if decision.behavior != want.behavior:
        why = f" ({decision.message})" if decision.message else ""
        out.append(f"expected {want.behavior}, got {decision.behavior}{why}")
    rule = decision.rule
    if want.rule is not None and (rule is None or want.rule not in (rule.text, rule.id)):
        got = "no rule" if rule is None else f"{rule.text} ({rule.source})"
        out.append(f"expected rule {want.rule!r} to decide, got {got}")
    if want.input is not None and dict(decision.input) != want.input:
        out.append(f"expected input {json.dumps(want.input)}, got {json.dumps(dict(decision.input), default=str)}")
    if want.message is not None and want.message not in decision.message:
        out.append(f"expected the message to contain {want.message!r}, got {decision.message!r}")
    return tuple(out)


async def run_case(policy: Policy, case: PolicyCase, *, base: str | Path = ".") -> CaseResult:
    """Decide one case's call; relative cwds resolve against `base`."""
    cwd = Path(base).absolute() / (case.cwd or ".")
    context = CallContext(cwd=str(cwd.resolve()), permission_mode=case.mode, labels=dict(case.labels))
    decision = await policy.decide(ToolCall(case.tool, dict(case.input)), context)
    return CaseResult(case, decision, _failures(case, decision))


async def run_cases(
    policy: Policy, cases: Sequence[PolicyCase], *, base: str | Path = ".", where: str = ""
) -> PolicyTestReport:
    """Run cases against a policy; the report says which failed and which rules no case exercised."""
    results: list[CaseResult] = []
    used: set[str] = set()
    for index, case in enumerate(cases):
        result = await run_case(policy, case, base=base)
        label = f"{where}#{index + 1}" if where else f"#{index + 1}"
        results.append(CaseResult(result.case, result.decision, result.failures, label))
        decision = result.decision
        used.update(r.id for r in (decision.rule, *decision.matched) if r is not None)
    rules = _rules_of(policy)
    return PolicyTestReport(tuple(results), tuple(r for r in rules if r.id not in used), len(rules))


def merge_reports(policy: Policy, reports: Sequence[PolicyTestReport]) -> PolicyTestReport:
    """One report over several case files of the same policy: a rule is covered if any file covered it."""
    rules = _rules_of(policy)
    uncovered = {r.id for r in rules}
    for report in reports:
        uncovered &= {r.id for r in report.uncovered}
    results = tuple(r for report in reports for r in report.results)
    return PolicyTestReport(results, tuple(r for r in rules if r.id in uncovered), len(rules))


def assert_decides(
    policy: Policy,
    tool: str,
    tool_input: Mapping[str, Any],
    behavior: Behavior,
    *,
    rule: str | None = None,
    updated_input: Mapping[str, Any] | None = None,
    message: str | None = None,
    cwd: str | Path = ".",
    mode: PermissionMode = "default",
    labels: Mapping[str, str] | None = None,
) -> Decision:
    """In a pytest test: decide one call and fail with every mismatch explained; returns the decision.

    ``assert_decides(policy, "Bash", {"command": "curl x"}, "deny", rule="Bash(curl:*)")``
    """
    case = PolicyCase(
        tool=tool,
        input=dict(tool_input),
        cwd=str(cwd),
        mode=mode,
        labels=dict(labels or {}),
        expect=Expectation(
            behavior=behavior,
            rule=rule,
            input=None if updated_input is None else dict(updated_input),
            message=message,
        ),
    )
    result = anyio.run(lambda: run_case(policy, case))
    if result.failures:
        raise AssertionError(f"{tool} {json.dumps(dict(tool_input), default=str)}: " + "; ".join(result.failures))
    return result.decision
