"""Flows: one TCP connection each, built from segments by `FlowTracker.ingest`.

Identity is the 4-tuple plus the VLAN ids. The flow key is a canonical tuple (the lower
address/port pair first), so both directions find the flow with one dict lookup: on CPython 3.11
building and looking up that tuple costs ~140 ns, a packed bytes key ~260 ns.

The originator is the sender of the first SYN (SYN without ACK). Without one the orientation is
inferred (`direction_inferred`): a SYN/ACK's sender is the responder; else an endpoint in
`FlowTracker.listen_ports` (live mode: our listening sockets) is the responder; else the first
packet's sender is the originator, unless Zeek would flip it (`capture.zeek.initial_flip`).

A SYN whose sequence number differs from the one its sender used first on the 4-tuple (its ISN,
or Wireshark's base guess: its first seq - 1, or the peer's first ack - 1) starts a new flow, as
Wireshark's `tcp.stream` does: port reuse after a close or from TIME_WAIT, or a new attempt after
an abandoned one. A SYN retransmission (same ISN) stays in its flow.

Teardown (`close_kind`), decided by the FINs and the first RST:
  ""             neither FIN nor RST seen
  "half-closed"  one side sent a FIN, the other neither FIN nor RST (yet, or by the end)
  "fin-4way"     the second FIN came after its sender had acknowledged the first FIN
  "fin-3way"     the second FIN's own segment is what first acknowledged the first FIN (FIN/ACK)
  "simultaneous" the second FIN did not acknowledge the first (both sides closed at once)
  "rst"          an RST came before any FIN
  "fin-then-rst" an RST came after one side's FIN, before the other side's
An RST after both FINs leaves the FIN kind.

Measures, per direction: a retransmission is a segment carrying data, SYN or FIN that starts below
the highest sequence number its sender has sent (modulo 2**32; a 1-byte keep-alive excepted), so
it matches tshark's retransmissions plus its out-of-order segments; a zero-window segment has
window 0 and none of SYN, FIN, RST (tshark's rule). `irtt` is tshark's: from the most recent SYN to
the first segment with ACK and without SYN, in either direction.

The tracker never reads a clock: all time comes from the segments.
"""

from __future__ import annotations

import hashlib
import heapq
import struct
from collections import deque
from collections.abc import Callable
from typing import Any

from capture import zeek
from capture.segment import (
    ACK,
    CWR,
    ECE,
    FIN,
    PSH,
    RST,
    SYN,
    URG,
    Segment,
    addr_str,
    syn_options,
)
from capture.tcpstate import (
    ESTABLISHED,
    HALF,
    MASK,
    MAX_TRANSITIONS,
    TIME_WAIT,
    UNKNOWN,
    Endpoint,
    Transition,
    advance_into,
    append_log,
    seq_ge,
    transitions,
)

KEEP_SPECIAL = 32
"""Segments that moved an endpoint (handshake, teardown) always kept per flow, at most."""
FRAME_BUDGET = 250_000
"""Segments kept in all the flows' rings together, by default (~1 KB each with its frame)."""
KEEP_TIMES = 16
"""SYN (or SYN/ACK) times kept per side: the first and its retries."""
_LOG_ROOM = (MAX_TRANSITIONS - 1) * 16
"""Below this length a flow's transition log has room for one more 16-byte record."""
_PORTS = struct.Struct("!HH")
_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

FlowKey = tuple[bytes, bytes, int, int, tuple[int, ...]]
ListenPorts = set[Any]
"""Members are port ints or (address bytes, port) tuples."""


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


