"""`magistrate settings --install user|project|local|managed`: govern every `claude` of a scope, with no flags.

The hooks are merged into the scope's settings file, keeping everything already there; the change is shown
as a unified diff, and what was added is written beside the file (`<file>.magistrate.json`), so that
`--uninstall` removes exactly that and nothing a person added since. Installing twice changes nothing.

What is installed, every hook an HTTP hook to the broker (`/hook`), so a tool call costs one round trip to a
process that already runs and no Python start:

- `PreToolUse` and `PermissionRequest`, with `onFailure: block`: a broker that does not answer, answers an
  error or too late, or a URL the settings do not allow, blocks the call. Fail-closed does not depend on the
  broker answering, and no allow rule is added, so the CLI's own rules never let a call through alone;
- `PostToolUse`, `PostToolUseFailure`, `Stop`, `SessionEnd`: outcomes, the CLI's own decisions, the answers
  given in its prompt;
- for the per-user broker, a `SessionStart` and a `UserPromptSubmit` command hook that cost a shell's start
  when the broker already answers, and otherwise start it (`magistrate broker start`), once, for every run
  after.

The blocked call's message (the CLI's) names the hook's URL, whose query says how to start the broker.
"""

from __future__ import annotations

import argparse
import copy
import difflib
import json
import shlex
import sys
from pathlib import Path
from typing import Any

from magistrate.broker import DEFAULT_TIMEOUT

SCOPES = ("user", "project", "local", "managed")
MANAGED_FILE = Path("/etc/claude-code/managed-settings.json")
SIDECAR_SUFFIX = ".magistrate.json"
TOKEN_VARIABLE = "MAGISTRATE_BROKER_TOKEN"  # noqa: S105 - the name of a variable, not a secret
PRE_TIMEOUT = int(DEFAULT_TIMEOUT) + 30
"""Seconds the CLI waits for a PreToolUse answer: an ask may wait for a person (300 s), then a margin."""
POST_TIMEOUT = 10
SESSION_TIMEOUT = 30
DOWN_HINT = "if-refused=start-the-broker:magistrate-broker-start"


class InstallError(Exception):
    """A settings file that cannot be read or merged; the message says which and why."""


def magistrate_command() -> list[str]:
    """How to run this installation's `magistrate`, independent of PATH."""
    return [str(Path(sys.executable).absolute()), "-m", "magistrate.cli"]


def location(db: str | None) -> str | None:
    """A file or database location other processes can use: URLs as given, paths made absolute."""
    if db is None or "://" in db:
        return db
    return str(Path(db).expanduser().absolute())


def scope_file(scope: str, *, cwd: Path, home: Path) -> Path:
    """Where the CLI reads the settings of `scope`."""
    if scope == "user":
        return home / ".claude" / "settings.json"
    if scope == "project":
        return cwd / ".claude" / "settings.json"
    if scope == "local":
        return cwd / ".claude" / "settings.local.json"
    if sys.platform == "darwin":
        return Path("/Library/Application Support/ClaudeCode/managed-settings.json")
    return MANAGED_FILE


def autostart_command(port: int, policy: str | None, db: str | None) -> str:
    """The SessionStart command: a bash TCP probe (a few ms), else `magistrate broker start`."""
    argv = [*magistrate_command(), "broker", "start", "--port", str(port)]
    if policy:
        argv += ["--policy", policy]
    if db:
        argv += ["--db", db]
    probe = shlex.join(["bash", "-c", f"exec 3<>/dev/tcp/127.0.0.1/{port}"])
    return f"{probe} 2>/dev/null || {shlex.join(argv)}"


