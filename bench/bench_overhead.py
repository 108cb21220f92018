"""What governance costs next to the CLI's own speed: per call, at cold start, warm, in memory, under load.

A governed run should cost about what the bare CLI costs, so every figure here is set against the CLI itself,
on the scripted model (in its own process) from one warm HOME:

- whole process, one run with 1 Bash call and with 20: the plain `claude -p`, the same CLI fed its prompt as
  stream-json on stdin (what streaming mode costs by itself), `claude-agent-sdk` (when it installs),
  `magistrate.sdk` with `governed=False`, the same with a user's no-op PreToolUse hook (the CLI's own hook
  round trip, the reference for governance per call), and governed (a policy file, a SQLite trail). Per call
  is (t20 - t1) / 19; beside the wall time, the CPU time of the run's processes; the Python child reports its
  own peak RSS (`VmHWM`, else `ru_maxrss`);
- warm: `--batch` governed runs in a row inside one Python process next to as many plain CLI runs, per run;
- `--concurrent` governed runs at once in one process: all finish, the trail holds one decision and one
  outcome per call, and `magistrate audit verify` accepts it;
- the policy decision alone, on `bench_policy.py`'s set of 200 rule strings and 10 Python rules.

Rounds are interleaved, their order rotating. A figure set against another (a ratio, the per-call
difference) is taken within each round and the median of the rounds is shown, so a machine whose speed
drifts between rounds cancels out; on a busy machine, read those and the CPU times.

    .venv/bin/python bench/bench_overhead.py [--runs N] [--batch N] [--rounds N] [--concurrent N] [--calls N]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
from _common import (
    AGENT,
    BUILD,
    CHILD_QUERY,
    CLI,
    ONE_TOOL,
    TOOL_OUTPUT,
    TWENTY_TOOLS,
    Model,
    ensure_venv,
    fresh_trails,
    last_json_line,
    load_note,
    median,
    print_table,
    rotated,
    run_timed,
    scripted_model,
    verdict,
    write_child,
)

from magistrate.broker import DecisionRecord, OutcomeRecord, parse_record

PLAIN = "claude -p"
STREAMING = "claude -p, stream-json on stdin"
UNGOVERNED = "magistrate.sdk, governed=False"
HOOKED = "magistrate.sdk, governed=False, no-op PreToolUse hook"
GOVERNED = "magistrate.sdk, governed"
WORKLOADS = {1: (ONE_TOOL, f"Got: {TOOL_OUTPUT}"), 20: (TWENTY_TOOLS, f"Got: {TOOL_OUTPUT}-19")}

POLICY = """
from magistrate.broker import RulePolicy

policy = RulePolicy(default="deny", allow=["Bash(touch:*)", "Bash(echo:*)"])
"""

# One query() in a fresh process; the imports are inside the timed process on purpose.
CHILD = (
    '''
"""One query() through the SDK and configuration named on the command line; prints the result and this
process's peak RSS."""
import json
import resource
import sys

kind, prompt, cli, cwd, extra = sys.argv[1:6]
import anyio

if kind == "agent":
    from claude_agent_sdk import ClaudeAgentOptions, query

    options = ClaudeAgentOptions(allowed_tools=["Bash"], cli_path=cli, cwd=cwd)
elif kind == "governed":
    from magistrate.sdk import ClaudeCodeOptions, query

    policy, audit = extra.split("|")
    options = ClaudeCodeOptions(cli_path=cli, cwd=cwd, policy=policy, audit=audit)
else:
    from magistrate.sdk import ClaudeCodeOptions, HookMatcher, query

    async def no_op(hook_input, tool_use_id, context):
        return {}

    hooks = {"PreToolUse": [HookMatcher(matcher=None, hooks=[no_op])]} if kind == "hooked" else None
    options = ClaudeCodeOptions(allowed_tools=["Bash"], cli_path=cli, cwd=cwd, governed=False, hooks=hooks)
