"""`magistrate console`: the trail and the approval queue in a browser, for auditors and approvers.

    magistrate console --db TRAIL [--queue QUEUE] [--host HOST] [--port PORT] [--token TOKEN]

It binds to loopback unless told otherwise, and off loopback it refuses to start without a token (`--token`
or `$MAGISTRATE_SERVER_TOKEN`), as `magistrate serve` does. The queue defaults to the one `magistrate
approvals` answers. Once listening it writes its address to standard error (`--port 0` picks a free port).
Exit codes: 0 after a clean stop, 2 when it cannot start (the trail cannot be read, the port is taken, no
token off loopback), 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import socket
import sys
from pathlib import Path

DEFAULT_PORT = 8642


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db", metavar="TRAIL", help="the trail: a path or postgresql:// URL (default $MAGISTRATE_AUDIT)"
    )
    parser.add_argument(
        "--queue", metavar="QUEUE", help="the approval queue (default $MAGISTRATE_APPROVAL_QUEUE, else per user)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default loopback)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0: any free)")
    parser.add_argument(
        "--token", help="required off loopback (default $MAGISTRATE_SERVER_TOKEN); open the console with ?token="
    )
    parser.add_argument("--key", type=Path, help="the trail's key, to verify it (default $MAGISTRATE_TRAIL_KEY)")
    parser.add_argument("--policy", help="the policy file shown as in force (default $MAGISTRATE_POLICY)")
    parser.add_argument("--by", metavar="NAME", help="who answers when the form names no one (default your user)")
    parser.set_defaults(func=run)


def _fail(message: str) -> int:
    sys.stderr.write(f"magistrate console: {message}\n")
    return 2


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host.strip("[]"), port))
        sock.listen(128)
    except BaseException:
        sock.close()
        raise
    return sock


def run(args: argparse.Namespace) -> int:
    import anyio
    import uvicorn

    from magistrate.broker import MagistrateError, TrailReader, is_postgres_url
    from magistrate.cli._console_app import ConsoleToken, build_app, config_for
    from magistrate.servers import check_exposure

    env = args.env
    trail = args.db or env.trail
    queue = args.queue or env.queue
    if not is_postgres_url(queue):
        queue = str(Path(queue).expanduser())
    token = args.token or env.server_token
    try:
        check_exposure(args.host, token)
        if is_postgres_url(trail) or Path(trail).expanduser().exists():
            TrailReader.open(trail).close()  # a trail that cannot be read is said now, not on the first page
        else:
            sys.stderr.write(
                f"magistrate console: no trail at {trail} yet; its pages will show it once a run writes it\n"
            )
        sock = _listen(args.host, args.port)
    except MagistrateError as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}")
    config = config_for(
        trail=trail, queue=queue, key_path=args.key or env.key_path, policy=args.policy, env=env, by=args.by
    )
    app = build_app(config)
    served = ConsoleToken(app, token) if token else app
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    sys.stderr.write(f"magistrate console: serving http://{shown}:{port}/ (trail {trail}, queue {queue})\n")
    sys.stderr.flush()
    server = uvicorn.Server(uvicorn.Config(served, log_level="warning", lifespan="off"))
    try:
        anyio.run(lambda: server.serve(sockets=[sock]))
    except KeyboardInterrupt:
        return 130
    finally:
        sock.close()
    return 0
