"""A `Governor` that asks a shared broker over HTTP, so runs on many machines share one policy and one trail.

`RemoteGovernor(url, token)` sends each decision request to `magistrate serve approval --transport http`
(`POST /v1/decide`), outcomes and approvals likewise, and keeps the promises of the in-process broker:

- Fail closed. An unreachable, slow or erring broker, a refused token or an unreadable answer gives a deny
  whose `error` says why. The trail it cannot reach cannot record that deny, so it is logged loudly instead.
  Recording an outcome or an approval raises `RemoteBrokerError` (an `AuditError`), as a local trail would.
- Bounded. Every request has a deadline (`timeout`); connect, send and read included.
- Cheap. Connections are kept alive and reused (stdlib `http.client`, run in worker threads so the event
  loop never blocks; a small pool serves concurrent calls). A kept-alive connection the broker has since
  closed is retried once on a fresh one; nothing else is retried.
- The session's history travels with each request. Several brokers behind a load balancer each see only some
  of a session's calls, so this client remembers the session's decisions (as the local broker does) and
  sends them; rules that read the history then see the whole session whichever process answers. Strings in
  remembered inputs longer than `HISTORY_STRING_LIMIT` are cut to that length (with a note of the cut), so a
  session that writes large files does not resend them with every call.
- Only what is new. The history goes to `POST /v1/decide-delta` as the entries after the ones the broker
  last acknowledged, with the fingerprint it gave for those. A broker that does not hold them (restarted,
  another process behind the load balancer, forgotten) answers 409 without deciding, and the history goes
  again in full; a broker too old for the path answers 404, and this client sends every later history in
  full to `POST /v1/decide`.
"""

from __future__ import annotations

import itertools
import socket
import time
import urllib.parse
from collections import OrderedDict, deque
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread

from magistrate.broker._call import CallContext, PriorDecision, ToolCall
from magistrate.broker._decision import Decision
from magistrate.broker._defaults import HISTORY_LIMIT
from magistrate.broker._interfaces import Approval, ToolOutcome
from magistrate.broker._log import get_logger
from magistrate.broker._trail_errors import AuditError

if TYPE_CHECKING:
    import http.client

    from magistrate.broker._decision_wire import Health

_log = get_logger("magistrate.broker.remote")
DEFAULT_TIMEOUT = 10.0
HISTORY_STRING_LIMIT = 4096
# What a kept-alive connection the broker closed looks like (http.client.RemoteDisconnected is the first).
_STALE = (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)
_NO_HISTORY = b'"history":[]'
_NO_ENTRIES = b'"entries":[]}}'


class RemoteBrokerError(AuditError):
    """A shared broker could not be reached, did not answer in time, refused the request or answered badly."""

    def __init__(self, message: str, *, url: str, status: int | None = None) -> None:
        super().__init__(message)
        self.url = url
        """The broker's base URL."""
        self.status = status
        """The HTTP status it answered with; None when there was no answer."""


