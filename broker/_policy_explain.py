"""Why no allow covered a shell line: the part of a compound command that failed, and the reason.

"No rule allows this call" is true but useless for `npm run test > out.txt`: the person fixing the policy
needs to know that the redirection, not `npm run test`, is what no rule can cover. This repeats the allow
side of the matching (`RuleSet._allowing`) part by part, and is only run to explain a decision already made.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from magistrate.broker._bash import analyse
from magistrate.broker._call import CallContext, ToolCall
from magistrate.broker._paths import inside

if TYPE_CHECKING:
    from magistrate.broker._policy import RulePolicy


def explain_bash(policy: RulePolicy, call: ToolCall, context: CallContext) -> tuple[str, ...]:
    """One line per reason a Bash call is not covered by the policy's allow rules; empty when it is."""
    command = call.tool_input.get("command")
    if call.tool_name != "Bash" or not isinstance(command, str):
        return ()
    whole = analyse(command)
    if whole.parse_error:
        return (f"the command does not parse ({whole.parse_error}), so no allow rule can cover it",)
    if whole.allow_forms is not None and not whole.allow_texts:
        return ()
    facts = policy.facts(call, context)
    reasons: list[str] = []
    for text in whole.allow_texts or (command,):
        part = analyse(text)
        if part.allow_forms is None or len(part.allow_forms) != 1:
            if ">" in text and part.write_paths:
                why = f"writes {', '.join(part.write_paths)} through a redirection, which no allow rule covers"
            else:
                why = "hides what it runs (a substitution, eval, a shell wrapper), which no allow rule covers"
            reasons.append(f"`{text}` {why}")
            continue
        if policy.rule_set.bash_allow_covering(part.allow_forms[0], text.strip()) is None:
            reasons.append(f"`{text}`: no allow rule covers it")
    if whole.allow_forms is None and not reasons:
        reasons.append("the line as a whole hides what it runs, which no allow rule covers")
    outside = [p for names in facts.bash_paths("edit") for p in names[:1] if not inside(p, facts.working_dirs)]
    if outside:
        reasons.append(f"it changes {', '.join(outside)}, outside the working directories")
    return tuple(reasons)
