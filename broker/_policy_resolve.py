"""Which policy decides: the one resolution the SDK, `magistrate hook` and the broker servers share.

Every entry point gets the same answer for the same inputs: the policy given (an object, or a `policy.py` /
settings JSON path), else `MAGISTRATE_POLICY`, else the permissions the CLI itself would apply for the working
directory. A run's `allowed_tools` / `disallowed_tools` keep the CLI's meaning over a chosen policy without
weakening it (a disallowed tool is always denied; an allowed one only fills the policy's default).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from magistrate.broker._config import Environment
from magistrate.broker._interfaces import Policy
from magistrate.broker._policy_errors import PolicyError

PolicyChoice = Policy | str | Path | None


def resolve_policy(
    chosen: PolicyChoice = None,
    *,
    cwd: str,
    env: Environment | None = None,
    allowed_tools: Sequence[str] = (),
    disallowed_tools: Sequence[str] = (),
    settings_files: Sequence[str | Path] = (),
) -> Policy:
    """The policy for a run in `cwd`. Raises `PolicyLoadError` when a file does not load and `PolicyError` when
    `chosen` is neither a policy nor a path."""
    from magistrate.broker._policy_sources import claude_code_policy, load_policy

    if chosen is None:
        chosen = (env if env is not None else Environment.read()).policy
    if chosen is None:
        return claude_code_policy(cwd, allowed_tools, disallowed_tools, settings_files=settings_files)
    if isinstance(chosen, (str, Path)):
        policy = load_policy(chosen)
    elif callable(getattr(chosen, "decide", None)) and hasattr(chosen, "version"):
        policy = chosen
    else:
        raise PolicyError(f"a policy must be a policy object or a file path, got {type(chosen).__name__}")
    if allowed_tools or disallowed_tools:
        from magistrate.broker._policy_options import with_option_rules

        policy = with_option_rules(policy, allowed_tools, disallowed_tools, cwd=cwd)
    return policy
