"""The long-lived broker as a service: one process that decides for many runs, a user's or a whole team's.

`magistrate broker run` (one user, on loopback, started on demand) and `magistrate serve approval --transport
http` (a team's brokers over PostgreSQL) are this service with different settings. It serves:

- `POST /hook`: the plain CLI's HTTP hooks (`servers/_hook_api.py`);
- `/v1/...`: the decision API of `RemoteGovernor` and the SDK's `broker=`;
- `GET /metrics`: Prometheus text (`servers/_metrics.py`);
- `/mcp` (optional): the approval prompt, for `--permission-prompt-tool` over MCP's HTTP transport.

It runs as a service should: a policy file is reloaded when edited (a broken edit keeps the old policy,
and says so on `/v1/health` and in the log); every pending ask can be sent to a webhook; it stops after
`idle_timeout` seconds without a request; and on SIGTERM or SIGINT it stops taking connections, finishes
the requests in flight (their outcomes included), closes the trail, and returns, so the process exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import anyio
import anyio.to_thread

from magistrate.broker import DEFAULT_TIMEOUT, Environment, get_logger

if TYPE_CHECKING:
    import uvicorn
    from starlette.requests import Request
    from starlette.responses import Response

    from magistrate.broker import (
        Approval,
        Approver,
        Broker,
        CallContext,
        Decision,
        Governor,
        Policy,
        ToolCall,
        ToolOutcome,
        Trail,
    )
    from magistrate.servers._metrics import Metrics

_log = get_logger("magistrate.servers.broker_service")
METRICS_PATH = "/metrics"
GRACE_SECONDS = 30
"""How long a stopping service waits for requests in flight before it closes their connections."""


OUTCOME_DELAY = 0.05
"""Seconds a plain run's outcome waits for a decision's commit to ride in before it is committed alone."""


class _DeferredOutcomes:
    """The hooks' governor: decisions as the broker makes them, outcomes deferred to the next commit.

    Only a decision must be durable before its answer. A PostToolUse answer goes out at once, but its
    outcome's commit used to run before the connection read the run's next PreToolUse, so every call paid two
    commits; now the outcome rides in the next decision's transaction (or `_commit_outcomes` commits it), and
    a crash in between loses outcomes only, never a decision."""

    def __init__(self, inner: Governor, trail: Trail, due: Callable[[], anyio.Event]) -> None:
        self.inner = inner
        self.trail = trail
        self._due = due

    async def decide(self, call: ToolCall, context: CallContext) -> Decision:
        return await self.inner.decide(call, context)

    async def record_outcome(self, outcome: ToolOutcome) -> None:
        from magistrate.broker import OutcomeRecord

        self.trail.defer(OutcomeRecord.of(outcome))
        self._due().set()

    async def record_approval(self, approval: Approval) -> None:
        await self.inner.record_approval(approval)

    async def record_cli_decision(self, call: ToolCall, context: CallContext, decision: Decision) -> None:
        await self.inner.record_cli_decision(call, context, decision)


class Activity:
    """Requests in flight and the time of the latest one: what a graceful or idle stop waits on."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.last = time.monotonic()
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def busy(self) -> Iterator[None]:
        with self._lock:
            self.in_flight += 1
        try:
            yield
        finally:
            with self._lock:
                self.in_flight -= 1
                self.last = time.monotonic()

    def idle_for(self) -> float:
        return 0.0 if self.in_flight else time.monotonic() - self.last


def choose_policy(policy: Policy | str | Path | None, env: Environment) -> Policy:
    """A file (given, else `$MAGISTRATE_POLICY`) reloaded on change; a policy object as it is; with neither,
    the permissions the CLI would apply in each call's directory. Raises `PolicyLoadError`. Blocking."""
    from magistrate.servers._policy_reload import CwdPolicy, ReloadingPolicy

    chosen = policy if policy is not None else env.policy
    if chosen is None:
        return CwdPolicy()
    if isinstance(chosen, (str, Path)):
        return ReloadingPolicy(chosen)
    return chosen