'''
    + CHILD_QUERY
)


def agent_sdk() -> tuple[Path | None, str]:
    """The Python of a venv holding claude-agent-sdk and its version; None and the reason when it does not
    install (no network, no wheel for this platform)."""
    try:
        python = ensure_venv("agent-sdk", ["claude-agent-sdk"])
        probe = "import importlib.metadata as m; print(m.version('claude-agent-sdk'))"
        version = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        return None, f"{AGENT} could not be installed here ({type(exc).__name__}), so it is not compared"
    return python, version.stdout.strip()


def user_message(prompt: str) -> str:
    return json.dumps({"type": "user", "message": {"role": "user", "content": prompt}}) + "\n"


def command(variant: str, prompt: str, child: Path, agent: Path | None, extra: str) -> list[str]:
    if variant == PLAIN:
        return [str(CLI), "-p", prompt, "--output-format", "stream-json", "--verbose", "--allowedTools", "Bash"]
    if variant == STREAMING:
        argv = [str(CLI), "-p", "--input-format", "stream-json", "--output-format", "stream-json", "--verbose"]
        return [*argv, "--allowedTools", "Bash"]
    kind = {UNGOVERNED: "plain", HOOKED: "hooked", GOVERNED: "governed"}.get(variant, "agent")
    python = agent if kind == "agent" and agent is not None else Path(sys.executable)
    return [str(python), str(child), kind, prompt, str(CLI), str(BUILD / "ws"), extra]


def audit_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "magistrate.cli", "audit", *args]
    return subprocess.run(argv, env=env, capture_output=True, text=True, check=False)


def policy_latency(calls: int) -> tuple[float, float]:
    """p50 and p99 in µs of `bench_policy.py`'s policy over its workload, in a real temporary project."""
    import bench_policy

    with tempfile.TemporaryDirectory() as project:
        bench_policy.ROOT = project
        for i in range(20):
            (Path(project) / f"src{i}").mkdir()
        policy, workload = bench_policy.build_policy(), bench_policy.workload(calls)
        samples, _ = anyio.run(bench_policy.measure_magistrate, policy, workload)
    p50, p99, _ = bench_policy.percentiles(samples)
    return p50, p99


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="interleaved rounds of fresh processes (default 7)")
    parser.add_argument("--batch", type=int, default=20, help="runs in a row in one process (default 20)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of batches (default 3)")
    parser.add_argument("--concurrent", type=int, default=16, help="governed runs at once (default 16)")
    parser.add_argument("--calls", type=int, default=20000, help="calls for the policy decision (default 20000)")
    parser.add_argument("--inner", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inner:
        print(json.dumps(anyio.run(inner, args.inner)))
        return

    load_at_start = os.getloadavg()[0]
    agent, agent_note = agent_sdk()
    variants = [PLAIN, STREAMING, UNGOVERNED, HOOKED, GOVERNED]
    agent_variant = f"{AGENT} {agent_note}"
    if agent is not None:
        variants.insert(2, agent_variant)
    child = write_child("overhead_query.py", CHILD)
    policy = write_child("overhead_policy.py", POLICY)
    ws = BUILD / "ws"
    ws.mkdir(parents=True, exist_ok=True)
    db = BUILD / "trail-overhead.sqlite3"
    concurrent_db = BUILD / "trail-overhead-concurrent.sqlite3"
    fresh_trails(BUILD / "home", db, concurrent_db)

    wall: dict[tuple[str, int], list[float]] = defaultdict(list)
    cpu: dict[tuple[str, int], list[float]] = defaultdict(list)
    rss: dict[str, list[float]] = defaultdict(list)
    with scripted_model(BUILD / "home") as model:
        env = model.env()
        for round_ in range(-1, args.runs):  # round -1 warms the HOME, the page cache and the bytecode
            for variant in rotated(variants, round_):
                for calls, (prompt, expected) in WORKLOADS.items():
                    done = run_timed(
                        command(variant, prompt, child, agent, f"{policy}|{db}"),
                        env=env,
                        cwd=ws,
                        check_output=expected,
                        stdin=user_message(prompt) if variant == STREAMING else None,
                    )
                    if round_ < 0:
                        continue
                    wall[variant, calls].append(done.seconds)
                    cpu[variant, calls].append(done.cpu)
                    if variant not in (PLAIN, STREAMING) and calls == 1:
                        rss[variant].append(last_json_line(done.stdout)["maxrss_kb"] / 1024)
        warm = inner_run(model, policy, "batch", str(db), str(args.batch), str(args.rounds))
        together = inner_run(model, policy, "concurrent", str(concurrent_db), str(args.concurrent))
        exported = audit_cli(env, "export", "--db", str(concurrent_db))
        records = [
            parse_record(json.dumps(json.loads(line)["record"]).encode())
            for line in exported.stdout.splitlines()
            if line.strip()
        ]
        verified = audit_cli(env, "verify", "--db", str(concurrent_db)).returncode
    p50, p99 = policy_latency(args.calls)

    # Every figure set against another is taken round by round (the runs of one round ran side by side) and
    # the median of those pairs is shown, so a machine that speeds up or slows down between rounds cancels out.
    rounds = range(args.runs)

    def paired(figure: Callable[[int], float]) -> float:
        return median([figure(r) for r in rounds])

    def per_call(variant: str, times: dict[tuple[str, int], list[float]] = wall) -> Callable[[int], float]:
        return lambda r: (times[variant, 20][r] - times[variant, 1][r]) / 19 * 1000

    def vs_plain(times: dict[tuple[str, int], list[float]], variant: str) -> float:
        return paired(lambda r: times[variant, 1][r] / times[PLAIN, 1][r])

    rows = []
    for variant in variants:
        rss_mb = f"{median(rss[variant]):.0f}" if variant in rss else "-"
        rows.append(
            [
                variant,
                f"{median(wall[variant, 1]):.3f}",
                f"{vs_plain(wall, variant):.2f}x",
                f"{median(wall[variant, 20]):.3f}",
                f"{paired(per_call(variant)):.1f}",
                f"{paired(per_call(variant, cpu)):.1f}",
                f"{median(cpu[variant, 1]):.2f}",
                f"{vs_plain(cpu, variant):.2f}x",
                rss_mb,
            ]
        )
    headers = [
        "configuration",
        "1 call s",
        "vs plain",
        "20 calls s",
        "per call ms",
        "per call CPU ms",
        "1 call CPU s",
        "CPU vs plain",
        "Python peak RSS MB",
    ]
    title = f"Whole process, medians of {args.runs} interleaved rounds ({load_note(load_at_start)})"
    print_table(title, headers, rows)
    if agent is None:
        print(agent_note + ".\n")

    governed_call, hooked_call = per_call(GOVERNED), per_call(HOOKED)
    above_hook = paired(lambda r: governed_call(r) - hooked_call(r))
    governed_cpu, hooked_cpu = per_call(GOVERNED, cpu), per_call(HOOKED, cpu)
    above_hook_cpu = paired(lambda r: governed_cpu(r) - hooked_cpu(r))
    cold_plain, cold_governed = vs_plain(wall, UNGOVERNED), vs_plain(wall, GOVERNED)
    per_run = warm["ratio"]
    peak = median(rss[GOVERNED])
    decisions = [r for r in records if isinstance(r, DecisionRecord)]
    outcomes = {r.tool_use_id for r in records if isinstance(r, OutcomeRecord) and r.outcome.status == "success"}
    allowed = {r.tool_use_id for r in decisions if r.decision.behavior == "allow"}
    n = args.concurrent
    kept = together["finished"] == n and len(decisions) == n and allowed <= outcomes and verified == 0
    targets = [
        [
            "per call: governed <= 2 ms above the no-op PreToolUse hook",
            f"{above_hook:+.1f} ms (CPU {above_hook_cpu:+.1f} ms)",
            verdict(above_hook <= 2),
        ],
        [
            "cold start, 1 call: governed=False <= 1.2x claude -p",
            f"{cold_plain:.2f}x (CPU {vs_plain(cpu, UNGOVERNED):.2f}x)",
            verdict(cold_plain <= 1.2),
        ],
        [
            "cold start, 1 call: governed <= 1.25x claude -p",
            f"{cold_governed:.2f}x (CPU {vs_plain(cpu, GOVERNED):.2f}x)",
            verdict(cold_governed <= 1.25),
        ],
        [
            f"warm: {args.batch} governed runs in one process <= 1.05x claude -p per run",
            f"{per_run:.2f}x ({warm['governed'] * 1000:.0f} vs {warm['plain'] * 1000:.0f} ms)",
            verdict(per_run <= 1.05),
        ],
        ["policy decision p50 <= 30 µs", f"{p50:.1f} µs", verdict(p50 <= 30)],
        ["policy decision p99 <= 150 µs", f"{p99:.1f} µs", verdict(p99 <= 150)],
        ["Python peak RSS, one governed run <= 40 MB", f"{peak:.0f} MB", verdict(peak <= 40)],
        [
            f"{n} governed runs at once: nothing lost, trail verifies",
            f"{together['finished']}/{n} finished, {len(decisions)} decisions, "
            f"{len(allowed & outcomes)}/{len(allowed)} allows with their outcome, verify exit {verified}",
            verdict(kept),
        ],
    ]
    print_table("Targets", ["target (`bench_overhead.py`)", "measured", ""], targets)


def inner_run(model: Model, policy: Path, *inner_args: str) -> dict[str, Any]:
    argv = [sys.executable, __file__, "--inner", str(policy), *inner_args]
    return last_json_line(run_timed(argv, env=model.env(), cwd=BUILD / "ws", timeout=3600).stdout)


async def inner(argv: list[str]) -> dict[str, Any]:
    """One in-process measurement (`--inner POLICY MODE DB ...`), in a child with the bench's clean environment."""
    from magistrate.sdk import ClaudeCodeOptions, ResultMessage, query

    policy, mode, db = argv[:3]
    ws = BUILD / "ws"
    prompt, expected = WORKLOADS[1]
    options = ClaudeCodeOptions(cli_path=CLI, cwd=ws, policy=policy, audit=db)

    async def governed() -> None:
        result = None
        async for message in query(prompt=prompt, options=options):
            if isinstance(message, ResultMessage):
                result = message.result
        if expected not in (result or ""):
            raise RuntimeError(f"run ended with {result!r}")

    async def plain() -> None:
        argv = [str(CLI), "-p", prompt, "--output-format", "stream-json", "--verbose", "--allowedTools", "Bash"]
        done = await anyio.run_process(argv, cwd=ws, check=False)
        if done.returncode != 0 or expected not in done.stdout.decode():
            raise RuntimeError(f"plain run exited {done.returncode}: {done.stderr.decode()[-800:]}")

    if mode == "batch":
        count, rounds = int(argv[3]), int(argv[4])
        runners: dict[str, Callable[[], Awaitable[None]]] = {"governed": governed, "plain": plain}
        per_run: dict[str, list[float]] = defaultdict(list)
        for round_ in range(-1, rounds):  # round -1 warms up (first trail open, imports)
            for name in rotated(list(runners), round_):
                started = time.perf_counter()
                for _ in range(count if round_ >= 0 else 1):
                    await runners[name]()
                if round_ >= 0:
                    per_run[name].append((time.perf_counter() - started) / count)
        ratios = [g / p for g, p in zip(per_run["governed"], per_run["plain"], strict=True)]
        return {**{name: median(values) for name, values in per_run.items()}, "ratio": median(ratios)}

    if mode == "concurrent":
        count = int(argv[3])
        finished = 0

        async def one() -> None:
            nonlocal finished
            await governed()
            finished += 1

        with anyio.fail_after(600):
            async with anyio.create_task_group() as group:
                for _ in range(count):
                    group.start_soon(one)
        return {"finished": finished}

    raise SystemExit(f"unknown inner mode {mode!r}")


if __name__ == "__main__":
    main()
