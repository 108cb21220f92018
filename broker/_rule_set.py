"""Matching one call against every rule string of a policy, fast enough to sit in front of each tool call.

Rules are indexed by the tool they apply to (and Bash rules by their first word), and what a rule asks
about a call (the Bash analysis, the files it names, the hosts a URL reaches) is computed once per call and
only when a rule asks. Deny and ask rules match when any form of the call matches; an allow must cover the
whole call: every top-level part of a Bash line (or the whole line, for a compound allow), every spelling of
a path, every host a URL may reach. As in the CLI, no allow rule covers writing a sensitive file (`.git/`,
`.claude/`, `.bashrc`, ...): that always asks, unless a mode or a Python rule says otherwise.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import NamedTuple

from magistrate.broker._bash import BashAnalysis, analyse
from magistrate.broker._bash_braces import expand as expand_braces
from magistrate.broker._call import CallContext, ToolCall
from magistrate.broker._domains import hosts_of
from magistrate.broker._paths import bounded_glob, inside, literal_prefix, resolve, sensitive, unknowable
from magistrate.broker._rules import EDIT_TOOLS, ListName, StringRule

_PATH_FIELDS = {"file_path": ("Read", "Write", "Edit", "MultiEdit"), "notebook_path": ("NotebookEdit", "NotebookRead")}
_TOOL_PATH_FIELD = {tool: name for name, tools in _PATH_FIELDS.items() for tool in tools}
_MAX_GLOB_EXPANSION = 256
_MAX_GLOBS = 16
"""Globs one decision walks; a line with more is judged as naming files that cannot be known."""
_PATH_MAX = 4096
"""Longer names no system call opens (ENAMETOOLONG); matching them would only cost time."""


@lru_cache(maxsize=256)
def _normal_cwd(cwd: str) -> str:
    return posixpath.normpath(posixpath.join("/", cwd)) if cwd else "/"


class CallFacts:
    """What rules ask about one call, computed lazily and at most once."""

    __slots__ = (
        "_bash",
        "_bash_paths",
        "_folders",
        "_hosts",
        "_paths",
        "_unknown",
        "_words",
        "call",
        "cwd",
        "home",
        "key",
        "working_dirs",
    )

    def __init__(self, call: ToolCall, context: CallContext, home: str, extra_dirs: Sequence[str]) -> None:
        self.call = call
        self.cwd = _normal_cwd(context.cwd)
        self.home = home
        self.working_dirs = (self.cwd, *context.additional_directories, *extra_dirs)
        name = call.tool_name
        if name.startswith("mcp__"):
            server = name[5:].split("__", 1)[0]
            self.key = f"mcp__{server}"
        else:
            self.key = name
        self._bash: BashAnalysis | None = None
        self._paths: tuple[tuple[str, ...], ...] | None = None
        self._hosts: tuple[str, ...] | bool | None = False
        self._bash_paths: dict[str, tuple[tuple[str, ...], ...]] = {}
        self._folders: dict[str, str] = {}
        self._unknown: set[str] = set()
        self._words: dict[tuple[str, str], tuple[str, ...]] = {}

    @property
    def bash(self) -> BashAnalysis | None:
        if self._bash is None:
            command = self.call.tool_input.get("command")
            if not isinstance(command, str):
                return None
            self._bash = analyse(command)
        return self._bash

    @property
    def paths(self) -> tuple[tuple[str, ...], ...]:
        """The spellings of each file or folder the call names; empty when it names none we can read."""
        if self._paths is None:
            found: list[str] = []
            tool_input = self.call.tool_input
            field_name = _TOOL_PATH_FIELD.get(self.call.tool_name)
            if field_name is not None:
                value = tool_input.get(field_name)
                if isinstance(value, str):
                    if unknowable(value) or len(value) > _PATH_MAX:
                        self._unknown.add("tool")
                    else:
                        found.append(value)
            elif self.call.tool_name in {"Glob", "Grep", "LS"}:
                base = tool_input.get("path")
                base = base if isinstance(base, str) and base else self.cwd
                found.append(base)
                if unknowable(base):
                    self._unknown.add("tool")
                for key in ("pattern",) if self.call.tool_name == "Glob" else ("glob",):
                    value = tool_input.get(key)
                    if isinstance(value, str) and value:
                        # Where the search starts, and the glob itself: `**/.env` is matched as a name
                        # by a deny on `.env`, and must stay inside an allowed folder as a whole. The
                        # search tools read `{a,b}` as alternatives, so each is a glob of its own.
                        alternatives = expand_braces(value) if "{" in value else [value]
                        if alternatives is None:
                            self._unknown.add("tool")
                            alternatives = [value]
                        found.pop(0)
                        for alternative in alternatives:
                            found.insert(0, posixpath.join(base, literal_prefix(alternative)))
                            found.append(posixpath.join(base, alternative))
            self._paths = tuple(resolve(p, self.cwd, self.home, self._folders) for p in found)
        return self._paths

    @property
    def hosts(self) -> tuple[str, ...] | None:
        if self._hosts is False:
            url = self.call.tool_input.get("url")
            self._hosts = hosts_of(url) if isinstance(url, str) else None
        return self._hosts  # type: ignore[return-value]

    def _resolve_word(self, word: str, base: str) -> tuple[str, ...]:
        key = (word, base)
        found = self._words.get(key)
        if found is None:
            found = self._words[key] = resolve(word, base, self.home, self._folders)
        return found

    def bash_bases(self) -> list[str]:
        """The folders the line's relative paths may be relative to: the cwd, then each `cd` after the last."""
        analysis = self.bash
        bases = [self.cwd]
        if analysis is None:
            return bases
        for target in analysis.cd_targets:
            if target == "-" or unknowable(target) or "$" in target or "…" in target or "`" in target:
                self._unknown.update({"read", "edit"})
                continue
            relative = not target.startswith(("/", "~"))
            found = [resolve(target, base, self.home, self._folders)[0] for base in (bases if relative else bases[:1])]
            bases.extend(f for f in found if f not in bases)
        return bases

    def paths_unknown(self, family: str, *, trees: bool = True) -> bool:
        """Does the call touch a file of this family (`read`, `edit`, `tool`) that cannot be named?

        With `trees`, files written beneath a named folder (`tar -x`, `git checkout`) count as unnamed: a
        deny cannot tell which; an allow can still check that the folder lies inside the workspace.
        """
        analysis = self.bash if self.call.tool_name == "Bash" else None
        if analysis is not None:
            if analysis.hidden or analysis.writes_unknown or (family == "read" and analysis.reads_unknown):
                return True
            if trees and analysis.write_trees:
                return True
            self.bash_paths(family)
        elif family == "tool":
            _ = self.paths
        return family in self._unknown

    def bash_paths(self, family: str) -> tuple[tuple[str, ...], ...]:
        """Resolved spellings of the files a Bash line reads (`read`: every path it names) or changes (`edit`)."""
        cached = self._bash_paths.get(family)
        if cached is not None:
            return cached
        analysis = self.bash
        words: tuple[str, ...] = ()
        if analysis is not None:
            words = (*analysis.read_paths, *analysis.write_paths) if family == "read" else analysis.write_paths
        out: list[tuple[str, ...]] = []
        bases = self.bash_bases()
        if analysis is not None and family == "edit":
            words = (*words, *analysis.write_trees)
        globs = 0
        for word in words:
            if len(word) > _PATH_MAX:
                continue  # no file has such a name: the command cannot open it
            if _computed(word):
                self._unknown.add(family)
                continue
            if unknowable(word):
                self._unknown.add(family)
                continue
            relative = not word.startswith(("/", "~/", "$HOME", "${HOME}")) and word != "~"
            for base in bases if relative else bases[:1]:
                out.append(self._resolve_word(word, base))
                if any(c in word for c in "*?["):
                    globs += 1
                    if globs > _MAX_GLOBS or family in self._unknown:
                        self._unknown.add(family)  # enough walking for one decision: every file rule applies
                        continue
                    matches = bounded_glob(out[-1][0], max_matches=_MAX_GLOB_EXPANSION)
                    if matches is None:
                        self._unknown.add(family)  # too wide to expand in time: every file rule applies
                        continue
                    out.extend(resolve(match, base, self.home, self._folders) for match in matches)
        result = tuple(out)
        self._bash_paths[family] = result
        return result


