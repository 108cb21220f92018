"""`lint_policy`: the mistakes that load fine and then quietly do the wrong thing, each with its file and line.

Loading already refuses what cannot be read (every `RuleProblem`). Lint adds what reads well and means
nothing: a settings key Claude Code does not know (`"permisions"`, so none of the rules apply), a rule naming
a tool or MCP tool that does not exist (`mcp__documents__search` when the tool is `search_documents`), a rule
that can never decide because another covers it (`_rule_shadows`). Each finding says what was probably meant
when something close exists.

Which MCP servers exist is only known for the ones magistrate bundles (the caller passes their manifests;
the approval server is always known). A rule for any other server is taken as written, unless its name is a
near miss of a bundled one.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from magistrate.broker._decision import RuleSource
from magistrate.broker._defaults import SERVER_NAME, TOOL_NAME
from magistrate.broker._interfaces import Policy
from magistrate.broker._policy_errors import PolicyLoadError
from magistrate.broker._rule_shadows import shadows
from magistrate.broker._settings import key_line
from magistrate.broker._tool_names import CLI_VERSION, KNOWN_TOOLS, closest

# Claude Code's settings keys (checked against the pinned CLI). An unknown key is reported when it is a near
# miss of one of these; newer CLIs add keys, so an unknown key that resembles none is left alone.
SETTINGS_KEYS = frozenset(
    {
        "$schema",
        "allowManagedHooksOnly",
        "allowManagedPermissionRulesOnly",
        "allowedMcpServers",
        "alwaysThinkingEnabled",
        "apiKeyHelper",
        "attribution",
        "autoMemoryDirectory",
        "autoUpdatesChannel",
        "awsAuthRefresh",
        "awsCredentialExport",
        "claudeMdExcludes",
        "cleanupPeriodDays",
        "companyAnnouncements",
        "deniedMcpServers",
        "disableAllHooks",
        "disabledMcpjsonServers",
        "effortLevel",
        "enableAllProjectMcpServers",
        "enabledMcpjsonServers",
        "enabledPlugins",
        "env",
        "extraKnownMarketplaces",
        "fallbackModel",
        "fileSuggestion",
        "forceLoginMethod",
        "forceLoginOrgUUID",
        "hooks",
        "includeCoAuthoredBy",
        "includeGitInstructions",
        "language",
        "model",
        "modelOverrides",
        "otelHeadersHelper",
        "outputStyle",
        "permissions",
        "plansDirectory",
        "respectGitignore",
        "sandbox",
        "showTurnDuration",
        "skipWebFetchPreflight",
        "spinnerTipsEnabled",
        "spinnerVerbs",
        "statusLine",
        "strictKnownMarketplaces",
        "terminalProgressBarEnabled",
        "theme",
        "verbose",
    }
)
PERMISSIONS_KEYS = frozenset(
    {"allow", "ask", "deny", "additionalDirectories", "defaultMode", "disableBypassPermissionsMode", "disableAutoMode"}
)

FindingKind = Literal["load", "settings", "tool", "shadow"]


@dataclass(frozen=True, slots=True)
class LintFinding:
    """One mistake: where it is, what is wrong, and the rule it is about (if any)."""

    kind: FindingKind
    source: RuleSource
    message: str
    rule: str = ""
    list: str | None = None

    def __str__(self) -> str:
        if not self.rule:
            return f"{self.source}: {self.message}"
        in_list = f" in {self.list}" if self.list else ""
        return f"{self.source}: rule {self.rule!r}{in_list}: {self.message}"


@dataclass(frozen=True, slots=True)
class LintReport:
    """Every finding, in file and line order; `policy` is None when it did not load."""

    findings: tuple[LintFinding, ...]
    policy: Policy | None


def _settings_findings(path: str) -> list[LintFinding]:
    try:
        text = Path(path).read_text(encoding="utf-8")
        data: Any = json.loads(text) if text.strip() else {}
    except (OSError, UnicodeDecodeError, ValueError):
        return []  # loading reports an unreadable file
    if not isinstance(data, dict):
        return []
    found: list[LintFinding] = []
    for key in data:
        guess = None if key in SETTINGS_KEYS else closest(key, SETTINGS_KEYS)
        if guess is not None:
            message = f"unknown settings key {key!r}: did you mean {guess!r}? (the key and what it holds are ignored)"
            found.append(LintFinding("settings", RuleSource("settings", path, key_line(text, key)), message))
    permissions = data.get("permissions")
    for key in permissions if isinstance(permissions, dict) else ():
        if key not in PERMISSIONS_KEYS:
            guess = closest(key, PERMISSIONS_KEYS)
            hint = f": did you mean {guess!r}?" if guess else f" (known: {', '.join(sorted(PERMISSIONS_KEYS))})"
            where = RuleSource("settings", path, key_line(text, key, within="permissions"))
            found.append(LintFinding("settings", where, f"unknown key 'permissions.{key}'{hint}; it is ignored"))
    return found


def _mcp_problem(server: str, tool: str | None, servers: Mapping[str, frozenset[str]]) -> str | None:
    names = servers.get(server)
    if names is None:
        guess = None if "*" in server else closest(server, servers)
        return None if guess is None else f"no MCP server {server!r} is bundled; did you mean 'mcp__{guess}'?"
    if tool is None or any(fnmatch.fnmatchcase(name, tool) for name in names):
        return None
    guess = closest(tool, names)
    hint = f"; did you mean 'mcp__{server}__{guess}'?" if guess else ""
    return f"matches no tool of the bundled {server} server (it has {', '.join(sorted(names))}){hint}"


def tool_problem(name: str, servers: Mapping[str, frozenset[str]]) -> str | None:
    """Why a rule's tool name or glob (`Bash`, `mcp__documents__search`, `mcp__docs__*`) matches no tool."""
    if name.startswith("mcp__"):
        server, sep, tool = name[len("mcp__") :].partition("__")
        return _mcp_problem(server, tool if sep else None, servers)
    if name == "*" or any(fnmatch.fnmatchcase(t, name) for t in KNOWN_TOOLS):
        return None
    guess = None if "*" in name else closest(name, KNOWN_TOOLS)
    hint = f"; did you mean {guess!r}?" if guess else ""
    return f"matches no tool: Claude Code {CLI_VERSION} has no tool {name!r}{hint}"


