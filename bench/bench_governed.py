"""What governance costs: a governed run next to the plain CLI and to the other SDKs' ways of approving a call.

Governance puts every tool call before a Python policy and writes a durable, signed record before the answer.
Users compare that with what they would do without magistrate, so this measures, against one scripted model
in its own process and one warm HOME:

(a) whole process, one run with one Bash call: magistrate.sdk governed (a policy file, a SQLite trail) next to
    the plain `claude -p --allowedTools Bash`, claude-agent-sdk with a `can_use_tool` callback, and
    claude-code-sdk 0.0.25 with an approval prompt tool served by a Python MCP server over stdio;
(b) inside one Python process, batches of governed runs in a row next to batches of plain CLI runs: per run;
(c) a run whose model makes 50 Bash calls, governed with the durable trail vs the plain CLI: the time added
    per call, net of the per-run difference measured on one-call runs in the same rounds
    ((G50 - P50) - (G1 - P1)) / 49; beside it the gross (G50 - P50) / 50, and the net figure against
    magistrate.sdk with governed=False, which tells the cost of governance apart from that of the SDK;
(d) 16 governed runs at once in one process (one anyio task group): all finish, the trail holds one decision
    per call, and `magistrate audit verify` accepts it;
(e) peak RSS of the Python process of one governed run (the (a) children report their own `ru_maxrss`).

Variants are interleaved, their order rotating each round, and medians are reported, so a noisy moment hits
all variants alike. The in-process parts run in a child of this script (`--inner`), with the same clean
environment as the other children.

    .venv/bin/python bench/bench_governed.py [--runs N] [--batch N] [--rounds N] [--concurrent N]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
from _common import (
    AGENT,
    BUILD,
    CLI,
    CODE,
    FIFTY_TOOLS,
    ONE_TOOL,
    TOOL_OUTPUT,
    fresh_trails,
    last_json_line,
    load_note,
    median,
    print_table,
    rotated,
    run_timed,
    scripted_model,
    sdk_pythons,
    verdict,
    write_child,
)

PLAIN = "claude -p --allowedTools Bash"
GOVERNED = "magistrate.sdk governed"
AGENT_CB = f"{AGENT} + can_use_tool"
CODE_MCP = f"{CODE} + MCP approval prompt"
VARIANTS = (PLAIN, GOVERNED, AGENT_CB, CODE_MCP)
EXPECTED = f"Got: {TOOL_OUTPUT}"
FIFTY_EXPECTED = "Got: call-49"

POLICY = """
from magistrate.broker import RulePolicy

policy = RulePolicy(default="deny", allow=["Bash(touch:*)", "Bash(echo:*)"])
"""

# One run with one approved call, in a fresh process; each SDK approves it its own way.
CHILD = '''
"""One query() whose single Bash call is approved the SDK's own way; prints the result, the approvals seen,
and this process's peak RSS."""
import json
import os
import resource
import sys

sdk, prompt, cli, cwd, extra = sys.argv[1:6]
approvals = 0
import anyio

if sdk == "claude_agent_sdk":
    from claude_agent_sdk import ClaudeAgentOptions, PermissionResultAllow, query

    async def approve(tool_name, tool_input, context):
        global approvals
        approvals += 1
        return PermissionResultAllow(updated_input=tool_input)

    options = ClaudeAgentOptions(can_use_tool=approve, cli_path=cli, cwd=cwd)
elif sdk == "claude_code_sdk":
    from claude_code_sdk import ClaudeCodeOptions, query  # finds the CLI on PATH

    log = f"{extra}.{os.getpid()}.log"
    server = {"command": sys.executable, "args": [extra, log]}
    options = ClaudeCodeOptions(
        mcp_servers={"approver": server}, permission_prompt_tool_name="mcp__approver__approve", cwd=cwd
    )