def _trim(value: Any) -> Any:
    if isinstance(value, str) and len(value) > HISTORY_STRING_LIMIT:
        return f"{value[:HISTORY_STRING_LIMIT]}...[{len(value) - HISTORY_STRING_LIMIT} more characters not kept]"
    if isinstance(value, dict):
        return {k: _trim(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_trim(v) for v in value]
    return value


class RemoteGovernor:
    """Decides tool calls by asking the shared broker at `url` (`http://` or `https://`, optionally a path)."""

    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        history_limit: int = HISTORY_LIMIT,
        session_limit: int = 1024,
    ) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise RemoteBrokerError(f"the broker URL must be http:// or https://, got {url!r}", url=url)
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._base = parts.path.rstrip("/")
        self._headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self._idle: deque[http.client.HTTPConnection] = deque()
        self._closed = False
        self._history_limit = history_limit
        self._session_limit = session_limit
        self._sessions: OrderedDict[str, deque[PriorDecision]] = OrderedDict()
        self._encoded: dict[str, deque[bytes]] = {}
        """Each remembered decision's JSON as it is sent, so a call does not serialise the history anew."""
        self._counted: dict[str, int] = {}
        """How many decisions each remembered session has had, the forgotten oldest included."""
        self._acked: dict[str, tuple[int, str]] = {}
        """Per session, how many of its entries the broker last said it holds, and its fingerprint of them."""
        self.delta = True
        """Whether histories go as deltas (`/v1/decide-delta`); off once a broker answers that path 404."""
        self.policy_version = ""
        """The version of the broker's policy, as of its latest answer."""

    # -- connections (worker threads) ---------------------------------------------------------------

    def _connect(self) -> http.client.HTTPConnection:
        import http.client

        kind = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        conn = kind(self._host, self._port, timeout=self.timeout)
        conn.connect()
        # Small request, small answer: without this, Nagle's algorithm and the peer's delayed ACK add ~40 ms.
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn

    def _exchange(self, method: str, path: str, body: bytes | None) -> tuple[int, bytes, str | None]:
        """One request and its whole answer, on a kept-alive connection when there is one idle."""
        for attempt in range(2):
            try:
                conn, reused = self._idle.pop(), True
            except IndexError:
                conn, reused = self._connect(), False
            try:
                conn.request(method, self._base + path, body=body, headers=self._headers)
                response = conn.getresponse()
                data = response.read()
            except OSError as exc:
                conn.close()
                # A kept-alive connection the broker closed while it sat idle fails before any answer: the
                # request (almost surely) never reached the broker, so it goes once more on a fresh connection.
                # Should it have arrived after all, the trail holds two records of it, never none.
                if reused and attempt == 0 and isinstance(exc, _STALE):
                    continue
                raise
            except BaseException:
                conn.close()
                raise
            if response.will_close or self._closed:
                conn.close()
            else:
                self._idle.append(conn)
            from magistrate.broker._decision_wire import HISTORY_HEADER

            return response.status, data, response.getheader(HISTORY_HEADER)
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    async def _call(self, method: str, path: str, body: bytes | None = None) -> bytes:
        """The answer's body for a 200; `RemoteBrokerError` for anything else, within `timeout`."""
        status, data, _ = await self._send(method, path, body)
        return self._checked(status, data)

    async def _send(self, method: str, path: str, body: bytes | None) -> tuple[int, bytes, str | None]:
        """The answer's status, body and history header; `RemoteBrokerError` for no answer within `timeout`."""
        try:
            with anyio.fail_after(self.timeout):
                return await anyio.to_thread.run_sync(self._exchange, method, path, body, abandon_on_cancel=True)
        except TimeoutError:
            raise RemoteBrokerError(
                f"the broker at {self.url} did not answer within {self.timeout:g} s", url=self.url
            ) from None
        except OSError as exc:
            raise RemoteBrokerError(f"cannot reach the broker at {self.url}: {exc}", url=self.url) from exc
        except Exception as exc:  # http.client's protocol errors (a bad status line, ...) are not OSErrors
            raise RemoteBrokerError(f"bad exchange with the broker at {self.url}: {exc!r}", url=self.url) from exc

    def _checked(self, status: int, data: bytes) -> bytes:
        if status == 200:
            return data
        if status == 401:
            raise RemoteBrokerError(
                f"the broker at {self.url} refused the token (401 unauthorized)", url=self.url, status=status
            )
        raise RemoteBrokerError(
            f"the broker at {self.url} answered {status}: {self._detail(data)}", url=self.url, status=status
        )

    @staticmethod
    def _detail(data: bytes) -> str:
        from magistrate.broker._decision_wire import ErrorBody

        try:
            body = ErrorBody.model_validate_json(data)
        except ValueError:
            return data[:500].decode(errors="replace") or "no detail"
        return f"{body.error}: {body.detail}" if body.detail else body.error

    # -- the Governor -------------------------------------------------------------------------------

    def history(self, session_id: str) -> tuple[PriorDecision, ...]:
        """The decisions this client has seen in a session, oldest first, as they are sent to the broker."""
        return tuple(self._sessions.get(session_id, ()))

    def _remember(self, session_id: str, call: ToolCall, decision: Decision) -> None:
        from magistrate.broker._decision_wire import PRIOR_ADAPTER

        past = self._sessions.get(session_id)
        if past is None:
            past = self._sessions[session_id] = deque(maxlen=self._history_limit)
            self._encoded[session_id] = deque(maxlen=self._history_limit)
            while len(self._sessions) > self._session_limit:
                forgotten, _ = self._sessions.popitem(last=False)
                self._encoded.pop(forgotten, None)
                self._counted.pop(forgotten, None)
                self._acked.pop(forgotten, None)
        self._sessions.move_to_end(session_id)
        self._counted[session_id] = self._counted.get(session_id, 0) + 1
        rule_id = decision.rule.id if decision.rule else None
        prior = PriorDecision(call.tool_name, _trim(dict(call.tool_input)), decision.behavior, rule_id)
        past.append(prior)
        self._encoded[session_id].append(PRIOR_ADAPTER.dump_json(prior))

    def _request(self, call: ToolCall, context: CallContext) -> bytes:
        """The decide request's JSON. Without a history from the caller, the one this client remembers is sent,
        joined from each decision's JSON as kept since it was made."""
        from magistrate.broker._decision_wire import DecideRequest

        encoded = self._encoded.get(context.session_id) if context.session_id and not context.history else None
        if not encoded:
            return DecideRequest(call=call, context=context).model_dump_json().encode()
        bare = DecideRequest(call=call, context=context).model_dump_json().encode()
        # The context's history is the last `"history":[]` in the text: the call's input comes before the
        # context, and nothing in the context after its history (labels, agent id: strings) can hold one.
        at = bare.rfind(_NO_HISTORY)
        return b"".join((bare[: at + len(_NO_HISTORY) - 1], b",".join(encoded), bare[at + len(_NO_HISTORY) - 1 :]))

    def _delta_request(self, call: ToolCall, context: CallContext, *, full: bool) -> tuple[bytes, int, deque[bytes]]:
        """The decide-delta request's JSON, with the entries after the acknowledged ones (all of them when
        `full`, or when the broker's acknowledged entries are no longer all remembered here), the number of
        entries it covers, and the memory of the session they come from."""
        from magistrate.broker._decision_wire import DecideDeltaRequest, HistoryDelta

        session_id = context.session_id
        encoded = self._encoded[session_id]
        total = self._counted[session_id]
        first = total - len(encoded)
        acked = None if full else self._acked.get(session_id)
        if acked is not None and first <= acked[0] <= total:
            base, fingerprint = acked
        else:
            base, fingerprint = first, None
        # Built without its entries, which are joined into the text below: unchecked, as it is not whole yet.
        delta = HistoryDelta.model_construct(base=base, fingerprint=fingerprint, length=len(encoded))
        bare = DecideDeltaRequest.model_construct(call=call, context=context, history=delta).model_dump_json().encode()
        # The entries are the last field of the history, the last field of the request: the text ends so.
        assert bare.endswith(_NO_ENTRIES)
        sent = itertools.islice(encoded, base - first, None)
        cut = len(bare) - len(_NO_ENTRIES) + len(b'"entries":[')
        return b"".join((bare[:cut], b",".join(sent), bare[cut:])), total, encoded

    async def _decide_remotely(self, call: ToolCall, context: CallContext) -> bytes:
        """The decision's JSON: as a delta where this client has history to send and the broker takes deltas,
        again in full on a 409, and to `/v1/decide` in full once the broker answered the delta path 404."""
        from magistrate.broker._decision_wire import DECIDE_DELTA_PATH, DECIDE_PATH

        session_id = context.session_id
        if self.delta and session_id and not context.history and self._encoded.get(session_id):
            for full in (False, True):
                body, covered, memory = self._delta_request(call, context, full=full)
                status, data, header = await self._send("POST", DECIDE_DELTA_PATH, body)
                if status == 409 and not full:
                    continue
                if status == 404:
                    _log.info("broker_takes_no_history_delta", broker=self.url)
                    self.delta = False
                    break
                data = self._checked(status, data)
                self._acknowledge(session_id, memory, covered, header)
                return data
        return await self._call("POST", DECIDE_PATH, self._request(call, context))

    def _acknowledge(self, session_id: str, memory: deque[bytes], covered: int, header: str | None) -> None:
        """Keep the broker's fingerprint of the entries it now holds, unless an answer covering more came first
        (calls of one session in flight side by side), or the session was forgotten here meanwhile (its
        entries are numbered anew)."""
        count, _, fingerprint = (header or "").partition(":")
        if count != str(covered) or not fingerprint or self._encoded.get(session_id) is not memory:
            return
        acked = self._acked.get(session_id)
        if acked is None or acked[0] <= covered:
            self._acked[session_id] = (covered, fingerprint)

    async def decide(self, call: ToolCall, context: CallContext) -> Decision:
        """The broker's decision, recorded in the shared trail; a deny naming the error when it can't be had."""
        from magistrate.broker._decision_wire import DECISION_ADAPTER

        started = time.perf_counter_ns()
        try:
            data = await self._decide_remotely(call, context)
            try:
                decision = DECISION_ADAPTER.validate_json(data)
            except ValueError as exc:
                raise RemoteBrokerError(
                    f"the broker at {self.url} sent an answer that is not a decision: {exc}", url=self.url
                ) from exc
            self.policy_version = decision.policy_version or self.policy_version
        except Exception as exc:  # noqa: BLE001 - any failure to get a decision is a deny, never an exception
            error = str(exc) if isinstance(exc, RemoteBrokerError) else f"remote decision failed: {exc!r}"
            _log.error(
                "remote_decision_failed_call_denied_unrecorded",
                broker=self.url,
                tool=call.tool_name,
                tool_use_id=call.tool_use_id,
                session_id=context.session_id,
                error=error,
            )
            decision = Decision(
                behavior="deny",
                input=call.tool_input,
                message="magistrate: the policy broker could not decide this call, so it is denied",
                rule=None,
                policy_version=self.policy_version,
                elapsed_ns=time.perf_counter_ns() - started,
                error=error,
            )
        if context.session_id:
            self._remember(context.session_id, call, decision)
        return decision

    async def record_outcome(self, outcome: ToolOutcome) -> None:
        """Append a call's outcome to the shared trail; raises `RemoteBrokerError` when it is not recorded."""
        from magistrate.broker._decision_wire import OUTCOME_ADAPTER, OUTCOME_PATH

        await self._call("POST", OUTCOME_PATH, OUTCOME_ADAPTER.dump_json(outcome))

    async def record_approval(self, approval: Approval) -> None:
        """Append the answer to an ask to the shared trail; raises `RemoteBrokerError` when it is not recorded."""
        from magistrate.broker._decision_wire import APPROVAL_ADAPTER, APPROVAL_PATH

        await self._call("POST", APPROVAL_PATH, APPROVAL_ADAPTER.dump_json(approval))

    async def record_cli_decision(self, call: ToolCall, context: CallContext, decision: Decision) -> None:
        """Append a decision the CLI made alone to the shared trail; raises `RemoteBrokerError` when it is not
        recorded."""
        from magistrate.broker._decision_wire import CLI_DECISION_PATH, CliDecisionRequest

        body = CliDecisionRequest(call=call, context=context, decision=decision)
        await self._call("POST", CLI_DECISION_PATH, body.model_dump_json().encode())

    async def health(self) -> Health:
        """The broker's policy version and trail id; raises `RemoteBrokerError` when it does not answer."""
        from magistrate.broker._decision_wire import HEALTH_PATH, Health

        data = await self._call("GET", HEALTH_PATH)
        try:
            health = Health.model_validate_json(data)
        except ValueError as exc:
            raise RemoteBrokerError(
                f"the broker at {self.url} sent an invalid health answer: {exc}", url=self.url
            ) from exc
        self.policy_version = health.policy_version
        return health

    def close(self) -> None:
        """Close the kept-alive connections; a request still in flight closes its own when it ends."""
        self._closed = True
        while self._idle:
            self._idle.pop().close()

    async def aclose(self) -> None:
        self.close()

    async def __aenter__(self) -> RemoteGovernor:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
