"""An example policy for an agent that works on a web service's repository.

Check it:      magistrate policy lint examples/policy.py
Ask it:        magistrate policy check --policy examples/policy.py --tool Bash --input '{"command": "npm run test"}'
Use it:        query(prompt, options=ClaudeCodeOptions(policy="examples/policy.py"))  (or MAGISTRATE_POLICY)

Rule strings mean exactly what they mean to Claude Code; Python rules say what rule strings cannot. A deny,
from either, is final; then ask; then allow; nothing matched is the default, deny.
"""

from magistrate.broker import Allow, Ask, BashInput, CallContext, CallView, Deny, RulePolicy, WriteInput

policy = RulePolicy(
    default="deny",
    allow=[
        # Reading and editing the project itself.
        "Read(./**)",
        "Edit(./src/**)",
        "Edit(./tests/**)",
        # The everyday commands of the repository.
        "Bash(npm run test:*)",
        "Bash(npm run lint:*)",
        "Bash(npm ci)",
        "Bash(git status)",
        "Bash(git diff:*)",
        "Bash(git log:*)",
        "Bash(git add:*)",
        "Bash(git commit:*)",
        "Bash(ls:*)",
        "Bash(cat:*)",
        "Bash(grep:*)",
        # Documentation sites the agent may read.
        "WebFetch(domain:developer.mozilla.org)",
        "WebFetch(domain:*.python.org)",
        # The team's document store, read-only tools only.
        "mcp__documents__search_documents",
        "mcp__documents__get_document",
    ],
    ask=[
        "Bash(git push:*)",
        "Bash(npm publish:*)",
        "mcp__compliance_db",
    ],
    deny=[
        # Secrets: never read, whatever tool or command tries (Read denies also gate cat, cp, grep, ...).
        "Read(.env)",
        "Read(.env.*)",
        "Read(*.pem)",
        "Read(~/.ssh/**)",
        "Read(~/.aws/**)",
        "Edit(.github/workflows/**)",
        "Bash(rm -rf:*)",
        "Bash(curl:*)",
        "Bash(wget:*)",
        "Bash(git push --force:*)",
        "WebFetch(domain:pastebin.com)",
    ],
)

_SECRETS = (".env", ".pem", "/.ssh/", "/.aws/", "credentials")


def _touched_secrets(context: CallContext) -> bool:
    """Did this session already read something that looks like a secret (even if it was denied)?"""
    for prior in context.history:
        text = str(prior.tool_input.get("file_path") or prior.tool_input.get("command") or "")
        if any(marker in text for marker in _SECRETS):
            return True
    return False


@policy.rule("WebFetch", "WebSearch", "Bash")
def no_network_after_secrets(call: CallView, context: CallContext) -> Deny | None:
    """Once a session has gone near secrets, nothing it does may reach the network."""
    if not _touched_secrets(context):
        return None
    if call.tool_name == "Bash":
        assert isinstance(call.input, BashInput)
        if not any(word in call.input.command for word in ("http://", "https://", "ssh ", "scp ", "nc ")):
            return None
    return Deny("This session touched secrets, so it may not use the network any more.")


@policy.rule("Bash")
def tests_run_quietly(call: CallView) -> Allow | None:
    """Rewrite the test command so its output fits the model's context; the rewrite is checked again."""
    assert isinstance(call.input, BashInput)
    if call.input.command == "npm run test":
        return Allow(updated_input={**call.raw, "command": "npm run test -- --silent"})
    return None


@policy.rule("Write", "Edit")
def no_key_material(call: CallView) -> Deny | None:
    """No private keys in any file, wherever it is written."""
    text = call.input.content if isinstance(call.input, WriteInput) else str(call.raw.get("new_string", ""))
    if "PRIVATE KEY-----" in text:
        return Deny("Private keys do not go into files; use the secret store.")
    return None


@policy.rule("*")
async def production_needs_a_person(call: CallView, context: CallContext) -> Ask | None:
    """Runs labelled as production ask a person about everything that is not plainly read-only."""
    if context.labels.get("environment") != "production":
        return None
    if call.tool_name in {"Read", "Glob", "Grep"}:
        return None
    return Ask(f"{call.tool_name} in a production session")
