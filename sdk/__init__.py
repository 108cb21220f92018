"""magistrate.sdk: the Claude Code Python SDK's API, on the real CLI, with every tool call under policy."""

from magistrate.broker import PermissionMode
from magistrate.broker import publish_public_name as _publish
from magistrate.sdk._client import ClaudeSDKClient
from magistrate.sdk._errors import (
    ClaudeSDKError,
    CLIConnectionError,
    CLIJSONDecodeError,
    CLINotFoundError,
    ControlTimeoutError,
    MessageParseError,
    OptionsError,
    ProcessError,
    RefusedOptionError,
    WorkingDirectoryError,
)
from magistrate.sdk._options import (
    ClaudeCodeOptions,
    McpHttpServerConfig,
    McpSdkServerConfig,
    McpServerConfig,
    McpSSEServerConfig,
    McpStdioServerConfig,
)
from magistrate.sdk._permissions import (
    CanUseTool,
    HookCallback,
    HookContext,
    HookEvent,
    HookJSONOutput,
    HookMatcher,
    PermissionResult,
    PermissionResultAllow,
    PermissionResultDeny,
    PermissionRuleValue,
    PermissionUpdate,
    ToolPermissionContext,
)
from magistrate.sdk._query import query
from magistrate.sdk._sdk_mcp import SdkMcpTool, create_sdk_mcp_server, tool
from magistrate.sdk._types import (
    AssistantMessage,
    ContentBlock,
    Message,
    ResultMessage,
    StreamEvent,
    SystemMessage,
    TextBlock,
    ThinkingBlock,
    ToolResultBlock,
    ToolUseBlock,
    UserMessage,
)

__all__ = [
    "AssistantMessage",
    "CLIConnectionError",
    "CLIJSONDecodeError",
    "CLINotFoundError",
    "CanUseTool",
    "ClaudeCodeOptions",
    "ClaudeSDKClient",
    "ClaudeSDKError",
    "ContentBlock",
    "ControlTimeoutError",
    "HookCallback",
    "HookContext",
    "HookEvent",
    "HookJSONOutput",
    "HookMatcher",
    "McpHttpServerConfig",
    "McpSSEServerConfig",
    "McpSdkServerConfig",
    "McpServerConfig",
    "McpStdioServerConfig",
    "Message",
    "MessageParseError",
    "OptionsError",
    "PermissionMode",
    "PermissionResult",
    "PermissionResultAllow",
    "PermissionResultDeny",
    "PermissionRuleValue",
    "PermissionUpdate",
    "ProcessError",
    "RefusedOptionError",
    "ResultMessage",
    "SdkMcpTool",
    "StreamEvent",
    "SystemMessage",
    "TextBlock",
    "ThinkingBlock",
    "ToolPermissionContext",
    "ToolResultBlock",
    "ToolUseBlock",
    "UserMessage",
    "WorkingDirectoryError",
    "create_sdk_mcp_server",
    "query",
    "tool",
]

# Reprs, tracebacks and pickles name the package, not the private module (see `magistrate.broker.publish_public_name`).
for _name in __all__:
    _publish(globals()[_name], _name, __name__)
del _name, _publish
