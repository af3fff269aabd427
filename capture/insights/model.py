"""What a finding is: its kinds and severities, the thresholds the rules use, and how a
finding is made (shared by the API and the rules, so neither imports the other's module)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from itertools import islice
from typing import Any

from capture.insights.facts import FlowFacts
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


def service(addr: bytes, port: int) -> str:
    """`addr:port` text for a service."""
    return endpoint(addr, port)