_KNOWN_VARIABLE = re.compile(r"^\$(?:\{HOME\}|HOME|\{PWD\}|PWD)(?![A-Za-z0-9_])")


def _computed(word: str) -> bool:
    """A word whose value bash computes (beyond a leading `$HOME` or `$PWD`, which resolve knows)."""
    rest = _KNOWN_VARIABLE.sub("", word, count=1)
    return "$" in rest or "`" in rest or "…" in rest


def _bash_form_matches(rule: StringRule, form: tuple[str, ...]) -> bool:
    mode = rule.bash_mode
    if mode == "any":
        return True
    if mode == "exact":
        return form == rule.bash_words
    if mode == "prefix":
        return form[: len(rule.bash_words)] == rule.bash_words
    assert rule.regex is not None
    return rule.regex.fullmatch(" ".join(form)) is not None


def _allow_covers(rule: StringRule, form: tuple[str, ...], text: str) -> bool:
    """An exact allow matches the command as written (as the CLI does); other forms match the words."""
    if rule.bash_mode == "exact":
        return text == rule.bash_text
    return _bash_form_matches(rule, form)


def _input_text(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)


def hits(rule: StringRule, facts: CallFacts) -> bool:
    """Does a rule outside the path, domain and Bash-prefix indexes match the call?

    Bash globs match any form of the line (they are searched on the deny side only: an allow is judged part
    by part in `RuleSet._allowing`).
    """
    kind = rule.kind
    call = facts.call
    if kind == "tool":
        return True
    if kind == "tool_glob":
        assert rule.regex is not None
        return call.tool_name in rule.tools or rule.regex.fullmatch(call.tool_name) is not None
    if kind == "bash":
        analysis = facts.bash
        return analysis is not None and any(_bash_form_matches(rule, form) for form in analysis.deny_forms)
    if kind == "name":
        assert rule.regex is not None
        value = call.tool_input.get("skill" if call.tool_name == "Skill" else "subagent_type")
        return isinstance(value, str) and rule.regex.fullmatch(value) is not None
    if kind == "param":
        assert rule.regex is not None
        if rule.param not in call.tool_input:
            return False
        return rule.regex.fullmatch(_input_text(call.tool_input[rule.param])) is not None
    # mcp: the index already matched the server
    if rule.regex is None:
        return True
    tool = call.tool_name[len(facts.key) + 2 :]
    return rule.regex.fullmatch(tool) is not None


