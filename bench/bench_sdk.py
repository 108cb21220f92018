"""What one agent run costs a user, start to finish: magistrate.sdk next to the plain CLI and the official SDKs.

A user's script pays for its imports, for spawning the CLI and for the conversation, so each run here is a
fresh process, timed from spawn to exit: the plain `claude -p`, or a tiny Python script calling `query()` of
`claude-agent-sdk` (latest), `claude-code-sdk==0.0.25`, or `magistrate.sdk` (governed, the default, and with
`governed=False`). Every process drives the same pinned CLI against the same scripted model, in one warm HOME,
for two workloads: a greeting, and a run with one Bash tool call (allowed with `allowed_tools=["Bash"]`, or
`--allowedTools Bash` for the CLI). One more row drives the CLI the way the SDKs do (`--input-format
stream-json`, the prompt on stdin) with no Python at all, to show what the CLI's streaming mode costs by
itself. Rounds are interleaved, the order rotating each round, so a noisy moment hits every variant alike;
the table shows medians and ratios to the plain CLI. Each Python child reports its own peak RSS (`VmHWM`,
else `ru_maxrss`, of the Python process, not the CLI); `import magistrate.sdk` is timed in fresh processes too.

    .venv/bin/python bench/bench_sdk.py [--runs N]

Targets: magistrate.sdk at most 1.15x the plain CLI and at most 0.5x claude-agent-sdk; import under 150 ms.
The comparison SDKs are installed on first use into their own venvs under build/bench/.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import defaultdict
from pathlib import Path

from _common import (
    AGENT,
    BUILD,
    CHILD_QUERY,
    CLI,
    CODE,
    GREETING,
    ONE_TOOL,
    TOOL_OUTPUT,
    Model,
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

PLAIN = "claude -p"
# The CLI driven the way every SDK drives it (`--input-format stream-json`, the prompt on stdin), with no SDK:
# what streaming mode itself costs, which no SDK can win back.
STREAMING = "claude -p, stream-json in"
GOVERNED = "magistrate.sdk (governed)"
UNGOVERNED = "magistrate.sdk governed=False"
VARIANTS = (PLAIN, STREAMING, AGENT, CODE, GOVERNED, UNGOVERNED)
WORKLOADS = {"greeting": (GREETING, "Hello! How can I help?"), "one tool call": (ONE_TOOL, f"Got: {TOOL_OUTPUT}")}

# One run through an SDK's query() in a fresh process. The imports are inside the timed process on purpose.
CHILD = (
    '''
"""One query() through the SDK named on the command line; prints the result and this process's peak RSS."""
import json
import resource
import sys

sdk, prompt, tools, cli, cwd = sys.argv[1:6]
allowed = ["Bash"] if tools == "1" else []
import anyio

if sdk == "claude_agent_sdk":
    from claude_agent_sdk import ClaudeAgentOptions, query

    options = ClaudeAgentOptions(allowed_tools=allowed, cli_path=cli, cwd=cwd)
elif sdk == "claude_code_sdk":
    from claude_code_sdk import ClaudeCodeOptions, query  # finds the CLI on PATH

    options = ClaudeCodeOptions(allowed_tools=allowed, cwd=cwd)
else:
    from magistrate.sdk import ClaudeCodeOptions, query

    options = ClaudeCodeOptions(allowed_tools=allowed, cli_path=cli, cwd=cwd, governed=sdk == "magistrate")
