"""The shared broker's decision API: runs on other machines ask this process to decide and record their calls.

`magistrate serve approval --transport http` serves the MCP approval prompt at `/mcp` and, in the same app,
behind the same bearer-token check, a small JSON API for `magistrate.broker.RemoteGovernor`:

- `POST /v1/decide`: a call and its context in, the broker's decision out, recorded before the answer;
- `POST /v1/decide-delta`: the same, with the session's history sent as the entries this process has not
  seen yet (`HistoryDelta`); 409 when it does not hold the rest, and the client sends it in full;
- `POST /v1/outcome`, `POST /v1/approval`: append an outcome or an approval, answered once durable;
- `GET /v1/health`: the policy version and trail id, so a deployment can check every broker agrees.

One broker (one policy, one trail) sits behind both the prompt and the API, so their records are batched
together. Several such processes can write one PostgreSQL trail side by side: the store serialises
appends, and each process signs its checkpoints with the key at `$MAGISTRATE_TRAIL_KEY` (share one key file
among the brokers of a deployment, so `magistrate audit verify` needs one public key and equal secrets get
equal redaction stand-ins everywhere). A run's history travels with each decide request, in full or as
what this process has not seen; the copies kept for the second are only a cache (`HistoryCache`), so any
process behind a load balancer can answer any request, at worst with a 409 that costs a full resend.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

from magistrate.broker import (
    APPROVAL_ADAPTER,
    APPROVAL_PATH,
    CLI_DECISION_PATH,
    DECIDE_DELTA_PATH,
    DECIDE_PATH,
    DECISION_ADAPTER,
    HEALTH_PATH,
    HISTORY_HEADER,
    OUTCOME_ADAPTER,
    OUTCOME_PATH,
    AuditError,
    CliDecisionRequest,
    DecideDeltaRequest,
    DecideRequest,
    ErrorBody,
    Health,
    HistoryCache,
    Recorded,
    get_logger,
)

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from magistrate.broker import Broker, Governor

_log = get_logger("magistrate.servers.decision_api")
ASGIApp = Any
API_PREFIX = "/v1/"
SERVICE_PATHS = frozenset({"/hook", "/metrics"})
MAX_BODY_BYTES = 64 * 1024 * 1024
"""A decide request carries the call's input and the session's history; a Write of a large file is big."""

_T = TypeVar("_T")


class _Unknown(Exception):  # noqa: N818 - control flow inside this module, never raised to a caller
    """A history delta this process cannot rebuild: answered 409, nothing decided."""


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


class BrokerHealth(Health):
    """`GET /v1/health` of a broker that reloads its policy: `Health`, and why the latest edit did not load."""

    policy_error: str | None = None
    """Set while the policy file on disk does not load; the version above is the policy still in force."""


def decision_app(
    broker: Broker,
    *,
    governor: Governor | None = None,
    routes: Sequence[Any] = (),
    busy: Callable[[], AbstractContextManager[object]] | None = None,
    histories: HistoryCache | None = None,
) -> ASGIApp:
    """The `/v1/...` routes over `broker`, as an ASGI app (no token check: `http_app` wraps it in one).

    Decisions go through `governor` when given (the broker, counted for `/metrics`); `routes` are served
    beside them (`/hook`, `/metrics`), and `busy` is entered around each request, so a stopping service
    finishes the ones in flight. `histories` holds the histories sent to `/v1/decide-delta` (a new,
    bounded cache by default)."""
    import dataclasses
    from contextlib import nullcontext

    from starlette.applications import Starlette
    from starlette.routing import Route

    deciding: Governor = governor if governor is not None else broker
    entered = busy or nullcontext
    cache = histories if histories is not None else HistoryCache()

    async def decide(request: Request) -> Response:
        parsed = await _parse(request, DecideRequest.model_validate_json)
        # The broker never raises for a policy's or the trail's failure: those are recorded denies.
        decision = await deciding.decide(parsed.call, parsed.context)
        return _json(DECISION_ADAPTER.dump_json(decision))

    async def decide_delta(request: Request) -> Response:
        parsed = await _parse(request, DecideDeltaRequest.model_validate_json)
        resolved = cache.resolve(parsed.context.session_id, parsed.history)
        if resolved is None:
            raise _Unknown  # never a decision on a history cut short
        history, fingerprint = resolved
        decision = await deciding.decide(parsed.call, dataclasses.replace(parsed.context, history=history))
        response = _json(DECISION_ADAPTER.dump_json(decision))
        response.headers[HISTORY_HEADER] = f"{parsed.history.base + len(parsed.history.entries)}:{fingerprint}"
        return response

    async def outcome(request: Request) -> Response:
        await deciding.record_outcome(await _parse(request, OUTCOME_ADAPTER.validate_json))
        return _json(Recorded())

    async def approval(request: Request) -> Response:
        await deciding.record_approval(await _parse(request, APPROVAL_ADAPTER.validate_json))
        return _json(Recorded())

    async def cli_decision(request: Request) -> Response:
        parsed = await _parse(request, CliDecisionRequest.model_validate_json)
        await deciding.record_cli_decision(parsed.call, parsed.context, parsed.decision)
        return _json(Recorded())

    async def health(request: Request) -> Response:
        error = getattr(broker.policy, "error", None)
        return _json(BrokerHealth(policy_version=broker.policy.version, log_id=broker.trail.log_id, policy_error=error))

    def guarded(handler: Callable[[Request], Any]) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            try:
                with entered():
                    response: Response = await handler(request)
            except _Unknown:
                # Expected after a restart, behind a load balancer, or once the cache forgot the session.
                _log.debug("decision_api_history_unknown", path=request.url.path)
                detail = "this broker does not hold the session's history the request builds on; send it in full"
                return _error(409, "history_unknown", detail)
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
        Route(DECIDE_DELTA_PATH, guarded(decide_delta), methods=["POST"]),
        Route(OUTCOME_PATH, guarded(outcome), methods=["POST"]),
        Route(APPROVAL_PATH, guarded(approval), methods=["POST"]),
        Route(HEALTH_PATH, guarded(health), methods=["GET"]),
        Route(CLI_DECISION_PATH, guarded(cli_decision), methods=["POST"]),
        *routes,
    ]
    return Starlette(routes=routes)


class WithDecisionApi:
    """Sends `/v1/...` HTTP requests (and `/hook`, `/metrics`) to the decision API and everything else (MCP,
    lifespan) to `app`."""

    def __init__(self, app: ASGIApp, api: ASGIApp) -> None:
        self.app = app
        self.api = api

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] == "http" and (path.startswith(API_PREFIX) or path in SERVICE_PATHS):
            await self.api(scope, receive, send)
        else:
            await self.app(scope, receive, send)
