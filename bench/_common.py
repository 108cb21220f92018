"""What the SDK benchmarks share: the scripted model in its own process, fresh-process timing, the other SDKs' venvs.

The model runs as a separate process (`magistrate scripted-model`) so that its CPU time and memory never count
against the Python process being measured. Each comparison SDK gets its own virtual environment under
`build/bench/`, created on first use, so its dependencies (and their import cost) are exactly what a user of
that SDK would install, and the project's `.venv` stays as it is.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import time
import venv
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CLI = ROOT / "node_modules" / ".bin" / "claude"
BUILD = ROOT / "build" / "bench"
_KEPT = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "TERM")

TOOL_OUTPUT = "bench-tool-ok"
# Not read-only (the CLI approves read-only commands such as a bare `echo` by itself, so no approval path
# would ever be exercised): every variant must allow it explicitly.
TOOL_COMMAND = f"touch bench-marker && echo {TOOL_OUTPUT}"
SCENARIO: dict[str, Any] = {
    "rules": [
        {"contains": "greet", "turns": ["Hello! How can I help?"]},
        {
            "contains": "one tool",
            "turns": [
                {"tool_calls": [{"name": "Bash", "input": {"command": TOOL_COMMAND}}]},
                "Got: {last_tool_result}",
            ],
        },
        {
            "contains": "twenty tools",
            "turns": [
                *({"tool_calls": [{"name": "Bash", "input": {"command": f"{TOOL_COMMAND}-{i}"}}]} for i in range(20)),
                "Got: {last_tool_result}",
            ],
        },
        {
            "contains": "fifty tools",
            "turns": [
                *({"tool_calls": [{"name": "Bash", "input": {"command": f"echo call-{i}"}}]} for i in range(50)),
                "Got: {last_tool_result}",
            ],
        },
    ],
    "default": {"turns": ["Hello."]},
}
GREETING = "greet me"
ONE_TOOL = "run one tool"
TWENTY_TOOLS = "run twenty tools"
FIFTY_TOOLS = "run fifty tools"


@dataclass(frozen=True)
class Model:
    """A running scripted model: its URL, and the environment that points a CLI at it from a bench HOME."""

    base_url: str
    home: Path

    def env(self, **extra: str) -> dict[str, str]:
        """A clean environment: PATH and locale kept, the model's variables, the bench HOME, then `extra`."""
        env = {k: v for k, v in os.environ.items() if k in _KEPT}
        env.update(
            ANTHROPIC_BASE_URL=self.base_url,
            ANTHROPIC_API_KEY="scripted-model",
            CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
            HOME=str(self.home),
            IS_SANDBOX="1",
        )
        env.update(extra)
        return env


@contextmanager
def scripted_model(home: Path, scenario: Mapping[str, Any] = SCENARIO) -> Iterator[Model]:
    """Serve `scenario` from `magistrate scripted-model` in its own process group until the block ends."""
    home.mkdir(parents=True, exist_ok=True)
    path = BUILD / "scenario.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(scenario))
    argv = [sys.executable, "-m", "magistrate.cli", "scripted-model", "--scenario", str(path), "--port", "0"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline().strip()
        if not first.startswith("http://"):
            raise RuntimeError(f"the scripted model did not start (exit {proc.poll()})")
        yield Model(first, home)
    finally:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def ensure_venv(name: str, requirements: Sequence[str]) -> Path:
    """The Python of `build/bench/<name>/`, a venv holding `requirements`; created or updated only when they change."""
    where = BUILD / name
    python = where / "bin" / "python"
    stamp = where / f".bench-{hashlib.sha256(json.dumps(list(requirements)).encode()).hexdigest()[:16]}"
    if stamp.exists() and python.exists():
        return python
    print(f"setting up {where} ({', '.join(requirements)}) ...", file=sys.stderr, flush=True)
    if not python.exists():
        venv.EnvBuilder(with_pip=True, clear=True).create(where)
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *requirements],
        check=True,
    )
    for old in where.glob(".bench-*"):
        old.unlink()
    stamp.touch()
    return python


