"""Policy tests: cases that say what a policy must decide, so a change is checked before it ships.

A case names one tool call (tool, input, and optionally cwd, permission mode, labels and the session's earlier
calls) and what must come of it: the behaviour, and optionally the deciding rule (its text or id), the
rewritten input and a part of the message. Cases live in a data file next to the policy (`_policy_cases`), or
in plain pytest through `assert_decides`. Running them also reports coverage: every rule of the policy that no
case exercised (that neither decided a case nor matched its call), with its file and line, because a rule
nobody tested is a rule nobody knows still does what it says.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio

from magistrate.broker._call import CallContext, PermissionMode, PriorDecision, ToolCall
from magistrate.broker._decision import Behavior, Decision, RuleRef
from magistrate.broker._interfaces import Policy
from magistrate.broker._policy_cases import Expectation, PolicyCase, find_case_files, load_cases, normal, policy_of
from magistrate.broker._policy_errors import PolicyError


@dataclass(frozen=True, slots=True)
class CaseResult:
    """A case run: the decision, and what did not match the expectation (empty when it passed)."""

    case: PolicyCase
    decision: Decision
    failures: tuple[str, ...]
    where: str = ""
    """`file#number` of the case, for the report."""

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
    policy: str = ""
    """The policy file the cases ran against, when they ran against a file."""

    @property
    def failed(self) -> tuple[CaseResult, ...]:
        return tuple(r for r in self.results if not r.passed)

    def to_json(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "passed": sum(r.passed for r in self.results),
            "failed": len(self.failed),
            "cases": [
                {
                    "case": r.where,
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
                    {
                        "rule": u.text,
                        "id": u.id,
                        "list": u.list,
                        "file": u.source.path,
                        "line": u.source.line,
                        "source": str(u.source),
                    }
                    for u in self.uncovered
                ],
            },
        }


def rules_of(policy: Policy) -> tuple[RuleRef, ...]:
    """The rules of a policy coverage counts: its rule strings and Python rules (none for other policies)."""
    strings = getattr(policy, "string_rules", ())
    python = getattr(policy, "python_rules", ())
    return tuple(dict.fromkeys([r.ref for r in strings] + [r.ref for r in python]))


def _names(rule: RuleRef) -> tuple[str, ...]:
    """What a case may call a rule: its text, its id, and a Python rule's plain name (not its qualified one)."""
    plain = rule.text.rsplit(".", 1)[-1] if rule.list == "python" else rule.text
    return (rule.text, rule.id, plain)


def _failures(case: PolicyCase, decision: Decision) -> tuple[str, ...]:
    want = case.expect
    out: list[str] = []
    if decision.behavior != want.behavior:
        why = f" ({decision.message})" if decision.message else ""
        out.append(f"expected {want.behavior}, got {decision.behavior}{why}")
    rule = decision.rule
    if want.rule is not None and (rule is None or want.rule not in _names(rule)):
        got = "no rule (magistrate decided)" if rule is None else f"{rule.text} ({rule.source})"
        out.append(f"expected rule {want.rule!r} to decide, got {got}")
    if want.input is not None and dict(decision.input) != want.input:
        out.append(f"expected input {json.dumps(want.input)}, got {json.dumps(dict(decision.input), default=str)}")
    if want.message is not None and want.message not in decision.message:
        out.append(f"expected the message to contain {want.message!r}, got {decision.message!r}")
    return tuple(out)


async def run_case(policy: Policy, case: PolicyCase, *, base: str | Path = ".", where: str = "") -> CaseResult:
    """Decide one case's call; a relative cwd resolves against `base` (the case file's folder)."""
    cwd = Path(base).absolute() / (case.cwd or ".")
    history = tuple(PriorDecision(p.tool, dict(p.input), p.behavior) for p in case.history)
    context = CallContext(
        session_id="policy-test" if history else "",
        cwd=str(cwd.resolve()),
        permission_mode=case.mode,
        labels=dict(case.labels),
        history=history,
    )
    call = ToolCall(case.tool, dict(case.input))
    try:
        decision = await policy.decide(call, context)
    except Exception as exc:  # noqa: BLE001 - a policy object that raises fails its case, it does not end the run
        error = f"{type(exc).__name__}: {exc}"
        decision = Decision("deny", call.tool_input, message="the policy raised", error=error)
    return CaseResult(case, decision, _failures(case, decision), where)