def installed_hooks(url: str, *, autostart: str | None, token: bool) -> dict[str, list[dict[str, Any]]]:
    """The hook entries to merge in, by event."""
    hook_url = f"{url.rstrip('/')}/hook?{DOWN_HINT}" if autostart else f"{url.rstrip('/')}/hook"

    def http(timeout: int, *, block: bool = False) -> dict[str, Any]:
        hook: dict[str, Any] = {"type": "http", "url": hook_url, "timeout": timeout}
        if block:
            hook["onFailure"] = "block"
        if token:
            hook["headers"] = {"Authorization": f"Bearer ${{{TOKEN_VARIABLE}}}"}
            hook["allowedEnvVars"] = [TOKEN_VARIABLE]
        return hook

    hooks: dict[str, list[dict[str, Any]]] = {
        "PreToolUse": [{"matcher": "*", "hooks": [http(PRE_TIMEOUT, block=True)]}],
        "PermissionRequest": [{"matcher": "*", "hooks": [http(PRE_TIMEOUT, block=True)]}],
        "PostToolUse": [{"matcher": "*", "hooks": [http(POST_TIMEOUT)]}],
        "PostToolUseFailure": [{"matcher": "*", "hooks": [http(POST_TIMEOUT)]}],
        "Stop": [{"hooks": [http(SESSION_TIMEOUT)]}],
        "SessionEnd": [{"hooks": [http(SESSION_TIMEOUT)]}],
    }
    if autostart:
        # At the start of a session, and again at each prompt: a broker that stopped while idle during a long
        # interactive session is back for the next prompt.
        start = [{"hooks": [{"type": "command", "command": autostart, "timeout": SESSION_TIMEOUT}]}]
        hooks["SessionStart"] = start
        hooks["UserPromptSubmit"] = copy.deepcopy(start)
    return hooks


