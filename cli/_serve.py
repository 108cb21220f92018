"""`magistrate serve NAME`: run one bundled MCP server on its own, over stdio or streamable HTTP.

Servers are a registry of name -> "module:factory"; a factory takes the `--db` location (None for the default)
and returns an MCP server; those that read the environment (the approval server's policy, trail and queue,
the compliance server's run id) take it as `env=`. The factory's module is imported only for the server named,
so serving one never pays for another.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import TYPE_CHECKING, Any

from magistrate.cli._ports import listen_problem, port_number

if TYPE_CHECKING:
    from magistrate.broker import Environment

# server name -> "module:factory(db: str | None) -> an MCP server"
SERVERS: dict[str, str] = {
    "compliance": "magistrate.servers._compliance:build_server",
    "documents": "magistrate.servers._documents:build_server",
    "approval": "magistrate.servers._approval_server:build_server",
}
_TAKE_ENV = frozenset({"compliance", "approval"})


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("server", choices=sorted(SERVERS), help="which server to run")
    parser.add_argument("--transport", choices=("stdio", "http"), default="stdio")
    parser.add_argument("--host", default="127.0.0.1", help="HTTP address (default loopback)")
    parser.add_argument("--port", type=port_number, default=8765, help="HTTP port (default 8765)")
    parser.add_argument("--db", default=None, help="SQLite path or postgresql:// URL (default: per-user data dir)")
    parser.add_argument(
        "--token", default=None, help="bearer token for HTTP (default $MAGISTRATE_SERVER_TOKEN); required off loopback"
    )
    parser.add_argument(
        "--policy", default=None, help="approval only: the policy file to decide with (default $MAGISTRATE_POLICY)"
    )
    parser.set_defaults(func=run)


def build(name: str, db: str | None, policy: str | None = None, env: Environment | None = None) -> Any:
    """The named server, built by its registered factory (with `env`, this process's environment by default,
    when it reads one)."""
    module_name, _, attribute = SERVERS[name].partition(":")
    factory = getattr(importlib.import_module(module_name), attribute)
    options: dict[str, Any] = {"policy": policy} if policy else {}
    if name in _TAKE_ENV:
        from magistrate.broker import Environment

        options["env"] = env or Environment.read()
    return factory(db, **options)


def run(args: argparse.Namespace) -> int:
    import anyio

    from magistrate.broker import MagistrateError
    from magistrate.servers import check_db_folder, check_exposure, serve_http, serve_stdio

    token = args.token or args.env.server_token
    if args.policy and args.server != "approval":
        sys.stderr.write("magistrate serve: --policy applies only to the approval server\n")
        return 2
    if args.db:
        try:
            check_db_folder(args.db)  # a typed --db whose folder is missing is a typo, not a place to create
        except MagistrateError as exc:
            sys.stderr.write(f"magistrate serve: {exc}\n")
            return 2
    if args.transport == "http":
        problem = listen_problem(args.host, args.port)
        if problem is not None:  # before a database or a policy is opened: nothing is made for a busy port
            sys.stderr.write(f"magistrate serve: {problem}\n")
            return 2
    if args.server == "approval" and args.transport == "http":
        return _serve_shared_broker(args, token)
    try:
        if args.transport == "http":
            check_exposure(args.host, token)
        server = build(args.server, args.db, args.policy, args.env)
    except MagistrateError as exc:  # a bad database, a policy that does not load: said, never a traceback
        sys.stderr.write(f"magistrate serve: {exc}\n")
        return 2
    try:
        if args.transport == "stdio":
            anyio.run(serve_stdio, server)
        else:
            anyio.run(lambda: serve_http(server, host=args.host, port=args.port, token=token))
    except KeyboardInterrupt:
        return 130
    return 0


def _serve_shared_broker(args: argparse.Namespace, token: str | None) -> int:
    """The approval prompt and the decision API for remote runs (`RemoteGovernor`), in one HTTP app."""
    import anyio

    from magistrate.broker import MagistrateError
    from magistrate.servers import serve_shared_broker

    async def serve() -> None:
        await serve_shared_broker(
            db=args.db, policy=args.policy, host=args.host, port=args.port, token=token, env=args.env
        )

    try:
        anyio.run(serve)
    except MagistrateError as exc:
        sys.stderr.write(f"magistrate serve: {exc}\n")
        return 2
    except KeyboardInterrupt:
        return 130
    return 0
