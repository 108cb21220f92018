"""The control protocol over one CLI process, with no background task.

Whoever waits reads: a caller that wants the next message, or the answer to a control request, takes the
read lock and pumps lines until what it waits for has arrived, routing everything else on the way
(conversation messages to a buffer, answers to their waiting requests, the CLI's own requests to their
handlers). Because nothing runs detached, the session works the same under asyncio and trio, from any task,
in a notebook cell or a script, and there is never a stray task to cancel on close.
"""

from __future__ import annotations

import json
import os
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio

from magistrate.broker import get_logger
from magistrate.sdk._errors import (
    CLIConnectionError,
    CLIJSONDecodeError,
    ControlTimeoutError,
    ProcessError,
    RefusedOptionError,
)
from magistrate.sdk._framer import LineTooLongError
from magistrate.sdk._process import CLIProcess
from magistrate.sdk._transport import TransportChannel

log = get_logger("magistrate.sdk.session")

RequestHandler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
"""Answers one control request from the CLI (its `request` object); raising sends an error response."""


@dataclass
class PendingRequest:
    request_id: str
    subtype: str
    event: anyio.Event = field(default_factory=anyio.Event)
    response: dict[str, Any] | None = None
    error: Exception | None = None


def _diagnose(stderr: str, exit_code: int | None) -> Exception:
    """Turn a CLI that exited on its own into the most useful typed error."""
    if "unknown option" in stderr:
        option = stderr.split("unknown option", 1)[1].strip().strip("'\"").split("'")[0]
        return RefusedOptionError(
            f"the CLI does not take the option {option!r} (check extra_args); it said: {stderr.strip()}",
            option=option,
            exit_code=exit_code,
            stderr=stderr,
        )
    if "bypassPermissions" in stderr or "dangerously-skip-permissions" in stderr:
        return RefusedOptionError(
            "the CLI refused permission_mode='bypassPermissions': as root it requires IS_SANDBOX=1 in "
            f"ClaudeCodeOptions.env; it said: {stderr.strip()}",
            option="permission_mode",
            exit_code=exit_code,
            stderr=stderr,
        )
    return ProcessError("Command failed", exit_code=exit_code, stderr=stderr)