class BrokerService:
    """One broker (a policy and a trail) behind every route, built when served."""

    def __init__(
        self,
        *,
        db: str | None,
        policy: Policy | str | Path | None,
        token: str | None,
        env: Environment,
        mcp: bool = True,
        ask_webhook: str | None = None,
        approval_timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.db = db
        self.policy = policy
        self.token = token
        self.env = env
        self.mcp = mcp
        self.ask_webhook = ask_webhook or env.ask_webhook
        self.approval_timeout = approval_timeout
        self.activity = Activity()
        self.server: uvicorn.Server | None = None
        self._outcomes_due: anyio.Event | None = None

    def _open(self) -> Broker:
        from magistrate.broker import Broker, Trail

        chosen = choose_policy(self.policy, self.env)  # before the trail: nothing to close if it fails
        return Broker(chosen, Trail.open(self.db or None, env=self.env))

    def _approver(self, metrics: Metrics) -> Approver | None:
        """The approval queue when one is configured, else none: the CLI's own prompt asks."""
        if not self.env.approval_queue:
            return None
        from magistrate.servers._approval_queue import ApprovalQueue, QueueApprover
        from magistrate.servers._metrics import CountingApprover

        queue: Any = ApprovalQueue(self.env.approval_queue)
        if self.ask_webhook:
            from magistrate.servers._ask_webhook import NotifyingQueue

            queue = NotifyingQueue(queue, self.ask_webhook)
        return CountingApprover(QueueApprover(queue), metrics)

    def _app(self, broker: Broker, host: str) -> Any:
        from starlette.responses import Response
        from starlette.routing import Route

        from magistrate.servers._decision_api import WithDecisionApi, decision_app
        from magistrate.servers._hook_api import HookEndpoint, hook_route
        from magistrate.servers._http import BearerTokenMiddleware, http_app
        from magistrate.servers._metrics import CONTENT_TYPE, MeteredGovernor, Metrics

        metrics = Metrics()
        governor = MeteredGovernor(broker, metrics)
        approver = self._approver(metrics)
        hooks = _DeferredOutcomes(governor, broker.trail, self._due)
        endpoint = HookEndpoint(hooks, broker.trail, approver, approval_timeout=self.approval_timeout)

        async def scrape(request: Request) -> Response:
            size = None
            with contextlib.suppress(Exception):  # a trail that cannot be counted still has metrics
                size = await anyio.to_thread.run_sync(broker.trail.size)
            error = getattr(broker.policy, "error", None) is not None
            return Response(metrics.render(trail_records=size, reload_error=error), media_type=CONTENT_TYPE)

        routes = [hook_route(endpoint, self.activity.busy), Route(METRICS_PATH, scrape, methods=["GET"])]
        api = decision_app(broker, governor=governor, routes=routes, busy=self.activity.busy)
        if self.mcp:
            from magistrate.servers._approval_server import build_server

            server = build_server(governor=governor, env=self.env, approver=approver)
            return http_app(server, host=host, token=self.token, wrap=lambda app: WithDecisionApi(app, api))
        return BearerTokenMiddleware(api, self.token) if self.token else api

    async def serve(
        self,
        *,
        host: str,
        port: int,
        sock: socket.socket | None = None,
        idle_timeout: float | None = None,
        ready: Callable[[], None] | None = None,
    ) -> None:
        """Serve until cancelled, a signal, or idle; then finish in-flight requests and close the trail."""
        import uvicorn

        from magistrate.servers._http import check_exposure

        check_exposure(host, self.token)
        broker = await anyio.to_thread.run_sync(self._open)
        try:
            config = uvicorn.Config(
                self._app(broker, host),
                host=host,
                port=port,
                log_level="warning",
                access_log=False,  # the trail and /metrics say what was decided; a line per call costs CPU
                http=_protocol_class(),
                lifespan="on" if self.mcp else "off",
                timeout_graceful_shutdown=GRACE_SECONDS,
            )
            self.server = server = _Server(config)
            _log.info(
                "broker_serving", host=host, port=port, policy_version=broker.policy.version, log_id=broker.trail.log_id
            )
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._on_signals, server)
                watch = getattr(broker.policy, "watch", None)
                if watch is not None:
                    tg.start_soon(watch)
                tg.start_soon(self._commit_outcomes, broker)
                if idle_timeout:
                    tg.start_soon(self._stop_when_idle, server, idle_timeout)
                if ready is not None:
                    tg.start_soon(_when_started, server, ready)
                await server.serve(sockets=[sock] if sock is not None else None)
                tg.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                await broker.trail.aclose()
            _log.info("broker_stopped", in_flight=self.activity.in_flight)

    async def _on_signals(self, server: uvicorn.Server) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # signals reach only the main thread; a service run in a thread is stopped by cancelling
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async for signum in signals:
                _log.warning("broker_stopping", signal=signal.Signals(signum).name, in_flight=self.activity.in_flight)
                server.force_exit = server.should_exit and signum == signal.SIGINT
                server.should_exit = True

    def _due(self) -> anyio.Event:
        if self._outcomes_due is None:
            self._outcomes_due = anyio.Event()
        return self._outcomes_due

    async def _commit_outcomes(self, broker: Broker) -> None:
        """Commit the hooks' deferred outcomes within `OUTCOME_DELAY` of the first one, when no decision's
        commit has carried them by then; closing the trail commits the rest."""
        while True:
            await self._due().wait()
            self._outcomes_due = None
            await anyio.sleep(OUTCOME_DELAY)
            try:
                await broker.trail.flush()
            except Exception as exc:  # noqa: BLE001 - the calls already ran; the loss is logged loudly
                _log.error("outcomes_not_recorded", error=str(exc))

    async def _stop_when_idle(self, server: uvicorn.Server, idle_timeout: float) -> None:
        while not server.should_exit:
            await anyio.sleep(min(idle_timeout, 5.0))
            if self.activity.idle_for() >= idle_timeout:
                _log.warning("broker_idle_stopping", idle_seconds=idle_timeout)
                server.should_exit = True


