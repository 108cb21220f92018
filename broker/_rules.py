"""Claude Code rule strings (`Bash(npm run test:*)`, `Read(./src/**)`, `mcp__docs__*`), parsed and checked.

The CLI skips a rule it cannot read, mostly without a word, so a typo silently widens or narrows what runs.
magistrate refuses instead: every malformed rule is a `RuleProblem`, and a policy with any does not load.
Refused forms: a lowercase tool name, empty or unbalanced parentheses, `Bash(:*)`, `:*` anywhere but the end
of a Bash rule or in a file rule, a URL where `domain:` belongs, parentheses on an MCP rule or a tool-name
glob, a tool-name glob in an allow (the CLI skips it), a compound Bash allow with a pipe or a redirection
(the CLI never matches one), `Tool(param:value)` in an allow, and `Write(...)` in an allow (the CLI ignores a
Write allow; an Edit rule covers Write, and a Write deny or ask, which the CLI applies to the Write tool only,
is read as the Edit rule it means).

Forms read as the CLI 2.1.330 reads them (each checked on the real CLI, tests/broker/test_cli_agreement.py):

- A tool-name glob in a deny or ask (`mcp__*`, `mcp__s*`, `Bas*`, `*`) matches tool names by glob, case-
  sensitively; one that matches `Read` or `Edit` also covers the rest of that family, never less than the CLI.
- A `Read(...)` deny also denies editing and writing the same paths, as the CLI does; an `Edit` deny covers
  `Write`.
- A compound Bash allow (`Bash(make && make test)`) allows exactly that command line; a compound deny or ask
  matches any line that runs all of its commands (the CLI matches the whole line only: magistrate is stricter).
- `Bash(touch :*)`, a space before `:*`, matches nothing in the CLI. As an allow it matches nothing here too;
  as a deny or ask it is read as the prefix `touch`, failing closed. Either way the policy carries a warning.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Literal

from magistrate.broker._bash_lexer import parse as parse_shell
from magistrate.broker._decision import RuleRef, RuleSource
from magistrate.broker._domains import domain_error
from magistrate.broker._paths import PathPattern, compile_path
from magistrate.broker._policy_errors import RuleProblem
from magistrate.broker._tool_names import KNOWN_TOOLS, closest

ListName = Literal["allow", "ask", "deny"]

READ_TOOLS = frozenset({"Read", "Grep", "Glob", "NotebookRead", "LS"})
EDIT_TOOLS = frozenset({"Edit", "Write", "MultiEdit", "NotebookEdit"})
AGENT_TOOLS = frozenset({"Agent", "Task"})
_TOOL_NAME = re.compile(r"[A-Z][A-Za-z0-9_]*")
_MCP_PART = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True, slots=True)
class StringRule:
    """One parsed rule string; `kind` says which fields are set."""

    ref: RuleRef
    kind: Literal["tool", "bash", "path", "domain", "name", "param", "mcp", "tool_glob"]
    tools: frozenset[str]
    """Tool names the rule applies to (for an MCP rule: the `mcp__server` key; for a tool glob: the families
    it also covers, beyond the names its regex matches)."""
    bash_mode: Literal["exact", "prefix", "glob", "any", "compound", "never"] = "any"
    bash_words: tuple[str, ...] = ()
    bash_text: str = ""
    """An exact or compound Bash rule's command as written: an allow matches it literally, as the CLI does."""
    bash_parts: tuple[tuple[str, ...], ...] = ()
    """A compound Bash rule's commands, as words: a deny or ask matches a line that runs all of them."""
    regex: re.Pattern[str] | None = None
    """Bash glob, or the glob of a `name`/`param` value, or an MCP tool glob, or a tool-name glob."""
    path: PathPattern | None = None
    gates_bash: Literal["read", "edit", None] = None
    """A file deny or ask also gates Bash: which of a command's paths it checks."""
    domain: str = ""
    param: str = ""
    warning: str = ""
    """Set when the rule loads but does not mean what it seems to (`Bash(touch :*)`); `policy lint` shows it."""


def _glob_regex(text: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in text.split("*")), re.DOTALL)


def rule_id(list_name: str, text: str, source: RuleSource) -> str:
    """A stable id: the same rule text in the same list of the same file keeps it across loads."""
    digest = hashlib.sha256(f"{list_name}\0{text}\0{source.kind}\0{source.path or ''}".encode()).hexdigest()
    return f"{list_name}:{digest[:12]}"


_WHOLE_LINE_OPERATORS = frozenset({"&&", "||", ";"})
"""Checked against the CLI: an allow equal to a line joined by these runs it; one with `|` never matches."""


