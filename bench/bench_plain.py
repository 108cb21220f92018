"""What governing a plain `claude` costs with the installed settings and the long-lived broker, and what one
broker process sustains.

Against one scripted model in its own process:

(a) whole runs of `claude -p`, a greeting and one Bash call: ungoverned (`--allowedTools Bash`, no hooks)
    next to governed by the settings `magistrate settings --install user` wrote into the HOME (no flags; the
    per-user broker already running, as it is for every run after the first) and next to the same hook
    events pointed at a no-op HTTP server in this process;
(b) per tool call: a run of 50 Bash calls and a run of one, governed and with the no-op hooks: the time the
    broker adds per call above the CLI's own round trip to a no-op HTTP hook,
    ((G50 - N50) - (G1 - N1)) / 49, every decision durable (SQLite, synchronous=FULL) before its answer;
(c) one broker process (`magistrate serve approval --transport http`) over a PostgreSQL trail with fsync on,
    32 concurrent clients (`RemoteGovernor`) for a fixed number of decisions: decisions a second, client-side
    p50 and p99, the broker's CPU time per decision (which a busy machine disturbs far less than the rates),
    and the trail holds every decision and verifies.

    .venv/bin/python bench/bench_plain.py [--runs N] [--decisions N] [--postgres URL] [--only-throughput]

Without `--postgres`, a throwaway PostgreSQL cluster is started (Debian's server binaries) and removed after.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anyio
from _common import (
    BUILD,
    CLI,
    FIFTY_TOOLS,
    GREETING,
    ONE_TOOL,
    TOOL_OUTPUT,
    load_note,
    median,
    print_table,
    rotated,
    run_timed,
    scripted_model,
    verdict,
)

WHERE = BUILD / "plain"
POLICY = 'from magistrate.broker import RulePolicy\npolicy = RulePolicy(default="allow", deny=["Bash(rm:*)"])\n'
EVENTS = ("PreToolUse", "PermissionRequest", "PostToolUse", "PostToolUseFailure", "Stop", "SessionEnd")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def magistrate(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "magistrate.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


class _NoOp(BaseHTTPRequestHandler):
    """Answers every hook at once: allow for PreToolUse, nothing for the rest."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms wait on a delayed ACK

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("content-length", "0"))))
        answer: dict[str, Any] = {}
        if body.get("hook_event_name") == "PreToolUse":
            answer = {"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "allow"}}
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        return


@contextlib.contextmanager
def noop_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NoOp)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()
        server.server_close()


def noop_settings(url: str) -> dict[str, Any]:
    hook = {"type": "http", "url": url, "timeout": 30}
    return {"hooks": {e: [{"matcher": "*", "hooks": [hook]}] for e in EVENTS}}


def hook_round_trips(url: str, pairs: int) -> list[float]:
    """Seconds per PreToolUse + PostToolUse pair POSTed to `url` on one kept-alive connection, as the CLI does."""
    import http.client
    import urllib.parse

    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    took = []
    session = f"bench-hooks-{time.time_ns()}"
    for i in range(pairs):
        common: dict[str, Any] = {"session_id": session, "cwd": str(WHERE), "tool_name": "Bash"}
        common.update(tool_input={"command": f"echo call-{i}"}, tool_use_id=f"toolu_bench_{session}_{i}")
        pre = json.dumps({**common, "hook_event_name": "PreToolUse"}).encode()
        post = json.dumps({**common, "hook_event_name": "PostToolUse", "tool_response": {"stdout": f"call-{i}"}})
        began = time.perf_counter()
        for body in (pre, post.encode()):
            conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
            answer = conn.getresponse().read()
            if body is pre and b'"allow"' not in answer:
                raise RuntimeError(f"the hook did not allow: {answer[:300]!r}")
        took.append(time.perf_counter() - began)
    conn.close()
    return took


