"""What a run of `ClaudeAgentOptions` adds to a run: the StructuredOutput tool and the session store before
it starts; the stderr callback, `ResultError`, the warning about a shadowed `can_use_tool` and hooks with
`on_failure="block"` while it runs."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from magistrate.sdk._agent_options import AnyOptions, ClaudeAgentOptions
from magistrate.sdk._errors import CanUseToolShadowedWarning, ResultError


async def prepared(options: ClaudeAgentOptions, cwd: str) -> ClaudeAgentOptions:
    """The options as the run uses them, after what must happen before the CLI starts."""
    # The CLI answers a JSON schema through its StructuredOutput tool, which it never prompts for; the run
    # allows it as the CLI would, or a governed run would deny its own answer.
    if options.output_format is not None and "StructuredOutput" not in options.allowed_tools:
        options = replace(options, allowed_tools=[*options.allowed_tools, "StructuredOutput"])
    if options.session_store is not None:
        from magistrate.sdk._store_mirror import check_store_options, materialize

        check_store_options(options)
        await materialize(options, cwd)
    return options


class StderrRelay:
    """Passes the CLI's stderr on line by line. The process keeps only the tail of its stderr (64 KiB), so
    where the relay left off is found again by the end of what it passed on; a tail that has moved past it
    entirely is passed on whole."""

    def __init__(self, callback: Callable[[str], None]) -> None:
        self._callback = callback
        self._mark = ""

    def pass_on(self, text: str, *, final: bool = False) -> None:
        if self._mark:
            at = text.rfind(self._mark)
            text = text[at + len(self._mark) :] if at >= 0 else text
        if not final:
            text = text[: text.rfind("\n") + 1]  # whole lines only, until the end
        self._mark = (self._mark + text)[-256:]
        for line in text.splitlines():
            self._callback(line)


def result_error(result: dict[str, Any], exit_code: int | None) -> ResultError:
    """The error for a CLI that exited after reporting `result` as an error."""
    text = result.get("result") or ", ".join(map(str, result.get("errors") or []))
    return ResultError(
        f"Claude Code returned an error result: {text or result.get('subtype')}", data=result, exit_code=exit_code
    )


def warn_if_shadowed(options: AnyOptions) -> None:
    """`allowed_tools` entries that allow a whole tool keep its calls from ever reaching `can_use_tool`."""
    if options.can_use_tool is None or not isinstance(options, ClaudeAgentOptions):
        return
    whole = [entry for entry in options.allowed_tools if "(" not in entry or entry.endswith(("()", "(*)"))]
    if whole:
        import warnings

        warnings.warn(
            f"can_use_tool is set, but allowed_tools allows {', '.join(whole)} outright: those calls never reach it",
            CanUseToolShadowedWarning,
            stacklevel=4,
        )


def blocking(callback: Any) -> Any:
    """`on_failure="block"`: a callback that raises or answers nothing blocks what it was asked about."""

    async def guarded(hook_input: dict[str, Any], tool_use_id: str | None, context: Any) -> dict[str, Any]:
        try:
            output = await callback(hook_input, tool_use_id, context)
        except Exception as exc:  # noqa: BLE001 - the failure itself is the answer: block
            reason = f"the hook failed ({type(exc).__name__}: {exc}); blocked because on_failure='block'"
        else:
            if isinstance(output, Mapping):
                return dict(output)
            reason = "the hook gave no answer; blocked because on_failure='block'"
        answer: dict[str, Any] = {"decision": "block", "reason": reason}
        event = hook_input.get("hook_event_name")
        if event == "PreToolUse":
            answer["hookSpecificOutput"] = {
                "hookEventName": event,
                "permissionDecision": "deny",
                "permissionDecisionReason": reason,
            }
        return answer

    return guarded
