"""The shared broker's decision API: runs on other machines ask this process to decide and record their calls.

`magistrate serve approval --transport http` serves the MCP approval prompt at `/mcp` and, in the same app,
behind the same bearer-token check, a small JSON API for `magistrate.broker.RemoteGovernor`:

- `POST /v1/decide`: a call and its context in, the broker's decision out, recorded before the answer;
- `POST /v1/outcome`, `POST /v1/approval`: append an outcome or an approval, answered once durable;
- `GET /v1/health`: the policy version and trail id, so a deployment can check every broker agrees.

One broker (one policy, one trail) sits behind both the prompt and the API, so their records are batched
together. Several such processes can write one PostgreSQL trail side by side: the store serialises
appends, and each process signs its checkpoints with the key at `$MAGISTRATE_TRAIL_KEY` (share one key file
among the brokers of a deployment, so `magistrate audit verify` needs one public key and equal secrets get
equal redaction stand-ins everywhere). The API keeps no state between requests (a run's history travels with
each decide request), so any process behind a load balancer can answer any request.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

from magistrate.broker import (
    APPROVAL_ADAPTER,
    APPROVAL_PATH,
    CLI_DECISION_PATH,
    DECIDE_PATH,
    DECISION_ADAPTER,
    HEALTH_PATH,
    OUTCOME_ADAPTER,
    OUTCOME_PATH,
    AuditError,
    CliDecisionRequest,
    DecideRequest,
    Environment,
    ErrorBody,
    Health,
    Recorded,
    get_logger,
)

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from magistrate.broker import Broker, Policy

_log = get_logger("magistrate.servers.decision_api")
ASGIApp = Any
API_PREFIX = "/v1/"
MAX_BODY_BYTES = 64 * 1024 * 1024
"""A decide request carries the call's input and the session's history; a Write of a large file is big."""

_T = TypeVar("_T")


class _Refused(Exception):  # noqa: N818 - control flow inside this module, never raised to a caller
    def __init__(self, status: int, error: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.error, self.detail = status, error, detail


def _json(body: BaseModel | bytes, status: int = 200) -> Response:
    from starlette.responses import Response

    content = body if isinstance(body, bytes) else body.model_dump_json()
    return Response(content, status_code=status, media_type="application/json")


def _error(status: int, error: str, detail: str) -> Response:
    return _json(ErrorBody(error=error, detail=detail), status)


async def _parse(request: Request, validate_json: Callable[[bytes], _T]) -> _T:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _Refused(413, "too_large", f"the request is larger than {MAX_BODY_BYTES} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise _Refused(413, "too_large", f"the request is larger than {MAX_BODY_BYTES} bytes")
    try:
        return validate_json(bytes(body))
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors())
        raise _Refused(422, "invalid_request", problems) from exc


def decision_app(broker: Broker) -> ASGIApp:
    """The `/v1/...` routes over `broker`, as an ASGI app (no token check: `http_app` wraps it in one)."""
    from starlette.applications import Starlette
    from starlette.routing import Route

    async def decide(request: Request) -> Response:
        parsed = await _parse(request, DecideRequest.model_validate_json)
        # The broker never raises for a policy's or the trail's failure: those are recorded denies.
        decision = await broker.decide(parsed.call, parsed.context)
        return _json(DECISION_ADAPTER.dump_json(decision))

    async def outcome(request: Request) -> Response:
        await broker.record_outcome(await _parse(request, OUTCOME_ADAPTER.validate_json))
        return _json(Recorded())

    async def approval(request: Request) -> Response:
        await broker.record_approval(await _parse(request, APPROVAL_ADAPTER.validate_json))
        return _json(Recorded())

    async def cli_decision(request: Request) -> Response:
        parsed = await _parse(request, CliDecisionRequest.model_validate_json)
        await broker.record_cli_decision(parsed.call, parsed.context, parsed.decision)
        return _json(Recorded())

    async def health(request: Request) -> Response:
        return _json(Health(policy_version=broker.policy.version, log_id=broker.trail.log_id))

    def guarded(handler: Callable[[Request], Any]) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            try:
                response: Response = await handler(request)
            except _Refused as refused:
                _log.warning(
                    "decision_api_refused", path=request.url.path, status=refused.status, detail=refused.detail
                )
                return _error(refused.status, refused.error, refused.detail)
            except AuditError as exc:
                _log.error("decision_api_not_recorded", path=request.url.path, error=str(exc))
                return _error(503, "audit", str(exc))
            except Exception as exc:  # noqa: BLE001 - the client denies on any error answer; say what broke
                _log.error("decision_api_failed", path=request.url.path, error=repr(exc))
                return _error(500, "internal", f"{type(exc).__name__}: {exc}")
            return response

        return endpoint

    routes = [
        Route(DECIDE_PATH, guarded(decide), methods=["POST"]),
        Route(OUTCOME_PATH, guarded(outcome), methods=["POST"]),
        Route(APPROVAL_PATH, guarded(approval), methods=["POST"]),
        Route(HEALTH_PATH, guarded(health), methods=["GET"]),
        Route(CLI_DECISION_PATH, guarded(cli_decision), methods=["POST"]),
    ]
    return Starlette(routes=routes)


class WithDecisionApi:
    """Sends `/v1/...` HTTP requests to the decision API and everything else (MCP, lifespan) to `app`."""

    def __init__(self, app: ASGIApp, api: ASGIApp) -> None:
        self.app = app
        self.api = api

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and str(scope.get("path", "")).startswith(API_PREFIX):
            await self.api(scope, receive, send)
        else:
            await self.app(scope, receive, send)


async def serve_shared_broker(
    *,
    db: str | None,
    policy: Policy | str | Path | None,
    host: str,
    port: int,
    token: str | None,
    sock: socket.socket | None = None,
    env: Environment | None = None,
) -> None:
    """Serve the approval prompt and the decision API over HTTP until cancelled, then close the trail.

    The broker decides with `policy` (else $MAGISTRATE_POLICY, else the Claude Code settings of this
    directory) and records in the trail at `db` (else $MAGISTRATE_AUDIT; PostgreSQL when shared). The
    variables are read from `env`, this process's environment by default, as the approver is."""
    import anyio.to_thread

    from magistrate.servers._approval_server import build_server, open_broker
    from magistrate.servers._http import check_exposure, serve_http

    check_exposure(host, token)
    env = env or Environment.read()
    broker = await anyio.to_thread.run_sync(lambda: open_broker(db, policy=policy, env=env))
    try:
        server = build_server(governor=broker, env=env)
        api = decision_app(broker)
        _log.info("decision_api_serving", policy_version=broker.policy.version, log_id=broker.trail.log_id)
        await serve_http(
            server, host=host, port=port, token=token, sock=sock, wrap=lambda app: WithDecisionApi(app, api)
        )
    finally:
        await broker.trail.aclose()
