"""Why no allow covered a shell line: the part of a compound command that failed, and the reason.

"No rule allows this call" is true but useless for `npm run test > out.txt`: the person fixing the policy
needs to know that the redirection, not `npm run test`, is what no rule can cover. This repeats the allow
side of the matching (`RuleSet._allowing`, `_bash.analyse`) part by part, and is only run to explain a
decision already made, never to make one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from magistrate.broker._bash import _SHELLS, _basename, _is_assignment, _shell_payload, _strip_safe, analyse
from magistrate.broker._bash_lexer import SimpleCommand, parse
from magistrate.broker._call import CallContext, ToolCall
from magistrate.broker._paths import inside

if TYPE_CHECKING:
    from magistrate.broker._policy import RulePolicy

_NO_ALLOW = "which no allow rule can cover"


def _hidden(words: list[str]) -> str | None:
    """What a command does that keeps every allow rule off it, in words; None when it does nothing of the kind."""
    first = _basename(words[0])
    if _is_assignment(words[0]):
        return f"sets {words[0].partition('=')[0]} for the command"
    if any(c in words[0] for c in "${*?["):
        return "lets the shell decide which command runs (an expansion or a glob in the command's name)"
    if first in {"eval", "source", ".", "exec"}:
        return f"runs code through `{first}`"
    if first in {"npx", "bunx", "pnpx"}:
        return f"runs a package through `{first}`"
    if first in _SHELLS and _shell_payload(words) is not None:
        return f"runs a command string through `{first} -c`"
    if first == "find" and any(w in {"-exec", "-execdir", "-ok", "-okdir"} for w in words):
        return "runs commands through `find -exec`"
    if first in {"sudo", "doas", "env", "setsid", "ionice", "chrt", "taskset", "builtin"}:
        return f"runs its command through `{first}`"
    return None


def _part_reason(policy: RulePolicy, simple: SimpleCommand, text: str) -> str | None:
    writes = [r.target for r in simple.redirects if r.writes_file]
    if writes:
        return f"`{text}` writes {', '.join(writes)} through a redirection, {_NO_ALLOW}"
    if simple.opaque:
        return f"`{text}` hides a command (a substitution, a group or a control keyword), {_NO_ALLOW}"
    words = _strip_safe(list(simple.words))
    if not words:
        return f"`{text}` runs no command of its own, {_NO_ALLOW}"
    hidden = _hidden(words)
    if hidden is not None:
        return f"`{text}` {hidden}, {_NO_ALLOW}"
    if policy.rule_set.bash_allow_covering(tuple(words), text.strip()) is None:
        return f"`{text}`: no allow rule covers it"
    return None


def explain_bash(policy: RulePolicy, call: ToolCall, context: CallContext) -> tuple[str, ...]:
    """One line per reason a Bash call is not covered by the policy's allow rules; empty when it is."""
    command = call.tool_input.get("command")
    if call.tool_name != "Bash" or not isinstance(command, str):
        return ()
    whole = analyse(command)
    if whole.parse_error:
        return (f"the command does not parse ({whole.parse_error}), so no allow rule can cover it",)
    if whole.hidden:
        return (f"bash may run a command magistrate cannot see ({whole.hidden}), {_NO_ALLOW}",)
    reasons: list[str] = []
    for text in whole.allow_texts:
        parsed = parse(text)
        if parsed.error or len(parsed.commands) != 1:
            reasons.append(f"`{text}` is not one simple command, {_NO_ALLOW}")
            continue
        reason = _part_reason(policy, parsed.commands[0], text)
        if reason is not None:
            reasons.append(reason)
    if whole.allow_forms is None and not reasons:
        reasons.append(f"the line hides a command (a group, a substitution or a control keyword), {_NO_ALLOW}")
    facts = policy.facts(call, context)
    outside = [p for names in facts.bash_paths("edit") for p in names[:1] if not inside(p, facts.working_dirs)]
    if outside:
        reasons.append(f"it changes {', '.join(dict.fromkeys(outside))}, outside the working directories")
    return tuple(reasons)