class ControlSession:
    """Messages out of, and control requests into and out of, one CLI process."""

    def __init__(
        self,
        process: CLIProcess | TransportChannel,
        handlers: Mapping[str, RequestHandler],
        *,
        timeout: float,
        skip_invalid: bool = False,
    ) -> None:
        self._process = process
        self._handlers = dict(handlers)
        self._timeout = timeout
        self._skip_invalid = skip_invalid
        self._messages: deque[dict[str, Any]] = deque()
        self._pending: dict[str, PendingRequest] = {}
        self._read_lock = anyio.Lock()
        self._ended = False
        self._failure: Exception | None = None
        self.after_answer: Callable[[], Awaitable[None]] | None = None
        """Run after each answer to the CLI has been sent: work the CLI need not wait for (recording outcomes)."""

    @property
    def process(self) -> CLIProcess | TransportChannel:
        return self._process

    async def request(self, payload: Mapping[str, Any], *, limit: float | None = None) -> dict[str, Any]:
        """Send a control request and return the CLI's answer, within `limit` seconds (the session's bound)."""
        return await self.wait(await self.begin(payload), limit=limit)

    async def begin(self, payload: Mapping[str, Any]) -> PendingRequest:
        """Send a control request now and wait for its answer later (`wait`), doing other work meanwhile."""
        subtype = str(payload.get("subtype", "?"))
        if self._ended:
            raise CLIConnectionError(f"cannot send {subtype!r}: the CLI has exited")
        request_id = f"req_{os.urandom(8).hex()}"  # uuid would import `platform` before the CLI starts
        pending = self._pending[request_id] = PendingRequest(request_id=request_id, subtype=subtype)
        try:
            await self._process.send({"type": "control_request", "request_id": request_id, "request": dict(payload)})
        except BaseException:
            self._pending.pop(request_id, None)
            raise
        return pending

    async def wait(self, pending: PendingRequest, *, limit: float | None = None) -> dict[str, Any]:
        """The answer to a request sent with `begin`, within `limit` seconds (the session's bound)."""
        bound = self._timeout if limit is None else limit
        try:
            with anyio.fail_after(bound):
                while not pending.event.is_set():
                    async with self._read_lock:
                        if pending.event.is_set():
                            break
                        await self._pump_one()
        except TimeoutError:
            raise ControlTimeoutError(pending.subtype, bound) from None
        finally:
            self._pending.pop(pending.request_id, None)
        if pending.error is not None:
            raise pending.error
        return pending.response or {}

    async def next_message(self) -> dict[str, Any] | None:
        """The next conversation message, or None once the CLI has ended cleanly."""
        while not self._messages:
            if self._ended:
                if self._failure is not None:
                    raise self._failure
                return None
            async with self._read_lock:
                if self._messages or self._ended:
                    continue
                await self._pump_one()
        return self._messages.popleft()

    async def send(self, message: Mapping[str, Any]) -> None:
        await self._process.send(message)

    async def _pump_one(self) -> None:
        try:
            line = await self._process.receive_line()
        except LineTooLongError as exc:
            await self._end(CLIConnectionError(str(exc)))
            return
        if line is None:
            await self._end(None)
            return
        try:
            data = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            text = line.decode("utf-8", "replace")
            if self._skip_invalid:
                log.warning("non_json_line_skipped", line=text[:200])
                return
            raise CLIJSONDecodeError(text, exc) from exc
        if not isinstance(data, dict):
            log.debug("non_object_line_skipped", line=line[:200].decode("utf-8", "replace"))
            return
        kind = data.get("type")
        if kind == "control_response":
            self._take_response(data)
        elif kind == "control_request":
            await self._answer(data)
        elif kind == "control_cancel_request":
            log.debug("control_cancel_ignored", request_id=data.get("request_id"))
        else:
            self._messages.append(data)

    def _take_response(self, data: dict[str, Any]) -> None:
        from pydantic import ValidationError

        from magistrate.sdk._wire import WireControlResponse

        try:
            body = WireControlResponse.model_validate(data).response
        except ValidationError:
            log.warning("invalid_control_response", data=str(data)[:200])
            return
        pending = self._pending.get(body.request_id)
        if pending is None:
            log.debug("unexpected_control_response", request_id=body.request_id)
            return
        if body.subtype == "error":
            pending.error = CLIConnectionError(f"the CLI answered with an error: {body.error}")
        else:
            pending.response = body.response or {}
        pending.event.set()

    async def _answer(self, data: dict[str, Any]) -> None:
        from pydantic import ValidationError

        from magistrate.sdk._wire import WireControlRequest

        try:
            request = WireControlRequest.model_validate(data)
        except ValidationError:
            log.warning("invalid_control_request", data=str(data)[:200])
            return
        subtype = str(request.request.get("subtype"))
        handler = self._handlers.get(subtype)
        reply: dict[str, Any]
        try:
            result = await self._dispatch(subtype, handler, request.request)
            reply = {"subtype": "success", "request_id": request.request_id, "response": result}
        except Exception as exc:  # noqa: BLE001 - any handler failure must reach the CLI as an error answer
            log.warning("control_request_failed", subtype=subtype, error=repr(exc))
            reply = {"subtype": "error", "request_id": request.request_id, "error": str(exc) or type(exc).__name__}
        try:
            await self._process.send({"type": "control_response", "response": reply})
        except CLIConnectionError:
            log.debug("control_response_undeliverable", subtype=subtype)
        if self.after_answer is not None:
            try:
                await self.after_answer()
            except Exception as exc:  # noqa: BLE001 - the answer is out; a failure here is logged, not raised
                log.error("after_answer_failed", error=repr(exc))

    @staticmethod
    async def _dispatch(subtype: str, handler: RequestHandler | None, request: dict[str, Any]) -> dict[str, Any]:
        if handler is None:
            raise LookupError(f"unsupported control request {subtype!r}")
        return await handler(request)

    async def _end(self, failure: Exception | None) -> None:
        """The stream ended: fail what is pending, and learn how the process exited."""
        self._ended = True
        if failure is None:
            with anyio.move_on_after(10):
                code = await self._process.wait()
                if code != 0:
                    failure = _diagnose(self._process.stderr_text(), code)
        self._failure = failure
        error = failure or CLIConnectionError("the CLI exited before answering")
        for pending in self._pending.values():
            pending.error = error
            pending.event.set()
