"""Policy errors, and the problem records a failed load carries, one per bad rule.

A policy that loads halfway is worse than none, so loading checks everything and reports every problem at
once: the rule, where it was written (file and line), which list it sits in, and why it was refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from magistrate.broker._decision import RuleSource
from magistrate.broker._errors import MagistrateError


@dataclass(frozen=True, slots=True)
class RuleProblem:
    """One reason a policy did not load."""

    rule: str
    """The offending rule string, or the Python rule's name, or '' for a problem with the file itself."""
    source: RuleSource
    reason: str
    list: str | None = None
    """The list the rule sits in (`allow`, `ask`, `deny`), when it sits in one."""

    def __str__(self) -> str:
        where = str(self.source)
        if not self.rule:
            return f"{where}: {self.reason}"
        in_list = f" in {self.list}" if self.list else ""
        return f"{where}: rule {self.rule!r}{in_list}: {self.reason}"


class PolicyError(MagistrateError):
    """A policy could not be built or used."""


class PolicyLoadError(PolicyError):
    """A policy did not load; `errors` lists every problem found, not only the first."""

    def __init__(self, errors: Sequence[RuleProblem]) -> None:
        self.errors = tuple(errors)
        count = len(self.errors)
        lines = "\n".join(f"  {e}" for e in self.errors)
        super().__init__(f"the policy did not load ({count} problem{'s' if count != 1 else ''}):\n{lines}")
