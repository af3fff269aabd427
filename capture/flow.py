"""One TCP connection as the tracker keeps it: a `Flow`, its two `Side`s, its export record.

`capture.flows.FlowTracker` builds and updates flows (`capture.flow_updates` holds the
per-segment steps); every view reads them through the attributes documented in ARCHITECTURE.md.
"""

from __future__ import annotations

import hashlib
from collections import deque
from typing import Any

from capture import zeek
from capture.segment import ACK, SYN, Segment, addr_str
from capture.tcpstate import TIME_WAIT, UNKNOWN, Endpoint, Transition, transitions

_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

FlowKey = tuple[bytes, bytes, int, int, tuple[int, ...]]
"""(lower address, higher address, its port, the other port, VLAN ids): both directions' key."""


class Side(Endpoint):
    """One direction of a flow: its endpoint state plus what it sent."""

    __slots__ = (
        "pkts", "ip_bytes", "payload", "noack", "syn", "synack", "fin", "rst", "psh", "urg",
        "ece", "cwr", "base", "hi", "retrans", "zero_window", "mss", "wscale", "sack_perm",
        "timestamps", "tfo", "syn_data", "syn_ts", "synack_ts", "syn_times", "synack_times",
    )  # fmt: skip

    def __init__(self, side: str) -> None:
        # Endpoint's fields set here, not through super().__init__: one call and one object less
        # per side of every new flow.
        self.side = side
        self.state = UNKNOWN
        self.isn: int | None = None
        self.fin_seq = -1
        self.fin_acked = self.got_fin = self.active = False
        self.pkts = self.ip_bytes = self.payload = self.noack = 0
        self.syn = self.synack = self.fin = self.rst = 0
        self.psh = self.urg = self.ece = self.cwr = 0
        self.base = -1
        """Wireshark's base sequence number (ISN, or first seq - 1, or peer's first ack - 1)."""
        self.hi = -1
        """Highest sequence number sent + 1 (the end of the sequence space seen)."""
        self.retrans = self.zero_window = 0
        self.mss: int | None = None
        self.wscale: int | None = None
        self.sack_perm: bool | None = None
        self.timestamps: bool | None = None
        self.tfo: bytes | None = None
        """TFO cookie on its SYN (b"" = cookie request), None without the option."""
        self.syn_data = 0
        """Payload bytes carried on its first SYN or SYN/ACK (TFO data)."""
        self.syn_ts = self.synack_ts = -1.0
        """Time of its first SYN (without ACK) and first SYN/ACK; -1 before one."""
        self.syn_times: list[float] | None = None
        self.synack_times: list[float] | None = None
        """With retransmissions only: the times of every SYN (SYN/ACK), the first included."""

    @property
    def flags(self) -> dict[str, int]:
        """Segments per flag: syn = SYN without ACK, synack = SYN+ACK, others = that flag set."""
        return {
            "syn": self.syn, "synack": self.synack, "fin": self.fin, "rst": self.rst,
            "psh": self.psh, "urg": self.urg, "ece": self.ece, "cwr": self.cwr,
            "ack": self.pkts - self.noack,
        }  # fmt: skip


