"""A run's `allowed_tools` and `disallowed_tools` added to a policy the user wrote, meaning what they mean to the CLI.

The CLI treats these options as allow and deny rules. Over a user's policy they keep that meaning without
weakening it: a `disallowed_tools` rule denies whatever the policy says (a deny is never undone), and an
`allowed_tools` rule allows only a call the policy has no rule for, one that would otherwise fall to the
policy's default. The policy's own deny, ask and allow rules, Python rules included, stand.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from magistrate.broker._call import CallContext, ToolCall
from magistrate.broker._decision import Decision, RuleSource
from magistrate.broker._interfaces import Policy
from magistrate.broker._policy import RulePolicy
from magistrate.broker._settings import RuleSpec


class WithOptionRules:
    """`base`, with the run's option rules around it."""

    def __init__(self, base: Policy, options: RulePolicy) -> None:
        self._base = base
        self._options = options
        digest = hashlib.sha256(f"{base.version}\n{options.version}".encode()).hexdigest()
        self._version = f"sha256:{digest}"

    @property
    def version(self) -> str:
        return self._version

    async def decide(self, call: ToolCall, context: CallContext) -> Decision:
        by_option = await self._options.decide(call, context)
        option_rule = by_option.rule.list if by_option.rule else None
        if by_option.behavior == "deny" and option_rule == "deny":
            return by_option
        decision = await self._base.decide(call, context)
        fell_to_default = decision.rule is None or decision.rule.list == "default"
        if fell_to_default and decision.error is None and by_option.behavior == "allow" and option_rule == "allow":
            return by_option
        return decision


def with_option_rules(
    policy: Policy, allowed_tools: Sequence[str], disallowed_tools: Sequence[str], *, cwd: str | Path
) -> Policy:
    """`policy` with the run's option rules, as the CLI reads them; raises PolicyLoadError on a bad rule."""
    root = str(Path(cwd).expanduser().absolute())
    specs = [RuleSpec(text, "deny", RuleSource("option"), root) for text in disallowed_tools]
    specs += [RuleSpec(text, "allow", RuleSource("option"), root) for text in allowed_tools]
    return WithOptionRules(policy, RulePolicy.from_specs(specs, default="ask"))
