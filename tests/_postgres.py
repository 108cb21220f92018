"""A throwaway PostgreSQL cluster for the tests, so PostgreSQL code is tested on any machine, CI included.

Fixtures (registered from tests/conftest.py with `pytest_plugins`):

- `postgres_url` (session): the URL of a fresh cluster started for this test session on a free loopback port
  (`postgresql://postgres@127.0.0.1:PORT/postgres`), stopped and deleted at the end. Trust authentication,
  fsync off: it is a test cluster.
- `postgres_database` (function): the URL of a new, empty database in that cluster, dropped after the test;
  use it when tests must not see each other's tables.

The server binaries come from Debian's `postgresql` package (`scripts/ensure-postgres`, run by `./dev setup`,
installs them when missing). PostgreSQL refuses to run as root, so when the tests run as root the cluster runs
as the `postgres` user. Without the binaries the fixtures fail, unless `MAGISTRATE_SKIP_POSTGRES=1` asks to skip.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

_START_ATTEMPTS = 3


def _bin_dir() -> Path | None:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if candidates:
        return candidates[-1].parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _as_server_user(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    return ["runuser", "-u", "postgres", "--", *argv]


def _run(argv: list[str]) -> None:
    result = subprocess.run(_as_server_user(argv), capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed ({result.returncode}): {result.stderr.strip() or result.stdout.strip()}")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a PostgreSQL cluster that lives for the test session."""
    bin_dir = _bin_dir()
    if bin_dir is None:
        if os.environ.get("MAGISTRATE_SKIP_POSTGRES") == "1":
            pytest.skip("PostgreSQL binaries missing and MAGISTRATE_SKIP_POSTGRES=1")
        pytest.fail("PostgreSQL server binaries not found; run scripts/ensure-postgres (./dev setup does)")
    root = Path(tempfile.mkdtemp(prefix="magistrate-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    data, sockets, log = root / "data", root / "sock", root / "server.log"
    started = False
    try:
        _run([str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"])
        _run(["mkdir", "-p", str(sockets)])
        last_error: Exception | None = None
        for _ in range(_START_ATTEMPTS):  # another process may take the free port between probe and start
            port = _free_port()
            options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
            try:
                _run([str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "start"])
            except RuntimeError as exc:
                last_error = exc
                continue
            started = True
            break
        if not started:
            detail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"PostgreSQL did not start: {last_error}\n{detail}")
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        if started:
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                _run([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"])
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def postgres_database(postgres_url: str) -> Iterator[str]:
    """URL of a new empty database in the session's cluster, dropped after the test."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield postgres_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
