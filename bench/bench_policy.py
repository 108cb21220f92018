"""Decision latency of a realistic policy, without the trail, next to Cedar (cedarpy) on the same allow/deny set.

The policy has 200 rule strings (Bash prefixes, file anchors, domains, MCP servers) and 10 Python rules.
Every call in the workload is distinct, so the per-line and per-path caches never help. Cedar gets the
same rules, translated to `permit`/`forbid` with `like` patterns over pre-split context (it cannot parse a
shell line, so it is handed the first command as a string: it does less work, and says less about why).

    .venv/bin/python bench/bench_policy.py [--calls N]

Targets: p50 under 30 µs, p99 under 150 µs.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio

from magistrate.broker import Ask, CallContext, CallView, Deny, PriorDecision, RulePolicy, ToolCall

ROOT = "/proj"
"""The project folder the calls run in; `main` makes a real one, so paths resolve as they would in a run."""


def build_rules() -> dict[str, list[str]]:
    allow = [f"Bash(tool{i} run:*)" for i in range(60)]
    allow += [f"Bash(git{i} status)" for i in range(20)]
    allow += [f"Read(./src{i}/**)" for i in range(20)]
    allow += [f"Edit(./src{i}/**)" for i in range(15)]
    allow += [f"WebFetch(domain:site{i}.example.com)" for i in range(20)]
    allow += [f"mcp__srv{i}__*" for i in range(10)]
    deny = [f"Bash(danger{i}:*)" for i in range(30)]
    deny += [f"Read(secret{i}.key)" for i in range(10)]
    deny += [f"Edit(//etc/app{i}/**)" for i in range(5)]
    deny += [f"WebFetch(domain:bad{i}.org)" for i in range(5)]
    ask = [f"Bash(deploy{i}:*)" for i in range(5)]
    assert len(allow) + len(deny) + len(ask) == 200
    return {"allow": allow, "deny": deny, "ask": ask}


def build_policy() -> RulePolicy:
    policy = RulePolicy(default="deny", **build_rules())  # type: ignore[arg-type]

    @policy.rule("Bash")
    def no_force(call: CallView) -> Deny | None:
        return Deny("no force") if "--force" in call.raw.get("command", "") else None

    @policy.rule("Bash")
    def no_sudo(call: CallView) -> Deny | None:
        return Deny("no sudo") if str(call.raw.get("command", "")).startswith("sudo ") else None

    @policy.rule("WebFetch", "Bash")
    def no_network_after_secrets(call: CallView, context: CallContext) -> Deny | None:
        if any(p.tool_name == "Read" and "secret" in str(p.tool_input.get("file_path")) for p in context.history):
            return Deny("no network after secrets")
        return None

    @policy.rule("Read")
    def no_pem(call: CallView) -> Deny | None:
        return Deny("no pem") if str(call.raw.get("file_path", "")).endswith(".pem") else None

    @policy.rule("mcp__*")
    def no_private(call: CallView) -> Deny | None:
        return Deny("private") if call.raw.get("private") else None

    @policy.rule("Edit", "Write")
    def no_keys(call: CallView) -> Deny | None:
        return Deny("key material") if "PRIVATE KEY" in str(call.raw.get("content", "")) else None

    @policy.rule("*")
    def prod_asks(call: CallView, context: CallContext) -> Ask | None:
        return Ask("production") if context.labels.get("env") == "prod" else None

    @policy.rule("Grep", "Glob")
    def searches(call: CallView) -> None:
        return None

    @policy.rule("Agent")
    def agents(call: CallView) -> None:
        return None

    @policy.rule("WebFetch")
    def https_only(call: CallView) -> Deny | None:
        return None if str(call.raw.get("url", "")).startswith("https://") else Deny("https only")

    return policy


def workload(n: int, offset: int = 0) -> list[ToolCall]:
    """Calls of every kind; each Bash line, path and URL carries its index, so no two are alike."""
    calls: list[ToolCall] = []
    for i in range(offset, offset + n):
        k = i % 10
        if k < 4:
            command = [
                f"tool{i % 60} run test --case {i}",
                f"danger{i % 30} --all {i}",
                f"unknown{i} x",
                f"tool{i % 60} run a {i} && git{i % 20} status",
            ][k]
            calls.append(ToolCall("Bash", {"command": command}))
        elif k < 6:
            path = f"{ROOT}/src{i % 20}/m{i}.py" if k == 4 else f"{ROOT}/x{i}/secret{i % 10}.key"
            calls.append(ToolCall("Read", {"file_path": path}))
        elif k == 6:
            calls.append(ToolCall("Write", {"file_path": f"{ROOT}/src{i % 15}/o{i}.py", "content": "x"}))
        elif k < 9:
            host = f"site{i % 20}.example.com" if k == 7 else f"bad{i % 5}.org"
            calls.append(ToolCall("WebFetch", {"url": f"https://{host}/p{i}", "prompt": "p"}))
        else:
            calls.append(ToolCall(f"mcp__srv{i % 10}__get", {"id": i}))
    return calls


def cedar_policies(rules: dict[str, list[str]]) -> str:
    out: list[str] = []
    for effect, names in (("permit", rules["allow"]), ("forbid", rules["deny"])):
        for rule in names:
            tool, _, spec = rule.partition("(")
            spec = spec.rstrip(")")
            if tool == "Bash" and spec.endswith(":*"):
                prefix = spec[:-2]
                cond = f'context.command == "{prefix}" || context.command like "{prefix} *"'
            elif tool == "Bash":
                cond = f'context.command == "{spec}"'
            elif tool in {"Read", "Edit"}:
                body = spec.removeprefix("./").removeprefix("//").replace("**", "*")
                cond = f'context.path like "{ROOT}/{body}"' if spec.startswith("./") else f'context.path like "*{body}"'
            elif tool == "WebFetch":
                cond = f'context.host == "{spec.removeprefix("domain:")}"'
            else:
                tool, cond = "mcp", f'context.server == "{rule.split("__")[1]}"'
            action = "Edit" if tool == "Edit" else tool
            out.append(f'{effect}(principal, action == Action::"{action}", resource) when {{ {cond} }};')
    return "\n".join(out)


def cedar_request(call: ToolCall) -> dict[str, Any]:
    tool = call.tool_name
    context: dict[str, str] = {}
    if tool == "Bash":
        context["command"] = str(call.tool_input["command"]).split(" && ")[0]
    elif tool in {"Read", "Write"}:
        context["path"] = str(call.tool_input["file_path"])
        tool = "Edit" if tool == "Write" else tool
    elif tool == "WebFetch":
        context["host"] = str(call.tool_input["url"]).split("/")[2]
    else:
        tool, context["server"] = "mcp", call.tool_name.split("__")[1]
    return {"principal": 'Agent::"a"', "action": f'Action::"{tool}"', "resource": 'Tool::"t"', "context": context}


def percentiles(samples: list[int]) -> tuple[float, float, float]:
    ordered = sorted(samples)
    p50 = ordered[len(ordered) // 2] / 1000
    p99 = ordered[int(len(ordered) * 0.99)] / 1000
    return p50, p99, statistics.fmean(ordered) / 1000


async def measure_magistrate(policy: RulePolicy, calls: list[ToolCall]) -> tuple[list[int], dict[str, int]]:
    history = (PriorDecision("Read", {"file_path": f"{ROOT}/README.md"}, "allow", None),)
    context = CallContext(cwd=ROOT, history=history)
    for call in workload(500, offset=10**6):  # warm up imports and the rule set, with calls not measured
        await policy.decide(call, context)
    samples: list[int] = []
    counts: dict[str, int] = {}
    for call in calls:
        start = time.perf_counter_ns()
        decision = await policy.decide(call, context)
        samples.append(time.perf_counter_ns() - start)
        counts[decision.behavior] = counts.get(decision.behavior, 0) + 1
    return samples, counts


def measure_cedar(rules: dict[str, list[str]], calls: list[ToolCall]) -> tuple[list[int], dict[str, int]] | None:
    try:
        import cedarpy
    except ImportError:
        return None
    policies = cedarpy.PolicySet.from_str(cedar_policies(rules))
    entities = cedarpy.Entities.from_json_str("[]")
    requests = [cedar_request(c) for c in calls]
    for request in requests[:200]:
        cedarpy.is_authorized(request, policies, entities)
    samples: list[int] = []
    counts: dict[str, int] = {}
    for request in requests:
        start = time.perf_counter_ns()
        result = cedarpy.is_authorized(request, policies, entities)
        samples.append(time.perf_counter_ns() - start)
        key = "allow" if result.allowed else "deny"
        counts[key] = counts.get(key, 0) + 1
    return samples, counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20000)
    args = parser.parse_args()
    global ROOT  # noqa: PLW0603 - one benchmark run, one project folder
    with tempfile.TemporaryDirectory() as project:
        ROOT = project
        for i in range(20):
            (Path(ROOT) / f"src{i}").mkdir()
        run(args.calls)


def run(count: int) -> None:
    rules = build_rules()
    policy = build_policy()
    calls = workload(count)
    ours, our_counts = anyio.run(measure_magistrate, policy, calls)
    cedar = measure_cedar(rules, calls)
    p50, p99, mean = percentiles(ours)
    import timeit

    loop_us = min(timeit.repeat("sum(range(1000))", number=1000, repeat=5)) * 1000
    print(f"policy: 200 rule strings, 10 Python rules; {len(calls)} calls; decisions {our_counts}")
    print(f"machine: sum(range(1000)) takes {loop_us:.1f} µs here (roughly 5-8 µs on a recent, idle laptop)")
    print(f"{'engine':<24}{'p50 µs':>10}{'p99 µs':>10}{'mean µs':>10}")
    print(f"{'magistrate (no trail)':<24}{p50:>10.1f}{p99:>10.1f}{mean:>10.1f}")
    if cedar is None:
        print("cedarpy not installed (pip install 'magistrate[bench]'): no comparison")
        return
    c50, c99, cmean = percentiles(cedar[0])
    print(f"{'cedarpy':<24}{c50:>10.1f}{c99:>10.1f}{cmean:>10.1f}")
    print(f"{'ratio magistrate/cedar':<24}{p50 / c50:>10.2f}{p99 / c99:>10.2f}{mean / cmean:>10.2f}")
    print(f"targets: p50 < 30 µs {'met' if p50 < 30 else 'MISSED'}, p99 < 150 µs {'met' if p99 < 150 else 'MISSED'}")


if __name__ == "__main__":
    main()