def fresh_trails(home: Path, *trails: Path) -> None:
    """Remove an earlier run's trails, and the bench HOME's witness: it pins which trail lives at each path, so a
    trail started anew where another was is refused as a replaced one, which is the witness doing its job."""
    for trail in trails:
        for stale in trail.parent.glob(f"{trail.name}*"):
            stale.unlink()
    shutil.rmtree(home / ".config" / "magistrate" / "trail.witness", ignore_errors=True)


@dataclass(frozen=True)
class Timed:
    """One finished process: wall seconds from spawn to exit, what it printed, and the CPU seconds (user and
    system) it and every process it waited for used; on a busy machine CPU time drifts far less than wall time."""

    seconds: float
    stdout: str
    cpu: float = 0.0


def run_timed(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    timeout: float = 180,
    check_output: str | None = None,
    stdin: str | None = None,
) -> Timed:
    """Run `argv` to the end and time it from spawn to exit; fail unless it exits 0 (and prints `check_output`)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        list(argv),
        env=dict(env),
        cwd=cwd,
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0 or (check_output is not None and check_output not in done.stdout):
        raise RuntimeError(
            f"{argv[0]} {' '.join(argv[1:3])} ... exited {done.returncode}; "
            f"stdout tail: {done.stdout[-600:]!r}; stderr tail: {done.stderr[-1500:]!r}"
        )
    return Timed(seconds, done.stdout, cpu)


def last_json_line(stdout: str) -> dict[str, Any]:
    """The last line of `stdout` that is a JSON object (child scripts report their figures that way)."""
    for line in reversed(stdout.splitlines()):
        if line.lstrip().startswith("{"):
            value: dict[str, Any] = json.loads(line)
            return value
    raise ValueError(f"no JSON line in {stdout[-300:]!r}")


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def rotated(items: Sequence[str], by: int) -> list[str]:
    """`items` rotated by `by`, so that over the rounds each variant runs in every position (noise hits all alike)."""
    k = by % len(items)
    return [*items[k:], *items[:k]]


def verdict(ok: bool) -> str:
    return "pass" if ok else "MISS"


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """A plain text table, also valid Markdown, so it can be pasted into the README as printed."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=False)]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=False)) + " |"

    print(f"\n{title}\n")
    print(line(headers))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print(line(row))
    print(flush=True)


def load_note(at_start: float) -> str:
    """The load average at the start and at the end, printed with every table: these are wall times, and a busy
    machine shows in them."""
    at_end = os.getloadavg()[0]
    return f"{os.cpu_count()} cores, 1-min load average {at_start:.2f} at the start, {at_end:.2f} at the end"


AGENT = "claude-agent-sdk"
CODE = "claude-code-sdk 0.0.25"


def sdk_pythons() -> tuple[dict[str, Path], dict[str, str]]:
    """The Pythons of the comparison SDKs' venvs (created on first use), and the installed SDK versions."""
    pythons = {
        AGENT: ensure_venv("agent-sdk", ["claude-agent-sdk"]),
        # Its approval server in bench_governed.py needs the mcp package, which claude-code-sdk depends on.
        CODE: ensure_venv("code-sdk", ["claude-code-sdk==0.0.25"]),
    }
    versions = {}
    for name, python in pythons.items():
        dist = name.split()[0]
        probe = f"import importlib.metadata as m; print(m.version({dist!r}))"
        versions[name] = subprocess.run(
            [str(python), "-c", probe], capture_output=True, text=True, check=True
        ).stdout.strip()
    return pythons, versions


def write_child(name: str, source: str) -> Path:
    """Write a child script under build/bench/children/ (rewritten every run, so it never goes stale)."""
    path = BUILD / "children" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source.lstrip())
    return path


CHILD_QUERY = """

async def main():
    result = None
    async for message in query(prompt=prompt, options=options):
        result = getattr(message, "result", result)
    return result


def peak_rss_kb():
    # VmHWM is this process image's own peak. ru_maxrss is not, on Linux: a child keeps the high-water mark
    # of the parent it was forked from, so a child smaller than the bench itself would report the bench.
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    except (OSError, StopIteration, ValueError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


result = anyio.run(main)
print(json.dumps({"result": result, "maxrss_kb": peak_rss_kb()}))
"""
"""The end every timed child script shares: one `query()` over the `prompt` and `options` the script set up,
then the result and the process's own peak RSS as one JSON line."""
