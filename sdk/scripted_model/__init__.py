"""A local model that speaks the Anthropic Messages API and plays a scripted scenario.

It lets the real Claude Code CLI run offline and deterministically: tests, the demo and users' own tests of
their agents and policies describe what the model says (`Scenario`), serve it (`ScriptedModel`), point the CLI
at it (`model.env()`), and then check what came back to the model (`model.tool_results()`).
"""

from magistrate.broker import publish_public_name as _publish
from magistrate.sdk.scripted_model._errors import ScenarioError, ScriptedModelError
from magistrate.sdk.scripted_model._model import ScriptedModel
from magistrate.sdk.scripted_model._scenario import Rule, Scenario, Text, Thinking, ToolCall, Turn
from magistrate.sdk.scripted_model._wire import (
    MessagesRequest,
    ReceivedRequest,
    RequestBlock,
    RequestMessage,
    ToolResult,
)

__all__ = [
    "MessagesRequest",
    "ReceivedRequest",
    "RequestBlock",
    "RequestMessage",
    "Rule",
    "Scenario",
    "ScenarioError",
    "ScriptedModel",
    "ScriptedModelError",
    "Text",
    "Thinking",
    "ToolCall",
    "ToolResult",
    "Turn",
]

# Reprs, tracebacks and pickles name the package, not the private module (see `magistrate.broker.publish_public_name`).
for _name in __all__:
    _publish(globals()[_name], _name, __name__)
del _name, _publish
