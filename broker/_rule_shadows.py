"""Rule strings that can never decide: shadowed by a rule that matches every call they match, or duplicated.

A deny beats an ask, an ask beats an allow, whatever their order, so an allow that a deny covers is dead
text: it reads as if it allowed something, and it never will. Inside one list an earlier rule that covers a
later one makes the later one redundant, and the same text twice is a duplicate. Both are usually a mistake
of an edit (a rule moved to the wrong list, a narrow exception written under a wide deny).

"Covers" is decided conservatively, from the rules' text: a wider prefix, a folder and what is under it, a
parent domain, a server and its tools, a glob that matches a literal. When it cannot be shown, the pair is
not reported, so lint never calls a live rule dead.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from dataclasses import dataclass

from magistrate.broker._rules import StringRule

_RANK = {"deny": 0, "ask": 1, "allow": 2}
_CWD = "/__magistrate_lint__/cwd"
_PROBE = "__magistrate_probe__/x"
_GLOB = frozenset("*?[")


@dataclass(frozen=True, slots=True)
class Shadow:
    """`rule` never decides, because `by` matches every call it matches and takes precedence."""

    rule: StringRule
    by: StringRule
    duplicate: bool

    def __str__(self) -> str:
        by = f"{self.by.ref.list} rule {self.by.ref.text!r} ({self.by.ref.source})"
        if self.duplicate:
            return f"duplicate of {by}"
        if self.by.ref.list == self.rule.ref.list:
            return f"redundant: the earlier {by} matches every call it matches"
        return f"never decides: {by} matches every call it matches, and {self.by.ref.list} comes first"


def _body(spec: str) -> str:
    """The part of a file rule below its anchor, as `compile_path` reads it."""
    for anchor in ("//", "~/", "./", "/"):
        if spec.startswith(anchor):
            spec = spec[len(anchor) :]
            break
    else:
        if spec == "~":
            spec = ""
    if spec.endswith("/"):
        spec += "**"
    body = posixpath.normpath(spec) if spec else "**"
    return "**" if body == "." else body


def _path_covers(a: StringRule, b: StringRule) -> bool:
    pa, pb = a.path, b.path
    if pa is None or pb is None:
        return False
    if pa.text == pb.text and pa.anywhere == pb.anywhere and pa.base == pb.base and pa.fold_base == pb.fold_base:
        return True
    if pb.anywhere and not pa.anywhere:
        return False
    body = _body(pb.text)
    whole_folder = body == "**" or body.endswith("/**")
    head = "" if body == "**" else body[:-3] if whole_folder else body
    if _GLOB & set(head) or ".." in head:
        return False
    base = _CWD if pb.anywhere or pb.base is None else pb.base
    probe = posixpath.normpath(f"{base}/{head}") if head else base
    probes = [probe]
    if whole_folder or pb.fold_base:  # a folder (or a deny-side name) covers what is beneath it
        probes.append(f"{probe.rstrip('/')}/{_PROBE}")
    return all(pa.matches(p, _CWD) for p in probes)


def _domain_covers(a: StringRule, b: StringRule) -> bool:
    wide, narrow = a.domain, b.domain
    if wide == narrow:
        return True
    if wide.startswith("*."):
        return narrow.endswith(wide[1:])
    return a.ref.list != "allow" and narrow.endswith("." + wide)  # a deny-side domain covers its subdomains


def _bash_covers(a: StringRule, b: StringRule) -> bool:
    if "never" in (a.bash_mode, b.bash_mode):
        return False  # a rule that matches nothing shadows nothing; it is reported as a warning of its own
    if "compound" in (a.bash_mode, b.bash_mode):
        # A whole compound line matches exactly itself; anything subtler errs towards silence.
        return a.bash_mode == b.bash_mode == "compound" and a.bash_text == b.bash_text
    if a.bash_mode == "any":
        return True
    if b.bash_mode == "any":
        return False
    if a.bash_mode == "prefix":
        return b.bash_mode in ("prefix", "exact") and b.bash_words[: len(a.bash_words)] == a.bash_words
    if a.bash_mode == "exact":
        # An exact allow matches the command as written; an exact deny or ask matches its words.
        same = a.bash_text == b.bash_text if a.ref.list == "allow" else a.bash_words == b.bash_words
        return b.bash_mode == "exact" and same
    assert a.regex is not None
    if b.bash_mode == "glob":
        return b.regex is not None and a.regex.pattern == b.regex.pattern
    return b.bash_mode == "exact" and a.regex.fullmatch(" ".join(b.bash_words)) is not None


def _literal(rule: StringRule) -> str | None:
    """The value a `name`/`param`/MCP rule names, when it names one value (no glob)."""
    text = rule.ref.text
    if rule.kind == "mcp":
        value = text[len("mcp__") :].partition("__")[2]
    else:
        value = text.partition("(")[2][:-1]
        if rule.kind == "param":
            value = value.partition(":")[2]
    return None if "*" in value or not value else value


def _pattern_covers(a: StringRule, b: StringRule) -> bool:
    if a.regex is None:
        return True
    if b.regex is None:
        return False
    if a.regex.pattern == b.regex.pattern:
        return True
    value = _literal(b)
    return value is not None and a.regex.fullmatch(value) is not None


def covers(a: StringRule, b: StringRule) -> bool:
    """Does `a` match every call `b` matches (judged from the rules' text, conservatively)?"""
    if not a.tools >= b.tools:
        return False
    if a.kind == "tool":
        return True
    if a.kind != b.kind:
        return False
    if a.kind == "path":
        return b.gates_bash in (None, a.gates_bash) and _path_covers(a, b)
    if a.kind == "domain":
        return _domain_covers(a, b)
    if a.kind == "bash":
        return _bash_covers(a, b)
    if a.kind == "param" and a.param != b.param:
        return False
    return _pattern_covers(a, b)


def shadows(rules: Sequence[StringRule]) -> list[Shadow]:
    """Every rule that can never decide, with the first rule (by precedence, then order) that shadows it."""
    ordered = sorted(enumerate(rules), key=lambda item: (_RANK[item[1].ref.list], item[0]))
    found: list[Shadow] = []
    for position, (_, rule) in enumerate(ordered):
        for _, earlier in ordered[:position]:
            if covers(earlier, rule):
                duplicate = earlier.ref.list == rule.ref.list and earlier.ref.text == rule.ref.text
                found.append(Shadow(rule, earlier, duplicate))
                break
    return found