def whole_runs(runs: int) -> dict[str, Any]:
    """(a) and (b): the plain CLI ungoverned, governed by the installed settings, and with no-op hooks."""
    if WHERE.exists():
        shutil.rmtree(WHERE)
    homes = {name: WHERE / f"home-{name}" for name in ("plain", "governed", "noop")}
    for home in homes.values():
        home.mkdir(parents=True)
    xdg = {"XDG_STATE_HOME": str(WHERE / "state"), "XDG_CONFIG_HOME": str(WHERE / "config")}
    (WHERE / "policy.py").write_text(POLICY)
    trail = WHERE / "trail.sqlite3"
    port = free_port()
    base_env = {**os.environ, **xdg}
    installed = magistrate(
        "settings", "--install", "user", "--port", str(port), "--policy", str(WHERE / "policy.py"),
        "--db", str(trail), env={**base_env, "HOME": str(homes["governed"])},
    )  # fmt: skip
    if installed.returncode != 0:
        raise RuntimeError(installed.stderr)
    started = magistrate(
        "broker", "start", "--port", str(port), "--policy", str(WHERE / "policy.py"), "--db", str(trail), env=base_env
    )
    if started.returncode != 0:
        raise RuntimeError(started.stderr)
    times: dict[tuple[str, str], list[float]] = {}
    workspace = WHERE / "ws"
    workspace.mkdir()
    hooks: dict[str, list[float]] = {}
    try:
        with noop_server() as url, scripted_model(WHERE / "model-home") as model:
            for _ in range(3):  # interleaved, so a busy moment hits both alike
                hooks.setdefault("noop", []).extend(hook_round_trips(url, 100))
                hooks.setdefault("governed", []).extend(hook_round_trips(f"http://127.0.0.1:{port}/hook", 100))
            noop_file = WHERE / "noop-settings.json"
            noop_file.write_text(json.dumps(noop_settings(url)))
            variants = {
                "plain": (homes["plain"], ["--allowedTools", "Bash"]),
                "governed": (homes["governed"], []),
                "noop": (homes["noop"], ["--settings", str(noop_file)]),
            }
            prompts = {"greeting": GREETING, "one": ONE_TOOL, "fifty": FIFTY_TOOLS}
            for round_ in range(runs + 1):  # the first round warms every HOME and is not counted
                for name in rotated(list(variants), round_):
                    home, extra = variants[name]
                    for kind, prompt in prompts.items():
                        if kind == "fifty" and name == "plain":
                            continue
                        env = {**model.env(**xdg), "HOME": str(home)}
                        argv = [str(CLI), "-p", prompt, *extra]
                        check = TOOL_OUTPUT if kind == "one" else None
                        timed = run_timed(argv, env=env, cwd=workspace, check_output=check)
                        if round_:
                            times.setdefault((name, kind), []).append(timed.seconds)
    finally:
        magistrate("broker", "stop", "--port", str(port), env=base_env)
    verified = magistrate("audit", "verify", "--db", str(trail), env=base_env)
    return {
        "hooks": hooks,
        "times": {f"{k[0]}/{k[1]}": v for k, v in times.items()},
        "verified": verified.returncode == 0,
        "verify": [_verified(verified)],
    }


def _verified(done: subprocess.CompletedProcess[str]) -> str:
    """`OK: N records intact` (or the failure), without the root and the witness."""
    lines = done.stdout.strip().splitlines() or [done.stderr.strip()]
    return lines[-1].split(", root")[0]