def _compound(ref: RuleRef, body: str, mode: str, list_name: ListName) -> StringRule | str:
    parsed = parse_shell(body)
    if mode != "exact":
        return "a compound Bash rule names one exact command line: the CLI matches no prefix or glob of one"
    if any(c.redirects for c in parsed.commands):
        return "a Bash rule cannot contain a redirection (the CLI asks about every redirection to a file)"
    if list_name == "allow" and not set(parsed.operators) <= _WHOLE_LINE_OPERATORS:
        return "the CLI never matches a compound allow joined by '|' or '&'; allow each command on its own"
    parts = tuple(tuple(c.words) for c in parsed.commands)
    return StringRule(ref, "bash", frozenset({"Bash"}), bash_mode="compound", bash_text=body.strip(), bash_parts=parts)


def _bash(ref: RuleRef, spec: str, list_name: ListName) -> StringRule | str:
    if spec == "*":
        return StringRule(ref, "bash", frozenset({"Bash"}), bash_mode="any")
    mode: Literal["exact", "prefix", "glob"]
    if spec.endswith(":*") or (spec.endswith(" *") and spec.count("*") == 1):
        mode, body = "prefix", spec[:-2]
    else:
        mode, body = ("glob" if "*" in spec else "exact"), spec
    if ":*" in body:
        return "':*' may only end a Bash rule"
    if not body.strip():
        return "a Bash prefix rule needs a command before ':*'"
    parsed = parse_shell(body)
    if parsed.error:
        return f"the command does not parse ({parsed.error})"
    if parsed.opaque or parsed.nested:
        return "a Bash rule names plain commands: no substitutions, groups or control keywords"
    if len(parsed.commands) > 1:
        return _compound(ref, body, mode, list_name)
    if len(parsed.commands) != 1:
        return "a Bash rule names a command"
    if parsed.commands[0].redirects:
        return "a Bash rule cannot contain a redirection"
    words = tuple(parsed.commands[0].words)
    warning = ""
    if spec.endswith(":*") and body != body.rstrip():
        # Checked against the CLI: `Bash(touch :*)` matches nothing, in allow, ask and deny alike.
        if list_name == "allow":
            warning = f"the CLI matches nothing with a space before ':*'; write Bash({body.strip()}:*) to allow it"
            return StringRule(ref, "bash", frozenset({"Bash"}), bash_mode="never", bash_words=words, warning=warning)
        warning = (
            f"the CLI matches nothing with a space before ':*'; magistrate reads it as Bash({body.strip()}:*) "
            "to fail closed"
        )
    regex = _glob_regex(" ".join(words)) if mode == "glob" else None
    return StringRule(
        ref,
        "bash",
        frozenset({"Bash"}),
        bash_mode=mode,
        bash_words=words,
        bash_text=body.strip(),
        regex=regex,
        warning=warning,
    )


def _file(ref: RuleRef, tool: str, spec: str, *, list_name: ListName, root: str, home: str) -> StringRule | str:
    if ":*" in spec:
        return "':*' belongs to Bash rules; file rules take gitignore-style globs"
    if spec.startswith("domain:"):
        return "'domain:' belongs to WebFetch rules"
    deny_side = list_name != "allow"
    family: Literal["read", "edit"] = "read" if tool in READ_TOOLS else "edit"
    if tool == "Write" and list_name == "allow":
        return "the CLI ignores Write(...) rules; Edit(...) covers Write and every editing tool"
    tools = READ_TOOLS if family == "read" else EDIT_TOOLS
    if tool not in {"Read", "Edit", "Write"}:
        tools = frozenset({tool})
    if tool == "Read" and list_name == "deny":
        tools |= EDIT_TOOLS  # checked against the CLI: a file it may not read, it may not edit or write either
    pattern = compile_path(spec, deny_side=deny_side, source_root=root, home=home)
    gate: Literal["read", "edit", None] = family if deny_side and tool in {"Read", "Edit", "Write"} else None
    return StringRule(ref, "path", tools | ({"Bash"} if gate else set()), path=pattern, gates_bash=gate)


def _specifier(ref: RuleRef, tool: str, spec: str, *, list_name: ListName, root: str, home: str) -> StringRule | str:
    if tool == "Bash":
        return _bash(ref, spec, list_name)
    if tool in READ_TOOLS or tool in EDIT_TOOLS:
        return _file(ref, tool, spec, list_name=list_name, root=root, home=home)
    if tool == "WebFetch":
        if not spec.startswith("domain:"):
            if "://" in spec:
                return "a URL where a domain belongs: write WebFetch(domain:host)"
            return "WebFetch rules take 'domain:host'"
        value = spec[len("domain:") :]
        problem = domain_error(value)
        return problem or StringRule(ref, "domain", frozenset({"WebFetch"}), domain=value.lower())
    if tool in AGENT_TOOLS or tool == "Skill":
        tools = AGENT_TOOLS if tool in AGENT_TOOLS else frozenset({tool})
        value = spec[:-2] + "*" if spec.endswith(":*") else spec
        return StringRule(ref, "name", tools, regex=_glob_regex(value))
    param, colon, value = spec.partition(":")
    if not colon or not param.isidentifier() or not value:
        guess = None if tool in KNOWN_TOOLS else closest(tool, KNOWN_TOOLS)
        if guess is not None:
            return f"Claude Code has no tool {tool!r}: did you mean {guess!r}?"
        return f"{tool} rules take 'param:value' (deny and ask only)"
    if list_name == "allow":
        return "'param:value' rules are for deny and ask; an allow must name what it allows"
    return StringRule(ref, "param", frozenset({tool}), param=param, regex=_glob_regex(value))


