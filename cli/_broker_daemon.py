"""`magistrate broker run|start|stop|status`: the long-lived broker that decides every plain `claude` run of
a user, on loopback.

`start` is what the installed settings' `SessionStart` hook runs when nothing answers on the broker's port:
it starts `magistrate broker run` in the background (its own session, its output in `broker.log` in the
per-user state directory), waits until it answers `/v1/health`, and returns. The broker then serves the
HTTP hooks of every run until it has been idle for `--idle-timeout` seconds (30 minutes by default); the
next run starts it again. `stop` sends it SIGTERM, on which it finishes what is in flight, closes the trail
and exits 0.

Exit codes: 0 done (for `status`: running); 1 the broker could not be started, stopped, or is not running;
2 bad arguments.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from magistrate.cli._ports import port_number

DEFAULT_PORT = 8767
DEFAULT_IDLE = 1800.0
START_WAIT = 20.0
HOST = "127.0.0.1"


def broker_url(port: int) -> str:
    return f"http://{HOST}:{port}"


def _state_file(args: argparse.Namespace) -> Path:
    return Path(args.env.state_dir) / f"broker-{args.port}.json"


def _log_file(args: argparse.Namespace) -> Path:
    return Path(args.env.state_dir) / "broker.log"


def health(port: int, timeout: float = 1.0) -> dict[str, Any] | None:
    """The running broker's `/v1/health`, or None when nothing answers on the port."""
    try:
        with urllib.request.urlopen(f"{broker_url(port)}/v1/health", timeout=timeout) as response:  # noqa: S310
            value = json.loads(response.read())
    except (OSError, ValueError, urllib.error.URLError):
        return None
    return value if isinstance(value, dict) else None


def _location(value: str | None) -> str | None:
    if value is None or "://" in value:
        return value
    return str(Path(value).expanduser().absolute())


def run(args: argparse.Namespace) -> int:
    """In the foreground: serve until idle, SIGTERM or SIGINT; then exit 0 with the trail closed."""
    import anyio

    from magistrate.broker import MagistrateError
    from magistrate.servers import serve_shared_broker

    state = _state_file(args)

    def ready() -> None:
        state.parent.mkdir(parents=True, exist_ok=True)
        record = {"pid": os.getpid(), "port": args.port, "url": broker_url(args.port), "started": time.time()}
        state.write_text(json.dumps(record) + "\n")

    async def serve() -> None:
        await serve_shared_broker(
            db=_location(args.db),
            policy=_location(args.policy),
            host=HOST,
            port=args.port,
            token=None,
            env=args.env,
            idle_timeout=args.idle_timeout or None,
            mcp=False,
            ready=ready,
        )

    try:
        anyio.run(serve)
    except MagistrateError as exc:
        sys.stderr.write(f"magistrate broker: {exc}\n")
        return 1
    except OSError as exc:  # the port is taken: another broker of this user already runs there
        sys.stderr.write(f"magistrate broker: cannot serve on {broker_url(args.port)}: {exc}\n")
        return 1
    finally:
        if state.exists():
            try:
                if json.loads(state.read_text()).get("pid") == os.getpid():
                    state.unlink()
            except (OSError, ValueError):
                pass
    return 0


def start(args: argparse.Namespace) -> int:
    """Start the broker in the background unless it already answers; wait until it does."""
    if health(args.port) is not None:
        return 0
    argv = [sys.executable, "-m", "magistrate.cli", "broker", "run", "--port", str(args.port)]
    argv += ["--idle-timeout", f"{args.idle_timeout:g}"]
    if args.policy:
        argv += ["--policy", str(_location(args.policy))]
    if args.db:
        argv += ["--db", str(_location(args.db))]
    log = _log_file(args)
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        child = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True, close_fds=True
        )
    deadline = time.monotonic() + args.wait
    while time.monotonic() < deadline:
        if health(args.port) is not None:
            return 0
        if child.poll() is not None and health(args.port) is None:
            break
        time.sleep(0.05)
    tail = log.read_text(errors="replace").splitlines()[-5:]
    sys.stderr.write(
        f"magistrate broker: the broker did not start on {broker_url(args.port)}; every tool call of a governed "
        f"run is refused until it runs. Start it with `magistrate broker start`; its log is {log}:\n"
        + "".join(f"  {line}\n" for line in tail)
    )
    return 1


def stop(args: argparse.Namespace) -> int:
    """SIGTERM to the broker this user started on the port; wait until it has exited."""
    state = _state_file(args)
    try:
        pid = int(json.loads(state.read_text())["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        sys.stderr.write(f"magistrate broker: no broker of this user is running on port {args.port}\n")
        return 1
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        state.unlink(missing_ok=True)
        sys.stderr.write(f"magistrate broker: the broker (pid {pid}) had already exited\n")
        return 1
    deadline = time.monotonic() + args.wait
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return 0
        time.sleep(0.05)
    sys.stderr.write(f"magistrate broker: the broker (pid {pid}) did not stop within {args.wait:g} s\n")
    return 1


def status(args: argparse.Namespace) -> int:
    found = health(args.port)
    if found is None:
        sys.stderr.write(f"magistrate broker: nothing answers on {broker_url(args.port)}\n")
        return 1
    sys.stdout.write(json.dumps({"url": broker_url(args.port), **found}) + "\n")
    return 0


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions = {
        "run": (run, "serve in the foreground until idle or SIGTERM"),
        "start": (start, "start in the background unless it already runs; wait until it answers"),
        "stop": (stop, "stop the broker this user started (SIGTERM: in-flight calls finish, the trail closes)"),
        "status": (status, "print the running broker's health (policy version, trail id) as JSON"),
    }
    for name, (func, help_text) in actions.items():
        action = sub.add_parser(name, help=help_text, description=help_text)
        action.add_argument(
            "--port", type=port_number, default=DEFAULT_PORT, help=f"loopback port (default {DEFAULT_PORT})"
        )
        if name == "status":
            action.add_argument("--json", action="store_true", help="the output is JSON already; accepted for scripts")
        if name in ("run", "start"):
            action.add_argument(
                "--policy",
                metavar="FILE",
                help="policy.py or settings JSON (default $MAGISTRATE_POLICY)",
            )
            action.add_argument(
                "--db",
                metavar="URL",
                help="the audit trail (default $MAGISTRATE_AUDIT, else per-user)",
            )
            action.add_argument(
                "--idle-timeout",
                type=float,
                default=DEFAULT_IDLE,
                metavar="SECONDS",
                help=f"stop after this long without a request (default {DEFAULT_IDLE:g}; 0: never)",
            )
        if name in ("start", "stop"):
            action.add_argument("--wait", type=float, default=START_WAIT, metavar="SECONDS", help="how long to wait")
        action.set_defaults(func=func)