def _rule_findings(policy: Any, servers: Mapping[str, frozenset[str]]) -> list[LintFinding]:
    found: list[LintFinding] = []
    for rule in getattr(policy, "string_rules", ()):
        ref = rule.ref
        problem = tool_problem(ref.text.partition("(")[0], servers)
        if problem is not None:
            found.append(LintFinding("tool", ref.source, problem, ref.text, ref.list))
    for python in getattr(policy, "python_rules", ()):
        for pattern in python.tools:
            problem = tool_problem(pattern, servers)
            if problem is not None:
                found.append(LintFinding("tool", python.ref.source, f"{pattern!r} {problem}", python.ref.text, None))
    for shadow in shadows(getattr(policy, "string_rules", ())):
        ref = shadow.rule.ref
        found.append(LintFinding("shadow", ref.source, str(shadow), ref.text, ref.list))
    return found


def lint_policy(
    path: str | Path, *, servers: Mapping[str, Iterable[str]] | None = None, home: str | None = None
) -> LintReport:
    """Load the policy at `path` and list every problem: load errors, settings keys, unknown tools, shadows.

    `servers` maps the MCP servers whose tools are known (name -> tool names); the approval server is added.
    """
    from magistrate.broker._policy_sources import load_policy

    known = {name: frozenset(tools) for name, tools in (servers or {}).items()}
    known.setdefault(SERVER_NAME, frozenset({TOOL_NAME}))
    file = Path(path).expanduser().absolute()
    findings: list[LintFinding] = []
    policy: Policy | None = None
    try:
        policy = load_policy(file, home=home)
    except PolicyLoadError as exc:
        findings.extend(LintFinding("load", p.source, p.reason, p.rule, p.list) for p in exc.errors)
    settings = [str(file)] if file.suffix != ".py" else list(getattr(policy, "settings_files", ()))
    for settings_file in settings:
        findings.extend(_settings_findings(settings_file))
    if policy is not None:
        findings.extend(_rule_findings(policy, known))
    findings.sort(key=lambda f: (f.source.path or "", f.source.line or 0))
    return LintReport(tuple(findings), policy)
