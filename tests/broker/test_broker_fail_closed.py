"""Whatever a policy or a rule does, the broker answers with a decision it recorded first.

A rule that raises anything (`BaseException` included), returns something that is not a decision, changes
the input it was given, or runs past its time budget is a recorded deny; a cancelled caller is still
cancelled, after the deny is in the trail.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import signal
import sqlite3
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from magistrate.broker import (
    Allow,
    AuditError,
    Broker,
    CallContext,
    Decision,
    DecisionRecord,
    Deny,
    Environment,
    RulePolicy,
    ToolCall,
    Trail,
    parse_record,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def trail(tmp_path: Path) -> Iterator[Trail]:
    opened = Trail.open(tmp_path / "trail.sqlite3", key_path=tmp_path / "keys" / "trail.key")
    yield opened
    opened.close()


def bash(command: str) -> ToolCall:
    return ToolCall("Bash", {"command": command}, tool_use_id="tu-1")


def recorded(trail: Trail) -> list[DecisionRecord]:
    """The decision records, read back through their model."""
    found = [parse_record(r.body) for r in trail.records()]
    assert all(isinstance(r, DecisionRecord) for r in found)
    return [r for r in found if isinstance(r, DecisionRecord)]


RAISED: list[Callable[[], BaseException]] = [
    lambda: SystemExit(3),
    KeyboardInterrupt,
    GeneratorExit,
    asyncio.CancelledError,
    lambda: RecursionError("deep"),
]

_TELLS_CANCELLATION_APART = sys.version_info >= (3, 11)
"""Python 3.10's asyncio keeps no count of requested cancellations (`Task.cancelling`), so a rule's own
`CancelledError` looks like a real one there: its deny is recorded, and then it travels on, as a cancellation
must; from 3.11 on it is just one more way for a rule to fail, and the decision is the deny."""


async def _decide_raising(broker: Broker, exc: BaseException) -> Decision | None:
    if isinstance(exc, asyncio.CancelledError) and not _TELLS_CANCELLATION_APART:
        try:  # raised from a worker thread (a sync rule) it may still come back as the deny
            return await broker.decide(bash("echo hi"), CallContext(session_id="s"))
        except asyncio.CancelledError:
            return None
    return await broker.decide(bash("echo hi"), CallContext(session_id="s"))


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
        decision = await _decide_raising(Broker(_Raises(exc), trail), exc)
    if decision is not None:
        assert decision.behavior == "deny"
        assert decision.error is not None
        assert type(exc).__name__ in decision.error
    [body] = recorded(trail)
    assert body.decision.behavior == "deny"
    assert type(exc).__name__ in (body.decision.error or "")


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
        decision = await _decide_raising(Broker(policy, trail), exc)
    if decision is not None:
        assert decision.behavior == "deny"
        assert decision.error is not None
        assert type(exc).__name__ in decision.error
    assert recorded(trail)[0].decision.behavior == "deny"


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
    assert body.decision.behavior == "deny"
    assert "not a Decision" in (body.decision.error or "")


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
    assert body.decision.behavior == "deny"
    assert "CancelledError" in (body.decision.error or "")


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
    assert body.decision.behavior == "deny"


# -- rules cannot change what they were not given -------------------------------------------------------------


async def test_a_rule_changing_the_raw_input_in_place_is_a_deny_and_changes_nothing(trail: Trail) -> None:
    policy = RulePolicy(default="allow", deny=["Bash(touch:*)"])

    @policy.rule("Bash")
    def sneak(call: Any) -> None:
        call.raw["command"] = "touch pwned"

    call = bash("echo hi")
    decision = await Broker(policy, trail).decide(call, CallContext(session_id="s"))
    assert decision.behavior == "deny"
    assert decision.error is not None
    assert "TypeError" in decision.error
    assert decision.input == {"command": "echo hi"}
    assert call.tool_input == {"command": "echo hi"}
    assert recorded(trail)[0].input == {"command": "echo hi"}


async def test_a_rule_changing_its_typed_input_behind_its_back_changes_nothing(trail: Trail) -> None:
    policy = RulePolicy(default="allow", deny=["Bash(touch:*)"])
    seen: list[str] = []

    @policy.rule("Bash")
    def sneak(call: Any) -> None:
        call.input.__dict__["command"] = "touch pwned"

    @policy.rule("Bash")
    def looks(call: Any) -> None:
        seen.append(call.input.command)

    decision = await Broker(policy, trail).decide(bash("echo hi"), CallContext(session_id="s"))
    assert decision.behavior == "allow"
    assert decision.input == {"command": "echo hi"}
    assert seen == ["echo hi"]  # the next rule gets a view of its own
    assert recorded(trail)[0].decision.input == recorded(trail)[0].input  # not rewritten


async def test_nested_lists_of_the_input_are_read_only_too(trail: Trail) -> None:
    policy = RulePolicy(default="allow")
    edits = [{"old_string": "a", "new_string": "b"}]

    @policy.rule("MultiEdit")
    def sneak(call: Any) -> None:
        call.raw["edits"][0]["new_string"] = "pwned"

    call = ToolCall("MultiEdit", {"file_path": "/tmp/x.txt", "edits": edits}, tool_use_id="tu-1")
    decision = await Broker(policy, trail).decide(call, CallContext(session_id="s"))
    assert decision.behavior == "deny"
    assert edits == [{"old_string": "a", "new_string": "b"}]
    assert decision.input["edits"] == edits


async def test_a_policy_that_changes_its_call_in_place_runs_the_call_as_asked(trail: Trail) -> None:
    class Mutating:
        version = "v-mutating"

        async def decide(self, call: ToolCall, context: CallContext) -> Decision:
            call.tool_input["command"] = "touch pwned"  # type: ignore[index]  # the point: a misbehaving policy
            return Decision("allow", call.tool_input)

    asked = bash("echo hi")
    decision = await Broker(Mutating(), trail).decide(asked, CallContext(session_id="s"))
    assert decision.behavior == "allow"
    assert decision.input == {"command": "echo hi"}
    assert asked.tool_input == {"command": "echo hi"}
    assert recorded(trail)[0].decision.input == recorded(trail)[0].input  # not rewritten


async def test_a_rule_cannot_change_the_history_or_labels_it_judges(trail: Trail) -> None:
    policy = RulePolicy(default="allow")
    attempts: list[str] = []

    @policy.rule("Bash")
    def rewrite_the_past(call: Any, context: CallContext) -> None:
        labels: Any = context.labels
        try:
            labels["team"] = "other"
        except TypeError:
            attempts.append("labels")
        if context.history:
            past: Any = context.history[0].tool_input
            try:
                past["command"] = "echo nothing to see"
            except TypeError:
                attempts.append("history")

    broker = Broker(policy, trail)
    context = CallContext(session_id="s", labels={"team": "a"})
    await broker.decide(bash("cat secrets"), context)
    await broker.decide(bash("echo hi"), context)
    assert attempts == ["labels", "labels", "history"]
    assert [p.tool_input["command"] for p in broker.history("s")] == ["cat secrets", "echo hi"]
    assert [r.context.labels for r in recorded(trail)] == [{"team": "a"}, {"team": "a"}]


async def test_a_rewrite_is_checked_again_and_the_rule_keeps_no_hold_on_it(trail: Trail) -> None:
    policy = RulePolicy(default="allow", deny=["Bash(touch:*)"])
    handed: list[dict[str, Any]] = []

    @policy.rule("Bash")
    def rewrite(call: Any) -> Allow | None:
        if call.input.command == "echo hi":
            new = {"command": "echo rewritten"}
            handed.append(new)
            return Allow(updated_input=new)
        return None

    decision = await Broker(policy, trail).decide(bash("echo hi"), CallContext(session_id="s"))
    assert decision.behavior == "allow"
    handed[0]["command"] = "touch pwned"  # too late: the decision holds a copy
    assert decision.input == {"command": "echo rewritten"}


# -- bounded work ------------------------------------------------------------------------------------------


@pytest.fixture(params=["inline", "worker-thread"])
def sync_rules_run(request: pytest.FixtureRequest) -> Iterator[str]:
    """Both ways a sync rule runs: inline under the alarm, or (SIGALRM taken by someone else) in a worker thread."""
    if request.param == "inline":
        yield request.param
        return
    previous = signal.signal(signal.SIGALRM, lambda signum, frame: None)
    try:
        yield request.param
    finally:
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """What a hanging rule waits on; set when the test ends, so a worker thread left to it ends too."""
    event = threading.Event()
    yield event
    event.set()


def assert_overran(decision: Decision) -> None:
    """The deny a sync rule that overran its 0.2 s budget gives."""
    assert decision.behavior == "deny"
    assert decision.error is not None
    assert "overran its 0.2 s budget" in decision.error


@pytest.mark.timeout(600, method="thread")  # pytest-timeout's default holds SIGALRM, which sends rules to a thread
async def test_a_sync_rule_that_hangs_is_denied_at_its_deadline(
    trail: Trail, sync_rules_run: str, release: threading.Event
) -> None:
    policy = RulePolicy(default="allow")

    @policy.rule("Bash", timeout=0.2)
    def hangs(call: Any) -> None:
        release.wait()  # until the test lets it go: far past the budget

    with anyio.fail_after(20):  # without abandoning the thread, this would wait for the rule for ever
        decision = await Broker(policy, trail).decide(bash("echo hi"), CallContext(session_id="s"))
    assert_overran(decision)
    assert recorded(trail)[0].decision.behavior == "deny"


@pytest.mark.timeout(600, method="thread")  # pytest-timeout's default holds SIGALRM, which sends rules to a thread
async def test_a_sync_rule_that_swallows_the_alarm_is_denied_and_then_runs_in_a_worker_thread(
    trail: Trail, release: threading.Event
) -> None:
    policy = RulePolicy(default="allow")
    caught: list[str] = []

    @policy.rule("Bash", timeout=0.2)
    def retries(call: Any) -> None:
        try:  # catches everything, as a bare `except:` does
            release.wait()
        except BaseException as exc:  # noqa: BLE001 - the rule under test swallows what stops it
            caught.append(type(exc).__name__)
        release.wait()  # outside the `try`: the next raise ends the rule here

    broker = Broker(policy, trail)
    with anyio.fail_after(20):
        first = await broker.decide(bash("echo one"), CallContext(session_id="s"))
        second = await broker.decide(bash("echo two"), CallContext(session_id="s"))
    assert caught  # the first call ran inline and had the alarm raised into it
    for decision in (first, second):
        assert_overran(decision)
    assert [r.decision.behavior for r in recorded(trail)] == ["deny", "deny"]
    assert signal.getsignal(signal.SIGALRM) is signal.SIG_DFL
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


@pytest.mark.timeout(600, method="thread")  # pytest-timeout's default holds SIGALRM, which sends rules to a thread
async def test_a_sync_rule_leaves_someone_elses_alarm_handler_alone(trail: Trail, release: threading.Event) -> None:
    policy = RulePolicy(default="allow")
    fired: list[int] = []

    @policy.rule("Bash", timeout=0.2)
    def hangs(call: Any) -> None:
        release.wait()

    @policy.rule("Bash")
    def fine(call: Any) -> None:
        return None

    def theirs(signum: int, frame: Any) -> None:
        fired.append(signum)

    previous = signal.signal(signal.SIGALRM, theirs)
    try:
        with anyio.fail_after(20):  # the rule runs in a worker thread, abandoned at its deadline
            decision = await Broker(policy, trail).decide(bash("echo hi"), CallContext(session_id="s"))
        assert signal.getsignal(signal.SIGALRM) is theirs
    finally:
        signal.signal(signal.SIGALRM, previous)
    assert_overran(decision)
    assert fired == []


@pytest.mark.timeout(600, method="thread")  # pytest-timeout's default holds SIGALRM, which sends rules to a thread
async def test_a_sync_rule_off_the_main_thread_is_denied_at_its_deadline(
    trail: Trail, release: threading.Event
) -> None:
    policy = RulePolicy(default="allow")

    @policy.rule("Bash", timeout=0.2)
    def hangs(call: Any) -> None:
        release.wait()

    @policy.rule("Bash")
    def says_no(call: Any) -> Deny:
        return Deny("never reached")

    def decide_in_a_thread() -> Decision:
        return anyio.run(policy.decide, bash("echo hi"), CallContext(session_id="s"))

    with anyio.fail_after(20):
        decision = await anyio.to_thread.run_sync(decide_in_a_thread)
    assert_overran(decision)
    assert decision.rule is not None
    assert decision.rule.text.endswith(".hangs")


@pytest.mark.timeout(600, method="thread")  # pytest-timeout's default holds SIGALRM, which sends rules to a thread
async def test_sync_rules_run_in_order_and_the_alarm_is_put_back(trail: Trail) -> None:
    policy = RulePolicy(default="allow")
    ran: list[str] = []

    @policy.rule("Bash")
    def first(call: Any) -> None:
        ran.append("first")

    @policy.rule("Bash")
    async def second(call: Any) -> None:
        ran.append("second")

    @policy.rule("Bash")
    def third(call: Any) -> Deny:
        ran.append("third")
        return Deny("third says no")

    @policy.rule("Bash")
    def fourth(call: Any) -> None:
        ran.append("fourth")

    decision = await Broker(policy, trail).decide(bash("echo hi"), CallContext(session_id="s"))
    assert (decision.behavior, decision.message, ran) == ("deny", "third says no", ["first", "second", "third"])
    assert signal.getsignal(signal.SIGALRM) is signal.SIG_DFL
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


async def test_an_async_rule_that_hangs_is_denied_at_its_deadline(trail: Trail) -> None:
    policy = RulePolicy(default="allow")

    @policy.rule("Bash", timeout=0.2)
    async def hangs(call: Any) -> None:
        await anyio.sleep_forever()

    with anyio.fail_after(20):
        decision = await Broker(policy, trail).decide(bash("echo hi"), CallContext(session_id="s"))
    assert decision.behavior == "deny"
    assert decision.error is not None
    assert "timed out after 0.2 s" in decision.error


@pytest.mark.timeout(600, method="thread")  # pytest-timeout's default holds SIGALRM, which sends rules to a thread
async def test_a_plain_function_returning_a_coroutine_is_awaited_within_its_budget(
    trail: Trail, sync_rules_run: str
) -> None:
    policy = RulePolicy(default="allow")

    async def deny_it() -> Deny:
        return Deny("no")

    policy.rule("Bash")(lambda call: deny_it())
    decision = await Broker(policy, trail).decide(bash("echo hi"), CallContext(session_id="s"))
    assert (decision.behavior, decision.message) == ("deny", "no")


def _lock_sqlite(db: Path, how: str) -> Callable[[], None]:
    """Hold the trail's database as another writer would, and give back how to let go."""
    if how == "file-lock":
        fd = os.open(f"{db}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        return lambda: os.close(fd)
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("BEGIN EXCLUSIVE")
    return conn.close


def _lock_postgres(url: str) -> Callable[[], None]:
    import psycopg

    conn = psycopg.connect(url)
    conn.execute("SELECT tree_size FROM trail_head WHERE id = 1 FOR UPDATE")
    return conn.close


@pytest.mark.parametrize("how", ["file-lock", "sqlite-lock", "postgres"])
async def test_a_locked_database_is_a_deny_within_the_timeout(tmp_path: Path, how: str, request: Any) -> None:
    db = request.getfixturevalue("postgres_database") if how == "postgres" else str(tmp_path / "trail.sqlite3")
    env = Environment.read({"MAGISTRATE_TRAIL_TIMEOUT": "0.5"})
    trail = await Trail.aopen(db, key_path=tmp_path / "keys" / "trail.key", env=env)
    broker = Broker(RulePolicy(default="allow"), trail)
    await broker.decide(bash("echo before"), CallContext(session_id="s"))
    release = _lock_postgres(db) if how == "postgres" else _lock_sqlite(Path(db), how)
    try:
        with anyio.fail_after(20):  # the old waits were a minute and more
            decision = await broker.decide(bash("echo during"), CallContext(session_id="s"))
    finally:
        release()
    assert decision.behavior == "deny"
    assert decision.error is not None
    assert "trail append failed" in decision.error
    after = await broker.decide(bash("echo after"), CallContext(session_id="s"))
    assert after.behavior == "allow"  # once the lock is gone, the trail works again
    await trail.aclose()


@pytest.mark.parametrize("value", ["soon", "0", "-1", "nan", "99999"])
def test_a_bad_trail_timeout_is_a_clear_error(tmp_path: Path, value: str) -> None:
    env = Environment.read({"MAGISTRATE_TRAIL_TIMEOUT": value})
    with pytest.raises(AuditError, match="MAGISTRATE_TRAIL_TIMEOUT must be a number of seconds"):
        Trail.open(tmp_path / "trail.sqlite3", key_path=tmp_path / "trail.key", env=env)
