"""Serving an MCP server over streamable HTTP: loopback by default, a bearer token whenever it is exposed.

A compliance database or a document store on the network is someone's contracts and findings, so binding to a
non-loopback address without a token is refused, and a token, once set, is checked on every request (in
constant time) before the MCP app sees it. The check is plain ASGI so it wraps any app and is tested alone.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import socket
from collections.abc import Callable
from typing import Any

from magistrate.broker import get_logger
from magistrate.servers._documents_models import MAX_CONTENT_BYTES
from magistrate.servers._errors import InvalidInputError

_log = get_logger("magistrate.servers.http")
ASGIApp = Any
MAX_REQUEST_BYTES = 3 * MAX_CONTENT_BYTES


def is_loopback(host: str) -> bool:
    """True for `localhost` and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class BearerTokenMiddleware:
    """Answers 401 to any HTTP request whose `Authorization` is not `Bearer <token>`."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        if not token:
            raise InvalidInputError("the bearer token must not be empty")
        self.app = app
        self._expected = f"Bearer {token}".encode()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            given = dict(scope.get("headers") or []).get(b"authorization", b"")
            if not hmac.compare_digest(given, self._expected):
                _log.warning("http_unauthorized", path=scope.get("path"), client=str(scope.get("client")))
                body = json.dumps({"error": "unauthorized", "detail": "a valid bearer token is required"}).encode()
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"www-authenticate", b'Bearer realm="magistrate"'),
                            (b"content-length", str(len(body)).encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


def check_exposure(host: str, token: str | None) -> None:
    """Refuse to serve on a non-loopback address without a token."""
    if not is_loopback(host) and not token:
        raise InvalidInputError(
            f"serving on {host} (not loopback) needs a bearer token: pass --token or set MAGISTRATE_SERVER_TOKEN"
        )


def http_app(server: Any, *, host: str, token: str | None, wrap: Callable[[ASGIApp], ASGIApp] | None = None) -> ASGIApp:
    """The server's streamable HTTP app (at /mcp), behind the token check when there is a token.

    Stateless: the tools keep no per-session state, so any process behind a load balancer can answer any
    request. The body limit leaves room for the largest document, JSON-escaped. `wrap` adds routes beside
    the MCP app (the decision API), inside the token check so they are guarded by the same rule.
    """
    check_exposure(host, token)
    app = server.streamable_http_app(host=host, stateless_http=True, max_request_body_size=MAX_REQUEST_BYTES)
    if wrap is not None:
        app = wrap(app)
    return BearerTokenMiddleware(app, token) if token else app


async def serve_stdio(server: Any) -> None:
    """Serve over this process's stdin and stdout until the client closes them: a tool set's low-level
    `Server` or an `MCPServer` (the approval server)."""
    from mcp import stdio_server
    from mcp.server.mcpserver import MCPServer

    if isinstance(server, MCPServer):
        await server.run_stdio_async()
        return
    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())


async def serve_http(
    server: Any,
    *,
    host: str,
    port: int,
    token: str | None,
    sock: socket.socket | None = None,
    wrap: Callable[[ASGIApp], ASGIApp] | None = None,
) -> None:
    """Serve until cancelled; `sock`, an already bound and listening socket, replaces host and port for binding."""
    import uvicorn

    app = http_app(server, host=host, token=token, wrap=wrap)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
    _log.info("http_serving", server=server.name, host=host, port=port, token=bool(token))
    await uvicorn.Server(config).serve(sockets=[sock] if sock is not None else None)
