"""A decision is a value that explains itself: what was decided, by which rule, from where, and how fast.

A reader of the trail must be able to answer "why was this allowed?" from the decision alone, so the
deciding rule travels with its text and source, and the other rules that matched are kept too.

These dataclasses are also the wire format: a pydantic `TypeAdapter` over `Decision` reads and writes the
decision API's JSON, and the trail's decision records hold `RuleRef` values. Unknown fields are ignored, so
an older reader takes a newer writer's JSON; a bad literal or a missing required field is a validation error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

if TYPE_CHECKING:
    from pydantic import ConfigDict

Behavior = Literal["allow", "deny", "ask"]


@dataclass(frozen=True, slots=True)
class RuleSource:
    """Where a rule was written: a settings file, a policy module, an option of the run, ..."""

    __pydantic_config__: ClassVar[ConfigDict] = {"extra": "ignore"}

    kind: Literal["settings", "python", "option", "default", "broker", "cli", "claude_code"]
    """`settings`: a Claude Code settings file; `python`: a policy module; `option`: allowed_tools and friends;
    `default`: the policy's declared default; `broker`: magistrate itself (for example failing closed);
    `cli`: a rule given on the command line; `claude_code`: the Claude Code CLI decided alone, before any hook
    (its own settings, a tool it does not have), and magistrate recorded what it did."""
    path: str | None = None
    """The file the rule came from, when it came from a file."""
    line: int | None = None
    """1-based line in that file, when known."""

    def __str__(self) -> str:
        if self.path is None:
            return self.kind
        return f"{self.path}:{self.line}" if self.line is not None else self.path


@dataclass(frozen=True, slots=True)
class RuleRef:
    """A rule as a decision names it."""

    __pydantic_config__: ClassVar[ConfigDict] = {"extra": "ignore"}

    id: str
    """Stable id: the same rule in the same policy keeps it across loads."""
    text: str
    """The rule string (`Bash(npm run test:*)`) or the Python rule's qualified name."""
    source: RuleSource
    list: Literal["allow", "ask", "deny", "python", "default"]
    """Which list the rule sits in; `python` for a Python rule, `default` when nothing matched."""


@dataclass(frozen=True, slots=True)
class Decision:
    """The broker's answer for one tool call."""

    __pydantic_config__: ClassVar[ConfigDict] = {"extra": "ignore"}

    behavior: Behavior
    input: Mapping[str, Any]
    """The input to run: the original, or the rewritten one that was validated and checked again."""
    message: str = ""
    """For deny, what the model is told; for ask, the reason shown to the approver; for allow, optional."""
    rule: RuleRef | None = None
    """The deciding rule; None only when the broker itself decided (an error, failing closed)."""
    matched: tuple[RuleRef, ...] = ()
    """Every other rule that matched the call, in precedence order."""
    policy_version: str = ""
    """A hash of the policy's sources: the same policy text always gives the same version."""
    elapsed_ns: int = 0
    """How long the decision took, trail append excluded."""
    error: str | None = None
    """Set when the decision is a deny because something failed (a rule raised, timed out, the trail failed)."""
