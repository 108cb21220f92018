"""A webhook for every pending ask, so a chat notifier can tell someone a call is waiting for them.

The ask waits in the approval queue as before; once it is in, the broker POSTs a small JSON document
(`AskNotice`) to the configured URL: the ask's id, the call, why it is asked, and the commands that answer
it. The POST is made in the background and bounded; a notifier that is down is logged and does not hold up
or decide the ask (the queue still answers it, or the ask times out into a deny).
"""

from __future__ import annotations

import shlex
import threading
import urllib.request
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from magistrate.broker import get_logger

if TYPE_CHECKING:
    from magistrate.broker import AskRequest
    from magistrate.servers._approval_queue import ApprovalQueue

_log = get_logger("magistrate.servers.ask_webhook")
WEBHOOK_TIMEOUT = 5.0


class AskNotice(BaseModel):
    """The body POSTed to the webhook for one pending ask."""

    event: str = "ask_pending"
    id: str
    """The ask's id in the approval queue."""
    tool_name: str
    input: dict[str, Any]
    reason: str
    """Why the policy asks."""
    rule: str | None
    session_id: str
    tool_use_id: str | None
    approve: str
    """The command that approves it."""
    deny: str
    """The command that denies it."""


def post_notice(url: str, notice: AskNotice) -> None:
    """POST `notice` to `url`; failures are logged, never raised. Blocking."""
    request = urllib.request.Request(  # noqa: S310 - the URL is the operator's own setting
        url, data=notice.model_dump_json().encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT) as response:  # noqa: S310
            response.read()
    except Exception as exc:  # noqa: BLE001 - a notifier that is down must not decide an ask
        _log.error("ask_webhook_failed", url=url, ask=notice.id, error=repr(exc))
    else:
        _log.info("ask_webhook_sent", url=url, ask=notice.id)


class NotifyingQueue:
    """An approval queue that calls the webhook for each ask put in it; otherwise the queue it wraps."""

    def __init__(self, queue: ApprovalQueue, url: str) -> None:
        self._queue = queue
        self._url = url

    def __getattr__(self, name: str) -> Any:
        return getattr(self._queue, name)

    def holding(self) -> NotifyingQueue:
        return NotifyingQueue(self._queue.holding(), self._url)

    def submit(self, ask: AskRequest) -> str:
        ask_id = self._queue.submit(ask)
        where = shlex.quote(str(self._queue.location))
        notice = AskNotice(
            id=ask_id,
            tool_name=ask.tool_name,
            input=dict(ask.input),
            reason=ask.reason,
            rule=ask.rule,
            session_id=ask.session_id,
            tool_use_id=ask.tool_use_id,
            approve=f"magistrate approvals approve {ask_id} --db {where}",
            deny=f"magistrate approvals deny {ask_id} --db {where}",
        )
        threading.Thread(target=post_notice, args=(self._url, notice), daemon=True).start()
        return ask_id
