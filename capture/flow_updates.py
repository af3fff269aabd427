"""The per-segment steps of flow tracking: counters, sequence space, SYN/FIN/RST bookkeeping.

Plain functions over a `Flow` and its `Side`s, called by `capture.flows.FlowTracker`.
"""

from __future__ import annotations

from capture.flow import Flow, Side
from capture.segment import ACK, CWR, ECE, FIN, PSH, RST, SYN, URG, Segment, syn_options
from capture.tcpstate import HALF, MASK, seq_ge

KEEP_TIMES = 16
"""SYN (or SYN/ACK) times kept per side: the first and its retries."""


def last_seen(flow: Flow) -> float:
    return flow.last_ts


def count_rare(snd: Side, flags: int) -> None:
    if flags & URG:
        snd.urg += 1
    if flags & ECE:
        snd.ece += 1
    if flags & CWR:
        snd.cwr += 1


def count_plain(snd: Side, ip_len: int, plen: int, seq: int, flags: int, window: int) -> None:
    """The sender's counters for a segment with ACK and none of SYN, FIN, RST."""
    snd.pkts += 1
    snd.ip_bytes += ip_len
    if plen:
        snd.payload += plen
        if seq == snd.hi:  # in order: the usual case
            snd.hi = (seq + plen) & MASK
        else:
            seq_space(snd, seq, plen, flags)
    if flags & (PSH | URG | ECE | CWR):
        if flags & PSH:
            snd.psh += 1
        if flags & (URG | ECE | CWR):
            count_rare(snd, flags)
    if not window:
        snd.zero_window += 1


def seq_space(snd: Side, seq: int, plen: int, flags: int) -> None:
    """Advance the sender's high-water mark; a segment starting below it is a retransmission."""
    end = (seq + plen + (flags & FIN) + ((flags & SYN) >> 1)) & MASK
    hi = snd.hi
    if hi < 0 or (seq - hi) & MASK < HALF:
        snd.hi = end
        return
    # A 1-byte keep-alive (seq = hi - 1) re-sends old space on purpose: not a retransmission.
    if not (plen == 1 and (seq + 1) & MASK == hi and not flags & (SYN | FIN)):
        snd.retrans += 1
    if (end - hi) & MASK < HALF:
        snd.hi = end


def _illegal_names(flags: int) -> tuple[str, ...]:
    found = []
    if flags & (SYN | FIN) == SYN | FIN:
        found.append("syn+fin")
    if flags & (SYN | RST) == SYN | RST:
        found.append("syn+rst")
    if flags & (FIN | RST) == FIN | RST:
        found.append("fin+rst")
    if flags & (FIN | PSH | URG) == FIN | PSH | URG:
        found.append("xmas")
    if not flags:
        found.append("null")
    return tuple(found)


# The illegal combinations each flags value makes, looked up rather than worked out per segment.
ILLEGAL = tuple(_illegal_names(flags) for flags in range(0x200))


def check_illegal(flow: Flow, flags: int) -> None:
    found = ILLEGAL[flags & 0x1FF]
    if found:
        counts = flow.illegal
        if counts is None:
            counts = flow.illegal = {}
        for name in found:
            counts[name] = counts.get(name, 0) + 1


def on_syn(flow: Flow, snd: Side, seg: Segment, is_orig: bool) -> None:
    ts = seg.ts
    if snd.isn is None:  # also on a SYN+RST, which moves no state
        snd.isn = seg.seq
    if seg.flags & ACK:
        snd.synack += 1
        if not is_orig:
            if flow.rtt_syn_synack is None and flow.mru_syn >= 0:
                flow.rtt_syn_synack = ts - flow.mru_syn
            flow.mru_synack = ts
        if snd.synack_ts < 0:
            snd.synack_ts = ts
        else:
            snd.synack_times = _retry(snd.synack_ts, snd.synack_times, ts)
    else:
        snd.syn += 1
        flow.mru_syn = ts  # Wireshark's ts_mru_syn: iRTT runs from the last SYN
        if is_orig:
            flow.direction_inferred = False  # a late SYN (reordered capture) confirms it
        if snd.syn_ts < 0:
            snd.syn_ts = ts
        else:
            snd.syn_times = _retry(snd.syn_ts, snd.syn_times, ts)
    if snd.sack_perm is None:  # the first SYN of this side carries its handshake options
        snd.mss, snd.wscale, snd.sack_perm, snd.timestamps, snd.tfo = syn_options(seg.opts)
        snd.syn_data = seg.payload_len


def _retry(first: float, times: list[float] | None, ts: float) -> list[float]:
    # Lists only for retried SYNs: most flows keep one float per side, not a list.
    if times is None:
        return [first, ts]
    if len(times) < KEEP_TIMES:
        times.append(ts)
    return times


def on_ack(flow: Flow, seg: Segment, is_orig: bool) -> None:
    """A segment with ACK and without SYN: it may complete the handshake."""
    # Wireshark: the first such segment after a SYN, in either direction, whatever else it has.
    if flow.irtt is None and flow.mru_syn >= 0:
        flow.irtt = seg.ts - flow.mru_syn
    if is_orig and flow.rtt_synack_ack is None and flow.mru_synack >= 0:
        flow.rtt_synack_ack = seg.ts - flow.mru_synack


def on_fin(flow: Flow, snd: Side, rcv: Side, seg: Segment) -> None:
    snd.fin += 1
    if snd.fin_seq >= 0:
        return  # a retransmitted FIN
    if not flow.closed_by:
        flow.closed_by = snd.side
    if rcv.fin_seq < 0 or flow.end_kind:
        return
    # This is the second side's first FIN: how did it relate to the first one?
    if snd.got_fin:
        flow.end_kind = "fin-4way"
    elif seg.flags & ACK and seq_ge(seg.ack, rcv.fin_seq + 1):
        flow.end_kind = "fin-3way"
    else:
        flow.end_kind = "simultaneous"


def on_rst(flow: Flow, snd: Side) -> None:
    snd.rst += 1
    if flow.rst_by:
        return
    flow.rst_by, flow.rst_state = snd.side, snd.state
    if not flow.closed_by:
        flow.closed_by = snd.side
    if not flow.end_kind:
        fins = flow.orig.fin_seq >= 0 or flow.resp.fin_seq >= 0
        flow.end_kind = "fin-then-rst" if fins else "rst"