class StringVerdict(NamedTuple):
    """The rule strings that had something to say about a call."""

    deny: tuple[StringRule, ...]
    ask: tuple[StringRule, ...]
    allow: tuple[StringRule, ...]
    """The allow rules that together cover the call; empty when the call is not covered."""


_MAX_ALTERNATION = 32
"""Rules past which no later alternation is compiled: a group's regexes stay linear in its size."""


class _Compiled:
    """A path group's regexes for one working directory: one per rule, and alternations of the rules from
    each index on (the one from 0 rejects most paths at once; the later ones, made when first needed, find
    the next rule that matches a path in one search instead of one per rule)."""

    __slots__ = ("_parts", "_suffixes", "singles")

    def __init__(self, parts: list[str | None]) -> None:
        self._parts = parts
        self.singles = [None if p is None else re.compile(p) for p in parts]
        self._suffixes: list[re.Pattern[str] | None] = [None] * len(parts)
        if parts and None not in parts:
            self._suffixes[0] = self._alternation(0)

    @property
    def combined(self) -> re.Pattern[str] | None:
        """All the rules in one regex; None if one cannot be written so."""
        return self._suffixes[0] if self._suffixes else None

    def _alternation(self, start: int) -> re.Pattern[str]:
        return re.compile("|".join(f"(?P<r{i}>{p})" for i, p in enumerate(self._parts[start:])))

    def next_match(self, path: str, start: int) -> int:
        """The index of the first rule from `start` on whose regex matches `path`, or -1 (the combined regex's
        alternation tries rules in order, so it names the first one that matches)."""
        if start >= len(self._parts):
            return -1
        regex = self._suffixes[start]
        if regex is None:
            if len(self._parts) - start > _MAX_ALTERNATION:  # a long tail is searched rule by rule, uncompiled
                singles = self.singles
                return next((i for i in range(start, len(singles)) if singles[i].fullmatch(path)), -1)  # type: ignore[union-attr]
            regex = self._suffixes[start] = self._alternation(start)
        match = regex.fullmatch(path)
        if match is None or match.lastgroup is None:
            return -1
        return start + int(match.lastgroup[1:])


