"""HistoryCache: a history sent as deltas rebuilds to exactly the history sent in full, or to nothing."""

from __future__ import annotations

from magistrate.broker import HistoryCache, HistoryDelta, PriorDecision
from magistrate.broker._immutable import FrozenDict


def entry(n: int) -> PriorDecision:
    return PriorDecision("Bash", {"command": f"echo {n}", "nested": {"n": [n]}}, "allow", None)


def full(base: int, entries: list[PriorDecision]) -> HistoryDelta:
    return HistoryDelta(base=base, length=len(entries), entries=tuple(entries))


def delta(base: int, fingerprint: str, entries: list[PriorDecision], length: int) -> HistoryDelta:
    return HistoryDelta(base=base, fingerprint=fingerprint, length=length, entries=tuple(entries))


def resolved(cache: HistoryCache, session: str, sent: HistoryDelta) -> tuple[tuple[PriorDecision, ...], str]:
    got = cache.resolve(session, sent)
    assert got is not None
    return got


def test_deltas_rebuild_the_whole_history_read_only() -> None:
    cache = HistoryCache()
    history = [entry(0), entry(1)]
    seen, fingerprint = resolved(cache, "s", full(0, history))
    assert list(seen) == history
    for n in range(2, 6):
        history.append(entry(n))
        seen, fingerprint = resolved(cache, "s", delta(n, fingerprint, history[-1:], len(history)))
        assert list(seen) == history
        assert all(type(p.tool_input) is FrozenDict for p in seen)
    # Nothing new to send: the same history again.
    again, same = resolved(cache, "s", delta(len(history), fingerprint, [], len(history)))
    assert (list(again), same) == (history, fingerprint)


def test_a_window_of_the_latest_entries_as_the_client_keeps_them() -> None:
    cache = HistoryCache()
    _, fingerprint = resolved(cache, "s", full(10, [entry(10), entry(11), entry(12)]))
    seen, _ = resolved(cache, "s", delta(13, fingerprint, [entry(13)], 3))  # the client forgot entry 10
    assert list(seen) == [entry(11), entry(12), entry(13)]


def test_anything_it_does_not_hold_is_no_history_at_all() -> None:
    cache = HistoryCache()
    _, fingerprint = resolved(cache, "s", full(0, [entry(0), entry(1)]))
    assert cache.resolve("s", delta(2, "00" * 16, [entry(2)], 3)) is None  # a fingerprint it never gave
    assert cache.resolve("s", delta(1, fingerprint, [entry(2)], 2)) is None  # the fingerprint of another place
    assert cache.resolve("s", delta(3, fingerprint, [], 3)) is None  # past its newest entry
    assert cache.resolve("s", delta(2, fingerprint, [entry(2)], 4)) is None  # longer than what it holds
    assert cache.resolve("other", delta(2, fingerprint, [entry(2)], 3)) is None  # another session's history
    assert HistoryCache().resolve("s", delta(2, fingerprint, [entry(2)], 3)) is None  # another process
    seen, _ = resolved(cache, "s", delta(2, fingerprint, [entry(2)], 3))  # and the right one still resolves
    assert list(seen) == [entry(0), entry(1), entry(2)]


def test_the_same_entries_in_another_session_get_another_fingerprint() -> None:
    cache = HistoryCache()
    _, one = resolved(cache, "a", full(0, [entry(0)]))
    _, two = resolved(cache, "b", full(0, [entry(0)]))
    assert one != two
    assert cache.resolve("b", delta(1, one, [], 1)) is None


def test_requests_in_flight_side_by_side_both_resolve_and_the_later_entries_win() -> None:
    cache = HistoryCache()
    _, base = resolved(cache, "s", full(0, [entry(0)]))
    ahead, ahead_print = resolved(cache, "s", delta(1, base, [entry(1), entry(2)], 3))
    behind, behind_print = resolved(cache, "s", delta(1, base, [entry(1)], 2))  # built before the other's answer
    assert (list(ahead), list(behind)) == ([entry(0), entry(1), entry(2)], [entry(0), entry(1)])
    assert resolved(cache, "s", delta(3, ahead_print, [entry(3)], 4))[0][-1] == entry(3)
    other = PriorDecision("Read", {"file_path": "/x"}, "deny", "r")
    forked, _ = resolved(cache, "s", delta(2, behind_print, [other], 3))  # disagrees from entry 2 on
    assert list(forked) == [entry(0), entry(1), other]
    assert cache.resolve("s", delta(3, ahead_print, [entry(3)], 4)) is None  # the replaced branch is gone


def test_memory_is_bounded_and_what_it_forgot_is_a_miss() -> None:
    cache = HistoryCache(sessions=2, entries=3)
    _, fingerprint = resolved(cache, "s", full(0, [entry(0), entry(1)]))
    _, fingerprint = resolved(cache, "s", delta(2, fingerprint, [entry(2), entry(3)], 4))
    assert cache.resolve("s", delta(4, fingerprint, [entry(4)], 5)) is None  # reaches past the three kept
    seen, fingerprint = resolved(cache, "s", delta(4, fingerprint, [entry(4)], 3))
    assert list(seen) == [entry(2), entry(3), entry(4)]
    resolved(cache, "t", full(0, [entry(0)]))
    resolved(cache, "u", full(0, [entry(0)]))  # the least recently used, "s", goes
    assert len(cache) == 2
    assert cache.resolve("s", delta(5, fingerprint, [], 3)) is None
