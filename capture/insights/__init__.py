"""Insights: what the handshakes and teardowns of many flows mean, as explained findings.

`analyse(flows)` looks at finished (or still open) flows and returns `Finding`s: port scans, SYN
floods, refused connections, unanswered SYNs told apart from a full accept queue, abnormal endings,
flag and window anomalies, slow handshakes. Each finding says in one plain sentence what happened
(with the RFC rule where it helps) and carries its evidence: the flows, frames and numbers.

Pure and headless: it reads only the flows' facts (and, in live mode, the LISTEN sockets' queues
handed in by the caller); it never reads a clock. `now` is the caller's notion of the present, so
a live view can leave a SYN sent a moment ago out of the unanswered ones.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Iterable
from typing import Any

from capture.insights import facts, rules
from capture.insights.facts import FlowFacts
from capture.insights.model import (
    SEVERITIES,
    Finding,
    ListenQueues,
    Thresholds,
    make_finding,
    service,
    thresholds_from,
)


def format_finding(finding: Finding, as_json: bool = False) -> str:
    """One line: JSON (`--export jsonl --insights`) or text (`--insights`)."""
    if as_json:
        return json.dumps(finding.record(), separators=(",", ":"))
    from capture.safetext import escape_untrusted  # noqa: PLC0415  (tiny, keeps the API first)

    ids = _ids_text(finding.flow_ids, finding.numbers.get("flows", len(finding.flow_ids)))
    nums = " ".join(f"{k}={_num(v)}" for k, v in finding.numbers.items() if k != "flows")
    line = f"[{finding.severity}] {finding.kind} {finding.subject}: {finding.explanation}"
    line += f" | flows {ids}" + (f" | {nums}" if nums else "")
    return escape_untrusted(line)


def _ids_text(ids: list[int], total: int) -> str:
    shown = ",".join(str(i) for i in ids[:20])
    return shown + (f",... ({total} in all)" if total > 20 else "")


def _num(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, list | tuple):
        return "[" + ",".join(_num(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ",".join(f"{k}:{_num(x)}" for k, x in v.items()) + "}"
    return str(v)


def analyse(
    flows: Iterable[Any],
    thresholds: Thresholds | None = None,
    *,
    now: float | None = None,
    listen_queues: ListenQueues | None = None,
    cache: facts.FactsCache | None = None,
) -> list[Finding]:
    """Every finding over `flows`, most severe first.

    `now` (capture or wall time) marks SYNs younger than `thresholds.pending` as still waiting;
    without it (end of input) every unanswered SYN counts. `listen_queues` (live mode) gives the
    LISTEN sockets' accept queues so a full queue is told from a filtered port. A `cache` kept
    between calls reuses the facts of flows that have not changed since the last call.
    """
    return analyse_facts(facts_of(flows, cache), thresholds, now=now, listen_queues=listen_queues)


def facts_of(flows: Iterable[Any], cache: facts.FactsCache | None = None) -> list[FlowFacts]:
    """The facts the rules read, taken from `flows` (through `cache` if given)."""
    # Tens of thousands of small objects at once: the cyclic GC would rescan them several
    # times (measured ~20% of the analysis); none of them form cycles.
    paused = gc.isenabled()
    gc.disable()
    try:
        if cache is None:
            return [facts.facts_of(f) for f in flows]
        return cache.facts_of_all(flows)
    finally:
        if paused:
            gc.enable()


def analyse_facts(
    all_facts: list[FlowFacts],
    thresholds: Thresholds | None = None,
    *,
    now: float | None = None,
    listen_queues: ListenQueues | None = None,
) -> list[Finding]:
    """`analyse` from facts already taken (`facts_of`): the rules only. The facts are plain
    copies, so this may run on another thread than the one that updates the flows."""
    if not all_facts:
        return []
    horizon = now if now is not None else max(x.last_ts for x in all_facts)
    ctx = rules.Context(thresholds or Thresholds(), horizon, now is not None, listen_queues or {})
    found = rules.run_all(all_facts, ctx)
    order = {s: i for i, s in enumerate(SEVERITIES)}
    found.sort(key=lambda f: (order.get(f.severity, 9), f.kind, -len(f.flow_ids), f.subject))
    return found


def flow_filter(ids: Iterable[int]) -> str:
    """A display filter selecting exactly these flows: `id 1-4,9,11-12`."""
    runs: list[list[int]] = []
    for i in sorted(set(ids)):
        if runs and i == runs[-1][1] + 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    return "id " + ",".join(f"{a}-{b}" if b > a else str(a) for a, b in runs)


__all__ = [
    "SEVERITIES",
    "Finding",
    "ListenQueues",
    "Thresholds",
    "analyse",
    "analyse_facts",
    "facts_of",
    "flow_filter",
    "format_finding",
    "make_finding",
    "service",
    "thresholds_from",
]