class _PathGroup:
    """The file rules of one list for one tool, behind one combined regex that rejects most paths at once."""

    __slots__ = ("_filters", "rules")

    def __init__(self) -> None:
        self.rules: list[StringRule] = []
        self._filters: dict[str, _Compiled] = {}

    def _filter(self, cwd: str) -> _Compiled:
        """For a working directory: the rules' regexes (see `_Compiled`)."""
        found = self._filters.get(cwd)
        if found is not None:
            return found
        found = _Compiled([r.path.absolute_regex(cwd) if r.path is not None else None for r in self.rules])
        if len(self._filters) < 64:
            self._filters[cwd] = found
        return found

    def matching(self, cwd: str, spellings: tuple[tuple[str, ...], ...], *, deny_side: bool) -> list[StringRule]:
        """Deny side: rules matching any spelling. Allow side: rules matching every spelling of every path."""
        flat = [p for names in spellings for p in names]
        if not flat:
            return []
        compiled = self._filter(cwd)
        combined, singles = compiled.combined, compiled.singles
        if combined is not None and len(flat) == 1:  # the common case: one search per rule that matches
            path = flat[0]
            found: list[StringRule] = []
            index = compiled.next_match(path, 0)
            while index >= 0:
                found.append(self.rules[index])
                index = compiled.next_match(path, index + 1)
            return found
        start = 0
        if combined is not None:
            # The alternation tries rules in order, so no rule before the first that matches a path can match it.
            firsts = [int(m.lastgroup[1:]) if m and m.lastgroup else -1 for m in map(combined.fullmatch, flat)]
            if max(firsts) < 0 or (not deny_side and min(firsts) < 0):
                return []
            start = min(f for f in firsts if f >= 0) if deny_side else max(firsts)
        test = any if deny_side else all
        found = []
        for rule, single in zip(self.rules[start:], singles[start:], strict=True):
            if single is not None:
                hit = test(single.fullmatch(p) for p in flat)
            else:
                hit = rule.path is not None and test(rule.path.matches(p, cwd) for p in flat)
            if hit:
                found.append(rule)
        return found


class _DomainGroup:
    """WebFetch domain rules of one list, looked up by the host and its parent domains instead of scanned."""

    __slots__ = ("plain", "wildcard")

    def __init__(self) -> None:
        self.plain: dict[str, list[StringRule]] = {}
        self.wildcard: dict[str, list[StringRule]] = {}

    def add(self, rule: StringRule) -> None:
        if rule.domain.startswith("*."):
            self.wildcard.setdefault(rule.domain[2:], []).append(rule)
        else:
            self.plain.setdefault(rule.domain, []).append(rule)

    def _for_host(self, host: str, *, deny_side: bool) -> list[StringRule]:
        found = list(self.plain.get(host, ()))
        labels = host.split(".")
        for i in range(1, len(labels)):
            parent = ".".join(labels[i:])
            found.extend(self.wildcard.get(parent, ()))
            if deny_side:
                found.extend(self.plain.get(parent, ()))
        return found

    def matching(self, hosts: tuple[str, ...] | None, *, deny_side: bool) -> list[StringRule]:
        """Deny side: rules matching any host. Allow side: rules matching every host the URL may reach."""
        if not hosts:
            return []
        per_host = [self._for_host(h, deny_side=deny_side) for h in hosts]
        if len(per_host) == 1 and len(per_host[0]) < 2:
            return per_host[0]  # nothing to take twice (and a rule's value hash is dear)
        if deny_side:
            return list(dict.fromkeys(r for rules in per_host for r in rules))
        return [r for r in per_host[0] if all(r in rules for rules in per_host[1:])]