def _read(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        value = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError) as exc:
        raise InstallError(f"{path} cannot be read as JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise InstallError(f"{path} holds {type(value).__name__}, not a JSON object")
    return value


def merge(doc: dict[str, Any], ours: dict[str, list[dict[str, Any]]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """`doc` with `ours` appended to its hooks, and the record of what was added (for `unmerge`)."""
    new = copy.deepcopy(doc)
    created: list[str] = []
    hooks = new.get("hooks")
    if hooks is None:
        hooks = new["hooks"] = {}
        created.append("hooks")
    if not isinstance(hooks, dict):
        raise InstallError("the settings' `hooks` is not an object")
    for event, entries in ours.items():
        existing = hooks.get(event)
        if existing is None:
            existing = hooks[event] = []
            created.append(f"hooks.{event}")
        if not isinstance(existing, list):
            raise InstallError(f"the settings' `hooks.{event}` is not a list")
        existing.extend(copy.deepcopy(entries))
    urls: list[str] = []
    allowed = new.get("allowedHttpHookUrls")
    if isinstance(allowed, list):
        # A list that does not match the broker's URL would block every call: the broker's URL joins it.
        for entry in ours.values():
            for hook in entry[0]["hooks"]:
                pattern = str(hook.get("url", "")).split("?")[0] + "*"
                if hook.get("type") == "http" and pattern not in allowed and pattern not in urls:
                    urls.append(pattern)
        allowed.extend(urls)
    return new, {"hooks": ours, "created": created, "allowedHttpHookUrls": urls}


def unmerge(doc: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
    """`doc` without what `merge` added: the same entries, the containers it created if now empty."""
    new = copy.deepcopy(doc)
    hooks = new.get("hooks")
    if isinstance(hooks, dict):
        for event, entries in dict(record.get("hooks", {})).items():
            present = hooks.get(event)
            if not isinstance(present, list):
                continue
            for entry in entries:
                if entry in present:
                    present.remove(entry)
            if not present and f"hooks.{event}" in record.get("created", []):
                del hooks[event]
        if not hooks and "hooks" in record.get("created", []):
            del new["hooks"]
    allowed = new.get("allowedHttpHookUrls")
    if isinstance(allowed, list):
        for url in record.get("allowedHttpHookUrls", []):
            if url in allowed:
                allowed.remove(url)
    return new


def _text(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _diff(path: Path, old: dict[str, Any] | None, new: dict[str, Any] | None) -> str:
    before = [] if old is None else _text(old).splitlines(keepends=True)
    after = [] if new is None else _text(new).splitlines(keepends=True)
    return "".join(difflib.unified_diff(before, after, f"{path} (before)", f"{path} (after)"))


def install(path: Path, ours: dict[str, list[dict[str, Any]]], *, dry_run: bool = False) -> str:
    """Merge `ours` into the settings at `path` (replacing an earlier install); returns the diff."""
    existed = path.exists()
    doc = _read(path)
    sidecar = path.with_name(path.name + SIDECAR_SUFFIX)
    earlier = _read(sidecar) if sidecar.exists() else None
    base = doc if earlier is None else unmerge(doc, earlier)
    new, record = merge(base, ours)
    record["file_existed"] = existed if earlier is None else bool(earlier.get("file_existed", existed))
    record["original"] = (
        (path.read_text(encoding="utf-8") if existed else "") if earlier is None else earlier.get("original", "")
    )
    if not dry_run:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_text(new), encoding="utf-8")
        sidecar.write_text(_text(record), encoding="utf-8")
    return _diff(path, doc if existed else None, new)


def uninstall(path: Path, *, dry_run: bool = False) -> str:
    """Remove what `install` added to the settings at `path`; returns the diff ("" when nothing was there)."""
    sidecar = path.with_name(path.name + SIDECAR_SUFFIX)
    if not sidecar.exists():
        return ""
    record = _read(sidecar)
    doc = _read(path)
    new = unmerge(doc, record)
    gone = not record.get("file_existed", True) and not new
    original = str(record.get("original", ""))
    try:
        # Nothing else changed since: the file goes back to its very text, formatting included.
        text = original if original and json.loads(original) == new else _text(new)
    except ValueError:
        text = _text(new)
    if not dry_run:
        if gone:
            path.unlink(missing_ok=True)
        else:
            path.write_text(text, encoding="utf-8")
        sidecar.unlink()
    return _diff(path, doc, None if gone else new)


def run_install(args: argparse.Namespace) -> int:
    from magistrate.cli._broker_daemon import DEFAULT_PORT, broker_url

    scope = args.install or args.uninstall
    path = Path(args.file).expanduser().absolute() if args.file else scope_file(scope, cwd=Path.cwd(), home=Path.home())
    try:
        if args.uninstall:
            diff = uninstall(path, dry_run=args.dry_run)
            if not diff:
                sys.stderr.write(f"magistrate settings: nothing of magistrate is installed in {path}\n")
                return 0
        else:
            policy = location(args.policy)
            if policy is not None:
                from magistrate.broker import PolicyLoadError, load_policy

                try:
                    load_policy(policy)
                except PolicyLoadError as exc:
                    sys.stderr.write(f"magistrate settings: {exc}\n")
                    return 2
            port = args.port or DEFAULT_PORT
            remote = args.url is not None
            url = args.url or broker_url(port)
            autostart = None if remote else autostart_command(port, policy, location(args.db))
            diff = install(path, installed_hooks(url, autostart=autostart, token=remote), dry_run=args.dry_run)
    except (InstallError, OSError) as exc:
        sys.stderr.write(f"magistrate settings: {exc}\n")
        return 2
    sys.stdout.write(diff)
    verb = "would change" if args.dry_run else ("uninstalled from" if args.uninstall else "installed into")
    sys.stderr.write(f"magistrate settings: {verb} {path}\n")
    return 0


def register_install(parser: argparse.ArgumentParser) -> None:
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--install", choices=SCOPES, help="merge the broker's hooks into this scope's settings file")
    which.add_argument("--uninstall", choices=SCOPES, help="remove exactly what --install added there")
    parser.add_argument("--file", metavar="PATH", help="with --install/--uninstall: this settings file instead")
    parser.add_argument("--url", metavar="URL", help="a team broker's URL (token in $MAGISTRATE_BROKER_TOKEN)")
    parser.add_argument("--port", type=int, default=None, help="the per-user broker's loopback port (default 8767)")
    parser.add_argument("--dry-run", action="store_true", help="show the change without writing it")
