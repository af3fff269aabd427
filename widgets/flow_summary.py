"""The flow screen's summary panel as plain lines: ISNs, options, RTTs, close, conn_state.

Pure functions over a `Flow` (no Textual): the screen shows the lines through `safe_text`.
"""

from __future__ import annotations

from typing import Any

from capture.segment import ACK, FIN, RST, SYN, endpoint


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.3f}ms"


def side_line(label: str, side: Any, addr: bytes, port: int, state: str) -> str:
    """One endpoint: address, state, ISN and the options it offered."""
    opts = [f"MSS {side.mss}" if side.mss is not None else "MSS -"]
    opts.append(f"wscale {side.wscale}" if side.wscale is not None else "wscale -")
    opts.append("SACK" if side.sack_perm else "no SACK")
    opts.append("TS" if side.timestamps else "no TS")
    if side.tfo:
        opts.append("TFO")
    isn = "-" if side.isn is None else str(side.isn)
    return f"{label} {endpoint(addr, port)}  {state}  ISN {isn}  " + " ".join(opts)


def negotiated(flow: Any) -> str:
    """What both ends agreed on: an option counts only when both SYNs carried it."""
    o, r = flow.orig, flow.resp
    parts = [f"MSS {min(o.mss or 536, r.mss or 536)}" if o.mss or r.mss else "MSS default"]
    both_ws = o.wscale is not None and r.wscale is not None
    parts.append(f"wscale {o.wscale}/{r.wscale}" if both_ws else "no window scaling")
    parts.append("SACK" if o.sack_perm and r.sack_perm else "no SACK")
    parts.append("timestamps" if o.timestamps and r.timestamps else "no timestamps")
    if o.tfo or r.tfo:
        parts.append("TFO")
    return "negotiated: " + ", ".join(parts)


def rtt_line(flow: Any) -> str:
    """Handshake round-trip times and SYN retries with their gaps."""
    text = (
        f"iRTT {_ms(flow.irtt)} (SYN→SYN/ACK {_ms(flow.rtt_syn_synack)}, "
        f"SYN/ACK→ACK {_ms(flow.rtt_synack_ack)})  SYN retries {flow.syn_retries}"
    )
    if flow.syn_retry_gaps:
        text += " (gaps " + ", ".join(f"{g:.2f}s" for g in flow.syn_retry_gaps) + ")"
    return text


def close_line(flow: Any) -> str:
    """Who closed and how."""
    if not flow.closed_by:
        return "close: not closed (yet)"
    who = {"orig": "client", "resp": "server"}.get(flow.closed_by, str(flow.closed_by))
    return f"close: by the {who} ({flow.closed_by}), {flow.close_kind or '?'}"


def deciding_frames(flow: Any) -> str:
    """The frames that decide Zeek's conn_state: first SYN, SYN/ACK, FIN and RST of each side."""
    found: dict[str, int] = {}
    for seg in flow.frames():
        who = "orig" if seg.src == flow.orig_addr and seg.sport == flow.orig_port else "resp"
        f = seg.flags
        kind = None
        if f & SYN:
            kind = "SYN/ACK" if f & ACK else "SYN"
        elif f & RST:
            kind = "RST"
        elif f & FIN:
            kind = "FIN"
        if kind is not None:
            found.setdefault(f"{kind} {who}", seg.frame_no)
    return ", ".join(f"{name} #{no}" for name, no in sorted(found.items(), key=lambda kv: kv[1]))


def summary_lines(flow: Any) -> list[str]:
    """Every line of the summary panel, in order."""
    o, r = flow.orig, flow.resp
    frames = deciding_frames(flow) or "no SYN, FIN or RST seen"
    inferred = "  (direction inferred)" if flow.direction_inferred else ""
    return [
        side_line("client", o, flow.orig_addr, flow.orig_port, flow.state_orig) + inferred,
        side_line("server", r, flow.resp_addr, flow.resp_port, flow.state_resp),
        negotiated(flow) + "   " + rtt_line(flow),
        f"{close_line(flow)}   conn_state {flow.conn_state} from {frames}   history {flow.history}",
        (
            f"packets {o.pkts}/{r.pkts}  payload {o.payload}/{r.payload} B  "
            f"retrans {o.retrans}/{r.retrans}  zero window {o.zero_window}/{r.zero_window}  "
            f"illegal flags {flow.illegal_flags}"
        ),
    ]