'''
    + CHILD_QUERY
)

IMPORT = (
    "import json, sys, time; t = time.perf_counter(); __import__(sys.argv[1]); "
    "print(json.dumps({'import_s': time.perf_counter() - t}))"
)


def command(variant: str, prompt: str, tools: bool, child: Path, pythons: dict[str, Path]) -> list[str]:
    allow = ["--allowedTools", "Bash"] if tools else []
    if variant == PLAIN:
        return [str(CLI), "-p", prompt, "--output-format", "stream-json", "--verbose", *allow]
    if variant == STREAMING:
        return [str(CLI), "-p", "--input-format", "stream-json", "--output-format", "stream-json", "--verbose", *allow]
    python, sdk = {
        AGENT: (pythons[AGENT], "claude_agent_sdk"),
        CODE: (pythons[CODE], "claude_code_sdk"),
        GOVERNED: (Path(sys.executable), "magistrate"),
        UNGOVERNED: (Path(sys.executable), "magistrate_plain"),
    }[variant]
    return [str(python), str(child), sdk, prompt, "1" if tools else "0", str(CLI), str(BUILD / "ws")]


def user_message(prompt: str) -> str:
    return json.dumps({"type": "user", "message": {"role": "user", "content": prompt}}) + "\n"


def env_for(model: Model, variant: str) -> dict[str, str]:
    env = model.env()
    if variant == CODE:  # claude-code-sdk 0.0.25 takes the first `claude` on PATH: make it the pinned one
        env["PATH"] = f"{CLI.parent}:{env.get('PATH', '')}"
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="timed runs of each variant and workload (default 7)")
    args = parser.parse_args()

    load_at_start = os.getloadavg()[0]
    pythons, versions = sdk_pythons()
    child = write_child("sdk_query.py", CHILD)
    (BUILD / "ws").mkdir(parents=True, exist_ok=True)
    seconds: dict[tuple[str, str], list[float]] = defaultdict(list)
    rss: dict[str, list[float]] = defaultdict(list)
    imports: dict[str, list[float]] = defaultdict(list)
    import_pythons = {
        "magistrate.sdk": Path(sys.executable),
        "claude_agent_sdk": pythons[AGENT],
        "claude_code_sdk": pythons[CODE],
    }

    with scripted_model(BUILD / "home") as model:
        for round_ in range(-1, args.runs):  # round -1 warms the HOME, the page cache and the venvs' bytecode
            for variant in rotated(VARIANTS, round_):
                for workload, (prompt, expected) in WORKLOADS.items():
                    done = run_timed(
                        command(variant, prompt, workload != "greeting", child, pythons),
                        env=env_for(model, variant),
                        cwd=BUILD / "ws",
                        check_output=expected,
                        stdin=user_message(prompt) if variant == STREAMING else None,
                    )
                    if round_ >= 0:
                        seconds[variant, workload].append(done.seconds)
                        if variant not in (PLAIN, STREAMING):
                            rss[variant].append(last_json_line(done.stdout)["maxrss_kb"] / 1024)
            for module in rotated(list(import_pythons), round_):
                done = run_timed([str(import_pythons[module]), "-c", IMPORT, module], env=model.env(), cwd=BUILD / "ws")
                if round_ >= 0:
                    imports[module].append(last_json_line(done.stdout)["import_s"])

    med = {key: median(values) for key, values in seconds.items()}
    rows = []
    for variant in VARIANTS:
        row = [variant + (f" {versions[variant]}" if variant == AGENT else "")]
        for workload in WORKLOADS:
            value = med[variant, workload]
            row += [f"{value:.3f}", f"{value / med[PLAIN, workload]:.2f}x"]
        row.append(f"{median(rss[variant]):.0f}" if variant in rss else "-")
        rows.append(row)
    headers = ["variant", "greeting s", "vs CLI", "one tool call s", "vs CLI", "Python peak RSS MB"]
    print_table(f"Whole process, medians of {args.runs} interleaved runs ({load_note(load_at_start)})", headers, rows)

    targets: list[list[str]] = []
    import_ms = median(imports["magistrate.sdk"]) * 1000
    others = ", ".join(f"{m} {median(imports[m]) * 1000:.0f} ms" for m in import_pythons if m != "magistrate.sdk")
    targets.append(["import magistrate.sdk < 150 ms", f"{import_ms:.0f} ms ({others})", verdict(import_ms < 150)])
    for variant, label in ((GOVERNED, "governed"), (UNGOVERNED, "governed=False")):
        for workload in WORKLOADS:
            vs_cli = med[variant, workload] / med[PLAIN, workload]
            vs_sdk = med[variant, workload] / med[AGENT, workload]
            targets.append([f"{label}, {workload}: <= 1.15x claude -p", f"{vs_cli:.2f}x", verdict(vs_cli <= 1.15)])
            targets.append([f"{label}, {workload}: <= 0.5x {AGENT}", f"{vs_sdk:.2f}x", verdict(vs_sdk <= 0.5)])
    print_table("Targets", ["target (`bench_sdk.py`)", "measured", ""], targets)


if __name__ == "__main__":
    main()