async def run_cases(
    policy: Policy, cases: Sequence[PolicyCase], *, base: str | Path = ".", where: str = ""
) -> PolicyTestReport:
    """Run cases against a policy; the report says which failed and which rules no case exercised."""
    results: list[CaseResult] = []
    used: set[str] = set()
    for index, case in enumerate(cases):
        label = f"{where}#{index + 1}" if where else f"#{index + 1}"
        result = await run_case(policy, case, base=base, where=label)
        results.append(result)
        decision = result.decision
        used.update(r.id for r in (decision.rule, *decision.matched) if r is not None)
    rules = rules_of(policy)
    return PolicyTestReport(tuple(results), tuple(r for r in rules if r.id not in used), len(rules))


def merge_reports(policy: Policy, reports: Sequence[PolicyTestReport], *, name: str = "") -> PolicyTestReport:
    """One report over several case files of the same policy: a rule is covered if any file covered it."""
    rules = rules_of(policy)
    uncovered = {r.id for r in rules}
    for report in reports:
        uncovered &= {r.id for r in report.uncovered}
    results = tuple(r for report in reports for r in report.results)
    return PolicyTestReport(results, tuple(r for r in rules if r.id in uncovered), len(rules), name)


async def run_case_files(
    paths: Iterable[str | Path], *, policy: str | Path | None = None, fallback: str | Path | None = None
) -> list[PolicyTestReport]:
    """Run the case files `paths` name (see `find_case_files`), one report per policy they test.

    Each file tests `policy` when given, else the policy it names or is named after, else `fallback`
    (`MAGISTRATE_POLICY`, for the command line). Raises PolicyError for a case file that cannot be read or
    has no policy, and PolicyLoadError for a policy that does not load.
    """
    from magistrate.broker._policy_sources import load_policy

    grouped: dict[Path, list[tuple[Path, Any]]] = {}
    for file in find_case_files(paths):
        cases = load_cases(file)
        chosen = policy if policy is not None else policy_of(file, cases) or fallback
        if chosen is None:
            raise PolicyError(f'{file}: which policy does it test? name it ("policy": "policy.py"), or --policy')
        grouped.setdefault(normal(chosen), []).append((file, cases))
    reports: list[PolicyTestReport] = []
    for policy_file, files in grouped.items():
        loaded = load_policy(policy_file)
        parts = [await run_cases(loaded, c.cases, base=f.parent, where=str(f)) for f, c in files]
        reports.append(merge_reports(loaded, parts, name=str(policy_file)))
    return reports


def assert_decides(
    policy: Policy | str | Path,
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
    history: Sequence[tuple[str, Mapping[str, Any], Behavior]] = (),
) -> Decision:
    """In a pytest test: decide one call and fail with every mismatch explained; returns the decision.

    ``assert_decides(policy, "Bash", {"command": "curl x"}, "deny", rule="Bash(curl:*)")``

    `policy` is a policy or the path of one; `history` lists the session's earlier calls as
    `(tool, input, behavior)`, oldest first. Call it from synchronous code (it runs its own event loop).
    """
    if isinstance(policy, (str, Path)):
        from magistrate.broker._policy_sources import load_policy

        policy = load_policy(policy)
    case = PolicyCase.model_validate(
        {
            "tool": tool,
            "input": dict(tool_input),
            "cwd": str(cwd),
            "mode": mode,
            "labels": dict(labels or {}),
            "history": [{"tool": t, "input": dict(i), "behavior": b} for t, i, b in history],
            "expect": Expectation(
                behavior=behavior,
                rule=rule,
                input=None if updated_input is None else dict(updated_input),
                message=message,
            ),
        }
    )
    chosen = policy
    result = anyio.run(lambda: run_case(chosen, case))
    if result.failures:
        raise AssertionError(f"{tool} {json.dumps(dict(tool_input), default=str)}: " + "; ".join(result.failures))
    return result.decision
