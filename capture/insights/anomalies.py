"""Insight rules about single flows: abnormal endings, anomalies, slow handshakes.

Findings are grouped by what they are (and by service where that helps), so a hundred resets to
one server read as one finding with a hundred flows behind it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from statistics import median

from capture.insights.facts import DATA, OPENED, FlowFacts
from capture.insights.model import Finding, Thresholds, make_finding, service
from capture.insights.text import count, were

_WHO = {"orig": "client", "resp": "server"}
_ILLEGAL_WHY = {
    "SYN+FIN": "SYN opens and FIN closes, so no real stack sends both: a scanner's probe",
    "SYN+RST": "SYN opens and RST aborts, so no real stack sends both: a crafted probe",
    "FIN+RST": "FIN and RST together are contradictory: a crafted probe or a broken stack",
    "xmas": "FIN+PSH+URG is the 'Xmas tree' probe of port scanners",
    "null": "a segment with no flags at all is a NULL-scan probe (RFC 9293: after the SYN "
    "every segment carries ACK)",
}


def _group(
    flows: list[FlowFacts], key: Callable[[FlowFacts], str | None]
) -> dict[str, list[FlowFacts]]:
    out: dict[str, list[FlowFacts]] = defaultdict(list)
    for x in flows:
        k = key(x)
        if k is not None:
            out[k].append(x)
    return out


def _svc(x: FlowFacts) -> str:
    return service(x.resp_addr, x.resp_port)


# -- endings -----------------------------------------------------------------------------------


def _rst_after_established(x: FlowFacts) -> str | None:
    if x.category not in (DATA, OPENED) or x.close_kind != "rst" and "R" not in x.history.upper():
        return None
    if x.conn_state not in ("RSTO", "RSTR", "RSTRH") and x.close_kind != "rst":
        return None
    who = x.rst_by or x.closed_by or ("orig" if x.conn_state == "RSTO" else "resp")
    return _WHO.get(who, who)


def _fin_then_rst(x: FlowFacts) -> bool:
    h = x.history.upper()
    return "F" in h and "R" in h and h.index("F") < h.rindex("R")


def ending_findings(rest: list[FlowFacts], th: Thresholds, horizon: float) -> list[Finding]:
    """RST after established (by whom), RST with data, FIN then RST, half-closes, TIME_WAIT."""
    out = []
    for who, group in _group(rest, _rst_after_established).items():
        top = _top_services(group)
        n_services = len(_group(group, _svc))
        where = top[0][0] if n_services == 1 else f"{n_services} services"
        after_fin = sum(1 for x in group if _fin_then_rst(x))
        why = ""
        if after_fin:
            why = " (after a FIN)" if after_fin == len(group) else f" ({after_fin} after a FIN)"
        out.append(
            make_finding(
                "reset",
                "info",
                f"by {who}",
                f"{count(len(group), 'established connection')} to {where} "
                f"{were(len(group))} aborted with an RST from the {who}{why} instead of a FIN "
                "exchange: a reset drops unsent and unread data at once (RFC 9293 §3.10.7).",
                group,
                th,
                (f for x in group for f in x.rst_frames),
                top_services=top,
            )
        )
    with_data = [x for x in rest if x.rst_data]
    if with_data:
        out.append(
            make_finding(
                "rst_with_data",
                "warning",
                count(len(with_data), "flow"),
                "RST segments carry data: RFC 9293 §3.5.3 allows only a diagnostic text there, so "
                "this is either such a text or a forged or injected reset.",
                with_data,
                th,
                [f for x in with_data for f in x.rst_data or ()],
            )
        )
    out += _half_closed(rest, th, horizon)
    waiting = [x for x in rest if x.state_resp == "TIME_WAIT"]
    if waiting:
        top = _top_services(waiting)
        n_servers = len(_group(waiting, _svc))
        lead = f"The server {top[0][0]}" if n_servers == 1 else f"{n_servers} servers"
        out.append(
            make_finding(
                "server_time_wait",
                "info",
                top[0][0] if n_servers == 1 else f"{n_servers} servers",
                f"{lead} closed first on {count(len(waiting), 'connection')}, so the server, "
                "not the client, keeps each in TIME_WAIT for 2*MSL (RFC 9293 §3.6.1).",
                waiting,
                th,
                top_services=top,
            )
        )
    return out


def _top_services(group: list[FlowFacts], n: int = 5) -> list[tuple[str, int]]:
    counts = Counter(_svc(x) for x in group)
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]


def _half_closed(rest: list[FlowFacts], th: Thresholds, horizon: float) -> list[Finding]:
    half = {"FIN_WAIT_2", "CLOSE_WAIT"}
    stuck = [
        x
        for x in rest
        if (x.state_orig in half or x.state_resp in half)
        and horizon - x.last_ts >= th.half_close_idle
    ]
    if not stuck:
        return []
    return [
        make_finding(
            "half_closed",
            "info",
            count(len(stuck), "flow"),
            f"{count(len(stuck), 'connection')} {were(len(stuck))} closed in one direction only "
            "and then sat idle for "
            f"{th.half_close_idle:g} s or more: one side sent FIN, the other never did (the "
            "application keeps its socket open in CLOSE_WAIT).",
            stuck,
            th,
        )
    ]


# -- anomalies ---------------------------------------------------------------------------------


def anomaly_findings(flows: list[FlowFacts], th: Thresholds) -> list[Finding]:
    """Illegal flags, zero windows, data on SYN, retransmission storms, bad SYN/ACKs, wscale."""
    out = _illegal(flows, th) + _zero_window(flows, th)
    syn_data = [x for x in flows if x.syn_data]
    tfo = [x for x in syn_data if x.tfo]
    plain = [x for x in syn_data if not x.tfo]
    if tfo:
        out.append(
            make_finding(
                "syn_data",
                "info",
                "TCP Fast Open",
                f"{count(len(tfo), 'SYN')} carried data with a Fast Open cookie (RFC 7413): the "
                "request travels with the handshake and saves a round trip.",
                tfo,
                th,
                [f for x in tfo for f in x.syn_data or ()],
            )
        )
    if plain:
        out.append(
            make_finding(
                "syn_data",
                "warning",
                "without TFO",
                f"{count(len(plain), 'SYN')} carried data without a Fast Open cookie: RFC 9293 "
                "lets the receiver hold it until the handshake completes, so it is often a "
                "crafted segment.",
                plain,
                th,
                [f for x in plain for f in x.syn_data or ()],
            )
        )
    out += _storms(flows, th)
    bad = [x for x in flows if x.bad_synack]
    if bad:
        out.append(
            make_finding(
                "bad_synack",
                "warning",
                count(len(bad), "flow"),
                "A SYN/ACK acknowledged something other than the SYN's ISN+1, so the client must "
                "answer it with a reset (RFC 9293 §3.10.7.3).",
                bad,
                th,
                [f for x in bad for f in x.bad_synack or ()],
            )
        )
    wide = [x for x in flows if max(x.wscale_orig or 0, x.wscale_resp or 0) > 14]
    if wide:
        out.append(
            make_finding(
                "wscale",
                "warning",
                count(len(wide), "flow"),
                "A window scale shift above 14 was offered: RFC 7323 §2.3 caps it at 14 (the "
                "receiver must use 14), so the sender is broken or probing.",
                wide,
                th,
                max_shift=max(max(x.wscale_orig or 0, x.wscale_resp or 0) for x in wide),
            )
        )
    return out + _port_reuse(flows, th)


def _illegal(flows: list[FlowFacts], th: Thresholds) -> list[Finding]:
    by_name: dict[str, list[FlowFacts]] = defaultdict(list)
    frames: dict[str, list[int]] = defaultdict(list)
    for x in flows:
        for frame_no, name in x.illegal:
            if not by_name[name] or by_name[name][-1] is not x:
                by_name[name].append(x)
            if frame_no:
                frames[name].append(frame_no)
    return [
        make_finding(
            "illegal_flags",
            "warning",
            name,
            f"{count(len(group), 'flow')} carried {name} segments: "
            f"{_ILLEGAL_WHY.get(name, 'an illegal flag combination no real stack sends')}.",
            group,
            th,
            frames[name],
            segments=sum(len(x.illegal) for x in group),
        )
        for name, group in by_name.items()
    ]


def _zero_window(flows: list[FlowFacts], th: Thresholds) -> list[Finding]:
    """Zero windows, split by whether they reopened."""
    split: dict[str, list[FlowFacts]] = {"not recovered": [], "recovered": []}
    for x in flows:
        sides = [s for s, n in (("orig", x.zero_window_orig), ("resp", x.zero_window_resp)) if n]
        if not sides:
            continue
        end = x.zero_window_end
        split["not recovered" if any(end.get(s) for s in sides) else "recovered"].append(x)
    texts = {
        "not recovered": (
            "warning",
            "advertised a zero window that was not seen to reopen: the "
            "receiving application stopped reading, and the sender can only probe",
        ),
        "recovered": (
            "info",
            "paused on a zero window and then reopened it: the receiver briefly fell behind",
        ),
    }
    return [
        make_finding(
            "zero_window",
            texts[k][0],
            k,
            f"{count(len(group), 'flow')} {texts[k][1]} (RFC 9293 §3.8.6.1).",
            group,
            th,
        )
        for k, group in split.items()
        if group
    ]


def _storms(flows: list[FlowFacts], th: Thresholds) -> list[Finding]:
    def storm(x: FlowFacts) -> bool:
        return any(
            n >= th.retrans_storm_min and n >= th.retrans_storm_share * max(pkts, 1)
            for n, pkts in ((x.retrans_orig, x.orig_pkts), (x.retrans_resp, x.resp_pkts))
        )

    stormy = [x for x in flows if storm(x)]
    if not stormy:
        return []
    return [
        make_finding(
            "retransmission_storm",
            "warning",
            count(len(stormy), "flow"),
            f"{count(len(stormy), 'flow')} resent at least {th.retrans_storm_share:.0%} of their "
            "segments: "
            "heavy loss or a path that drops, and the sender backs off each time (RFC 6298).",
            stormy,
            th,
            retransmissions=sum(x.retrans_orig + x.retrans_resp for x in stormy),
        )
    ]


def _port_reuse(flows: list[FlowFacts], th: Thresholds) -> list[Finding]:
    # Only 4-tuples seen more than once can be reused: count first, sort only those.
    def key(x: FlowFacts) -> tuple[bytes, int, bytes, int, tuple[int, ...]]:
        return (x.orig_addr, x.orig_port, x.resp_addr, x.resp_port, x.vlan)

    seen = Counter(key(x) for x in flows)
    by_tuple: dict[tuple[bytes, int, bytes, int, tuple[int, ...]], list[FlowFacts]]
    by_tuple = defaultdict(list)
    for x in flows:
        k = key(x)
        if seen[k] > 1:
            by_tuple[k].append(x)
    reused = []
    for group in by_tuple.values():
        group.sort(key=lambda x: x.first_ts)
        for prev, nxt in zip(group, group[1:], strict=False):
            in_tw = "TIME_WAIT" in (prev.state_orig, prev.state_resp)
            if in_tw and nxt.first_ts - prev.last_ts < th.time_wait:
                reused += [prev, nxt]
    if not reused:
        return []
    return [
        make_finding(
            "port_reuse",
            "info",
            count(len(reused) // 2, "reuse"),
            "A connection reused the ports of one still in TIME_WAIT: RFC 9293 §3.6.1 allows a new "
            "SYN there only with a higher sequence number (or timestamps, RFC 6191).",
            reused,
            th,
        )
    ]


# -- slow handshakes ---------------------------------------------------------------------------


def slow_handshake_findings(rest: list[FlowFacts], th: Thresholds) -> list[Finding]:
    """Per server: a slow median handshake RTT, or handshakes far slower than the median."""
    out = []
    timed = [x for x in rest if x.irtt is not None]
    for svc, group in _group(timed, _svc).items():
        rtts = sorted(x.irtt for x in group if x.irtt is not None)
        mid = median(rtts)
        nums = {"median_irtt": round(mid, 6), "max_irtt": round(rtts[-1], 6), "samples": len(rtts)}
        if mid > th.slow_irtt:
            out.append(
                make_finding(
                    "slow_handshake",
                    "warning" if len(rtts) >= th.slow_min_samples else "info",
                    svc,
                    f"Handshakes with {svc} take {mid * 1000:.0f} ms (median of {len(rtts)}): the "
                    "path is long or congested, or the server's SYN queue is slow to answer.",
                    group,
                    th,
                    (),
                    **nums,
                )
            )
            continue
        limit = max(th.irtt_outlier_factor * mid, th.irtt_outlier_min)
        slow = [x for x in group if x.irtt is not None and x.irtt > limit]
        if slow and len(rtts) >= th.irtt_min_samples:
            out.append(
                make_finding(
                    "slow_handshake",
                    "info",
                    svc,
                    f"{len(slow)} of {len(rtts)} handshakes with {svc} took over "
                    f"{limit * 1000:.0f} ms against a median of {mid * 1000:.1f} ms: a lost SYN or "
                    "SYN/ACK, or a momentarily busy server.",
                    slow,
                    th,
                    (),
                    **nums,
                )
            )
    return out
