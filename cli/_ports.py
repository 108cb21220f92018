"""`--port` for every command that listens: a number in range, and a port that is free, said in one line.

A bad port used to surface deep in the server's start (an `OverflowError` from `bind`, an `ExceptionGroup`
around the real error); here it is checked where the option is read, and a busy port is found by binding it
once, the way the server will, before anything else (a database, a policy) is opened.
"""

from __future__ import annotations

import argparse
import socket


def port_number(text: str) -> int:
    """An argparse `type`: 0 to 65535 (0 asks the system for a free port)."""
    try:
        port = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0 to 65535)") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is out of range (0 to 65535)")
    return port


def listen_problem(host: str, port: int) -> str | None:
    """Why a server could not listen on `host`:`port` (the host unknown, the port in use or not allowed),
    or None when it can. The probe binds as servers do (with SO_REUSEADDR) and lets go at once."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        return f"cannot listen on {host}:{port}: unknown address ({exc})"
    family, kind, proto, _, address = found[0]
    try:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as exc:
        return f"cannot listen on {host}:{port}: {exc.strerror or exc}"
    return None
