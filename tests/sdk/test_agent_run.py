"""The stderr relay keeps up with a stderr the process keeps only the tail of."""

from __future__ import annotations

from magistrate.sdk._agent_run import StderrRelay


def test_lines_are_passed_on_once_each_and_whole() -> None:
    seen: list[str] = []
    relay = StderrRelay(seen.append)
    relay.pass_on("one\ntw")
    relay.pass_on("one\ntwo\nthr")
    relay.pass_on("one\ntwo\nthree", final=True)
    assert seen == ["one", "two", "three"]


def test_the_relay_finds_its_place_in_a_tail_that_has_moved_on() -> None:
    lines = [f"line {n:05d}" for n in range(20000)]
    seen: list[str] = []
    relay = StderrRelay(seen.append)
    tail = 64 * 1024
    for end in range(1000, 20001, 1000):  # the process shows only its last 64 KiB each time
        text = "".join(f"{line}\n" for line in lines[:end])
        relay.pass_on(text[-tail:])
    assert seen == lines
