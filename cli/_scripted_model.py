"""`magistrate scripted-model`: the scripted model as a standalone server, for runs outside Python tests.

Point any Claude Code CLI at it (the lines it prints are the environment to set) to try a policy or a demo
without an API key or a network.
"""

from __future__ import annotations

import argparse
import sys

import anyio

from magistrate.cli._ports import listen_problem, port_number
from magistrate.sdk.scripted_model import ScenarioError, ScriptedModel, ScriptedModelError


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scenario", required=True, metavar="FILE", help="scenario file (.json, .yaml or .yml)")
    parser.add_argument("--port", type=port_number, default=0, metavar="N", help="port to listen on (0: a free port)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    try:
        model = ScriptedModel(args.scenario, host=args.host, port=args.port)
    except ScenarioError as exc:
        print(f"magistrate scripted-model: {exc}", file=sys.stderr)
        return 2
    problem = listen_problem(args.host, args.port)
    if problem is not None:
        print(f"magistrate scripted-model: {problem}", file=sys.stderr)
        return 2

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            await tg.start(model.serve)
            # The first line names the server; the rest are ready to paste into a shell.
            print(model.base_url, flush=True)
            for name, value in model.env().items():
                print(f"export {name}={value}", flush=True)

    try:
        anyio.run(main)
    except KeyboardInterrupt:
        return 0
    except Exception as exc:  # the task group wraps the model's error in an exception group
        found = _scripted_model_error(exc)
        if found is None:
            raise
        print(f"magistrate scripted-model: {found}", file=sys.stderr)
        return 1
    return 0


def _scripted_model_error(exc: BaseException) -> ScriptedModelError | None:
    """The `ScriptedModelError` that `exc` is, or that an exception group holds (the port taken between the
    check and the bind, say), so it is said in one line and not as a traceback."""
    if isinstance(exc, ScriptedModelError):
        return exc
    for inner in getattr(exc, "exceptions", ()):
        found = _scripted_model_error(inner)
        if found is not None:
            return found
    return None
