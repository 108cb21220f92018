"""`RulePolicy`: rule strings, settings files and Python rules, combined into one explained decision.

How the parts combine (the same for every source):

1. A matching **deny** decides, whoever wrote it; nothing undoes it, so Python rules are not even run.
2. Python rules for the tool run in registration order; a `Deny` (or a rule that fails) decides at once.
3. Any **ask**, from a rule string or a Python rule, decides next.
4. An **allow** from a rule string or a Python rule decides next. An `Allow(updated_input=...)` is validated
   against the tool's input model and checked again against every deny and ask (strings and Python rules)
   before it is returned.
5. Nothing matched: the policy's default (`deny` unless declared; settings-only policies default to `ask`,
   as the CLI would prompt, adjusted by the settings' `defaultMode`).

The session's `dontAsk` mode turns a final ask into a deny, and `plan` mode denies every editing tool before
any allow is read (as the CLI does); no mode widens a policy written for magistrate. A policy standing in
for the CLI (`claude_code_policy`, a settings file) follows the modes as the CLI does: with nothing matched,
reading and read-only commands inside the working directories run unasked in every mode, `acceptEdits` adds
edits and file commands there (never on a sensitive file), `bypassPermissions` allows everything, and
`dontAsk` denies the rest.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TypeVar

from magistrate.broker._bash_unasked import runs_unasked
from magistrate.broker._call import CallContext, ToolCall
from magistrate.broker._decision import Behavior, Decision, RuleRef, RuleSource
from magistrate.broker._paths import inside, sensitive
from magistrate.broker._policy_errors import PolicyLoadError, RuleProblem
from magistrate.broker._policy_lines import keyword_line, python_rule_specs
from magistrate.broker._python_rules import PythonRule, RuleFunction, make_rule
from magistrate.broker._rule_set import CallFacts, RuleSet
from magistrate.broker._rules import EDIT_TOOLS, READ_TOOLS, StringRule, parse_rule
from magistrate.broker._settings import RuleSpec, read_settings

F = TypeVar("F", bound=RuleFunction)
RULE_TIMEOUT = 5.0
"""Seconds a Python rule may take, unless the policy or the rule says otherwise."""


def _argument_problems(origin: Path | None, near: int, *, default: object, rule_timeout: object) -> list[RuleProblem]:
    """Bad constructor values, each pointed at the line of its keyword in the policy file."""
    problems: list[RuleProblem] = []

    def bad(name: str, reason: str) -> None:
        where = RuleSource("python", str(origin), keyword_line(origin, name, near=near)) if origin else None
        problems.append(RuleProblem("", where or RuleSource("default"), reason))

    if default not in ("allow", "deny", "ask"):
        bad("default", f"default must be allow, deny or ask, not {default!r}")
    if isinstance(rule_timeout, bool) or not isinstance(rule_timeout, (int, float)) or not rule_timeout > 0:
        bad("rule_timeout", f"rule_timeout must be a positive number of seconds, not {rule_timeout!r}")
    return problems


class RulePolicy:
    """A policy: rule-string lists, settings files and Python rules. Satisfies the `Policy` protocol.

    In a `policy.py`::

        policy = RulePolicy(default="deny", allow=["Bash(npm run test:*)"], deny=["Read(.env)"])

        @policy.rule("Bash")
        def no_force_push(call, context):
            if "push --force" in call.input.command:
                return Deny("force pushes are reviewed by a person")
    """

    def __init__(
        self,
        *,
        default: Behavior = "deny",
        allow: Sequence[str] = (),
        ask: Sequence[str] = (),
        deny: Sequence[str] = (),
        settings: Sequence[str | Path] = (),
        additional_directories: Sequence[str] = (),
        rule_timeout: float = RULE_TIMEOUT,
        home: str | None = None,
        source_file: str | None = None,
    ) -> None:
        """Build a policy; raises PolicyLoadError naming every bad rule (file and line) at once.

        `settings` are Claude Code settings files whose `permissions` join this policy (relative paths are
        relative to the policy file). `rule_timeout` bounds each Python rule, in seconds.
        """
        frame = sys._getframe(1)
        caller = source_file or frame.f_code.co_filename
        origin = Path(caller).absolute() if not caller.startswith("<") else None
        near = frame.f_lineno if source_file is None else 0
        specs = python_rule_specs(origin, {"allow": allow, "ask": ask, "deny": deny}, near=near)
        problems = _argument_problems(origin, near, default=default, rule_timeout=rule_timeout)
        digests = [hashlib.sha256(origin.read_bytes()).hexdigest()] if origin and origin.is_file() else []
        dirs = list(additional_directories)
        base = origin.parent if origin else Path.cwd()
        files: list[str] = []
        for item in settings:
            part = read_settings(base / Path(item).expanduser(), home=Path(home) if home else None)
            specs.extend(part.specs)
            problems.extend(part.problems)
            dirs.extend(part.additional_directories)
            digests.append(part.digest)
            files.append(part.path)
        self._setup(
            specs=specs,
            problems=problems,
            default=default,
            default_mode=None,
            additional_directories=dirs,
            digests=digests,
            rule_timeout=rule_timeout,
            home=home,
            settings_files=files,
        )

    @classmethod
    def from_specs(
        cls,
        specs: Sequence[RuleSpec],
        *,
        default: Behavior,
        default_mode: str | None = None,
        additional_directories: Sequence[str] = (),
        digests: Sequence[str] = (),
        problems: Sequence[RuleProblem] = (),
        home: str | None = None,
        cli_defaults: bool = False,
        settings_files: Sequence[str] = (),
    ) -> RulePolicy:
        """Build a policy from rule specs already read (settings files, command-line options).

        `cli_defaults` adds the CLI's own default when nothing matched: reading inside the working
        directories (Read, Glob, Grep) needs no permission.
        """
        policy = cls.__new__(cls)
        policy._setup(
            specs=list(specs),
            problems=[*_argument_problems(None, 0, default=default, rule_timeout=5.0), *problems],
            default=default,
            default_mode=default_mode,
            additional_directories=additional_directories,
            digests=digests,
            rule_timeout=RULE_TIMEOUT,
            home=home,
            settings_files=settings_files,
        )
        policy._cli_defaults = cli_defaults
        return policy

    def _setup(
        self,
        *,
        specs: list[RuleSpec],
        problems: list[RuleProblem],
        default: Behavior,
        default_mode: str | None,
        additional_directories: Sequence[str],
        digests: Sequence[str],
        rule_timeout: float,
        home: str | None,
        settings_files: Sequence[str] = (),
    ) -> None:
        self._home = str(Path(home).expanduser()) if home else str(Path.home())
        parsed: list[StringRule] = []
        for spec in specs:
            result = parse_rule(spec.text, spec.list, spec.source, root=spec.root, home=self._home)
            (problems if isinstance(result, RuleProblem) else parsed).append(result)  # type: ignore[arg-type]
        if problems:
            raise PolicyLoadError(sorted(problems, key=lambda p: (p.source.path or "", p.source.line or 0)))
        self.warnings: tuple[RuleProblem, ...] = tuple(
            RuleProblem(r.ref.text, r.ref.source, r.warning, r.ref.list) for r in parsed if r.warning
        )
        """Rules that load but may not mean what they seem to (`Bash(touch :*)`); `policy lint` can show them."""
        self.default: Behavior = default
        self.default_mode = default_mode
        self.rule_timeout = rule_timeout
        self.additional_directories = tuple(additional_directories)
        self._specs = tuple(specs)
        self._rules = RuleSet(parsed)
        self._python: list[PythonRule] = []
        self._python_for: dict[str, tuple[PythonRule, ...]] = {}
        self._digests = tuple(digests)
        self._version = ""
        self._default_ref = RuleRef("default", f"default: {default}", RuleSource("default"), "default")
        self._cli_defaults = False
        self.settings_files = tuple(settings_files)
        """The settings files whose `permissions` joined this policy, as read."""

    # -- building -----------------------------------------------------------------------------------
    def rule(self, *tools: str, id: str | None = None, timeout: float | None = None) -> Callable[[F], F]:
        """Register a Python rule for tool names or globs (`"Bash"`, `"mcp__documents__*"`, `"*"`)."""

        def register(function: F) -> F:
            code = getattr(function, "__code__", None)
            source = RuleSource("python", code.co_filename if code else None, code.co_firstlineno if code else None)
            name = getattr(function, "__qualname__", repr(function))
            rule_id = id or f"python:{name}"
            bad = [t for t in tools if not t or not (t[0].isupper() or t.startswith("mcp__") or t == "*")]
            problem = None
            if not tools or bad:
                problem = f"register a rule for tool names or globs ('Bash', 'mcp__docs__*', '*'), not {bad or '()'}"
            elif any(r.ref.id == rule_id for r in self._python):
                problem = f"a rule with id {rule_id!r} is already registered; pass id= to tell them apart"
            if problem:
                raise PolicyLoadError([RuleProblem(name, source, problem, "python")])
            ref = RuleRef(rule_id, name, source, "python")
            try:
                rule = make_rule(ref, tools, function, timeout or self.rule_timeout)
            except (TypeError, ValueError) as exc:
                raise PolicyLoadError([RuleProblem(name, source, str(exc), "python")]) from None
            self._python.append(rule)
            self._python_for.clear()
            self._version = ""
            return function

        return register

    # -- the Policy protocol -------------------------------------------------------------------------
    @property
    def version(self) -> str:
        """sha256 over the rules, their sources' bytes, the default and the Python rules' code."""
        if not self._version:
            material = {
                "default": self.default,
                "default_mode": self.default_mode,
                "dirs": self.additional_directories,
                "rules": [[s.list, s.text, s.source.kind, s.source.path] for s in self._specs],
                "files": self._digests,
                "python": [
                    [r.ref.id, r.tools, hashlib.sha256(getattr(r.function, "__code__", None).co_code).hexdigest()]  # type: ignore[union-attr]
                    if hasattr(r.function, "__code__")
                    else [r.ref.id, r.tools, ""]
                    for r in self._python
                ],
            }
            self._version = hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()
        return self._version

    @property
    def string_rules(self) -> tuple[StringRule, ...]:
        return self._rules.rules

    @property
    def python_rules(self) -> tuple[PythonRule, ...]:
        return tuple(self._python)

    def python_rules_for(self, tool_name: str) -> tuple[PythonRule, ...]:
        rules = self._python_for.get(tool_name)
        if rules is None:
            rules = tuple(r for r in self._python if r.applies_to(tool_name))
            self._python_for[tool_name] = rules
        return rules

    def prepare(self) -> None:
        """Load the decision path (the rule engine, the tool input models) now rather than with the first call,
        for a caller with time to spare before its first call (an SDK run while its CLI boots)."""
        _load_decide()

    async def decide(self, call: ToolCall, context: CallContext) -> Decision:
        """Decide one call; any failure inside is a deny naming the error, never an exception."""
        started = time.perf_counter_ns()
        try:
            return await (_DECIDE or _load_decide())(self, call, context, started)
        except Exception as exc:  # noqa: BLE001 - failing closed is the point
            return Decision(
                "deny",
                call.tool_input,
                message="the policy failed while deciding this call; denied to be safe",
                policy_version=self.version,
                elapsed_ns=time.perf_counter_ns() - started,
                error=f"{type(exc).__name__}: {exc}",
            )

    # -- helpers used by the decision procedure -----------------------------------------------------
    def facts(self, call: ToolCall, context: CallContext) -> CallFacts:
        return CallFacts(call, context, self._home, self.additional_directories)

    @property
    def rule_set(self) -> RuleSet:
        return self._rules

    def refused_by_mode(self, facts: CallFacts, session_mode: str) -> RuleRef | None:
        """A refusal the session's mode makes before any allow is read: `plan` mode edits nothing.

        Checked against the CLI: in plan mode it refuses Edit and Write even under an allow rule.
        """
        mode = session_mode if session_mode != "default" or not self._cli_defaults else self.default_mode
        if mode == "plan" and facts.call.tool_name in EDIT_TOOLS:
            return RuleRef("default", "mode: plan", RuleSource("default"), "default")
        return None

    def default_for(self, facts: CallFacts, session_mode: str = "default") -> tuple[Behavior, RuleRef]:
        """What happens when nothing matched, after the settings' `defaultMode`.

        A policy that stands in for the plain CLI (`claude_code_policy`, a settings file) also follows the
        session's permission mode, as the CLI does; a policy written for magistrate never widens with it.
        """
        mode = self.default_mode
        if self._cli_defaults and session_mode in {"acceptEdits", "bypassPermissions", "dontAsk", "plan"}:
            mode = session_mode
        if mode == "bypassPermissions":
            return "allow", _mode_ref("mode: bypassPermissions")
        tool = facts.call.tool_name
        edits = mode == "acceptEdits"
        if self._cli_defaults and tool in READ_TOOLS and self._all_inside(facts):
            return "allow", _mode_ref("default: reading inside the working directories")
        command = facts.call.tool_input.get("command")
        if self._cli_defaults and tool == "Bash" and isinstance(command, str):
            dirs = tuple(facts.working_dirs)
            if runs_unasked(command, cwd=facts.cwd, home=self._home, working_dirs=dirs):
                return "allow", _mode_ref("default: a read-only command inside the working directories")
            if edits and runs_unasked(command, cwd=facts.cwd, home=self._home, working_dirs=dirs, accept_edits=True):
                return "allow", _mode_ref("mode: acceptEdits")
        if edits and tool in EDIT_TOOLS and self._all_inside(facts, writes=True):
            return "allow", _mode_ref("mode: acceptEdits")
        if mode == "dontAsk":
            return "deny", _mode_ref("mode: dontAsk")
        return self.default, self._default_ref

    @staticmethod
    def _all_inside(facts: CallFacts, *, writes: bool = False) -> bool:
        paths = facts.paths
        names = [p for spellings in paths for p in spellings]
        if not names or not all(inside(p, facts.working_dirs) for p in names):
            return False
        return not (writes and any(sensitive(p) for p in names))


_DECIDE: Callable[[RulePolicy, ToolCall, CallContext, int], Awaitable[Decision]] | None = None
"""The decision procedure, imported with the first call (it loads pydantic), not with this module."""


def _load_decide() -> Callable[[RulePolicy, ToolCall, CallContext, int], Awaitable[Decision]]:
    global _DECIDE  # noqa: PLW0603 - loaded once, then read on every call
    from magistrate.broker._policy_decide import decide

    _DECIDE = decide
    return decide


def _mode_ref(text: str) -> RuleRef:
    return RuleRef("default", text, RuleSource("default"), "default")
