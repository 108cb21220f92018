from magistrate.sdk import ClaudeCodeOptions

options = ClaudeCodeOptions(
    # Core configuration
    system_prompt="You are a helpful assistant",
    append_system_prompt="Additional system instructions",
    max_turns=5,
    model="claude-3-5-sonnet-20241022",
    max_thinking_tokens=8000,
    
    # Tool management
    allowed_tools=["Bash", "Read", "Write"],
    disallowed_tools=["WebSearch"],
    
    # Session management
    continue_conversation=False,
    resume="session-uuid",
    
    # Environment
    cwd="/path/to/working/directory",
    add_dirs=["/additional/context/dir"],
    settings="/path/to/settings.json",
    
    # Permissions
    permission_mode="acceptEdits",  # "default", "acceptEdits", "plan", "bypassPermissions"
    permission_prompt_tool_name="mcp__approval_tool",
    
    # MCP integration
    mcp_servers={
        "my_server": {
            "command": "npx",
            "args": ["-y", "@modelcontextprotocol/server-example"],
            "env": {"API_KEY": "your-key"}
        }
    },
    
    # Advanced
    extra_args={"--verbose": None, "--custom-flag": "value"}
)
