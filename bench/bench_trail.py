"""How fast the trail is where it matters: the durable append on every decision, many writers, and verify.

Measures, on SQLite in a temporary directory:
- decide + durable append: Broker.decide with a trivial policy, one call at a time (target p99 < 5 ms);
- appends per second with 8 writer processes on one trail, and with 8 concurrent tasks in one process;
- verify over a large trail (default one million records; target < 10 s).

Run: .venv/bin/python bench/bench_trail.py [--records N] [--samples N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio

from magistrate.broker import (
    Broker,
    CallContext,
    Decision,
    DecisionRecord,
    RuleRef,
    RuleSource,
    ToolCall,
    Trail,
    verify_trail,
)
from magistrate.broker._merkle import leaf_hash
from magistrate.broker._storage import NewRecord

RULE = RuleRef("bench-1", "Bash(echo:*)", RuleSource("cli"), "allow")


class AllowPolicy:
    version = "bench"

    async def decide(self, call: ToolCall, context: CallContext) -> Decision:
        return Decision("allow", call.tool_input, rule=RULE, policy_version=self.version)


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def store_latency(root: Path, samples: int) -> list[float]:
    """The durable append alone (check the head, sign, insert, fsync, witness), without thread hand-offs."""
    trail = Trail.open(root / "store.sqlite3", key_path=root / "keys" / "trail.key")
    call = ToolCall("Bash", {"command": "echo 1", "description": "say a number"}, tool_use_id="tu")
    record = trail.prepare(DecisionRecord.of(call, CallContext(session_id="bench"), Decision("allow", {})))
    out: list[float] = []
    for i in range(samples + 50):
        started = time.perf_counter()
        trail._write([record])  # the worker thread's whole step: check, sign, commit, witness
        if i >= 50:
            out.append(time.perf_counter() - started)
    trail.close()
    return out


def cpu_load() -> str:
    try:
        return f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    except OSError:
        return ""


async def decide_latency(root: Path, samples: int) -> list[float]:
    trail = Trail.open(root / "latency.sqlite3", key_path=root / "keys" / "trail.key")
    broker = Broker(AllowPolicy(), trail)
    context = CallContext(session_id="bench", cwd="/work")
    out: list[float] = []
    for i in range(samples + 50):
        call = ToolCall("Bash", {"command": f"echo {i}", "description": "say a number"}, tool_use_id=f"tu{i}")
        started = time.perf_counter()
        await broker.decide(call, context)
        if i >= 50:  # warm-up
            out.append(time.perf_counter() - started)
    await trail.aclose()
    return out


_WRITER = textwrap.dedent(
    """
    import sys, anyio
    from magistrate.broker import CallContext, Decision, DecisionRecord, ToolCall, Trail

    async def main(db, key, worker, count):
        async with Trail.open(db, key_path=key) as trail:
            print("ready", flush=True)
            sys.stdin.readline()  # start together, so process start-up is not measured
            for i in range(count):
                call = ToolCall("Read", {"file_path": f"/w{worker}/{i}"}, tool_use_id=f"{worker}-{i}")
                await trail.append(DecisionRecord.of(call, CallContext(session_id=worker), Decision("allow", {})))

    anyio.run(main, sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))
    """
)


def process_writers(root: Path, writers: int, per_writer: int) -> float:
    db, key = root / "procs.sqlite3", root / "keys" / "trail.key"
    Trail.open(db, key_path=key).close()
    script = root / "writer.py"
    script.write_text(_WRITER)
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(db), str(key), f"w{n}", str(per_writer)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in range(writers)
    ]
    for proc in procs:
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "ready":
            raise SystemExit("a writer process did not start")
    started = time.perf_counter()
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    for proc in procs:
        if proc.wait(timeout=600) != 0:
            raise SystemExit("a writer process failed")
    return writers * per_writer / (time.perf_counter() - started)


async def task_writers(root: Path, writers: int, per_writer: int) -> float:
    trail = Trail.open(root / "tasks.sqlite3", key_path=root / "keys" / "trail.key")
    broker = Broker(AllowPolicy(), trail)

    async def one(worker: int) -> None:
        for i in range(per_writer):
            await broker.decide(ToolCall("Bash", {"command": f"echo {i}"}, f"{worker}-{i}"), CallContext(f"s{worker}"))

    started = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for n in range(writers):
            tg.start_soon(one, n)
    rate = writers * per_writer / (time.perf_counter() - started)
    await trail.aclose()
    return rate


def _body(i: int, template: Mapping[str, Any]) -> bytes:
    # Same shape and size as a real decision record; built by formatting, since the bench is about verify.
    return (
        f'{{"behavior":"allow","input":{{"command":"echo {i}"}},"kind":"decision","policy_version":"bench",'
        f'"rule":{template["rule"]},"session_id":"s{i % 97}","time":"2026-01-01T00:00:00.{i % 1000000:06d}Z",'
        f'"tool_name":"Bash","tool_use_id":"tu{i}","v":2}}'
    ).encode()


def build_large(root: Path, records: int) -> Trail:
    trail = Trail.open(root / "large.sqlite3", key_path=root / "keys" / "trail.key", witness=False)
    template = {"rule": '{"id":"bench-1","list":"allow","source":{"kind":"cli"},"text":"Bash(echo:*)"}'}
    batch = 20_000
    for start in range(0, records, batch):
        rows = []
        for i in range(start, min(records, start + batch)):
            body = _body(i, template)
            rows.append(NewRecord("decision", "t", f"s{i % 97}", f"tu{i}", "Bash", body, leaf_hash(body)))
        trail.store.append(rows, trail._seal)
    return trail


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000, help="size of the trail to verify")
    parser.add_argument("--samples", type=int, default=2000, help="sequential decisions to time")
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--per-writer", type=int, default=250)
    args = parser.parse_args()
    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory(prefix="magistrate-bench-") as tmp:
        root = Path(tmp)
        lat = anyio.run(decide_latency, root, args.samples)
        rows.append(("decide + durable append p50", f"{statistics.median(lat) * 1e3:.2f} ms", ""))
        p99 = pct(lat, 0.99) * 1e3
        rows.append(
            ("decide + durable append p99", f"{p99:.2f} ms", "target < 5 ms" + (" ok" if p99 < 5 else " MISSED"))
        )
        alone = store_latency(root, args.samples)
        rows.append(
            ("durable append alone p50 / p99", f"{pct(alone, 0.5) * 1e3:.2f} / {pct(alone, 0.99) * 1e3:.2f} ms", "")
        )
        rows.append(("machine", "", cpu_load()))
        rate = process_writers(root, args.writers, args.per_writer)
        rows.append((f"appends/s, {args.writers} writer processes", f"{rate:,.0f}", ""))
        rate = anyio.run(task_writers, root, args.writers, args.per_writer)
        rows.append((f"appends/s, {args.writers} tasks in one process", f"{rate:,.0f}", "commits grouped"))
        started = time.perf_counter()
        trail = build_large(root, args.records)
        rows.append((f"build {args.records:,} records (bulk)", f"{time.perf_counter() - started:.1f} s", "setup"))
        report = verify_trail(trail.store, [trail.public_key])
        assert report.size == args.records
        ok = " ok" if report.seconds < 10 else " MISSED"
        rows.append((f"verify {args.records:,} records", f"{report.seconds:.2f} s", "target < 10 s" + ok))
        size = sum(p.stat().st_size for p in root.glob("large.sqlite3*"))
        rows.append(("trail size on disk", f"{size / args.records:.0f} B/record", ""))
        trail.close()
    width = max(len(r[0]) for r in rows)
    print(f"\n{'trail benchmark':<{width}}  {'result':>14}  note")
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>14}  {note}")


if __name__ == "__main__":
    main()
