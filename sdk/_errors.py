"""The SDK's errors: the Claude Code SDK's names, each carrying what a user needs to act.

`ClaudeSDKError` keeps the official SDK's root so `except ClaudeSDKError` code works unchanged, and it sits
under `MagistrateError` so one `except` catches everything the project raises. See the tree in
`magistrate.broker._errors`. Where magistrate names a problem more precisely than the official SDK (an
`OptionsError`), the error is also the class the official SDK raises there, so code written for it still
catches it: an option the CLI refuses is a `ProcessError` too, a missing `cwd` a `CLIConnectionError`.
"""

from __future__ import annotations

from typing import Any

from magistrate.broker import MagistrateError


class ClaudeSDKError(MagistrateError):
    """Root of the SDK's errors."""


class CLIConnectionError(ClaudeSDKError):
    """The CLI could not be started, or the connection to it broke."""


class CLINotFoundError(CLIConnectionError):
    """No Claude Code CLI was found where magistrate looks for it."""

    def __init__(self, message: str = "Claude Code not found", cli_path: str | None = None) -> None:
        self.cli_path = cli_path
        super().__init__(f"{message}: {cli_path}" if cli_path else message)


class ControlTimeoutError(CLIConnectionError):
    """A control request to the CLI got no answer within its bound."""

    def __init__(self, subtype: str, timeout: float) -> None:
        self.subtype = subtype
        self.timeout = timeout
        super().__init__(f"the CLI did not answer the {subtype!r} control request within {timeout:g} s")


class ProcessError(ClaudeSDKError):
    """The CLI process failed; `stderr` holds what it really printed."""

    def __init__(self, message: str, exit_code: int | None = None, stderr: str | None = None) -> None:
        self.exit_code = exit_code
        self.stderr = stderr
        if exit_code is not None:
            message = f"{message} (exit code: {exit_code})"
        if stderr:
            message = f"{message}\nError output: {stderr.strip()}"
        super().__init__(message)


class ResultError(ProcessError):
    """The CLI reported an error result (`is_error`) and then exited non-zero: the result says why.

    `subtype` (`error_max_turns`, `error_during_execution`, ...), `errors`, `result`, `api_error_status`,
    `terminal_reason` and `session_id` come from that result, so code can branch without reading text."""

    def __init__(self, message: str, data: dict[str, Any] | None = None, exit_code: int | None = None) -> None:
        data = data or {}
        self.data = data
        subtype, result, status = data.get("subtype"), data.get("result"), data.get("api_error_status")
        reason, session = data.get("terminal_reason"), data.get("session_id")
        raw = data.get("errors")
        errors = [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else []
        self.subtype: str | None = subtype if isinstance(subtype, str) else None
        self.errors: list[str] = [e.strip() for e in errors if isinstance(e, str) and e.strip()]
        self.result: str | None = result if isinstance(result, str) else None
        self.api_error_status: int | None = status if isinstance(status, int) else None
        self.terminal_reason: str | None = reason if isinstance(reason, str) else None
        self.session_id: str | None = session if isinstance(session, str) else None
        super().__init__(message, exit_code=exit_code)


class CanUseToolShadowedWarning(UserWarning):
    """`can_use_tool` is set, but `allowed_tools` allows some tools outright, so their calls never reach it."""


class CLIJSONDecodeError(ClaudeSDKError):
    """A line from the CLI was not JSON; `line` is the offending line (shortened in the message)."""

    def __init__(self, line: str, original_error: Exception) -> None:
        self.line = line
        self.original_error = original_error
        super().__init__(f"Failed to decode JSON from the CLI: {line[:100]!r}{'...' if len(line) > 100 else ''}")


class MessageParseError(ClaudeSDKError):
    """A message from the CLI lacked a field its type requires; `data` is the message."""

    def __init__(self, message: str, data: dict[str, Any] | None = None) -> None:
        self.data = data
        super().__init__(message)


class OptionsError(ClaudeSDKError):
    """An option cannot be given to the CLI as written; the message names the option and the fix."""

    def __init__(self, message: str, option: str | None = None) -> None:
        self.option = option
        super().__init__(message)


class RefusedOptionError(OptionsError, ProcessError):
    """The CLI exited refusing an option (a flag it does not know, a mode it will not run in): the official SDK
    raises a `ProcessError` here."""

    def __init__(self, message: str, option: str | None, exit_code: int | None, stderr: str | None) -> None:
        self.option = option
        self.exit_code = exit_code
        self.stderr = stderr
        ClaudeSDKError.__init__(self, message)


class WorkingDirectoryError(OptionsError, CLIConnectionError):
    """`cwd` is not a directory: the official SDK raises a `CLIConnectionError` here."""

    def __init__(self, message: str, option: str | None = "cwd") -> None:
        self.option = option
        ClaudeSDKError.__init__(self, message)