else:
    from magistrate.sdk import ClaudeCodeOptions, query

    policy, audit = extra.split("|")
    options = ClaudeCodeOptions(cli_path=cli, cwd=cwd, policy=policy, audit=audit)


async def main():
    result = None
    async for message in query(prompt=prompt, options=options):
        result = getattr(message, "result", result)
    return result


result = anyio.run(main)
if sdk == "claude_code_sdk" and os.path.exists(log):
    with open(log) as seen:
        approvals = len(seen.readlines())
    os.remove(log)
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"result": result, "approvals": approvals, "maxrss_kb": rss}))
'''

# The approval prompt for claude-code-sdk 0.0.25, the way its documentation has users write one.
APPROVAL_SERVER = '''
"""An MCP permission prompt tool over stdio that approves every call, and notes each in the file named by argv[1]."""
import json
import sys

from mcp.server.mcpserver import MCPServer

server = MCPServer("approver")


@server.tool(structured_output=False)
def approve(tool_name: str, input: dict, tool_use_id: str | None = None) -> str:
    with open(sys.argv[1], "a") as log:
        log.write(tool_name + "\\n")
    return json.dumps({"behavior": "allow", "updatedInput": input})


server.run()
'''


# -- the parent: fresh processes, and the tables -------------------------------------------------------------


def command(variant: str, pythons: dict[str, Path], child: Path, server: Path, policy: Path, db: Path) -> list[str]:
    ws = str(BUILD / "ws")
    if variant == PLAIN:
        return [str(CLI), "-p", ONE_TOOL, "--output-format", "stream-json", "--verbose", "--allowedTools", "Bash"]
    if variant == AGENT_CB:
        return [str(pythons[AGENT]), str(child), "claude_agent_sdk", ONE_TOOL, str(CLI), ws, "-"]
    if variant == CODE_MCP:
        return [str(pythons[CODE]), str(child), "claude_code_sdk", ONE_TOOL, str(CLI), ws, str(server)]
    return [sys.executable, str(child), "magistrate", ONE_TOOL, str(CLI), ws, f"{policy}|{db}"]


def audit_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "magistrate.cli", "audit", *args]
    return subprocess.run(argv, env=env, capture_output=True, text=True, check=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="rounds for (a) and (c) (default 7)")
    parser.add_argument("--batch", type=int, default=20, help="runs in a row for (b) (default 20)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of batches for (b) (default 3)")
    parser.add_argument("--concurrent", type=int, default=16, help="runs at once for (d) (default 16)")
    parser.add_argument("--inner", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inner:
        print(json.dumps(anyio.run(inner, args.inner)))
        return

    load_at_start = os.getloadavg()[0]
    pythons, versions = sdk_pythons()
    child = write_child("governed_query.py", CHILD)
    server = write_child("approval_server.py", APPROVAL_SERVER)
    policy = write_child("policy.py", POLICY)
    ws = BUILD / "ws"
    ws.mkdir(parents=True, exist_ok=True)
    db = BUILD / "trail-governed.sqlite3"

    seconds: dict[str, list[float]] = defaultdict(list)
    rss: dict[str, list[float]] = defaultdict(list)
    with scripted_model(BUILD / "home") as model:
        env = model.env()
        code_env = {**env, "PATH": f"{CLI.parent}:{env['PATH']}"}  # claude-code-sdk 0.0.25 runs `claude` from PATH

        # (a) and (e): fresh processes, round -1 is the warm-up
        for round_ in range(-1, args.runs):
            for variant in rotated(VARIANTS, round_):
                done = run_timed(
                    command(variant, pythons, child, server, policy, db),
                    env=code_env if variant == CODE_MCP else env,
                    cwd=ws,
                    check_output=EXPECTED,
                )
                report = last_json_line(done.stdout)
                if variant in (AGENT_CB, CODE_MCP) and report["approvals"] != 1:
                    raise RuntimeError(f"{variant}: expected one approval, saw {report['approvals']}")
                if round_ >= 0:
                    seconds[variant].append(done.seconds)
                    if variant != PLAIN:
                        rss[variant].append(report["maxrss_kb"] / 1024)

        def inner_run(*inner_args: str) -> dict[str, Any]:
            argv = [sys.executable, __file__, "--inner", str(policy), *inner_args]
            return last_json_line(run_timed(argv, env=env, cwd=ws, timeout=3600).stdout)

        # (b), (c), (d): inside one Python process each
        batch = inner_run("batch", str(db), str(args.batch), str(args.rounds))
        fifty = inner_run("fifty", str(db), str(args.runs))
        concurrent_db = BUILD / "trail-concurrent.sqlite3"
        fresh_trails(model.home, concurrent_db)
        together = inner_run("concurrent", str(concurrent_db), str(args.concurrent))
        exported = audit_cli(env, "export", "--db", str(concurrent_db))
        records = [json.loads(line)["record"] for line in exported.stdout.splitlines() if line.strip()]
        decisions = sum(1 for record in records if record.get("kind") == "decision")
        verified = audit_cli(env, "verify", "--db", str(concurrent_db)).returncode

    med = {variant: median(values) for variant, values in seconds.items()}
    rows = []
    for variant in VARIANTS:
        name = variant.replace(AGENT, f"{AGENT} {versions[AGENT]}")
        rss_mb = f"{median(rss[variant]):.0f}" if variant in rss else "-"
        rows.append([name, f"{med[variant]:.3f}", f"{med[variant] / med[PLAIN]:.2f}x", rss_mb])
    title = f"(a) whole process, one run with one Bash call, medians of {args.runs} interleaved"
    title += f" ({load_note(load_at_start)})"
    print_table(title, ["variant", "seconds", "vs CLI", "Python peak RSS MB"], rows)

    g = med[GOVERNED]
    g1, p1, g50, p50 = (fifty[k] for k in ("governed_1", "plain_1", "governed_50", "plain_50"))
    net_ms = ((g50 - p50) - (g1 - p1)) / 49 * 1000
    u1, u50 = fifty["ungoverned_1"], fifty["ungoverned_50"]
    net_sdk_ms = ((g50 - u50) - (g1 - u1)) / 49 * 1000
    gross_ms = (g50 - p50) / 50 * 1000
    per_run = batch["governed"] / batch["plain"]
    all_done = together["finished"] == args.concurrent
    expected_decisions = args.concurrent
    peak = median(rss[GOVERNED])
    targets = [
        ["(a) governed run <= 1.3x claude -p", f"{g / med[PLAIN]:.2f}x", verdict(g / med[PLAIN] <= 1.3)],
        [f"(a) <= 0.5x {AGENT_CB}", f"{g / med[AGENT_CB]:.2f}x", verdict(g / med[AGENT_CB] <= 0.5)],
        [f"(a) <= 0.35x {CODE_MCP}", f"{g / med[CODE_MCP]:.2f}x", verdict(g / med[CODE_MCP] <= 0.35)],
        [
            f"(b) {args.batch} runs in a row in one process: per run <= 1.1x CLI",
            f"{per_run:.2f}x ({batch['governed'] * 1000:.0f} vs {batch['plain'] * 1000:.0f} ms)",
            verdict(per_run <= 1.1),
        ],
        [
            "(c) 50 calls in one run: <= 2 ms added per call (net)",
            f"{net_ms:.1f} ms (gross {gross_ms:.1f} ms; 50 calls {g50:.2f} vs {p50:.2f} s; "
            f"vs governed=False {net_sdk_ms:.1f} ms)",
            verdict(net_ms <= 2),
        ],
        [
            f"(d) {args.concurrent} governed runs at once: all finish",
            f"{together['finished']}/{args.concurrent} in {together['seconds']:.1f} s",
            verdict(all_done),
        ],
        [
            "(d) every decision in the trail, trail verifies",
            f"{decisions}/{expected_decisions} decisions, verify exit {verified}",
            verdict(decisions == expected_decisions and verified == 0),
        ],
        ["(e) Python peak RSS, one governed run < 60 MB", f"{peak:.0f} MB", verdict(peak < 60)],
    ]
    print_table("Targets", ["target (`bench_governed.py`)", "measured", ""], targets)


# -- the child: the in-process measurements ------------------------------------------------------------------


async def inner(argv: list[str]) -> dict[str, Any]:
    """Run one in-process measurement (`--inner POLICY MODE DB ...`) and return its figures."""
    from magistrate.sdk import ClaudeCodeOptions, ResultMessage, query

    policy, mode, db = argv[:3]
    ws = BUILD / "ws"
    options = ClaudeCodeOptions(cli_path=CLI, cwd=ws, policy=policy, audit=db)
    ungoverned = ClaudeCodeOptions(cli_path=CLI, cwd=ws, governed=False, allowed_tools=["Bash"])

    async def sdk_run(prompt: str, expected: str, run_options: ClaudeCodeOptions) -> None:
        result = None
        async for message in query(prompt=prompt, options=run_options):
            if isinstance(message, ResultMessage):
                result = message.result
        if expected not in (result or ""):
            raise RuntimeError(f"run ended with {result!r}")

    async def governed(prompt: str, expected: str) -> None:
        await sdk_run(prompt, expected, options)

    async def plain_sdk(prompt: str, expected: str) -> None:
        await sdk_run(prompt, expected, ungoverned)

    async def plain(prompt: str, expected: str) -> None:
        argv = [str(CLI), "-p", prompt, "--output-format", "stream-json", "--verbose", "--allowedTools", "Bash"]
        done = await anyio.run_process(argv, cwd=ws, check=False)
        if done.returncode != 0 or expected not in done.stdout.decode():
            raise RuntimeError(f"plain run exited {done.returncode}: {done.stderr.decode()[-800:]}")

    runners: dict[str, Callable[[str, str], Awaitable[None]]] = {"governed": governed, "plain": plain}

    if mode == "batch":
        count, rounds = int(argv[3]), int(argv[4])
        per_run: dict[str, list[float]] = defaultdict(list)
        for round_ in range(-1, rounds):  # round -1 warms up (first trail open, imports)
            for name in rotated(list(runners), round_):
                started = time.perf_counter()
                for _ in range(count if round_ >= 0 else 1):
                    await runners[name](ONE_TOOL, EXPECTED)
                if round_ >= 0:
                    per_run[name].append((time.perf_counter() - started) / count)
        return {name: median(values) for name, values in per_run.items()}

    if mode == "fifty":
        rounds = int(argv[3])
        runners["ungoverned"] = plain_sdk  # governed=False: tells governance apart from the SDK itself
        cases = {f"{name}_{n}": (name, n) for name in runners for n in (1, 50)}
        took: dict[str, list[float]] = defaultdict(list)
        for round_ in range(-1, rounds):
            for case in rotated(list(cases), round_):
                name, n = cases[case]
                started = time.perf_counter()
                await runners[name](*((ONE_TOOL, EXPECTED) if n == 1 else (FIFTY_TOOLS, FIFTY_EXPECTED)))
                if round_ >= 0:
                    took[case].append(time.perf_counter() - started)
        return {case: median(values) for case, values in took.items()}

    if mode == "concurrent":
        count = int(argv[3])
        finished = 0

        async def one() -> None:
            nonlocal finished
            await governed(ONE_TOOL, EXPECTED)
            finished += 1

        started = time.perf_counter()
        with anyio.fail_after(600):
            async with anyio.create_task_group() as tg:
                for _ in range(count):
                    tg.start_soon(one)
        return {"finished": finished, "seconds": time.perf_counter() - started}

    raise SystemExit(f"unknown inner mode {mode!r}")


if __name__ == "__main__":
    main()
