"""Where policies come from: a `policy.py`, a settings JSON, or what the plain CLI itself would read.

`load_policy(path)` is what the SDK's `policy=` option, `MAGISTRATE_POLICY` and `magistrate policy check`
use. `claude_code_policy(...)` rebuilds the CLI's own permission set (the `--allowedTools` and
`--disallowedTools` lists plus user, project and local settings), so a run without a magistrate policy is
judged as the plain CLI would judge it, but with every decision explained.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
import traceback
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from magistrate.broker._decision import RuleSource
from magistrate.broker._interfaces import Policy
from magistrate.broker._log import get_logger
from magistrate.broker._policy_errors import PolicyLoadError, RuleProblem
from magistrate.broker._settings import RuleSpec, SettingsPermissions, read_settings
from magistrate.broker._trust import tracked_by_git, workspace_trusted

_log = get_logger(__name__)


def _settings_policy(parts: Sequence[SettingsPermissions], extra: Sequence[RuleSpec], home: str | None) -> Policy:
    from magistrate.broker._policy import RulePolicy

    specs = [*extra, *(s for part in parts for s in part.specs)]
    problems = [p for part in parts for p in part.problems]
    mode = next((p.default_mode for p in reversed(parts) if p.default_mode), None)
    dirs = [d for part in parts for d in part.additional_directories]
    digests = [part.digest for part in parts]
    return RulePolicy.from_specs(
        specs,
        default="ask",
        default_mode=mode,
        additional_directories=dirs,
        digests=digests,
        problems=problems,
        home=home,
        cli_defaults=True,
        settings_files=[part.path for part in parts],
    )


def _untrusted(part: SettingsPermissions) -> SettingsPermissions:
    """A project file in a folder not trusted: its deny and ask rules hold, nothing it allows counts."""
    ignored = [s for s in part.specs if s.list == "allow"]
    if ignored or part.additional_directories:
        _log.info(
            "project settings ignored in an untrusted workspace",
            file=part.path,
            allow=len(ignored),
            additional_directories=len(part.additional_directories),
        )
    mode = None if part.default_mode == "bypassPermissions" else part.default_mode
    specs = tuple(s for s in part.specs if s.list != "allow")
    return replace(part, specs=specs, additional_directories=(), default_mode=mode)


def _load_module(file: Path) -> Policy:
    name = "magistrate_policy_" + hashlib.sha256(str(file).encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise PolicyLoadError([RuleProblem("", RuleSource("python", str(file)), "not a Python module")])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except PolicyLoadError:
        raise
    except SyntaxError as exc:
        source = RuleSource("python", str(file), exc.lineno)
        raise PolicyLoadError([RuleProblem("", source, f"syntax error: {exc.msg}")]) from None
    except Exception as exc:  # noqa: BLE001 - whatever the module raised, the load fails with its line
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == str(file)]
        line = frames[-1].lineno if frames else None
        source = RuleSource("python", str(file), line)
        raise PolicyLoadError([RuleProblem("", source, f"the policy raised {type(exc).__name__}: {exc}")]) from None
    finally:
        sys.modules.pop(name, None)
    policy = getattr(module, "policy", None)
    if policy is None or not callable(getattr(policy, "decide", None)) or not hasattr(policy, "version"):
        reason = "a policy module defines `policy = RulePolicy(...)` (or any object with `version` and `decide`)"
        raise PolicyLoadError([RuleProblem("", RuleSource("python", str(file)), reason)])
    return policy  # type: ignore[no-any-return]


def load_policy(path: str | Path, *, home: str | None = None) -> Policy:
    """Load a policy from a `policy.py` or a Claude Code settings JSON; raises PolicyLoadError with every problem.

    For a settings file, `/p` rules are relative to the project root when the file sits in a project's
    `.claude/` folder, to `~/.claude` for the user's settings, and to the file's folder otherwise.
    """
    file = Path(path).expanduser().absolute()
    if file.suffix == ".py":
        if not file.is_file():
            raise PolicyLoadError([RuleProblem("", RuleSource("python", str(file)), "no such policy file")])
        return _load_module(file)
    part = read_settings(file, home=Path(home) if home else None)
    return _settings_policy([part], (), home)


def claude_code_policy(
    cwd: str | Path,
    allowed_tools: Sequence[str] = (),
    disallowed_tools: Sequence[str] = (),
    *,
    home: str | Path | None = None,
    settings_files: Sequence[str | Path] = (),
) -> Policy:
    """The permissions the plain CLI would apply in `cwd`, as a policy that explains its decisions.

    Reads `~/.claude/settings.json`, `<cwd>/.claude/settings.json`, `<cwd>/.claude/settings.local.json`
    (those that exist), then `settings_files` (like the CLI's `--settings`), plus the `allowed_tools` and
    `disallowed_tools` options. Nothing matched means ask, as the CLI would prompt. As in the CLI, the
    project's own files widen nothing in a folder the user has not trusted (see `_trust`).
    """
    home_dir = Path(home).expanduser() if home else Path.home()
    project = Path(cwd).expanduser().absolute()
    user = home_dir / ".claude" / "settings.json"
    parts = [read_settings(user, home=home_dir)] if user.is_file() else []
    trusted: bool | None = None
    for name in ("settings.json", "settings.local.json"):
        file = project / ".claude" / name
        if not file.is_file():
            continue
        part = read_settings(file, home=home_dir)
        if trusted is None:
            trusted = workspace_trusted(project, home_dir)
        if not trusted and (name == "settings.json" or tracked_by_git(project, f".claude/{name}")):
            part = _untrusted(part)
        elif part.default_mode == "bypassPermissions":
            part = replace(part, default_mode=None)
        parts.append(part)
    parts.extend(read_settings(Path(p), home=home_dir) for p in settings_files)
    options: list[RuleSpec] = []
    for list_name, rules in (("deny", disallowed_tools), ("allow", allowed_tools)):
        for text in rules:
            options.append(RuleSpec(text, list_name, RuleSource("option"), str(project)))  # type: ignore[arg-type]
    return _settings_policy(parts, options, str(home_dir))
