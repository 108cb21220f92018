"""`/metrics`: what a broker decided and how fast, in the Prometheus text format (version 0.0.4).

Written by hand rather than with `prometheus_client`: a broker exports a handful of series, the format is a
few lines of text, and the broker's process then needs no further dependency nor its global registry.

- `magistrate_decisions_total{behavior,tool,rule}`: decisions made by this process;
- `magistrate_decision_seconds`: a histogram of the time from request to durable decision;
- `magistrate_pending_asks`: asks waiting for an approver now;
- `magistrate_trail_records`: records in the trail (all writers);
- `magistrate_policy_reload_error`: 1 while an edit of the policy file does not load (the old one decides).
"""

from __future__ import annotations

import time
from collections import Counter
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from magistrate.broker import (
        Approval,
        Approver,
        AskRequest,
        CallContext,
        Decision,
        Governor,
        ToolCall,
        ToolOutcome,
        Verdict,
    )

BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
"""Seconds; a durable decision takes a millisecond or two, a slow trail tens."""
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Metrics:
    """Counts kept by one broker process."""

    def __init__(self) -> None:
        self.decisions: Counter[tuple[str, str, str]] = Counter()
        self.buckets = [0] * len(BUCKETS)
        self.count = 0
        self.total = 0.0
        self.pending_asks = 0

    def observe(self, decision: Decision, tool: str, seconds: float) -> None:
        rule = decision.rule.text if decision.rule is not None else ("error" if decision.error else "none")
        self.decisions[(decision.behavior, tool, rule)] += 1
        self.count += 1
        self.total += seconds
        for i, bound in enumerate(BUCKETS):
            if seconds <= bound:
                self.buckets[i] += 1

    def render(self, *, trail_records: int | None, reload_error: bool) -> str:
        lines = [
            "# HELP magistrate_decisions_total Decisions made by this broker process.",
            "# TYPE magistrate_decisions_total counter",
        ]
        for (behavior, tool, rule), n in sorted(self.decisions.items()):
            labels = f'behavior="{_label(behavior)}",tool="{_label(tool)}",rule="{_label(rule)}"'
            lines.append(f"magistrate_decisions_total{{{labels}}} {n}")
        lines += [
            "# HELP magistrate_decision_seconds Time from request to durable decision.",
            "# TYPE magistrate_decision_seconds histogram",
        ]
        for bound, n in zip(BUCKETS, self.buckets, strict=True):
            lines.append(f'magistrate_decision_seconds_bucket{{le="{bound:g}"}} {n}')
        lines += [
            f'magistrate_decision_seconds_bucket{{le="+Inf"}} {self.count}',
            f"magistrate_decision_seconds_sum {self.total:.6f}",
            f"magistrate_decision_seconds_count {self.count}",
            "# HELP magistrate_pending_asks Asks waiting for an approver.",
            "# TYPE magistrate_pending_asks gauge",
            f"magistrate_pending_asks {self.pending_asks}",
            "# HELP magistrate_policy_reload_error 1 while the edited policy file does not load.",
            "# TYPE magistrate_policy_reload_error gauge",
            f"magistrate_policy_reload_error {int(reload_error)}",
        ]
        if trail_records is not None:
            lines += [
                "# HELP magistrate_trail_records Records in the audit trail.",
                "# TYPE magistrate_trail_records gauge",
                f"magistrate_trail_records {trail_records}",
            ]
        return "\n".join(lines) + "\n"


class MeteredGovernor:
    """A governor that counts and times the decisions of the one it wraps."""

    def __init__(self, inner: Governor, metrics: Metrics) -> None:
        self.inner = inner
        self.metrics = metrics

    async def decide(self, call: ToolCall, context: CallContext) -> Decision:
        started = time.perf_counter()
        decision = await self.inner.decide(call, context)
        self.metrics.observe(decision, call.tool_name, time.perf_counter() - started)
        return decision

    async def record_outcome(self, outcome: ToolOutcome) -> None:
        await self.inner.record_outcome(outcome)

    async def record_approval(self, approval: Approval) -> None:
        await self.inner.record_approval(approval)

    async def record_cli_decision(self, call: ToolCall, context: CallContext, decision: Decision) -> None:
        await self.inner.record_cli_decision(call, context, decision)


class CountingApprover:
    """An approver that keeps `pending_asks` while the one it wraps is waiting for an answer."""

    def __init__(self, inner: Approver, metrics: Metrics) -> None:
        self.inner = inner
        self.metrics = metrics

    async def approve(self, ask: AskRequest) -> Verdict:
        self.metrics.pending_asks += 1
        try:
            return await self.inner.approve(ask)
        finally:
            self.metrics.pending_asks -= 1
