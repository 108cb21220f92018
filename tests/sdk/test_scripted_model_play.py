"""Turn selection from one request alone, checked over generated conversations."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from magistrate.sdk.scripted_model import MessagesRequest, Scenario
from magistrate.sdk.scripted_model._play import choose, find_prompt

SCENARIO = Scenario.parse(
    {
        "rules": [{"name": "numbered", "regex": "^turn", "turns": [f"reply {i}" for i in range(4)]}],
        "fallback_text": "fallback",
    }
)

_words = st.text(alphabet="abc xyz", min_size=1, max_size=12).filter(str.strip)
# A step of a conversation: the user's words, a reminder only, an assistant message, or a tool result.
_steps = st.one_of(
    _words.map(lambda w: ("prompt", f"turn {w}")),
    st.just(("reminder", "<system-reminder>turn ignored</system-reminder>")),
    st.just(("assistant", "")),
    st.just(("result", "")),
)


def _message(kind: str, text: str) -> dict[str, Any]:
    if kind == "assistant":
        return {"role": "assistant", "content": [{"type": "text", "text": "ok"}]}
    if kind == "result":
        return {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "r"}]}
    return {"role": "user", "content": [{"type": "text", "text": text}]}


@given(st.lists(_steps, min_size=1, max_size=12))
def test_turn_is_the_count_of_assistant_messages_since_the_latest_prompt(steps: list[tuple[str, str]]) -> None:
    request = MessagesRequest.model_validate(
        {"model": "m", "tools": [{"name": "Bash"}], "messages": [_message(k, t) for k, t in steps]}
    )
    prompts = [i for i, (kind, _) in enumerate(steps) if kind == "prompt"]
    prompt, index = find_prompt(request)
    reply = choose(SCENARIO, request)
    if not prompts:
        assert prompt == ""
        assert reply.content == [{"type": "text", "text": "fallback"}]
        return
    latest = prompts[-1]
    expected = sum(1 for kind, _ in steps[latest + 1 :] if kind == "assistant")
    assert prompt == steps[latest][1]
    assert index == expected
    text = f"reply {expected}" if expected < 4 else "fallback"
    assert reply.content == [{"type": "text", "text": text}]
    assert reply.stop_reason == "end_turn"
