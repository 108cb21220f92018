"""What the client's control methods return: MCP server status and context-window usage, as the CLI answers.

They are TypedDicts over the CLI's own answers, which are returned as they came: keys a newer CLI adds are
kept, and a key these types name may be missing when the CLI leaves it out.
"""

from typing import Any, Literal

from typing_extensions import NotRequired, TypedDict

from magistrate.sdk._options import McpHttpServerConfig, McpSSEServerConfig, McpStdioServerConfig

McpServerConnectionStatus = Literal["connected", "failed", "needs-auth", "pending", "disabled"]


class McpSdkServerConfigStatus(TypedDict):
    type: Literal["sdk"]
    name: str


class McpClaudeAIProxyServerConfig(TypedDict):
    type: Literal["claudeai-proxy"]
    url: str
    id: str


McpServerStatusConfig = (
    McpStdioServerConfig
    | McpSSEServerConfig
    | McpHttpServerConfig
    | McpSdkServerConfigStatus
    | McpClaudeAIProxyServerConfig
)


class McpToolAnnotations(TypedDict, total=False):
    readOnly: bool
    destructive: bool
    openWorld: bool


class McpToolInfo(TypedDict):
    name: str
    description: NotRequired[str]
    annotations: NotRequired[McpToolAnnotations]


class McpServerInfo(TypedDict):
    name: str
    version: str


class McpServerStatus(TypedDict):
    """One MCP server as the CLI sees it."""

    name: str
    status: McpServerConnectionStatus
    serverInfo: NotRequired[McpServerInfo]
    error: NotRequired[str]
    config: NotRequired[McpServerStatusConfig]
    scope: NotRequired[str]
    tools: NotRequired[list[McpToolInfo]]


class McpStatusResponse(TypedDict):
    """`ClaudeSDKClient.get_mcp_status()`."""

    mcpServers: list[McpServerStatus]


class ContextUsageCategory(TypedDict):
    name: str
    tokens: int
    color: str
    isDeferred: NotRequired[bool]


class ContextUsageResponse(TypedDict):
    """`ClaudeSDKClient.get_context_usage()`: how the context window is filled, by category."""

    categories: list[ContextUsageCategory]
    totalTokens: int
    maxTokens: int
    rawMaxTokens: int
    percentage: float
    gridRows: list[Any]
    model: str
    memoryFiles: list[Any]
    mcpTools: list[Any]
    agents: list[Any]
    isAutoCompactEnabled: bool
    autoCompactThreshold: NotRequired[int]
    deferredBuiltinTools: NotRequired[list[Any]]
    systemTools: NotRequired[list[Any]]
    systemPromptSections: NotRequired[list[Any]]
    slashCommands: NotRequired[Any]
    skills: NotRequired[Any]
    messageBreakdown: NotRequired[Any]
    apiUsage: NotRequired[Any]
