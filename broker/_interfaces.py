"""The seams between the parts, as Protocols, so each side can be built and tested alone.

The SDK knows the broker only through `Governor`: decide a call, record its outcome. Whatever sits behind
it (an in-process broker with a local trail, or a client of a shared broker over HTTP) keeps the same promise:
no allow is returned before its record is durable, and any failure comes back as a recorded deny.

`ToolOutcome` and `Approval` are values that travel whole: from the SDK or the approver, over the decision
API (a pydantic `TypeAdapter` over the dataclass), into the trail's record and back out of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

from magistrate.broker._call import CallContext, ToolCall
from magistrate.broker._decision import Decision

if TYPE_CHECKING:
    from pydantic import ConfigDict


class Policy(Protocol):
    """Decides calls; knows nothing of the trail."""

    @property
    def version(self) -> str:
        """A hash of the policy's sources."""
        ...

    async def decide(self, call: ToolCall, context: CallContext) -> Decision:
        """Decide one call. Never raises for a rule's failure: that is a deny naming the error."""
        ...


@dataclass(frozen=True, slots=True)
class ToolOutcome:
    """What became of an allowed call, linked to its decision by `tool_use_id`."""

    __pydantic_config__: ClassVar[ConfigDict] = {"extra": "ignore"}

    tool_use_id: str
    tool_name: str
    session_id: str
    status: Literal["success", "error", "not_run"]
    result_size: int = 0
    """Bytes of the tool's result as the CLI reported it (UTF-8 of its JSON)."""
    result_sha256: str = ""
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Approval:
    """How an `ask` was answered, by whom, and with what note."""

    __pydantic_config__: ClassVar[ConfigDict] = {"extra": "ignore"}

    tool_use_id: str | None
    tool_name: str
    session_id: str
    behavior: Literal["allow", "deny"]
    approver: str
    """Who answered: `callback:<name>`, `terminal:<user>`, `queue:<user>`, or `timeout` / `none` for a deny."""
    note: str = ""
    updated_input: Mapping[str, Any] | None = None


class Governor(Protocol):
    """What a governed run needs from the broker."""

    async def decide(self, call: ToolCall, context: CallContext) -> Decision:
        """Decide and durably record; on any failure return a deny that is itself recorded."""
        ...

    async def record_outcome(self, outcome: ToolOutcome) -> None:
        """Append the outcome of a call to the trail."""
        ...

    async def record_approval(self, approval: Approval) -> None:
        """Append the answer to an ask to the trail."""
        ...

    async def record_cli_decision(self, call: ToolCall, context: CallContext, decision: Decision) -> None:
        """Append a decision the CLI made alone, before any hook (its rule's source is `claude_code`)."""
        ...
