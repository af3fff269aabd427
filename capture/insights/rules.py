"""Insight rules over many flows: port scans, SYN floods, refusals, unanswered SYNs, full queues.

Scans are found first and their flows set aside, so a scanner's thousand refused probes make one
port-scan finding, not a thousand refusals. Floods are found next, over what remains.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from statistics import median

from capture.insights import anomalies
from capture.insights.facts import DATA, HALF_OPEN, ODD, OPENED, OTHER, REFUSED, SILENT, FlowFacts
from capture.insights.model import Finding, ListenQueues, Thresholds, make_finding, service
from capture.insights.text import count, describe_retry_gaps, were
from capture.segment import addr_str

_PROBES = frozenset({REFUSED, SILENT, HALF_OPEN, OPENED, ODD})


@dataclass(slots=True)
class Context:
    """What every rule is given besides the flows."""

    th: Thresholds
    horizon: float
    """`now`, or the latest capture time seen."""
    live: bool
    """`now` was given: young SYNs are still pending."""
    listen_queues: ListenQueues
    claimed: set[int] = field(default_factory=set)
    """Flows already explained by a scan or flood finding."""


def run_all(all_facts: list[FlowFacts], ctx: Context) -> list[Finding]:
    """Every rule, in the order that lets scans and floods claim their flows first."""
    found = scan_findings(all_facts, ctx)
    found += flood_findings(all_facts, ctx)
    rest = [x for x in all_facts if x.id not in ctx.claimed]
    found += refused_findings(rest, ctx)
    found += unanswered_findings(rest, all_facts, ctx)
    found += anomalies.ending_findings(rest, ctx.th, ctx.horizon)
    found += anomalies.anomaly_findings(all_facts, ctx.th)
    found += anomalies.slow_handshake_findings(rest, ctx.th)
    return found


def _span(group: list[FlowFacts]) -> float:
    return max(x.last_ts for x in group) - min(x.first_ts for x in group)


def _rate(n: int, span: float) -> float | None:
    return round(n / span, 3) if span > 0 and n > 1 else None


# -- port scans --------------------------------------------------------------------------------


def scan_findings(all_facts: list[FlowFacts], ctx: Context) -> list[Finding]:
    """One source touching many ports or hosts with probe-like flows (no payload either way)."""
    th = ctx.th
    by_src: dict[bytes, list[FlowFacts]] = defaultdict(list)
    for x in all_facts:
        by_src[x.orig_addr].append(x)
    out = []
    for src, group in by_src.items():
        if len(group) < th.scan_min_flows:
            continue
        probes = [x for x in group if x.category in _PROBES]
        counts = Counter(x.category for x in probes)
        targets = {(x.resp_addr, x.resp_port) for x in probes}
        if len(probes) < th.scan_min_flows or len(probes) < th.scan_probe_share * len(group):
            continue
        if len(targets) < th.scan_min_targets and counts[ODD] < th.scan_min_odd_probes:
            continue
        ctx.claimed.update(x.id for x in probes)
        out.append(_scan_finding(src, probes, counts, th))
    return out


def _scan_style(counts: Counter[str], th: Thresholds) -> str:
    if counts[HALF_OPEN] and counts[HALF_OPEN] >= counts[OPENED]:
        style = "a SYN scan (half-open: open ports answer SYN/ACK, the scanner never completes)"
    elif counts[OPENED]:
        style = "a connect scan (full handshake, then a reset or close without data)"
    else:
        style = "a SYN scan"
    if counts[ODD] >= th.scan_min_odd_probes:
        style += " with OS-fingerprinting probes (NULL, FIN+PSH+URG, bare ACK, odd options)"
    return style


def _scan_finding(
    src: bytes, probes: list[FlowFacts], counts: Counter[str], th: Thresholds
) -> Finding:
    hosts = {x.resp_addr for x in probes}
    ports = sorted({x.resp_port for x in probes})
    span = _span(probes)
    opened = counts[HALF_OPEN] + counts[OPENED]
    host_text = addr_str(next(iter(hosts))) if len(hosts) == 1 else f"{len(hosts)} hosts"
    explanation = (
        f"{addr_str(src)} probed {count(len(ports), 'port')} on {host_text} with {len(probes)} "
        f"connection attempts in {span:.1f} s, {_scan_style(counts, th)}: {opened} answered "
        f"(open), {counts[REFUSED]} were refused (closed), {counts[SILENT]} got no answer "
        f"(filtered)."
    )
    return make_finding(
        "port_scan",
        "alert",
        addr_str(src),
        explanation,
        probes,
        th,
        frames=(x.first_frame for x in probes),
        scanner=addr_str(src),
        hosts=len(hosts),
        ports=len(ports),
        open=opened,
        closed=counts[REFUSED],
        filtered=counts[SILENT],
        odd_probes=counts[ODD],
        rate=_rate(len(probes), span),
        top_ports=ports[:20],
    )


# -- SYN floods --------------------------------------------------------------------------------


def _by_service(group: list[FlowFacts]) -> dict[tuple[bytes, int], list[FlowFacts]]:
    out: dict[tuple[bytes, int], list[FlowFacts]] = defaultdict(list)
    for x in group:
        out[(x.resp_addr, x.resp_port)].append(x)
    return out


def flood_findings(all_facts: list[FlowFacts], ctx: Context) -> list[Finding]:
    """Many half-open flows toward one service (RFC 4987), with the rate and top sources."""
    th = ctx.th
    rest = [x for x in all_facts if x.id not in ctx.claimed]
    out = []
    for (addr, port), group in _by_service(rest).items():
        half = [x for x in group if x.category in (HALF_OPEN, SILENT)]
        if len(half) < th.flood_min_half_open or len(half) < th.flood_half_open_share * len(group):
            continue
        ctx.claimed.update(x.id for x in half)
        out.append(_flood_finding(service(addr, port), half, th))
    return out


def _flood_finding(svc: str, half: list[FlowFacts], th: Thresholds) -> Finding:
    sources = Counter(x.orig_addr for x in half)
    synack_rexmit = sum(max(0, x.resp_flags["synack"] - 1) for x in half)
    one_shot = sum(1 for x in half if x.syn_retries == 0)
    span = _span(half)
    rate = _rate(len(half), span)
    spoofed = len(sources) >= 0.5 * len(half) and one_shot >= 0.9 * len(half)
    explanation = (
        f"{svc} received {len(half)} half-open connections from {count(len(sources), 'source')}"
        + (f" at {rate:.0f}/s" if rate else "")
        + f"; none completed the handshake, so each holds a SYN-queue slot ({synack_rexmit} "
        "SYN/ACK retransmissions): a SYN flood (RFC 4987)"
        + ("; the sources look spoofed (each sent one SYN and never retried)." if spoofed else ".")
    )
    return make_finding(
        "syn_flood",
        "alert",
        svc,
        explanation,
        half,
        th,
        rate=rate,
        sources=len(sources),
        top_sources=[addr_str(a) for a, _ in sources.most_common(5)],
        synack_retransmissions=synack_rexmit,
        spoofed_looking=spoofed,
    )


# -- refusals ----------------------------------------------------------------------------------


def refused_findings(rest: list[FlowFacts], ctx: Context) -> list[Finding]:
    """SYNs answered by RST, per service: nothing listens there."""
    out = []
    refused = [x for x in rest if x.category == REFUSED]
    for svc, group in fold(_by_service(refused), ctx.th):
        clients = {x.orig_addr for x in group}
        rate = _rate(len(group), _span(group))
        explanation = (
            f"Nothing listens on {svc}: {count(len(group), 'connection attempt')} from "
            f"{count(len(clients), 'client')} {were(len(group))} refused with RST "
            "(RFC 9293 §3.10.7.1: a SYN to a closed port is answered by a reset)."
        )
        frames = (f for x in group for f in x.rst_frames)
        out.append(
            make_finding(
                "refused",
                "warning",
                svc,
                explanation,
                group,
                ctx.th,
                frames,
                attempts=len(group),
                clients=len(clients),
                rate=rate,
            )
        )
    return out


# -- unanswered SYNs, full accept queues -------------------------------------------------------


def _pending(x: FlowFacts, ctx: Context) -> bool:
    return ctx.live and ctx.horizon - x.first_ts < ctx.th.pending


def _queue(ctx: Context, addr: bytes, port: int) -> tuple[int, int] | None:
    q = ctx.listen_queues
    return q.get((addr, port)) or q.get((bytes(len(addr)), port))


def unanswered_findings(
    rest: list[FlowFacts], all_facts: list[FlowFacts], ctx: Context
) -> list[Finding]:
    """Per service: SYNs with no answer at all (filtered) or dropped by a full accept queue."""
    th = ctx.th
    queued: list[_Queued] = []
    lone: dict[tuple[bytes, int], list[FlowFacts]] = {}
    for (addr, port), group in _by_service(rest).items():
        silent = [x for x in group if x.category == SILENT and not _pending(x, ctx)]
        answered = [x for x in group if x.resp_flags["synack"]]
        stuck = [x for x in answered if x.resp_flags["synack"] > 1 and x.category == OPENED]
        if len(stuck) < th.accept_queue_min_resent:
            stuck = []
        queue = _queue(ctx, addr, port)
        full = queue is not None and queue[1] >= 0 and queue[0] > queue[1]
        # A few lost SYNs among many answered ones are loss; a large share is a full queue.
        dropped = len(silent) >= max(
            th.accept_queue_min_silent,
            th.accept_queue_silent_share * (len(silent) + len(answered)),
        )
        if (answered and dropped) or stuck or full:
            queued.append(_Queued(service(addr, port), silent, answered, stuck, queue))
        elif silent:
            lone[(addr, port)] = silent
    out = [_accept_queue(q, ctx) for q in _fold_queued(queued, th)]
    out += [_unanswered(svc, silent, th) for svc, silent in fold(lone, th)]
    return out


@dataclass(slots=True)
class _Queued:
    """A service that looks unable to take its connections, and the flows that show it."""

    svc: str
    silent: list[FlowFacts]
    answered: list[FlowFacts]
    stuck: list[FlowFacts]
    queue: tuple[int, int] | None


def _fold_queued(found: list[_Queued], th: Thresholds) -> list[_Queued]:
    """The `th.max_services` clearest cases apart (a full queue reading first), the rest as one."""
    found.sort(key=lambda q: (q.queue is None, -len(q.silent) - len(q.stuck), q.svc))
    out, rest = found[: th.max_services], found[th.max_services :]
    if rest:
        out.append(
            _Queued(
                f"{len(rest)} other services",
                [x for q in rest for x in q.silent],
                [x for q in rest for x in q.answered],
                [x for q in rest for x in q.stuck],
                None,
            )
        )
    return out


def fold(
    groups: dict[tuple[bytes, int], list[FlowFacts]], th: Thresholds
) -> list[tuple[str, list[FlowFacts]]]:
    """Per-service groups, the largest `th.max_services` apart and the rest as one group."""
    ranked = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    out = [(service(a, p), g) for (a, p), g in ranked[: th.max_services]]
    rest = ranked[th.max_services :]
    if rest:
        out.append((f"{len(rest)} other services", [x for _, g in rest for x in g]))
    return out


def _unanswered(svc: str, silent: list[FlowFacts], th: Thresholds) -> Finding:
    retries = sum(x.syn_retries for x in silent)
    most = max(silent, key=lambda x: (x.syn_retries, -x.id))
    gaps = [round(g, 3) for g in most.syn_retry_gaps]
    retry_text = (
        f", retried {count(retries, 'time')} in all; flow {most.id} waited "
        + ", ".join(f"{g:g} s" for g in gaps[:8])
        + (", …" if len(gaps) > 8 else "")
        + f" between its SYNs: {describe_retry_gaps(most.syn_retry_gaps)}"
        if retries and gaps
        else ""
    )
    explanation = (
        f"{svc} never answered: {count(len(silent), 'connection attempt')} got neither SYN/ACK "
        f"nor RST{retry_text}. A firewall drops {'it' if len(silent) == 1 else 'them'} (filtered "
        "port) or the host is down."
    )
    frames = (x.first_frame for x in silent)
    return make_finding(
        "unanswered",
        "warning",
        svc,
        explanation,
        silent,
        th,
        frames,
        attempts=len(silent),
        syn_retries=retries,
        retry_gaps=gaps,
        retry_gaps_flow=most.id,
        clients=len({x.orig_addr for x in silent}),
    )


def _accept_queue(q: _Queued, ctx: Context) -> Finding:
    parts = []
    if q.answered:
        parts.append(f"it completed {count(len(q.answered), 'handshake')}")
    if q.silent:
        parts.append(f"{count(len(q.silent), 'SYN')} got no answer at all")
    if q.stuck:
        parts.append(
            f"{count(len(q.stuck), 'SYN/ACK')} {were(len(q.stuck))} resent after the client's ACK"
        )
    if q.queue is not None:
        backlog = "an unknown backlog" if q.queue[1] < 0 else f"a backlog of {q.queue[1]}"
        parts.append(f"its LISTEN socket holds {count(q.queue[0], 'connection')} for {backlog}")
    explanation = (
        f"The application behind {q.svc} is not accepting connections fast enough: "
        + ", ".join(parts)
        + "; when the accept queue (the listen() backlog) is full the kernel drops new SYNs "
        "and final ACKs, and clients wait for their retries."
    )
    irtts = [x.irtt for x in q.answered if x.irtt is not None]
    return make_finding(
        "accept_queue",
        "warning",
        q.svc,
        explanation,
        q.silent + q.stuck + q.answered,
        ctx.th,
        (x.first_frame for x in q.silent + q.stuck),
        unanswered=len(q.silent),
        completed=len(q.answered),
        synack_resent=len(q.stuck),
        queued=None if q.queue is None else q.queue[0],
        backlog=None if q.queue is None else q.queue[1],
        median_irtt=round(median(irtts), 6) if irtts else None,
    )


__all__ = ["DATA", "OTHER", "Context", "run_all"]
