"""Choosing the reply to one request, from that request alone.

The scripted model keeps no conversation state: many CLI sessions share one server, and each request
carries its whole conversation anyway. The latest user message with the user's own words is the prompt;
it picks the rule, and the number of assistant messages since then picks the turn. A conversation that
runs past its rule's last turn gets the scenario's short fallback text, so the CLI always ends cleanly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from magistrate.sdk.scripted_model._scenario import Scenario, Text, Thinking, ToolCall, Turn
from magistrate.sdk.scripted_model._wire import MessagesRequest, estimate_tokens, new_id, result_text


@dataclass(frozen=True)
class Reply:
    """What to send back: blocks as wire dicts, why the turn stopped, and how long to wait first."""

    content: list[dict[str, Any]]
    stop_reason: str
    delay: float
    rule: str | None
    """The name (or position) of the rule that answered; None for the fallback."""
    turn: int


@dataclass(frozen=True)
class _Context:
    prompt: str
    last_tool_result: str
    model: str

    def fill(self, text: str) -> str:
        return (
            text.replace("{last_tool_result}", self.last_tool_result)
            .replace("{prompt}", self.prompt)
            .replace("{model}", self.model)
        )

    def fill_value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.fill(value)
        if isinstance(value, dict):
            return {k: self.fill_value(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.fill_value(v) for v in value]
        return value


def find_prompt(request: MessagesRequest) -> tuple[str, int]:
    """The user's latest own words and the number of assistant messages after them."""
    for index in range(len(request.messages) - 1, -1, -1):
        message = request.messages[index]
        if message.role != "user":
            continue
        text = message.prompt_text()
        if text:
            answered = sum(1 for m in request.messages[index + 1 :] if m.role == "assistant")
            return text, answered
    return "", sum(1 for m in request.messages if m.role == "assistant")


def last_tool_result(request: MessagesRequest) -> str:
    for message in reversed(request.messages):
        if message.role != "user":
            continue
        results = [b for b in message.blocks() if b.type == "tool_result"]
        if results:
            return result_text(results[-1].content)
    return ""


def _encode(block: Text | ToolCall | Thinking, ctx: _Context) -> dict[str, Any]:
    if isinstance(block, Text):
        return {"type": "text", "text": ctx.fill(block.text)}
    if isinstance(block, Thinking):
        return {"type": "thinking", "thinking": ctx.fill(block.thinking), "signature": block.signature}
    return {
        "type": "tool_use",
        "id": block.id or new_id("toolu"),
        "name": block.name,
        "input": ctx.fill_value(block.input),
    }


def choose(scenario: Scenario, request: MessagesRequest) -> Reply:
    """The reply the scenario gives to this request."""
    prompt, index = find_prompt(request)
    ctx = _Context(prompt=prompt, last_tool_result=last_tool_result(request), model=request.model)
    rule = scenario.select(prompt)
    if rule is None or index >= len(rule.turns):
        turn = Turn(text=scenario.fallback_text)
        label = None
    else:
        turn = rule.turns[index]
        label = rule.name or (f"rules[{scenario.rules.index(rule)}]" if rule in scenario.rules else "default")
    blocks = turn.content()
    stop_reason = turn.effective_stop_reason()
    if not request.tools and any(isinstance(b, ToolCall) for b in blocks):
        # A request that offers no tools is a side request (a title, a summary): it gets words, never calls.
        blocks = [b for b in blocks if not isinstance(b, ToolCall)] or [Text(text=scenario.fallback_text)]
        stop_reason = "end_turn"
    content = [_encode(block, ctx) for block in blocks]
    return Reply(content=content, stop_reason=stop_reason, delay=turn.delay, rule=label, turn=index)


def usage(request_bytes: int, content: list[dict[str, Any]]) -> dict[str, int]:
    """Plausible token counts: the request's size for input, the reply's text for output."""
    out = sum(estimate_tokens(str(b.get("text") or b.get("thinking") or b.get("input") or "")) for b in content)
    return {
        "input_tokens": max(1, request_bytes // 4),
        "output_tokens": max(1, out),
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    }