class FlowTracker:
    """Turns segments into flows. Pure: all time comes from the segments.

    `max_flows` caps the flows tracked (closed and superseded flows are evicted first, then the
    longest idle; `evicted` counts them, `on_evict(flow)` is called with each as it goes).
    `frames_per_flow` is the ring of recent segments kept per flow; 0 keeps no segments at all.

    `frame_budget` caps the segments kept in all the rings together: past it, the rings of the
    flows idle longest are emptied first (their handshake and teardown segments stay), down to
    three quarters of the budget. `kept` is the count now.

    `linger` (seconds of capture time, None = never): a flow that has closed (RST, or FIN both
    ways) or was superseded, and has seen no segment for `linger` seconds, is let go early: handed
    to `on_evict` and forgotten (counted in `released`, not in `evicted`). A headless export uses
    it so that memory follows the open flows, not all flows. A segment that still comes for such
    a flow afterwards starts a new flow (as after an eviction); a new SYN would have anyway.
    """

    def __init__(
        self,
        max_flows: int = 100_000,
        frames_per_flow: int = 64,
        on_evict: Callable[[Flow], None] | None = None,
        linger: float | None = None,
        frame_budget: int = FRAME_BUDGET,
    ) -> None:
        self.max_flows = max(1, max_flows)
        self.frames_per_flow = max(0, frames_per_flow)
        self.frame_budget = max(1, frame_budget)
        self.kept = 0
        """Segments held in the flows' recent rings now (not counting handshake/teardown)."""
        self.on_evict = on_evict
        self.linger = linger
        self.released = 0
        """Flows let go early (see `linger`)."""
        # Flows that closed, with the time they were last seen then, roughly in time order.
        self._closing: deque[tuple[float, Flow]] = deque()
        self.flows: dict[int, Flow] = {}
        """Tracked flows by id (in id order)."""
        self.listen_ports: ListenPorts = set()
        """Live mode: our listening endpoints (port, or (address bytes, port)); they respond."""
        self.evicted = 0
        self.finished = False
        self._by_key: dict[FlowKey, Flow] = {}
        # Eviction order, built at the first eviction (a tracker under its cap keeps none): heaps
        # of (last seen, id), one for the open flows and one for the closed or superseded ones.
        # An entry is refreshed only when it comes to the top, so a touch costs nothing here.
        self._open_heap: list[tuple[float, int]] | None = None
        self._done_heap: list[tuple[float, int]] = []
        # None until the first take_changed(): a headless run that never asks keeps no ids.
        self._changed: set[int] | None = None
        self._next_id = 1
        self.raw_index: dict[bytes, tuple[Flow, bool]] | None = None
        """Steady untagged flows by raw key, both directions (see `index_raw`); None when off."""

    def index_raw(self) -> dict[bytes, tuple[Flow, bool]]:
        """Start (or return) `raw_index`: every steady flow without VLAN tags under the bytes a
        frame carries for it, source address + destination address + source port + destination
        port (network order), mapped to (flow, whether that source is the originator). A reader
        that finds a frame's flow there may skip decoding it (`steady_update`)."""
        if self.raw_index is None:
            self.raw_index = {}
            for flow in self.flows.values():
                if flow.steady and not flow.superseded:
                    self._reindex(flow, True)
        return self.raw_index

    def _reindex(self, flow: Flow, steady: bool) -> None:
        index = self.raw_index
        if index is None or flow.vlan:
            return
        forward = flow.orig_addr + flow.resp_addr + _PORTS.pack(flow.orig_port, flow.resp_port)
        backward = flow.resp_addr + flow.orig_addr + _PORTS.pack(flow.resp_port, flow.orig_port)
        if forward == backward:
            return  # a flow from an endpoint to itself: the bytes cannot tell the direction
        if steady:
            index[forward] = (flow, True)
            index[backward] = (flow, False)
        else:
            for key in (forward, backward):
                if index.get(key, (None,))[0] is flow:
                    del index[key]

    @property
    def flow_count(self) -> int:
        """Every flow ever started, tracked or evicted."""
        return self._next_id - 1

    def ingest(self, seg: Segment) -> Flow:
        """Account for one segment; return the flow it belongs to."""
        # The common case, kept to a few attribute reads: a segment with ACK and no SYN, FIN or
        # RST on a flow whose endpoints are both ESTABLISHED. Everything else goes to `_ingest`.
        src = seg.src
        dst = seg.dst
        if src < dst or (src == dst and seg.sport <= seg.dport):
            flow = self._by_key.get((src, dst, seg.sport, seg.dport, seg.vlan))
            low = True
        else:
            flow = self._by_key.get((dst, src, seg.dport, seg.sport, seg.vlan))
            low = False
        flags = seg.flags
        if flow is None or flags & (SYN | FIN | RST | ACK) != ACK or not flow.steady:
            return self._ingest(seg, flow, low)
        is_orig = low == flow.orig_low
        ts, plen, seq, window = seg.ts, seg.payload_len, seg.seq, seg.window
        zeek_state = flow.zeek
        if (
            seg.bad_opts
            or seg.truncated
            or not zeek_state.plain(is_orig, ts, flags, plen, window, seq, seg.ack)
        ):
            zeek_state.update(is_orig, seg)
        _count_plain(flow.orig if is_orig else flow.resp, seg.ip_len, plen, seq, flags, window)
        flow.last_ts = ts
        if self.frames_per_flow:
            self._keep(flow, seg)
        changed = self._changed
        if changed is not None:
            changed.add(flow.id)
        return flow

    def _ingest(self, seg: Segment, flow: Flow | None, low: bool) -> Flow:
        """`ingest` for a new flow, a SYN, FIN or RST, or an unsettled flow."""
        flags = seg.flags
        if flow is None:
            flow = self._new_flow(seg, low)
            is_orig = low == flow.orig_low
        else:
            is_orig = low == flow.orig_low
            if flags & (SYN | ACK) == SYN:
                base = flow.orig.base if is_orig else flow.resp.base
                if base >= 0 and seg.seq != base:
                    flow.superseded = True
                    if flow.steady:
                        flow.steady = False
                        self._reindex(flow, False)
                    if not flow.closed:
                        self._watch_close(flow)
                    flow = self._new_flow(seg, low)
                    is_orig = True
        if is_orig:
            snd, rcv = flow.orig, flow.resp
        else:
            snd, rcv = flow.resp, flow.orig
        snd.pkts += 1
        snd.ip_bytes += seg.ip_len
        plen = seg.payload_len
        snd.payload += plen
        if flags & PSH:
            snd.psh += 1
        if flags & (URG | ECE | CWR):
            _count_rare(snd, flags)
        flow.last_ts = seg.ts
        if plen or flags & (SYN | FIN):
            _seq_space(snd, seg.seq, plen, flags)
        if not seg.window and not flags & (SYN | FIN | RST):
            snd.zero_window += 1
        self._slow(flow, snd, rcv, seg, is_orig)
        flow.zeek.update(is_orig, seg)
        if self.frames_per_flow:
            self._keep(flow, seg)
        changed = self._changed
        if changed is not None:
            changed.add(flow.id)
        return flow

    def _keep(self, flow: Flow, seg: Segment) -> None:
        ring = flow.ring
        size = self.frames_per_flow
        if ring is None or ring.maxlen != size:
            held = len(ring) if ring else 0
            ring = flow.ring = deque(ring or (), maxlen=size)
            self.kept += len(ring) - held
        if len(ring) < size:
            self.kept += 1
            if self.kept > self.frame_budget:
                ring.append(seg)
                self._trim_rings()
                return
        ring.append(seg)

    def _trim_rings(self) -> None:
        """Empty the rings of the idlest flows until the kept segments are 3/4 of the budget."""
        goal = self.frame_budget * 3 // 4
        with_rings = [f for f in self.flows.values() if f.ring]
        with_rings.sort(key=_last_seen)
        for flow in with_rings:
            if self.kept <= goal:
                break
            self.kept -= len(flow.ring or ())
            flow.ring = None

    def _forget(self, flow: Flow) -> None:
        """Remove a flow that leaves the tracker (evicted or released)."""
        del self.flows[flow.id]
        if self._by_key.get(flow.key) is flow:
            del self._by_key[flow.key]
        if flow.steady and self.raw_index is not None:
            self._reindex(flow, False)
        if flow.ring:
            self.kept -= len(flow.ring)

    @property
    def watching_changes(self) -> bool:
        """Whether `take_changed` has been called: the tracker then notes every changed flow."""
        return self._changed is not None

    def take_changed(self) -> set[int]:
        """Ids of the flows changed (or evicted) since the last call; the first call: all flows."""
        out, self._changed = self._changed, set()
        return set(self.flows) if out is None else out

    def finish(self) -> None:
        """End of input: nothing more will come, every flow's state is final."""
        self.finished = True
        if self._changed is not None:
            self._changed.update(self.flows)

    def all_flows(self) -> list[Flow]:
        """The tracked flows in id order."""
        return list(self.flows.values())

    def _new_flow(self, seg: Segment, low: bool) -> Flow:
        if low:
            key = (seg.src, seg.dst, seg.sport, seg.dport, seg.vlan)
        else:
            key = (seg.dst, seg.src, seg.dport, seg.sport, seg.vlan)
        closing = self._closing
        if closing and closing[0][0] <= seg.ts:
            self._release(seg.ts)
        if len(self.flows) >= self.max_flows:
            self._evict()
        fid = self._next_id
        self._next_id += 1
        flow = Flow(fid, key, seg, self._sender_is_orig(seg))
        self.flows[fid] = flow
        self._by_key[key] = flow
        heap = self._open_heap
        if heap is not None:
            heapq.heappush(heap, (flow.last_ts, fid))
            if len(heap) + len(self._done_heap) > 2 * len(self.flows) + 1024:
                self._build_order()  # mostly entries of flows let go: start afresh
        return flow

    def _sender_is_orig(self, seg: Segment) -> bool:
        """Orientation from a flow's first segment (see the module docstring)."""
        syn_ack = seg.flags & (SYN | ACK)
        if syn_ack == SYN:
            return True
        if syn_ack == SYN | ACK:
            return False
        ports = self.listen_ports
        if ports:
            if seg.dport in ports or (seg.dst, seg.dport) in ports:
                return True
            if seg.sport in ports or (seg.src, seg.sport) in ports:
                return False
        return not zeek.initial_flip(seg)

    def _evict(self) -> None:
        # Evict a batch (1/64 of the cap): closed and superseded flows first, then the longest
        # idle, ties in id order.
        if self._open_heap is None:
            self._build_order()
        for _ in range(max(1, self.max_flows // 64)):
            flow = self._victim()
            if flow is None:
                break
            self._forget(flow)
            self.evicted += 1
            if self._changed is not None:
                self._changed.add(flow.id)
            if self.on_evict is not None:
                self.on_evict(flow)

    def _build_order(self) -> None:
        """The eviction heaps over every tracked flow (once, at the first eviction)."""
        done: list[tuple[float, int]] = []
        live: list[tuple[float, int]] = []
        for fid, flow in self.flows.items():
            (done if flow.closed or flow.superseded else live).append((flow.last_ts, fid))
        heapq.heapify(done)
        heapq.heapify(live)
        self._done_heap, self._open_heap = done, live

    def _victim(self) -> Flow | None:
        """The next flow to evict, or None when none is tracked.

        An entry's time is the flow's last-seen time when it was pushed; a flow seen since is
        pushed back with its new time when its entry reaches the top. Entries of flows already
        gone, or (in the open heap) closed since, are dropped there.
        """
        flows = self.flows
        for heap in (self._done_heap, self._open_heap or []):
            while heap:
                ts, fid = heap[0]
                flow = flows.get(fid)
                if flow is None or (
                    heap is not self._done_heap and (flow.closed or flow.superseded)
                ):
                    heapq.heappop(heap)
                elif flow.last_ts != ts:
                    heapq.heapreplace(heap, (flow.last_ts, fid))
                else:
                    heapq.heappop(heap)
                    return flow
        return None

    def _release(self, now: float) -> None:
        """Let go of the closed flows idle for `linger` seconds (see the class docstring)."""
        closing = self._closing
        linger = self.linger or 0.0
        while closing and closing[0][0] <= now:
            _, flow = closing.popleft()
            if flow.id not in self.flows:
                continue  # evicted meanwhile
            due = flow.last_ts + linger
            if due > now:
                closing.append((due, flow))  # seen again since: look again later
                continue
            self._forget(flow)
            self.released += 1
            if self._changed is not None:
                self._changed.add(flow.id)
            if self.on_evict is not None:
                self.on_evict(flow)

    def _watch_close(self, flow: Flow) -> None:
        """Queue a flow that just closed (or was superseded) for release after `linger`."""
        if self.linger is not None:
            self._closing.append((flow.last_ts + self.linger, flow))
        if self._open_heap is not None:
            heapq.heappush(self._done_heap, (flow.last_ts, flow.id))

    def _slow(self, flow: Flow, snd: Side, rcv: Side, seg: Segment, is_orig: bool) -> None:
        """Everything a handshake, teardown or unsettled flow needs, off the common path."""
        flags = seg.flags
        open_before = bool(flags & (FIN | RST)) and not flow.closed
        if snd.base < 0:
            snd.base = seg.seq if flags & SYN else (seg.seq - 1) & MASK
        if flags & ACK:
            if rcv.base < 0:
                rcv.base = (seg.ack - 1) & MASK
        else:
            snd.noack += 1
        if _ILLEGAL[flags & 0x1FF]:
            _check_illegal(flow, flags)
        if flags & SYN:
            _on_syn(flow, snd, seg, is_orig)
        elif flags & ACK and (flow.irtt is None or (is_orig and flow.rtt_synack_ack is None)):
            _on_ack(flow, seg, is_orig)
        if flags & FIN:
            _on_fin(flow, snd, rcv, seg)
        if flags & RST:
            _on_rst(flow, snd)
        out: list[bytes] = []
        advance_into(snd, rcv, seg, out)
        moved = bool(out)
        if out:
            log = flow.moves
            if len(out) == 1 and len(log) < _LOG_ROOM:
                flow.moves = log + out[0]  # the usual case: one record, room left
            else:
                flow.moves = append_log(log, b"".join(out))
        if open_before and flow.closed:
            self._watch_close(flow)
        if self.frames_per_flow and (flags & (SYN | FIN | RST) or moved):
            special = flow.special
            if special is None:
                special = flow.special = []
            if len(special) < KEEP_SPECIAL:
                special.append(seg)
        steady = (
            flow.orig.state == ESTABLISHED
            and flow.resp.state == ESTABLISHED
            and (flow.irtt is not None or flow.mru_syn < 0)
            and (flow.rtt_synack_ack is not None or flow.mru_synack < 0)
        )
        if steady != flow.steady:
            flow.steady = steady
            if self.raw_index is not None:
                self._reindex(flow, steady)


def _last_seen(flow: Flow) -> float:
    return flow.last_ts


def _count_rare(snd: Side, flags: int) -> None:
    if flags & URG:
        snd.urg += 1
    if flags & ECE:
        snd.ece += 1
    if flags & CWR:
        snd.cwr += 1


def _count_plain(snd: Side, ip_len: int, plen: int, seq: int, flags: int, window: int) -> None:
    """The sender's counters for a segment with ACK and none of SYN, FIN, RST."""
    snd.pkts += 1
    snd.ip_bytes += ip_len
    if plen:
        snd.payload += plen
        if seq == snd.hi:  # in order: the usual case
            snd.hi = (seq + plen) & MASK
        else:
            _seq_space(snd, seq, plen, flags)
    if flags & (PSH | URG | ECE | CWR):
        if flags & PSH:
            snd.psh += 1
        if flags & (URG | ECE | CWR):
            _count_rare(snd, flags)
    if not window:
        snd.zero_window += 1


def steady_update(
    flow: Flow,
    is_orig: bool,
    ts: float,
    ip_len: int,
    plen: int,
    seq: int,
    ack: int,
    flags: int,
    window: int,
) -> bool:
    """`FlowTracker.ingest` of a steady flow's common segment, from its numbers alone.

    For a segment captured whole, with a sound header, ACK and none of SYN, FIN, RST, on a flow
    found through `FlowTracker.raw_index` (so `flow.steady`). False, with nothing changed, when
    Zeek's bookkeeping needs the whole segment: then decode it and give it to `ingest`.
    The caller keeps no frame (a tracker with `frames_per_flow` 0) and marks the flow changed.
    """
    if not flow.zeek.plain(is_orig, ts, flags, plen, window, seq, ack):
        return False
    _count_plain(flow.orig if is_orig else flow.resp, ip_len, plen, seq, flags, window)
    flow.last_ts = ts
    return True


def _seq_space(snd: Side, seq: int, plen: int, flags: int) -> None:
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
_ILLEGAL = tuple(_illegal_names(flags) for flags in range(0x200))


def _check_illegal(flow: Flow, flags: int) -> None:
    found = _ILLEGAL[flags & 0x1FF]
    if found:
        counts = flow.illegal
        if counts is None:
            counts = flow.illegal = {}
        for name in found:
            counts[name] = counts.get(name, 0) + 1


def _on_syn(flow: Flow, snd: Side, seg: Segment, is_orig: bool) -> None:
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


def _on_ack(flow: Flow, seg: Segment, is_orig: bool) -> None:
    """A segment with ACK and without SYN: it may complete the handshake."""
    # Wireshark: the first such segment after a SYN, in either direction, whatever else it has.
    if flow.irtt is None and flow.mru_syn >= 0:
        flow.irtt = seg.ts - flow.mru_syn
    if is_orig and flow.rtt_synack_ack is None and flow.mru_synack >= 0:
        flow.rtt_synack_ack = seg.ts - flow.mru_synack


def _on_fin(flow: Flow, snd: Side, rcv: Side, seg: Segment) -> None:
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


def _on_rst(flow: Flow, snd: Side) -> None:
    snd.rst += 1
    if flow.rst_by:
        return
    flow.rst_by, flow.rst_state = snd.side, snd.state
    if not flow.closed_by:
        flow.closed_by = snd.side
    if not flow.end_kind:
        fins = flow.orig.fin_seq >= 0 or flow.resp.fin_seq >= 0
        flow.end_kind = "fin-then-rst" if fins else "rst"
