"""The tcpdump-like line per segment (`tcpwatch --print`).

The format follows `tcpdump -n`: time, `IP`/`IP6`, `src.port > dst.port`, `Flags [..]`, seq, ack,
win, urg, options, length. Sequence numbers are relative to each direction's first sequence number
(its ISN when the SYN was seen), as tcpdump and Wireshark show them; `absolute=True` is `-S`. The
line ends with the flow's id and any state the segment moved an endpoint to.
"""

from __future__ import annotations

import time
from typing import Any

from capture.segment import ACK, FIN, RST, SYN, URG, Segment, addr_str, parse_options, tcpdump_flags
from capture.tcpstate import recent_transitions

MAX_BASES = 1_000_000
"""Per-direction sequence bases remembered at most (then forgotten, as the tracker evicts flows)."""


class SegmentPrinter:
    """Formats segments; remembers each flow direction's first sequence number."""

    def __init__(self, absolute: bool = False, utc: bool = False) -> None:
        self.absolute = absolute
        self._clock = time.gmtime if utc else time.localtime
        self._second, self._hms = -1, ""
        self._bases: dict[tuple[int, bool], int] = {}

    def line(self, seg: Segment, flow: Any) -> str:
        """One line for `seg`, which the tracker has just given to `flow`."""
        from_orig = seg.src == flow.orig_addr and seg.sport == flow.orig_port
        seq_text, ack_text = self._seq_ack(seg, flow.id, from_orig)
        parts = [f"Flags [{tcpdump_flags(seg.flags)}]"]
        if seq_text:
            parts.append(f"seq {seq_text}")
        if ack_text:
            parts.append(f"ack {ack_text}")
        parts.append(f"win {seg.window}")
        if seg.flags & URG:
            parts.append(f"urg {seg.urg_ptr}")
        if seg.opts:
            parts.append(f"options [{_options(seg.opts)}]")
        if seg.bad_opts:
            parts.append(f"[{seg.bad_opts}]")
        parts.append(f"length {seg.payload_len}")
        ip = "IP" if seg.ip_version == 4 else "IP6"
        head = f"{self._time(seg.ts)} {ip} {_ep(seg.src, seg.sport)} > {_ep(seg.dst, seg.dport)}: "
        return head + ", ".join(parts) + _flow_tail(seg, flow)

    def _time(self, ts: float) -> str:
        sec = int(ts)
        # A float epoch time carries up to ~0.25 us of error: nudge before truncating, so that
        # microsecond stamps print exactly as tcpdump prints them.
        usec = min(999_999, int((ts - sec) * 1e6 + 0.3))
        if sec != self._second:  # one strftime per second of capture, not per segment
            self._second, self._hms = sec, time.strftime("%H:%M:%S", self._clock(sec))
        return f"{self._hms}.{usec:06d}"

    def _seq_ack(self, seg: Segment, flow_id: int, from_orig: bool) -> tuple[str, str]:
        """Sequence and ack text as tcpdump prints them (empty when tcpdump omits them)."""
        key = (flow_id, from_orig)
        base = self._bases.get(key)
        if base is None or seg.flags & SYN:
            if len(self._bases) >= MAX_BASES:
                self._bases.clear()
            base = self._bases[key] = seg.seq
        other = self._bases.get((flow_id, not from_orig))
        ack = ""
        if seg.flags & ACK:
            relative = not (self.absolute or seg.flags & SYN or other is None)
            ack = str((seg.ack - other) % 2**32 if relative and other is not None else seg.ack)
        seq = seg.seq if self.absolute or seg.flags & SYN else (seg.seq - base) % 2**32
        if seg.payload_len:
            return f"{seq}:{(seq + seg.payload_len) % 2**32}", ack
        if seg.payload_len or seg.flags & (SYN | FIN | RST):
            return str(seq), ack
        return "", ack  # tcpdump leaves out the sequence number of a bare ACK


def _ep(raw: bytes, port: int) -> str:
    return f"{addr_str(raw)}.{port}"


def _options(raw: bytes) -> str:
    opts = parse_options(raw)
    text = ",".join(f"{name} {value}" if value else name for _, name, value in opts.items)
    return text + (f",[{opts.malformed}]" if opts.malformed else "")


def _flow_tail(seg: Segment, flow: Any) -> str:
    # A segment moves at most both endpoints (and a port-reuse restart): the last few suffice.
    moves = [t for t in recent_transitions(flow.moves, 4) if t.frame_no == seg.frame_no]
    if not moves:
        return f"  #{flow.id}"
    text = "; ".join(f"{'client' if t.side == 'orig' else 'server'} {t.new}" for t in moves)
    return f"  #{flow.id} {text}"