@contextlib.contextmanager
def postgres(given: str | None) -> Iterator[str]:
    """The PostgreSQL URL to use: `given`, else a throwaway cluster (fsync on: durable means durable)."""
    if given:
        yield given
        return
    bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not bins:
        raise RuntimeError("no PostgreSQL server binaries; pass --postgres URL")
    bin_dir = bins[-1].parent
    root = Path(tempfile.mkdtemp(prefix="magistrate-bench-pg-"))
    as_server = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    port = free_port()
    data = root / "data"

    def run(*argv: str) -> None:
        subprocess.run([*as_server, *argv], check=True, capture_output=True, timeout=120)

    run(str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8")
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c max_connections=200"
    run(str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-o", options, "-w", "start")
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        with contextlib.suppress(subprocess.SubprocessError):
            run(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of process `pid` so far (Linux `/proc`; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def throughput(decisions: int, clients: int, pg: str | None) -> dict[str, Any]:
    """(c): one broker process, `clients` concurrent clients, `decisions` decisions in all."""
    from magistrate.broker import CallContext, RemoteGovernor, ToolCall

    policy = WHERE / "policy.py"
    policy.parent.mkdir(parents=True, exist_ok=True)
    policy.write_text(POLICY)
    env = {**os.environ, "XDG_CONFIG_HOME": str(WHERE / "config-pg"), "MAGISTRATE_LOG_LEVEL": "error"}
    with postgres(pg) as url:
        port = free_port()
        argv = [sys.executable, "-m", "magistrate.cli", "serve", "approval", "--transport", "http"]
        argv += ["--port", str(port), "--db", url, "--policy", str(policy)]
        broker = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, start_new_session=True)
        latencies: list[float] = []
        elapsed = 0.0
        cpu = [0.0, 0.0]
        try:

            async def load() -> float:
                base = f"http://127.0.0.1:{port}"
                async with RemoteGovernor(base, timeout=10) as probe:
                    with anyio.fail_after(60):
                        while True:
                            try:
                                await probe.health()
                                break
                            except Exception:  # noqa: BLE001 - not up yet
                                await anyio.sleep(0.1)
                per_client = decisions // clients
                cpu[0] = cpu_seconds(broker.pid)  # after start-up: the imports are not the decisions' cost

                async def client(n: int) -> None:
                    async with RemoteGovernor(base, timeout=10) as governor:
                        for i in range(per_client):
                            call = ToolCall("Bash", {"command": f"echo {i}"}, f"toolu_{n}_{i}")
                            began = time.perf_counter()
                            decision = await governor.decide(call, CallContext(session_id=f"bench-{n}", cwd="/tmp"))
                            latencies.append(time.perf_counter() - began)
                            if decision.error:
                                raise RuntimeError(decision.error)

                started = time.perf_counter()
                async with anyio.create_task_group() as group:
                    for n in range(clients):
                        group.start_soon(client, n)
                return time.perf_counter() - started

            elapsed = anyio.run(load)
            cpu[1] = cpu_seconds(broker.pid)
        finally:
            broker.terminate()
            code = broker.wait(timeout=60)
        verified = magistrate("audit", "verify", "--db", url, env=env)
    ordered = sorted(latencies)
    return {
        "decisions": len(latencies),
        "seconds": elapsed,
        "per_second": len(latencies) / elapsed if elapsed else 0.0,
        "p50_ms": 1000 * statistics.median(ordered),
        "p99_ms": 1000 * ordered[int(0.99 * (len(ordered) - 1))],
        "cpu_ms": 1000 * (cpu[1] - cpu[0]) / len(latencies) if latencies else 0.0,
        "exit": code,
        "verified": verified.returncode == 0,
        "verify": [_verified(verified)],
    }


def report_throughput(args: argparse.Namespace) -> dict[str, Any]:
    load_pg = os.getloadavg()[0]
    tp = throughput(args.decisions, args.clients, args.postgres)
    print_table(
        f"(c) one broker process, PostgreSQL (fsync on), {args.clients} clients ({load_note(load_pg)})",
        ["decisions", "seconds", "decisions/s", "p50 ms", "p99 ms", "broker CPU ms/decision", "SIGTERM exit",
         "trail"],
        [[str(tp["decisions"]), f"{tp['seconds']:.2f}", f"{tp['per_second']:,.0f}", f"{tp['p50_ms']:.1f}",
          f"{tp['p99_ms']:.1f}", f"{tp['cpu_ms']:.2f}", str(tp["exit"]), " ".join(tp["verify"])]],
    )  # fmt: skip
    return tp


def within_noise(per_call: float) -> str:
    """A negative difference says the runs' noise is larger than the effect, not that governing saves time."""
    return "noise" if per_call < 0 else verdict(per_call <= 2e-3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="interleaved rounds of whole runs (default 5)")
    parser.add_argument("--decisions", type=int, default=6400, help="decisions in the throughput part (6400)")
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients (default 32)")
    parser.add_argument("--postgres", metavar="URL", help="a PostgreSQL database for the throughput part")
    parser.add_argument("--only-throughput", action="store_true", help="measure (c) only, without whole runs")
    args = parser.parse_args()
    if args.only_throughput:
        report_throughput(args)
        return
    load_start = os.getloadavg()[0]
    runs = whole_runs(args.runs)
    t = {k: median(v) for k, v in runs["times"].items()}
    rows = []
    for name, label in (("plain", "claude -p (ungoverned)"), ("governed", "claude -p, installed settings"),
                        ("noop", "claude -p, no-op HTTP hooks")):  # fmt: skip
        one = f"{t[f'{name}/one']:.3f}"
        fifty = f"{t[f'{name}/fifty']:.3f}" if f"{name}/fifty" in t else "-"
        ratio_g = t[f"{name}/greeting"] / t["plain/greeting"]
        ratio_o = t[f"{name}/one"] / t["plain/one"]
        rows.append([label, f"{t[f'{name}/greeting']:.3f}", f"{ratio_g:.2f}x", one, f"{ratio_o:.2f}x", fifty])
    print_table(
        f"(a) whole runs, medians of {args.runs} interleaved ({load_note(load_start)})",
        ["variant", "greeting s", "vs plain", "one Bash call s", "vs plain", "50 calls s"],
        rows,
    )
    per_call = ((t["governed/fifty"] - t["noop/fifty"]) - (t["governed/one"] - t["noop/one"])) / 49
    pairs = {name: sorted(v) for name, v in runs["hooks"].items()}
    hook_rows = [
        [name, str(len(v)), f"{1000 * median(v):.2f}", f"{1000 * v[int(0.99 * (len(v) - 1))]:.2f}"]
        for name, v in pairs.items()
    ]
    print_table(
        "(b) one tool call's hooks (PreToolUse + PostToolUse) POSTed on a kept-alive connection, as the CLI does",
        ["server", "pairs", "median ms", "p99 ms"],
        hook_rows,
    )
    hook_added = median(pairs["governed"]) - median(pairs["noop"])
    tp = report_throughput(args)
    g1, g0 = t["governed/one"] / t["plain/one"], t["governed/greeting"] / t["plain/greeting"]
    rate = tp["per_second"]
    print_table(
        "targets (`bench_plain.py`)",
        ["target", "measured", ""],
        [
            ["governed, one Bash call: <= 1.3x ungoverned", f"{g1:.2f}x", verdict(g1 <= 1.3)],
            ["governed, no tool call: <= 1.1x ungoverned", f"{g0:.2f}x", verdict(g0 <= 1.1)],
            ["per call: <= 2 ms above a no-op hook (b)", f"{1000 * hook_added:.2f} ms", verdict(hook_added <= 2e-3)],
            ["per call in whole runs, (G50-N50-(G1-N1))/49", f"{1000 * per_call:.1f} ms", within_noise(per_call)],
            ["one broker: >= 2,000 durable decisions/s", f"{rate:,.0f}/s", verdict(rate >= 2000)],
            ["one broker: p99 <= 20 ms", f"{tp['p99_ms']:.1f} ms", verdict(tp["p99_ms"] <= 20)],
            ["every decision in the trail, trail verifies", f"{' '.join(runs['verify'])}; {' '.join(tp['verify'])}",
             verdict(runs["verified"] and tp["verified"])],
        ],
    )  # fmt: skip


if __name__ == "__main__":
    main()
