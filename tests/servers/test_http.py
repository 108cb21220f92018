"""The HTTP guard: loopback detection, refusing exposure without a token, and the token check itself."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from magistrate.servers._errors import InvalidInputError
from magistrate.servers._http import BearerTokenMiddleware, check_exposure, is_loopback

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.8.0.1", True), ("::1", True), ("[::1]", True), ("localhost", True),
     ("0.0.0.0", False), ("10.0.0.5", False), ("::", False), ("example.com", False)],
)  # fmt: skip
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_exposure_needs_a_token() -> None:
    check_exposure("127.0.0.1", None)
    check_exposure("0.0.0.0", "s3cret")
    with pytest.raises(InvalidInputError, match="needs a bearer token"):
        check_exposure("0.0.0.0", None)


async def _request(app: Any, headers: list[tuple[bytes, bytes]]) -> tuple[int, list[dict[str, Any]]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/mcp", "headers": headers, "client": ("10.0.0.9", 5000)}
    with anyio.fail_after(5):
        await app(scope, receive, send)
    return sent[0]["status"], sent


async def _inner(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ([(b"authorization", b"Bearer s3cret")], 200),
        ([], 401),
        ([(b"authorization", b"Bearer wrong")], 401),
        ([(b"authorization", b"s3cret")], 401),
        ([(b"authorization", b"Bearer s3cret ")], 401),
    ],
)
async def test_token_is_checked_on_every_request(headers: list[tuple[bytes, bytes]], status: int) -> None:
    app = BearerTokenMiddleware(_inner, "s3cret")
    got, sent = await _request(app, headers)
    assert got == status
    if status == 401:
        assert (b"www-authenticate", b'Bearer realm="magistrate"') in sent[0]["headers"]


async def test_lifespan_passes_through() -> None:
    seen: list[str] = []

    async def inner(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    async def nothing() -> dict[str, Any]:
        return {}

    async def drop(message: dict[str, Any]) -> None:
        pass

    with anyio.fail_after(5):
        await BearerTokenMiddleware(inner, "t")({"type": "lifespan"}, nothing, drop)
    assert seen == ["lifespan"]


def test_empty_token_is_refused() -> None:
    with pytest.raises(InvalidInputError):
        BearerTokenMiddleware(_inner, "")
