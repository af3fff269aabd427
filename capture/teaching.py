"""Teaching notes for the flow screen: what each handshake and teardown segment means.

`annotate(flow)` returns `{frame_no: text}` for the segments worth explaining: the SYN and its
ISN, the SYN/ACK acknowledging ISN+1, the ACK that completes the handshake, each FIN (which
consumes one sequence number), the ACKs of the FINs, who enters TIME_WAIT, resets, zero windows
and illegal flags. The flow screen's ladder draws these when the teaching overlay is on (`t`).

Pure: it reads the flow's kept frames and state transitions; without kept frames it explains the
state changes alone. Texts are plain ASCII built from numbers, never from packet payload.
"""

from __future__ import annotations

from typing import Any

from capture.segment import ACK, FIN, RST, SYN, Segment, parse_options
from capture.tcpstate import MASK, TIME_WAIT

_WHO = {"orig": "client", "resp": "server"}
_STATE_WHY = {
    "SYN_SENT": "waits for the SYN/ACK",
    "SYN_RECEIVED": "waits for the ACK of its SYN",
    "ESTABLISHED": "can send data",
    "FIN_WAIT_1": "waits for its FIN to be acknowledged",
    "FIN_WAIT_2": "waits for the peer's FIN",
    "CLOSE_WAIT": "may still send; waits for its application to close",
    "CLOSING": "both FINs crossed; waits for the ACK of its own",
    "LAST_ACK": "waits for the ACK of its FIN",
    "TIME_WAIT": "it closed first, so it holds the 4-tuple for 2*MSL, RFC 9293 3.6.1",
    "CLOSED": "the connection is gone",
    "LISTEN": "listens again",
}


class _Seq:
    """The ISNs seen so far, to write sequence numbers relative to them."""

    def __init__(self) -> None:
        self.isn: dict[str, int] = {}
        self.fin_seq: dict[str, int] = {}
        self.handshake_done = False


def annotate(flow: Any) -> dict[int, str]:
    """`{frame_no: explanation}` for the flow's handshake, teardown and unusual segments."""
    notes: dict[int, list[str]] = {}
    frames: list[Segment] = flow.frames() if hasattr(flow, "frames") else []
    seq = _Seq()
    for seg in frames:
        side = _side(flow, seg)
        text = _explain(flow, seg, side, seq)
        if text:
            notes.setdefault(seg.frame_no, []).append(text)
    for t in getattr(flow, "transitions", None) or ():
        who = _WHO.get(t.side, t.side)
        why = _STATE_WHY.get(t.new, "")
        notes.setdefault(t.frame_no, []).append(
            f"{who} {t.old} -> {t.new}" + (f" ({why})" if why else "") + "."
        )
    return {n: " ".join(parts) for n, parts in sorted(notes.items())}


def _side(flow: Any, seg: Segment) -> str:
    return "orig" if seg.src == flow.orig_addr and seg.sport == flow.orig_port else "resp"


def _explain(flow: Any, seg: Segment, side: str, seq: _Seq) -> str:
    flags = seg.flags
    who = _WHO[side]
    peer = "resp" if side == "orig" else "orig"
    if flags & RST:
        refusal = seq.isn.get(peer) is not None and side not in seq.isn
        return _rst(seg, who, refusal and seg.ack == (seq.isn[peer] + 1) & MASK)
    parts = []
    if flags & SYN:
        parts.append(_syn(seg, side, who, peer, seq))
    elif flags & ACK:
        parts.append(_ack(seg, who, peer, seq))
    if flags & FIN:
        fin_at = (seg.seq + seg.payload_len) & MASK
        seq.fin_seq.setdefault(side, fin_at)
        parts.append(
            f"FIN from the {who}: it has no more data to send. The FIN consumes one sequence "
            f"number ({_rel(fin_at, side, seq)}), so the peer acknowledges "
            f"{_rel(fin_at + 1, side, seq)}."
        )
    if not flags & (SYN | FIN) and seg.window == 0:
        parts.append(f"Window 0: the {who}'s receive buffer is full; the peer must wait and probe.")
    if not flags or flags & (SYN | FIN) == SYN | FIN:
        parts.append("Illegal flag combination: no real TCP stack sends this; a scanner's probe.")
    return " ".join(p for p in parts if p)


def _rel(value: int, side: str, seq: _Seq) -> str:
    isn = seq.isn.get(side)
    if isn is None:
        return f"seq {value & MASK}"
    return f"ISN+{(value - isn) & MASK}"


def _syn(seg: Segment, side: str, who: str, peer: str, seq: _Seq) -> str:
    opts = parse_options(seg.opts)
    extras = [
        f"MSS {opts.mss}" if opts.mss is not None else "",
        f"window scale {opts.wscale}" if opts.wscale is not None else "",
        "SACK permitted" if opts.sack_perm else "",
        "timestamps" if opts.ts_val is not None else "",
    ]
    offered = ", ".join(e for e in extras if e)
    offered = f" It offers {offered}." if offered else ""
    if side in seq.isn and seq.isn[side] == seg.seq:
        return f"Retransmitted SYN (same ISN): no answer came yet, so the {who} tries again."
    seq.isn[side] = seg.seq
    data = (
        f" It carries {seg.payload_len} bytes of data (TCP Fast Open if a cookie is present)."
        if seg.payload_len
        else ""
    )
    if not seg.flags & ACK:
        return (
            f"SYN: the {who} opens the connection with ISN {seg.seq} (its initial sequence "
            f"number). The SYN consumes one number, so its first data byte is ISN+1.{offered}{data}"
        )
    peer_isn = seq.isn.get(peer)
    if peer_isn is None:
        acked = f"acknowledges {seg.ack}"
    elif seg.ack == (peer_isn + 1) & MASK:
        acked = "acknowledges the client's ISN+1 (the SYN took one number)"
    else:
        acked = f"acknowledges ISN+{(seg.ack - peer_isn) & MASK}, not ISN+1: unusual"
    return f"SYN/ACK: the {who} answers with its own ISN {seg.seq} and {acked}.{offered}{data}"


def _ack(seg: Segment, who: str, peer: str, seq: _Seq) -> str:
    peer_isn = seq.isn.get(peer)
    if peer_isn is not None and seg.ack == (peer_isn + 1) & MASK and not seq.handshake_done:
        seq.handshake_done = True
        return f"ACK of the {_WHO[peer]}'s ISN+1: the three-way handshake is complete."
    fin = seq.fin_seq.get(peer)
    if fin is not None and seg.ack == (fin + 1) & MASK:
        return f"Acknowledges the {_WHO[peer]}'s FIN ({_rel(fin + 1, peer, seq)})."
    return ""


def _rst(seg: Segment, who: str, refusal: bool) -> str:
    if refusal:
        text = (
            f"RST/ACK from the {who} acknowledging the SYN (ISN+1): nothing listens on this "
            "port, the connection is refused (RFC 9293 3.10.7.1)."
        )
    else:
        text = f"RST from the {who}: the connection is aborted at once, unread data is dropped."
    if seg.payload_len:
        text += f" It carries {seg.payload_len} bytes (RFC 9293 allows a diagnostic text)."
    return text


def time_wait_side(flow: Any) -> str:
    """Who entered TIME_WAIT (`client`, `server`, `both`) or "" (from the transitions)."""
    sides = {t.side for t in getattr(flow, "transitions", None) or () if t.new == TIME_WAIT}
    if len(sides) == 2:
        return "both"
    return _WHO.get(sides.pop(), "") if sides else ""