class _OneWrite:
    """A transport that joins the writes of one turn of the event loop into one send.

    uvicorn writes a response's head and its body separately: two system calls, two packets (the sockets
    have no Nagle delay), and a client woken twice, for every hook answer and every decision."""

    def __init__(self, transport: Any) -> None:
        self._transport = transport
        self._pending: list[bytes] = []
        self._loop = asyncio.get_running_loop()

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._pending:
            self._loop.call_soon(self._flush)
        self._pending.append(bytes(data))

    def _flush(self) -> None:
        if self._pending:
            data = b"".join(self._pending)
            self._pending.clear()
            self._transport.write(data)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def _protocol_class() -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol over httptools (a dependency; h11 where it is missing), writing each response
    in one send."""
    import importlib.util

    if importlib.util.find_spec("httptools") is not None:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as Base
    else:  # pragma: no cover - httptools is a dependency
        from uvicorn.protocols.http.h11_impl import H11Protocol as Base  # type: ignore[assignment]

    class Protocol(Base):
        def connection_made(self, transport: Any) -> None:
            super().connection_made(cast("asyncio.Transport", _OneWrite(transport)))

    return Protocol


async def _when_started(server: uvicorn.Server, ready: Callable[[], None]) -> None:
    while not server.started:  # noqa: ASYNC110 - uvicorn offers a flag, not an event
        await anyio.sleep(0.01)
    ready()


def _server_class() -> type[uvicorn.Server]:
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn's server, minus its signal handling: the service handles the signals itself, and does not
        re-raise them at the end (which made the process exit 143 with the trail unclosed)."""

        def install_signal_handlers(self) -> None:  # older uvicorn
            return

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    return Server


def _Server(config: uvicorn.Config) -> uvicorn.Server:  # noqa: N802 - reads as the class it builds
    return _server_class()(config)


async def serve_shared_broker(
    *,
    db: str | None,
    policy: Policy | str | Path | None,
    host: str,
    port: int,
    token: str | None,
    sock: socket.socket | None = None,
    env: Environment | None = None,
    idle_timeout: float | None = None,
    mcp: bool = True,
    ask_webhook: str | None = None,
    ready: Callable[[], None] | None = None,
) -> None:
    """Serve the hook endpoint, the decision API, `/metrics` and (with `mcp`) the approval prompt over HTTP
    until cancelled, SIGTERM or SIGINT, or `idle_timeout` seconds without a request; then finish the requests
    in flight and close the trail.

    The broker decides with `policy` (else $MAGISTRATE_POLICY, else the Claude Code settings of each call's
    directory), reloading a policy file when it changes, and records in the trail at `db` (else
    $MAGISTRATE_AUDIT; PostgreSQL when shared). The variables are read from `env`, this process's
    environment by default, as the approver is."""
    service = BrokerService(
        db=db, policy=policy, token=token, env=env or Environment.read(), mcp=mcp, ask_webhook=ask_webhook
    )
    await service.serve(host=host, port=port, sock=sock, idle_timeout=idle_timeout, ready=ready)