def _mcp(ref: RuleRef, text: str, list_name: ListName) -> StringRule | str:
    if "(" in text or ")" in text:
        return "MCP rules take no parentheses: write mcp__server or mcp__server__tool"
    server, sep, tool = text[len("mcp__") :].partition("__")
    if not server or "*" in server:
        return "the server of an MCP rule must be named (mcp__server, mcp__server__tool, mcp__server__*)"
    if not _MCP_PART.fullmatch(server) or (sep and (not tool or not _MCP_PART.fullmatch(tool.replace("*", "x")))):
        return "not an MCP tool name"
    regex = _glob_regex(tool) if sep and tool != "*" else None
    del list_name
    return StringRule(ref, "mcp", frozenset({f"mcp__{server}"}), regex=regex)


def _named_mcp_server(text: str) -> bool:
    """`mcp__server__tool*` names its server: an MCP rule, not a tool-name glob."""
    server, sep, _ = text[len("mcp__") :].partition("__")
    return text.startswith("mcp__") and bool(sep) and bool(server) and "*" not in server


_TOOL_GLOB = re.compile(r"(?:[A-Z]|mcp|\*)[A-Za-z0-9_*-]*")
_FAMILIES: tuple[tuple[str, frozenset[str]], ...] = (("Read", READ_TOOLS), ("Edit", EDIT_TOOLS), ("Write", EDIT_TOOLS))


def _tool_glob(ref: RuleRef, text: str, list_name: ListName) -> StringRule | str:
    """`mcp__*`, `Bas*`, `*`: a deny or ask over tool names, as the CLI reads it (case-sensitive)."""
    if "(" in text or ")" in text:
        return "a tool-name glob takes no parentheses (the CLI ignores such a rule); name the tool"
    if list_name == "allow":
        return "the CLI skips a tool-name glob in an allow; name the tools to allow (globs are for deny and ask)"
    if not _TOOL_GLOB.fullmatch(text):
        hint = "" if not text[:1].islower() else " (tool names are capitalised, and the CLI matches them by case)"
        return f"not a tool-name glob{hint}"
    regex = _glob_regex(text)
    also = frozenset().union(*(family for name, family in _FAMILIES if regex.fullmatch(name)))
    if regex.fullmatch("Agent") or regex.fullmatch("Task"):
        also |= AGENT_TOOLS
    return StringRule(ref, "tool_glob", also, regex=regex)


def parse_rule(text: str, list_name: ListName, source: RuleSource, *, root: str, home: str) -> StringRule | RuleProblem:
    """Parse one rule string; `root` anchors `/p` file patterns, `home` anchors `~/p`."""
    ref = RuleRef(id=rule_id(list_name, text, source), text=text, source=source, list=list_name)

    def problem(reason: str) -> RuleProblem:
        return RuleProblem(rule=text, source=source, reason=reason, list=list_name)

    if not isinstance(text, str):
        return problem("a rule must be a string")
    if text != text.strip() or not text:
        return problem("empty rule or surrounding whitespace")
    tool, paren, rest = text.partition("(")
    if "*" in tool and not _named_mcp_server(text):
        result = _tool_glob(ref, text, list_name)
        return problem(result) if isinstance(result, str) else result
    if text.startswith("mcp__"):
        result = _mcp(ref, text, list_name)
        return problem(result) if isinstance(result, str) else result
    if paren and not rest.endswith(")"):
        return problem("missing ')' at the end")
    if not paren and ")" in text:
        return problem("unbalanced ')'")
    if not _TOOL_NAME.fullmatch(tool):
        hint = f": did you mean {tool[:1].upper() + tool[1:]!r}?" if tool[:1].islower() else ""
        return problem(f"not a tool name (tool names are capitalised{hint})")
    if not paren:
        tools = {"Read": READ_TOOLS, "Edit": EDIT_TOOLS}.get(tool, AGENT_TOOLS if tool in AGENT_TOOLS else None)
        if list_name == "allow" and tool == "Edit":
            # Checked against the CLI: a bare Edit allow does not let Write run; a bare Write allow does.
            tools = EDIT_TOOLS - {"Write"}
        elif tool == "Write" and list_name != "allow":
            tools = EDIT_TOOLS  # a Write deny or ask means every editing tool, never less than the CLI
        return StringRule(ref, "tool", tools or frozenset({tool}))
    spec = rest[:-1]
    if not spec:
        return problem("empty parentheses: write the bare tool name to mean every call")
    result = _specifier(ref, tool, spec, list_name=list_name, root=root, home=home)
    return problem(result) if isinstance(result, str) else result