@dataclass(slots=True)
class _ListIndex:
    by_tool: dict[str, list[StringRule]] = field(default_factory=dict)
    paths: dict[tuple[str, str | None], _PathGroup] = field(default_factory=dict)
    domains: _DomainGroup = field(default_factory=_DomainGroup)
    bash_by_first: dict[str, list[StringRule]] = field(default_factory=dict)
    bash_other: list[StringRule] = field(default_factory=list)
    bash_compound: list[StringRule] = field(default_factory=list)
    tool_globs: list[StringRule] = field(default_factory=list)
    bash_gates: tuple[tuple[str, _PathGroup], ...] = ()
    """The file-rule groups that gate Bash (`read`, `edit`), those present only: built once with the index."""


class RuleSet:
    """The rule strings of a policy, indexed for matching."""

    def __init__(self, rules: Iterable[StringRule]) -> None:
        self.rules = tuple(rules)
        self._lists: dict[ListName, _ListIndex] = {"allow": _ListIndex(), "ask": _ListIndex(), "deny": _ListIndex()}
        for rule in self.rules:
            index = self._lists[rule.ref.list]  # type: ignore[index]
            if rule.kind == "tool_glob":
                index.tool_globs.append(rule)
                continue
            if rule.kind == "bash" and rule.bash_mode in {"compound", "never"}:
                if rule.bash_mode == "compound":
                    index.bash_compound.append(rule)
                continue
            for tool in rule.tools:
                if rule.kind == "domain":
                    index.domains.add(rule)
                elif rule.kind == "path":
                    key = (tool, rule.gates_bash if tool == "Bash" else None)
                    index.paths.setdefault(key, _PathGroup()).rules.append(rule)
                elif tool == "Bash" and rule.kind == "bash" and rule.bash_mode in {"exact", "prefix"}:
                    index.bash_by_first.setdefault(rule.bash_words[0], []).append(rule)
                elif tool == "Bash" and rule.kind == "bash":
                    index.bash_other.append(rule)
                else:
                    index.by_tool.setdefault(tool, []).append(rule)
        for index in self._lists.values():
            gates = ((gate, index.paths.get(("Bash", gate))) for gate in ("read", "edit"))
            index.bash_gates = tuple((gate, group) for gate, group in gates if group is not None)

    def _matching(self, list_name: ListName, facts: CallFacts) -> list[StringRule]:
        index = self._lists[list_name]
        key = facts.key
        by_tool = index.by_tool.get(key)
        found = [r for r in by_tool if hits(r, facts)] if by_tool else []
        if index.tool_globs:
            found.extend(r for r in index.tool_globs if hits(r, facts))
        if key == "WebFetch":
            if index.domains.plain or index.domains.wildcard:
                if facts.hosts is None:
                    # No host the CLI's parser would connect to: any domain rule of this list could apply.
                    found.append(next(iter((*index.domains.plain.values(), *index.domains.wildcard.values())))[0])
                else:
                    found.extend(index.domains.matching(facts.hosts, deny_side=True))
        elif key == "Bash":
            # Rules that name what the line touches come first, so the one that decides is the one a reader
            # expects (`Bash(wget:*)` for `wget URL`); the rules that may apply only because something is
            # unnamed (a file written under a name no one can tell, a command the analysis cannot see) follow.
            for gate, gated in index.bash_gates:
                found.extend(gated.matching(facts.cwd, facts.bash_paths(gate), deny_side=True))
            analysis = facts.bash
            if analysis is not None and (index.bash_compound or index.bash_other or index.bash_by_first):
                self._bash_matching(index, analysis, facts, found)
            for gate, gated in index.bash_gates:
                if gated.rules and facts.paths_unknown(gate) and gated.rules[0] not in found:
                    found.append(gated.rules[0])  # a file no one can name: any file rule may be about it
            if analysis is not None and analysis.hidden:
                # Bash may run a command the analysis cannot name: every rule about commands may be about it.
                unseen = [
                    *index.bash_other,
                    *index.bash_compound,
                    *(r for rs in index.bash_by_first.values() for r in rs),
                ]
                found.extend(r for r in unseen[:1] if r not in found)
        else:
            group = index.paths.get((key, None))
            if group is not None:
                found.extend(group.matching(facts.cwd, facts.paths, deny_side=True))
                if group.rules and facts.paths_unknown("tool") and group.rules[0] not in found:
                    found.append(group.rules[0])
        return found

    @staticmethod
    def _bash_matching(index: _ListIndex, analysis: BashAnalysis, facts: CallFacts, found: list[StringRule]) -> None:
        forms = analysis.deny_forms
        if index.bash_compound:
            present = set(forms)
            found.extend(r for r in index.bash_compound if all(part in present for part in r.bash_parts))
        if index.bash_other:
            found.extend(r for r in index.bash_other if hits(r, facts))
        by_first = index.bash_by_first
        if not by_first:
            return
        seen: set[int] = set()
        for form in forms:
            candidates = by_first.get(form[0])
            if not candidates:
                continue
            for rule in candidates:
                if id(rule) not in seen and _bash_form_matches(rule, form):
                    seen.add(id(rule))
                    found.append(rule)

    def _allowing(self, facts: CallFacts) -> list[StringRule]:
        index = self._lists["allow"]
        if facts.key in EDIT_TOOLS and any(sensitive(p) for names in facts.paths for p in names):
            return []
        if facts.key == "Bash" and any(sensitive(p) for names in facts.bash_paths("edit") for p in names):
            return []
        if facts.key != "Bash" and facts.paths_unknown("tool"):  # a Bash line's files are judged below
            return []
        whole = [r for r in index.by_tool.get(facts.key, ()) if hits(r, facts)]
        group = index.paths.get((facts.key, None))
        if group is not None and facts.key != "Bash":
            whole.extend(group.matching(facts.cwd, facts.paths, deny_side=False))
        if facts.key == "WebFetch" and (index.domains.plain or index.domains.wildcard):
            whole.extend(index.domains.matching(facts.hosts, deny_side=False))
        if whole or facts.key != "Bash" or not (index.bash_by_first or index.bash_other or index.bash_compound):
            return whole
        analysis = facts.bash
        if analysis is None or not analysis.allow_forms or facts.paths_unknown("edit", trees=False):
            return []
        if not all(inside(p, facts.working_dirs) for names in facts.bash_paths("edit") for p in names):
            return []
        if index.bash_compound:
            line = str(facts.call.tool_input.get("command", "")).strip()
            exact = next((r for r in index.bash_compound if r.bash_text == line), None)
            if exact is not None:
                return [exact]
        covering: list[StringRule] = []
        for form, text in zip(analysis.allow_forms, analysis.allow_texts, strict=True):
            candidates = [*index.bash_by_first.get(form[0], ()), *index.bash_other]
            rule = next((r for r in candidates if _allow_covers(r, form, text)), None)
            if rule is None:
                return []
            if rule not in covering:
                covering.append(rule)
        return covering

    def bash_allow_covering(self, form: tuple[str, ...], text: str) -> StringRule | None:
        """The first Bash allow rule that covers one simple command, if any (for explaining a deny)."""
        index = self._lists["allow"]
        candidates = [*index.bash_by_first.get(form[0], ()), *index.bash_other] if form else []
        return next((r for r in candidates if _allow_covers(r, form, text)), None)

    def evaluate(self, facts: CallFacts) -> StringVerdict:
        """Every deny and ask rule that matches, and the allow rules that cover the call."""
        return StringVerdict(
            deny=tuple(self._matching("deny", facts)),
            ask=tuple(self._matching("ask", facts)),
            allow=tuple(self._allowing(facts)),
        )
