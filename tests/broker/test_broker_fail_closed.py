"""Whatever a policy or a rule does, the broker answers with a decision it recorded first.

A rule that raises anything (`BaseException` included), returns something that is not a decision, changes
the input it was given, or runs past its time budget is a recorded deny; a cancelled caller is still
cancelled, after the deny is in the trail.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from magistrate.broker import Broker, CallContext, Decision, RulePolicy, ToolCall, Trail

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def trail(tmp_path: Path) -> Trail:
    return Trail.open(tmp_path / "trail.sqlite3", key_path=tmp_path / "keys" / "trail.key")


def bash(command: str) -> ToolCall:
    return ToolCall("Bash", {"command": command}, tool_use_id="tu-1")


def recorded(trail: Trail) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in trail.records()]


RAISED: list[Callable[[], BaseException]] = [
    lambda: SystemExit(3),
    KeyboardInterrupt,
    GeneratorExit,
    asyncio.CancelledError,
    lambda: RecursionError("deep"),
]


class _Raises:
    version = "v-raises"

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc

    async def decide(self, call: ToolCall, context: CallContext) -> Decision:
        raise self.exc


@pytest.mark.parametrize("make", RAISED, ids=lambda m: type(m()).__name__)
async def test_a_policy_raising_any_base_exception_is_a_recorded_deny(trail: Trail, make: Any) -> None:
    exc = make()
    with anyio.fail_after(10):
        decision = await Broker(_Raises(exc), trail).decide(bash("echo hi"), CallContext(session_id="s"))
    assert decision.behavior == "deny"
    assert decision.error is not None
    assert type(exc).__name__ in decision.error
    [body] = recorded(trail)
    assert body["behavior"] == "deny"
    assert type(exc).__name__ in body["error"]


@pytest.mark.parametrize("make", RAISED, ids=lambda m: type(m()).__name__)
@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
async def test_a_python_rule_raising_any_base_exception_is_a_recorded_deny(
    trail: Trail, make: Any, asynchronous: bool
) -> None:
    policy = RulePolicy(default="allow")
    exc = make()

    def sync_rule(call: Any) -> None:
        raise exc

    async def async_rule(call: Any) -> None:
        raise exc

    policy.rule("Bash", id="raiser")(async_rule if asynchronous else sync_rule)
    with anyio.fail_after(10):
        decision = await Broker(policy, trail).decide(bash("echo hi"), CallContext(session_id="s"))
    assert decision.behavior == "deny"
    assert decision.error is not None
    assert type(exc).__name__ in decision.error
    assert recorded(trail)[0]["behavior"] == "deny"


class _Returns:
    version = "v-returns"

    def __init__(self, value: object) -> None:
        self.value = value

    async def decide(self, call: ToolCall, context: CallContext) -> Decision:
        return self.value  # type: ignore[return-value]  # the point: a policy that breaks its contract


@pytest.mark.parametrize(
    "value",
    [
        None,
        "allow",
        {"behavior": "allow", "input": {"command": "rm -rf /"}},
        Decision("maybe", {"command": "echo hi"}),  # type: ignore[arg-type]
        Decision("allow", None),  # type: ignore[arg-type]
    ],
    ids=["none", "str", "dict", "bad-behavior", "no-input"],
)
async def test_a_policy_returning_no_decision_is_a_recorded_deny(trail: Trail, value: object) -> None:
    with anyio.fail_after(10):
        decision = await Broker(_Returns(value), trail).decide(bash("echo hi"), CallContext(session_id="s"))
    assert decision.behavior == "deny"
    assert decision.input == {"command": "echo hi"}
    assert decision.error is not None
    assert "not a Decision" in decision.error
    [body] = recorded(trail)
    assert body["behavior"] == "deny"
    assert "not a Decision" in body["error"]


class _Waits:
    version = "v-waits"

    def __init__(self) -> None:
        self.started = anyio.Event()

    async def decide(self, call: ToolCall, context: CallContext) -> Decision:
        self.started.set()
        await anyio.sleep_forever()
        raise AssertionError("unreachable")


async def test_a_cancelled_caller_is_cancelled_after_its_deny_is_recorded(trail: Trail) -> None:
    policy = _Waits()
    broker = Broker(policy, trail)
    reached_end = False
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:

            async def decide() -> None:
                nonlocal reached_end
                await broker.decide(bash("echo hi"), CallContext(session_id="s"))
                reached_end = True

            tg.start_soon(decide)
            await policy.started.wait()
            tg.cancel_scope.cancel()
    assert not reached_end  # the cancellation went on
    [body] = recorded(trail)
    assert body["behavior"] == "deny"
    assert "CancelledError" in body["error"]


async def test_a_cancelled_async_rule_is_cancelled_after_its_deny_is_recorded(trail: Trail) -> None:
    policy = RulePolicy(default="allow")
    started = anyio.Event()

    @policy.rule("Bash")
    async def slow(call: Any) -> None:
        started.set()
        await anyio.sleep_forever()

    broker = Broker(policy, trail)
    with anyio.fail_after(10):
        with anyio.CancelScope() as scope:
            async with anyio.create_task_group() as tg:
                tg.start_soon(broker.decide, bash("echo hi"), CallContext(session_id="s"))
                await started.wait()
                scope.cancel()
    assert scope.cancelled_caught
    [body] = recorded(trail)
    assert body["behavior"] == "deny"
