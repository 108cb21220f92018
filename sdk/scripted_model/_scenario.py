"""What the scripted model says: rules that match the user's prompt, each with the turns to answer with.

A scenario is data (JSON, YAML, or Python), so a test, the demo and a user's own agent tests can all describe
a conversation without a model, a key or a network. Turns are chosen per request from the conversation the
request carries (see `_play.py`), so one scenario serves any number of sessions at once.
"""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from magistrate.sdk.scripted_model._errors import ScenarioError


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class Text(_Model):
    """A text block. `{last_tool_result}`, `{prompt}` and `{model}` in it are filled in per request."""

    type: Literal["text"] = "text"
    text: str
    """What the model says."""


class ToolCall(_Model):
    """A tool_use block: the model asks the CLI to run `name` with `input`."""

    type: Literal["tool_use"] = "tool_use"
    name: str
    """The tool's name as the CLI knows it (`Bash`, `Read`, `mcp__server__tool`, ...)."""
    input: dict[str, Any] = Field(default_factory=dict)
    """The tool's arguments; string values are templated like text."""
    id: str | None = None
    """A fixed tool_use id; by default a fresh `toolu_...` id for every response."""


class Thinking(_Model):
    """A thinking block, sent before the rest of the turn."""

    type: Literal["thinking"] = "thinking"
    thinking: str
    """The model's reasoning text."""
    signature: str = "c2NyaXB0ZWQ="
    """An opaque signature; the CLI sends it back unchanged."""


Block = Annotated[Text | ToolCall | Thinking, Field(discriminator="type")]


class Turn(_Model):
    """One assistant message. Blocks are sent in order: thinking, text, `blocks`, then `tool_calls`.

    A bare string stands for a turn with only that text. Several tool calls in one turn make the CLI run
    them in one step.
    """

    text: str | None = None
    """A text block to send (after any thinking)."""
    tool_calls: tuple[ToolCall, ...] = ()
    """tool_use blocks, sent last."""
    thinking: str | None = None
    """A thinking block, sent first."""
    blocks: tuple[Block, ...] = ()
    """Further blocks in the order given, between the text and the tool calls."""
    delay: float = Field(default=0.0, ge=0.0)
    """Seconds to wait after the response has started (streaming) or before it is sent (plain JSON)."""
    stop_reason: str | None = None
    """Defaults to `tool_use` when the turn calls a tool, `end_turn` otherwise."""

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, value: Any) -> Any:
        return {"text": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _not_empty(self) -> Turn:
        if not self.content():
            raise ValueError("a turn needs text, thinking, blocks or tool_calls")
        return self

    def content(self) -> list[Text | ToolCall | Thinking]:
        """The turn's blocks in the order they are sent."""
        out: list[Text | ToolCall | Thinking] = []
        if self.thinking is not None:
            out.append(Thinking(thinking=self.thinking))
        if self.text is not None:
            out.append(Text(text=self.text))
        out.extend(self.blocks)
        out.extend(self.tool_calls)
        return out

    def effective_stop_reason(self) -> str:
        if self.stop_reason is not None:
            return self.stop_reason
        return "tool_use" if any(isinstance(b, ToolCall) for b in self.content()) else "end_turn"


class Rule(_Model):
    """Turns to play when the prompt matches. With no matcher set, the rule matches every prompt."""

    name: str | None = None
    """A label for logs and errors."""
    contains: str | None = None
    """Matches when the prompt contains this text."""
    regex: str | None = None
    """Matches when this regular expression is found in the prompt (`re.search`)."""
    exact: str | None = None
    """Matches when the prompt, stripped of surrounding white space, is exactly this."""
    turns: tuple[Turn, ...] = Field(min_length=1)
    """The assistant messages to answer with, one per request of the conversation."""

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"invalid regex {value!r}: {exc}") from exc
        return value

    def matches(self, prompt: str) -> bool:
        if self.exact is not None and prompt.strip() != self.exact:
            return False
        if self.contains is not None and self.contains not in prompt:
            return False
        return self.regex is None or re.search(self.regex, prompt) is not None


class Scenario(_Model):
    """Rules tried in order (the first match wins), then `default`, then `fallback_text`."""

    rules: tuple[Rule, ...] = ()
    """Matched against the user's latest prompt, first match wins."""
    default: Rule | None = None
    """Played when no rule matches; its matchers, if any, are ignored."""
    fallback_text: str = "Done."
    """Sent (with end_turn) when nothing matches or a conversation runs past its rule's last turn."""

    def select(self, prompt: str) -> Rule | None:
        """The rule that answers `prompt`, or None when only the fallback text applies."""
        for rule in self.rules:
            if rule.matches(prompt):
                return rule
        return self.default

    @classmethod
    def load(cls, path: str | Path) -> Scenario:
        """Read a scenario from a `.json`, `.yaml` or `.yml` file; every problem is reported at once."""
        source = str(path)
        try:
            raw = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ScenarioError(f"cannot read scenario: {exc.strerror}", source=source) from exc
        if source.endswith((".yaml", ".yml")):
            try:
                # Imported by name: pyyaml is optional and ships no type information.
                yaml = importlib.import_module("yaml")
            except ImportError as exc:
                raise ScenarioError("YAML scenarios need pyyaml (pip install pyyaml)", source=source) from exc
            try:
                data = yaml.safe_load(raw)
            except yaml.YAMLError as exc:
                raise ScenarioError(f"invalid YAML: {exc}", source=source) from exc
        else:
            try:
                data = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise ScenarioError(f"invalid JSON: {exc}", source=source) from exc
        return cls.parse(data, source=source)

    @classmethod
    def parse(cls, data: Any, *, source: str | None = None) -> Scenario:
        """Validate already-decoded data (a dict) into a scenario."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}" for err in exc.errors()
            )
            raise ScenarioError(f"invalid scenario: {problems}", source=source) from exc
