"""The flow screen's summary panel as plain lines: ISNs, options, RTTs, close, conn_state.

Pure functions over a `Flow` (no Textual): the screen shows the lines through `safe_text`.
"""

from __future__ import annotations

from typing import Any

from capture.live.procs import RetrySchedule
from capture.segment import ACK, FIN, RST, SYN
from capture.tcp_analysis import count_line
from widgets.units import duration


def _ms(seconds: float | None) -> str:
    return duration(seconds)


def side_line(label: str, rec: dict[str, Any], who: str, tfo: bool, proc: str | None = None) -> str:
    """One endpoint: address, state, ISN, the options its SYN offered and, live, its process."""
    addr, port = rec[f"{who}_h"], rec[f"{who}_p"]
    where = f"[{addr}]:{port}" if ":" in addr else f"{addr}:{port}"
    mss, wscale, isn = rec[f"mss_{who}"], rec[f"wscale_{who}"], rec[f"isn_{who}"]
    opts = [
        f"MSS {mss if mss is not None else '-'}",
        f"wscale {wscale if wscale is not None else '-'}",
    ]
    if tfo:
        opts.append("TFO")
    isn_text = "-" if isn is None else str(isn)
    owner = f"  process {proc}" if proc else ""
    return f"{label} {where}  {rec[f'state_{who}']}  ISN {isn_text}  " + " ".join(opts) + owner


def negotiated(rec: dict[str, Any], tfo: bool) -> str:
    """What the handshake settled: options count only when both SYNs carried them."""
    if rec["isn_orig"] is None or rec["isn_resp"] is None:
        return "negotiated: nothing (no SYN and SYN/ACK pair seen)"
    mss = [str(m) if m is not None else "536 (default)" for m in (rec["mss_orig"], rec["mss_resp"])]
    parts = [f"MSS {'/'.join(mss)}"]
    ws_o, ws_r = rec["wscale_orig"], rec["wscale_resp"]
    both_ws = ws_o is not None and ws_r is not None
    parts.append(f"wscale {ws_o}/{ws_r}" if both_ws else "no wscale")
    parts.append("SACK" if rec["sack_perm"] else "no SACK")
    parts.append("TS" if rec["timestamps"] else "no TS")
    if tfo:
        parts.append("TFO")
    return "negotiated: " + ", ".join(parts)


def rtt_line(rec: dict[str, Any]) -> str:
    """Handshake round-trip times and SYN retries with their gaps."""
    text = f"iRTT {_ms(rec['irtt'])}"
    if rec["rtt_syn_synack"] is not None and rec["rtt_synack_ack"] is not None:
        text += (
            f" = {_ms(rec['rtt_syn_synack'])} SYN→SYN/ACK"
            f" + {_ms(rec['rtt_synack_ack'])} SYN/ACK→ACK"
        )
    text += f"  SYN retries {rec['syn_retries']}"
    if rec["syn_retry_gaps"]:
        text += " (gaps " + ", ".join(duration(g) for g in rec["syn_retry_gaps"]) + ")"
    return text


def close_line(rec: dict[str, Any], time_wait_by: str) -> str:
    """Who closed, how, and who was left in TIME_WAIT."""
    if not rec["closed_by"]:
        return "not closed"
    who = {"orig": "client", "resp": "server"}.get(rec["closed_by"], str(rec["closed_by"]))
    text = f"closed by the {who} ({rec['close_kind'] or '?'})"
    if time_wait_by:
        text += f", TIME_WAIT on the {_SIDE_NAMES.get(time_wait_by, time_wait_by)}"
    return text


_SIDE_NAMES = {"orig": "client", "resp": "server", "both": "both sides"}


def deciding_frames(flow: Any) -> str:
    """The frames that decide Zeek's conn_state: first SYN, SYN/ACK, FIN and RST of each side."""
    found: dict[str, int] = {}
    for seg in flow.frames():
        who = "client" if seg.src == flow.orig_addr and seg.sport == flow.orig_port else "server"
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


def retry_line(flow: Any, syn: RetrySchedule, synack: RetrySchedule) -> str:
    """For a handshake still waiting: when this host's Linux would resend, and give up.

    Linux turns `tcp_syn_retries` into a time budget and (6.x) keeps the first
    `tcp_syn_linear_timeouts` retries 1 s apart; SYN/ACKs back off from 1 s.
    """
    if flow.state_orig == "SYN_SENT" and flow.state_resp in ("UNKNOWN", "LISTEN", "CLOSED"):
        what, schedule, retries = "SYN", syn, flow.syn_retries
    elif flow.state_resp == "SYN_RECEIVED":
        what, schedule, retries = "SYN/ACK", synack, getattr(flow, "synack_retries", 0)
    else:
        return ""
    offsets = ", ".join(f"+{t:g}s" for t in schedule.retry_offsets())
    nxt = schedule.next_retry(flow.first_ts, retries)
    when = f"next {what} due at +{nxt - flow.first_ts:g}s" if nxt is not None else "no retry left"
    return (
        f"waiting: Linux resends the {what} at {offsets}; {when}, "
        f"gives up at +{schedule.give_up_after:g}s"
    )


def summary_lines(
    flow: Any, schedules: tuple[RetrySchedule, RetrySchedule] | None = None
) -> list[str]:
    """Every line of the summary panel, in order (built from the flow's export record).

    A line counts the sides' TCP analysis marks when there are any. `schedules` (live mode:
    this host's SYN and SYN/ACK retry schedules) adds a line for a handshake still waiting.
    """
    rec = flow.record()
    tfo_o, tfo_r = flow.orig.tfo is not None, flow.resp.tfo is not None
    frames = deciding_frames(flow) or "no SYN, FIN or RST seen"
    inferred = " (direction inferred)" if rec["direction_inferred"] else ""
    illegal = ", ".join(f"{k} {v}" for k, v in rec["illegal_flags"].items()) or "none"
    return [
        f"flow {flow.id} {flow.uid}  conn_state {rec['conn_state']}  history {rec['history']}"
        f"  {close_line(rec, getattr(flow, 'time_wait_by', ''))}{inferred}",
        side_line("client", rec, "orig", tfo_o, getattr(flow, "proc_orig", None)),
        side_line("server", rec, "resp", tfo_r, getattr(flow, "proc_resp", None)),
        negotiated(rec, tfo_o and tfo_r) + "  " + rtt_line(rec),
        f"conn_state {rec['conn_state']} decided by {frames}",
        (
            f"packets {rec['orig_pkts']}/{rec['resp_pkts']}  "
            f"payload {rec['payload_orig']}/{rec['payload_resp']} B  "
            f"retrans {rec['retrans_orig']}/{rec['retrans_resp']}  "
            f"zero window {rec['zero_window']}  illegal flags {illegal}"
        ),
    ] + [
        line
        for line in (analysis_line(flow), retry_line(flow, *schedules) if schedules else "")
        if line
    ]


def analysis_line(flow: Any) -> str:
    """Wireshark's TCP analysis counts of each side, when any segment was marked."""
    sides = [(who, getattr(flow, side).analysis) for who, side in _WHO]
    if not any(any(counts.values()) for _, counts in sides):
        return ""
    parts = [f"{who} {count_line(counts)}" for who, counts in sides if any(counts.values())]
    return "TCP analysis: " + "; ".join(parts)


_WHO = (("client", "orig"), ("server", "resp"))
