"""A small HTTP/1.1 server on anyio sockets, with h11 doing the parsing.

The scripted model must start in milliseconds and import nothing heavy (no uvicorn, starlette or httpx),
yet speak HTTP correctly to the CLI's client: keep-alive, Content-Length or chunked request bodies,
streamed (chunked) responses. h11 is a pure protocol state machine that already ships with the `mcp`
dependency, so the framing is done by a tested library and only the socket loop lives here.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio
import anyio.abc
import h11

from magistrate.broker import get_logger

_log = get_logger("magistrate.scripted_model.http")
_MAX_BODY = 256 * 1024 * 1024


@dataclass(frozen=True)
class HttpRequest:
    """One request, its body read in full."""

    method: str
    target: str
    """Path and query string as sent."""
    headers: dict[str, str]
    """Lower-cased names; a repeated header keeps its last value."""
    body: bytes

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]


class Responder:
    """Sends exactly one response to the request being handled: `json(...)`, or `start()` / `send()` / `end()`."""

    def __init__(self, conn: h11.Connection, stream: anyio.abc.ByteStream) -> None:
        self._conn = conn
        self._stream = stream
        self.started = False

    async def _send(self, event: Any) -> None:
        data = self._conn.send(event)
        if data:
            await self._stream.send(data)

    async def json(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        payload = json.dumps(body).encode()
        fields = {"content-type": "application/json", "content-length": str(len(payload)), **(headers or {})}
        await self.start(status, fields)
        await self.send(payload)
        await self.end()

    async def start(self, status: int, headers: dict[str, str]) -> None:
        """Send the status line and headers; without content-length the body is sent chunked."""
        self.started = True
        await self._send(h11.Response(status_code=status, headers=list(headers.items())))

    async def send(self, data: bytes) -> None:
        await self._send(h11.Data(data=data))

    async def end(self) -> None:
        await self._send(h11.EndOfMessage())


Handler = Callable[[HttpRequest, Responder], Awaitable[None]]


async def _read_request(conn: h11.Connection, stream: anyio.abc.ByteStream) -> HttpRequest | None:
    """The next request on the connection, or None when the client closed it."""
    head: h11.Request | None = None
    body = bytearray()
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            try:
                data = await stream.receive(65536)
            except (anyio.EndOfStream, anyio.BrokenResourceError):
                data = b""
            conn.receive_data(data)
            continue
        if isinstance(event, h11.Request):
            head = event
        elif isinstance(event, h11.Data):
            body += event.data
            if len(body) > _MAX_BODY:
                raise h11.RemoteProtocolError("request body too large", error_status_hint=413)
        elif isinstance(event, h11.EndOfMessage) and head is not None:
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in head.headers}
            return HttpRequest(head.method.decode(), head.target.decode("latin-1"), headers, bytes(body))
        elif isinstance(event, h11.ConnectionClosed) or event is h11.PAUSED:
            return None


async def serve_connection(stream: anyio.abc.ByteStream, handler: Handler) -> None:
    """Answer requests on one connection until the client closes it or the protocol says to stop."""
    conn = h11.Connection(h11.SERVER)
    async with stream:
        while True:
            try:
                request = await _read_request(conn, stream)
            except h11.RemoteProtocolError as exc:
                _log.debug("bad request", error=str(exc))
                if conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
                    responder = Responder(conn, stream)
                    body = {"type": "error", "error": {"type": "invalid_request_error", "message": str(exc)}}
                    await responder.json(exc.error_status_hint, body, {"connection": "close"})
                return
            if request is None:
                return
            responder = Responder(conn, stream)
            try:
                await handler(request, responder)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                _log.debug("client went away", path=request.path)
                return
            except Exception as exc:  # noqa: BLE001 - one bad request must not stop the server
                _log.error("handler failed", path=request.path, error=repr(exc))
                if not responder.started:
                    body = {"type": "error", "error": {"type": "api_error", "message": repr(exc)}}
                    await responder.json(500, body, {"connection": "close"})
                return
            if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                return
            conn.start_next_cycle()


async def serve(listener: anyio.abc.Listener[anyio.abc.SocketStream], handler: Handler) -> None:
    """Serve every connection the listener accepts, each in its own task, until cancelled."""

    async def one(stream: anyio.abc.SocketStream) -> None:
        try:
            await serve_connection(stream, handler)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError) as exc:
            _log.debug("connection dropped", error=repr(exc))
        except Exception:  # noqa: BLE001 - a failure on one connection (even in logging) must not stop the server
            with contextlib.suppress(Exception):
                _log.error("connection failed", exc_info=True)

    await listener.serve(one)