# Two base62 digits at a time, least significant first: 8 divisions for 17 digits, not 17.
_B62_PAIRS = tuple(_B62[r % 62] + _B62[r // 62] for r in range(62 * 62))


def _uid(fid: int) -> str:
    """Zeek-style uid: "C" and 17 base62 characters, derived from the flow id only."""
    n = int.from_bytes(hashlib.blake2b(fid.to_bytes(8, "big"), digest_size=13).digest(), "big")
    out = ["C"]
    for _ in range(8):
        n, r = divmod(n, 3844)
        out.append(_B62_PAIRS[r])
    out.append(_B62[n % 62])
    return "".join(out)


def _gaps(times: list[float] | None) -> list[float]:
    if not times:
        return []
    return [round(b - a, 9) for a, b in zip(times, times[1:], strict=False)]


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 9)


class Flow:
    """One TCP connection (or attempt), as the tracker has seen it so far."""

    __slots__ = (
        "id", "key", "orig_low", "orig_addr", "orig_port", "resp_addr", "resp_port", "vlan",
        "direction_inferred", "first_ts", "last_ts", "orig", "resp", "moves", "zeek",
        "irtt", "rtt_syn_synack", "rtt_synack_ack", "mru_syn", "mru_synack", "closed_by",
        "rst_by", "rst_state", "end_kind", "illegal", "ring", "special", "steady", "superseded",
        "proc_orig", "proc_resp", "pid_orig", "pid_resp",
    )  # fmt: skip

    def __init__(self, fid: int, key: FlowKey, seg: Segment, sender_is_orig: bool) -> None:
        self.id = fid
        self.key = key
        if sender_is_orig:
            self.orig_addr, self.orig_port = seg.src, seg.sport
            self.resp_addr, self.resp_port = seg.dst, seg.dport
        else:
            self.orig_addr, self.orig_port = seg.dst, seg.dport
            self.resp_addr, self.resp_port = seg.src, seg.sport
        # Whether the originator is the key's first (lower) endpoint.
        self.orig_low = key[0] == self.orig_addr and key[2] == self.orig_port
        self.vlan = seg.vlan
        self.direction_inferred = seg.flags & (SYN | ACK) != SYN
        self.first_ts = self.last_ts = seg.ts
        self.orig = Side("orig")
        self.resp = Side("resp")
        self.moves = b""
        """The endpoints' state changes, packed (see `transitions`)."""
        self.zeek = zeek.ZeekState()
        if not sender_is_orig:
            self.zeek.flip()
        self.irtt: float | None = None
        """Wireshark's iRTT: the last SYN to the first segment with ACK and without SYN."""
        self.rtt_syn_synack: float | None = None
        self.rtt_synack_ack: float | None = None
        self.mru_syn = self.mru_synack = -1.0
        self.closed_by = self.rst_by = self.rst_state = self.end_kind = ""
        self.illegal: dict[str, int] | None = None
        self.ring: deque[Segment] | None = None
        self.special: list[Segment] | None = None
        self.steady = False
        """Both endpoints ESTABLISHED: a plain ACK segment needs no state work."""
        self.superseded = False
        """A newer flow took over the 4-tuple (port reuse); no more segments come here."""
        self.proc_orig: str | None = None
        self.proc_resp: str | None = None
        self.pid_orig: int | None = None
        self.pid_resp: int | None = None

    @property
    def transitions(self) -> list[Transition]:
        """Every endpoint state change (bounded): the data behind the ladder."""
        return transitions(self.moves)

    @property
    def uid(self) -> str:
        """Zeek-style connection uid, deterministic from the flow id."""
        return _uid(self.id)

    @property
    def state_orig(self) -> str:
        """The originator's RFC 9293 state."""
        return self.orig.state

    @property
    def state_resp(self) -> str:
        """The responder's RFC 9293 state."""
        return self.resp.state

    @property
    def history(self) -> str:
        """Zeek's history string (so far)."""
        return self.zeek.history

    @property
    def conn_state(self) -> str:
        """Zeek's conn_state (provisional while the connection is open)."""
        return self.zeek.conn_state()

    @property
    def closed(self) -> bool:
        """An RST was seen, or a FIN from both sides."""
        return bool(self.rst_by) or (self.orig.fin_seq >= 0 and self.resp.fin_seq >= 0)

    @property
    def close_kind(self) -> str:
        """How the connection ended (see the module docstring)."""
        if self.end_kind:
            return self.end_kind
        return "half-closed" if self.closed_by else ""

    @property
    def syn_retries(self) -> int:
        """Retransmissions of the originator's SYN (same ISN)."""
        times = self.orig.syn_times
        return len(times) - 1 if times else 0

    @property
    def syn_retry_gaps(self) -> list[float]:
        """Seconds between successive SYNs of the originator (1, 2, 4 ... on Linux)."""
        return _gaps(self.orig.syn_times)

    @property
    def synack_retries(self) -> int:
        """Retransmissions of the responder's SYN/ACK."""
        times = self.resp.synack_times
        return len(times) - 1 if times else 0

    @property
    def synack_retry_gaps(self) -> list[float]:
        """Seconds between successive SYN/ACKs of the responder."""
        return _gaps(self.resp.synack_times)

    @property
    def sack_perm(self) -> bool | None:
        """SACK permitted by every SYN seen (both sides: negotiated); None without a SYN."""
        return _both(self.orig.sack_perm, self.resp.sack_perm)

    @property
    def timestamps(self) -> bool | None:
        """Timestamps option on every SYN seen (both sides: in use); None without a SYN."""
        return _both(self.orig.timestamps, self.resp.timestamps)

    @property
    def time_wait_by(self) -> str:
        """Who entered TIME_WAIT: "orig", "resp", "both" or ""."""
        sides = {t.side for t in self.transitions if t.new == TIME_WAIT}
        if len(sides) == 2:
            return "both"
        return sides.pop() if sides else ""

    def frames(self) -> list[Segment]:
        """The kept segments in capture order: the recent ring plus handshake and teardown."""
        kept: dict[int, Segment] = {}
        for seq in (self.special, self.ring):
            if seq:
                for seg in seq:
                    kept[seg.frame_no] = seg
        return [kept[n] for n in sorted(kept)]

    def record(self) -> dict[str, Any]:
        """The export record (Zeek's field names where Zeek has them)."""
        o, r, z = self.orig, self.resp, self.zeek
        return {
            "ts": self.first_ts, "uid": self.uid,
            "orig_h": addr_str(self.orig_addr), "orig_p": self.orig_port,
            "resp_h": addr_str(self.resp_addr), "resp_p": self.resp_port,
            "duration": round(self.last_ts - self.first_ts, 9),
            "orig_pkts": o.pkts, "resp_pkts": r.pkts,
            "orig_bytes": z.orig_bytes, "resp_bytes": z.resp_bytes,
            "orig_ip_bytes": o.ip_bytes, "resp_ip_bytes": r.ip_bytes,
            "conn_state": z.conn_state(), "history": z.history,
            "state_orig": o.state, "state_resp": r.state,
            "flags_orig": o.flags, "flags_resp": r.flags,
            "payload_orig": o.payload, "payload_resp": r.payload,
            "isn_orig": o.isn, "isn_resp": r.isn, "mss_orig": o.mss, "mss_resp": r.mss,
            "wscale_orig": o.wscale, "wscale_resp": r.wscale,
            "sack_perm": self.sack_perm, "timestamps": self.timestamps,
            "irtt": _r(self.irtt), "rtt_syn_synack": _r(self.rtt_syn_synack),
            "rtt_synack_ack": _r(self.rtt_synack_ack),
            "syn_retries": self.syn_retries, "syn_retry_gaps": self.syn_retry_gaps,
            "retrans_orig": o.retrans, "retrans_resp": r.retrans,
            "zero_window": o.zero_window + r.zero_window,
            "closed_by": self.closed_by, "close_kind": self.close_kind,
            "illegal_flags": dict(self.illegal) if self.illegal else {},
            "direction_inferred": self.direction_inferred, "vlan": list(self.vlan),
            "pid_orig": self.pid_orig, "pid_resp": self.pid_resp,
            "proc_orig": self.proc_orig, "proc_resp": self.proc_resp,
        }  # fmt: skip

    def __repr__(self) -> str:
        return (
            f"Flow(#{self.id} {addr_str(self.orig_addr)}:{self.orig_port} > "
            f"{addr_str(self.resp_addr)}:{self.resp_port} {self.orig.state}/{self.resp.state})"
        )


def _both(a: bool | None, b: bool | None) -> bool | None:
    if a is None:
        return b
    return a if b is None else a and b
