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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from itertools import islice
from typing import Any

from capture import insights_flows as facts
from capture.insights_flows import FlowFacts
from capture.segment import endpoint

SEVERITIES: tuple[str, ...] = ("alert", "warning", "info")
"""Most serious first: `alert` (an attack pattern), `warning` (something broken), `info`."""

ListenQueues = Mapping[tuple[bytes, int], tuple[int, int]]
"""(address, port) of a LISTEN socket -> (connections waiting in its accept queue, backlog)."""


@dataclass(frozen=True, slots=True)
class Thresholds:
    """When a pattern becomes a finding. Defaults are set on the public captures and nmap."""

    scan_min_flows: int = 10
    """Probe-like flows one source must open before it counts as a scanner."""
    scan_min_targets: int = 10
    """Distinct host:port pairs a scanner touches (or odd-flag probes, see below)."""
    scan_min_odd_probes: int = 3
    """Odd-flag probes (NULL, FIN+PSH+URG, bare ACK ...) that mark OS fingerprinting."""
    scan_probe_share: float = 0.8
    """Share of a source's flows that must be probe-like (no payload either way)."""
    flood_min_half_open: int = 100
    """Half-open flows toward one service before it reads as a SYN flood."""
    flood_half_open_share: float = 0.5
    """Share of that service's flows that are half-open."""
    accept_queue_min_silent: int = 3
    """Unanswered SYNs a service that answers others must leave before it reads as a full queue."""
    accept_queue_silent_share: float = 0.2
    """Share of a service's SYNs left unanswered (while others are answered) that means a full
    accept queue rather than a few lost packets."""
    accept_queue_min_resent: int = 2
    """Flows with a SYN/ACK resent after the client's ACK before that alone shows a full queue."""
    pending: float = 1.0
    """Seconds a SYN may wait for its answer before it counts as unanswered (only with `now`)."""
    retrans_storm_min: int = 20
    retrans_storm_share: float = 0.2
    """A side retransmitting at least this many segments and this share of what it sent."""
    slow_irtt: float = 1.0
    """Median handshake RTT (seconds) toward a server above which its handshakes are slow."""
    irtt_outlier_factor: float = 5.0
    irtt_outlier_min: float = 0.2
    irtt_min_samples: int = 5
    slow_min_samples: int = 3
    """An outlier handshake takes `factor` times the server's median and at least `min` seconds."""
    half_close_idle: float = 30.0
    """Seconds a half-closed flow may sit idle (capture time) before it counts as stuck."""
    time_wait: float = 60.0
    """TIME_WAIT length assumed for port reuse (Linux's TCP_TIMEWAIT_LEN; RFC 9293 says 2*MSL)."""
    max_services: int = 10
    """Services named one by one per kind of finding; the rest are folded into one finding."""
    max_frames: int = 200
    """Frame numbers kept per finding (the first flows' handshake or reset frames)."""
    max_evidence: int = 5000
    """Flow ids kept per finding; `numbers["flows"]` always holds the full count."""


def thresholds_from(items: Iterable[str], base: Thresholds | None = None) -> Thresholds:
    """`Thresholds` with `name=value` overrides (`scan_min_flows=20`, `slow_irtt=0.5`).

    Raises `ValueError` with a one-line message naming a bad item (for a CLI flag).
    """
    th = base or Thresholds()
    known = {f.name: f.type for f in fields(Thresholds)}
    changes: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or name not in known:
            raise ValueError(f"unknown insight threshold {item!r} (one of: {', '.join(known)})")
        kind = int if known[name] in (int, "int") else float
        try:
            value = kind(text)
        except ValueError:
            raise ValueError(f"threshold {name} needs a number, got {text!r}") from None
        if value < 0:
            raise ValueError(f"threshold {name} must not be negative")
        changes[name] = value
    return replace(th, **changes)


@dataclass(slots=True)
class Finding:
    """One explained pattern and the evidence behind it."""

    kind: str
    """`port_scan`, `syn_flood`, `refused`, `unanswered`, `accept_queue`, ... (see KINDS)."""
    severity: str
    """`alert`, `warning` or `info`."""
    subject: str
    """What it is about: a scanner's address, a service `addr:port`, a flow."""
    explanation: str
    """One sentence in plain words."""
    flow_ids: list[int] = field(default_factory=list)
    uids: list[str] = field(default_factory=list)
    frames: list[int] = field(default_factory=list)
    numbers: dict[str, Any] = field(default_factory=dict)
    """Rates, counts, retry gaps ... (JSON-serialisable)."""

    @property
    def key(self) -> str:
        """A stable identity across re-analyses (the live view keeps its cursor on it)."""
        return f"{self.kind}:{self.subject}"

    def record(self) -> dict[str, Any]:
        """The finding as a JSON-ready dict."""
        return {
            "type": "finding",
            "kind": self.kind,
            "severity": self.severity,
            "subject": self.subject,
            "explanation": self.explanation,
            "flows": self.flow_ids,
            "uids": self.uids,
            "frames": self.frames,
            "numbers": self.numbers,
        }


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
    from capture import insights_rules as rules  # noqa: PLC0415  (the rules import this module)

    if not all_facts:
        return []
    horizon = now if now is not None else max(x.last_ts for x in all_facts)
    ctx = rules.Context(thresholds or Thresholds(), horizon, now is not None, listen_queues or {})
    found = rules.run_all(all_facts, ctx)
    order = {s: i for i, s in enumerate(SEVERITIES)}
    found.sort(key=lambda f: (order.get(f.severity, 9), f.kind, -len(f.flow_ids), f.subject))
    return found


def make_finding(
    kind: str,
    severity: str,
    subject: str,
    explanation: str,
    group: list[FlowFacts],
    th: Thresholds,
    frames: Iterable[int] = (),
    **numbers: Any,
) -> Finding:
    """A finding over `group` (ids and uids kept up to `th.max_evidence`)."""
    unique = {x.id: x for x in group}
    kept = [unique[i] for i in sorted(unique)[: th.max_evidence]]
    frame_list = sorted({f for f in islice(frames, th.max_frames) if f})
    return Finding(
        kind=kind,
        severity=severity,
        subject=subject,
        explanation=explanation,
        flow_ids=[x.id for x in kept],
        uids=[x.uid for x in kept],
        frames=frame_list,
        numbers={"flows": len(unique), **numbers},
    )


def flow_filter(ids: Iterable[int]) -> str:
    """A display filter selecting exactly these flows: `id 1-4,9,11-12`."""
    runs: list[list[int]] = []
    for i in sorted(set(ids)):
        if runs and i == runs[-1][1] + 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    return "id " + ",".join(f"{a}-{b}" if b > a else str(a) for a, b in runs)


def service(addr: bytes, port: int) -> str:
    """`addr:port` text for a service."""
    return endpoint(addr, port)
