"""The per-flow facts the insight rules read, taken once from a tracker `Flow`.

Reading a `Flow` goes through here only, so the rules stay independent of how the tracker stores
its counters. Facts the tracker does not keep (an RST carrying data, a SYN/ACK acknowledging the
wrong number, a zero window still closed at the end) are taken from the flow's kept frames when
there are any; headless runs keep none, and then those facts are simply unknown (None).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from capture.segment import ACK, FIN, PSH, RST, SYN, URG, Segment

# What a flow looks like to the scan and flood rules.
DATA = "data"  # payload went one way or the other: a real exchange
REFUSED = "refused"  # SYN answered by RST (Zeek REJ)
SILENT = "silent"  # SYN(s) and nothing back (S0, or SYN then the scanner's own RST/FIN)
HALF_OPEN = "half_open"  # SYN/ACK came back, the originator never completed the handshake
OPENED = "opened"  # handshake completed, no data: a connect() probe or an idle connection
ODD = "odd"  # the originator started with something other than a SYN, or illegal flags
OTHER = "other"

_ILLEGAL_NAMES = {
    SYN | FIN: "SYN+FIN",
    SYN | RST: "SYN+RST",
    FIN | RST: "FIN+RST",
    FIN | PSH | URG: "xmas",
    0: "null",
}


@dataclass(slots=True)
class FlowFacts:
    """A flat copy of what the rules need from one flow."""

    flow: Any
    """The tracker's flow (read lazily for what only findings need: uid, frame numbers)."""
    id: int
    orig_addr: bytes
    orig_port: int
    resp_addr: bytes
    resp_port: int
    vlan: tuple[int, ...]
    first_ts: float
    last_ts: float
    conn_state: str
    history: str
    state_orig: str
    state_resp: str
    orig_pkts: int
    resp_pkts: int
    orig_payload: int
    resp_payload: int
    orig_flags: dict[str, int]
    resp_flags: dict[str, int]
    syn_retries: int
    syn_retry_gaps: list[float]
    irtt: float | None
    retrans_orig: int
    retrans_resp: int
    zero_window_orig: int
    zero_window_resp: int
    wscale_orig: int | None
    wscale_resp: int | None
    closed_by: str | None
    close_kind: str | None
    illegal: list[tuple[int, str]] = field(default_factory=list)
    """(frame number or 0 when unknown, combination name) per illegal segment seen."""
    frame_first: int = -1
    """Set from kept frames; -1 = take it from the transitions when asked."""
    rst_data: list[int] | None = None
    """Frames of RSTs carrying payload; None when unknown (no kept frames)."""
    syn_data: list[int] | None = None
    """Frames of SYNs (without ACK) carrying payload; None when unknown."""
    bad_synack: list[int] | None = None
    """Frames of SYN/ACKs whose ack is not the SYN's ISN + 1; None when unknown."""
    zero_window_end: dict[str, bool] = field(default_factory=dict)
    """Per side (`orig`/`resp`): its last advertised window was zero (the engine tracks it
    for every segment, kept or not)."""
    tfo: bool = False
    rst_by: str = ""
    """Who sent the first RST (`orig`/`resp`), and in which of its states."""
    rst_state: str = ""
    synack_retries: int = 0
    category: str = OTHER

    @property
    def uid(self) -> str:
        """The flow's Zeek-style uid (computed only for flows a finding names)."""
        return str(self.flow.uid)

    @property
    def first_frame(self) -> int:
        """The flow's first frame number (kept frames, or its first state change); 0 unknown."""
        if self.frame_first < 0:
            moves = getattr(self.flow, "transitions", None) or ()
            self.frame_first = moves[0].frame_no if moves else 0
        return self.frame_first

    @property
    def rst_frames(self) -> list[int]:
        """Frames where an endpoint moved to CLOSED (the resets, in a refusal)."""
        moves = getattr(self.flow, "transitions", None) or ()
        return [t.frame_no for t in moves if t.new == "CLOSED"]


FLAG_KEYS: tuple[str, ...] = ("syn", "synack", "fin", "rst", "psh", "urg", "ece", "cwr", "ack")


def _flags(side: Any) -> dict[str, int]:
    """Segments per flag from `side` (the tracker's `flags` dict, or an object with counts)."""
    flags = side.flags
    if isinstance(flags, dict) and len(flags) == len(FLAG_KEYS):
        return flags  # the tracker builds a fresh dict per call: no copy needed
    return {n: int(getattr(flags, n, 0) or 0) for n in FLAG_KEYS}


def illegal_name(flags: int) -> str:
    """A name for an illegal flag combination: `SYN+FIN`, `xmas`, `null` ..."""
    low = flags & 0x3F
    if low in _ILLEGAL_NAMES:
        return _ILLEGAL_NAMES[low]
    for bits, name in (
        ((SYN | FIN), "SYN+FIN"),
        ((SYN | RST), "SYN+RST"),
        ((FIN | RST), "FIN+RST"),
    ):
        if low & bits == bits:
            return name
    return f"flags 0x{flags:03x}"


_NAMES_BY_KEY = {"syn+fin": "SYN+FIN", "syn+rst": "SYN+RST", "fin+rst": "FIN+RST"}


def _illegal(flow: Any) -> list[tuple[int, str]]:
    """The tracker's illegal-flag record, whatever its shape (count, flag ints, tuples, names)."""
    raw = getattr(flow, "illegal_flags", None) or getattr(flow, "illegal", None)
    if not raw:
        return []
    if isinstance(raw, int):
        return [(0, "illegal")] * raw
    if isinstance(raw, dict):
        return [(0, _NAMES_BY_KEY.get(k, str(k))) for k, n in raw.items() for _ in range(n)]
    return [_illegal_item(item) for item in raw]


def _illegal_item(item: Any) -> tuple[int, str]:
    if isinstance(item, tuple | list) and len(item) >= 2:
        frame_no, what = item[0], item[-1]
        name = illegal_name(what) if isinstance(what, int) else str(what)
        return (int(frame_no) if isinstance(frame_no, int) else 0, name)
    if isinstance(item, int):
        return (0, illegal_name(item))
    return (0, str(item))


def facts_of(flow: Any) -> FlowFacts:
    """Copy `flow`'s facts (cheap: attribute reads, plus a pass over its kept frames if any)."""
    o, r = flow.orig, flow.resp
    ff = FlowFacts(
        flow=flow,
        id=flow.id,
        orig_addr=flow.orig_addr,
        orig_port=flow.orig_port,
        resp_addr=flow.resp_addr,
        resp_port=flow.resp_port,
        vlan=tuple(flow.vlan or ()),
        first_ts=flow.first_ts,
        last_ts=flow.last_ts,
        conn_state=flow.conn_state or "",
        history=(flow.history or "").lstrip("^"),
        state_orig=flow.state_orig,
        state_resp=flow.state_resp,
        orig_pkts=o.pkts,
        resp_pkts=r.pkts,
        orig_payload=o.payload,
        resp_payload=r.payload,
        orig_flags=_flags(o),
        resp_flags=_flags(r),
        syn_retries=flow.syn_retries or 0,
        syn_retry_gaps=list(flow.syn_retry_gaps or ()),
        irtt=flow.irtt,
        retrans_orig=o.retrans or 0,
        retrans_resp=r.retrans or 0,
        zero_window_orig=o.zero_window or 0,
        zero_window_resp=r.zero_window or 0,
        wscale_orig=o.wscale,
        wscale_resp=r.wscale,
        closed_by=flow.closed_by,
        close_kind=flow.close_kind,
        illegal=_illegal(flow),
        tfo=bool(o.tfo),
        rst_by=getattr(flow, "rst_by", "") or "",
        rst_state=getattr(flow, "rst_state", "") or "",
        synack_retries=getattr(flow, "synack_retries", 0) or 0,
    )
    if getattr(o, "syn_data", 0) or getattr(r, "syn_data", 0):
        ff.syn_data = [0]  # the frame is known only from kept frames
    ff.zero_window_end = {"orig": o.zero_window_open, "resp": r.zero_window_open}
    frames = flow.frames()
    if frames:
        _from_frames(ff, frames, flow.orig_addr, flow.orig_port)
    ff.category = categorise(ff)
    return ff


class FactsCache:
    """The facts of the last analysis, reused for flows that have not changed since.

    A flow changes only by a new segment, which moves its last-seen time or a packet count; a
    flow that left the tracker drops out. A live view analysing tens of thousands of flows every
    few seconds then pays for the few that moved, not for all of them (~50 us a flow).
    """

    def __init__(self) -> None:
        self._by_id: dict[int, tuple[tuple[float, int, int], FlowFacts]] = {}
        self.reused = 0
        """Facts reused by the last `facts_of_all` call (for tests and benchmarks)."""

    def facts_of_all(self, flows: Iterable[Any]) -> list[FlowFacts]:
        """`facts_of` each flow, through the cache."""
        old, new = self._by_id, {}
        out = []
        reused = 0
        for flow in flows:
            mark = (flow.last_ts, flow.orig.pkts, flow.resp.pkts)
            hit = old.get(flow.id)
            if hit is not None and hit[0] == mark and hit[1].flow is flow:
                ff = hit[1]
                reused += 1
            else:
                ff = facts_of(flow)
            new[flow.id] = (mark, ff)
            out.append(ff)
        self._by_id, self.reused = new, reused
        return out


def _from_frames(ff: FlowFacts, frames: list[Segment], orig_addr: bytes, orig_port: int) -> None:
    """Facts only the segments show (done where frames are kept: the TUI, tests)."""
    ff.rst_data, ff.syn_data, ff.bad_synack = [], [], []
    isn_orig: int | None = None
    syn_len = 0
    ff.frame_first = frames[0].frame_no
    for seg in frames:
        side = "orig" if (seg.src == orig_addr and seg.sport == orig_port) else "resp"
        flags = seg.flags
        if flags & RST and seg.payload_len:
            ff.rst_data.append(seg.frame_no)
        if flags & SYN and seg.payload_len:
            ff.syn_data.append(seg.frame_no)
        if flags & SYN and not flags & ACK:
            if side == "orig" and isn_orig is None:
                isn_orig, syn_len = seg.seq, seg.payload_len
        elif (
            flags & SYN
            and side == "resp"
            and isn_orig is not None
            and _bad_ack(seg, isn_orig, syn_len)
        ):
            ff.bad_synack.append(seg.frame_no)


def _bad_ack(seg: Segment, isn: int, syn_len: int) -> bool:
    # A SYN/ACK acknowledges ISN+1, or ISN+1+data when it takes the SYN's data (TFO).
    return (seg.ack - isn - 1) & 0xFFFFFFFF not in (0, syn_len)


def categorise(ff: FlowFacts) -> str:
    """What the flow looks like to the scan and flood rules (DATA, REFUSED, SILENT ...)."""
    if ff.orig_payload or ff.resp_payload:
        return DATA
    of, rf = ff.orig_flags, ff.resp_flags
    # Zeek's REJ misses refusals whose segments it distrusts (bad checksums): count them here too.
    if ff.conn_state == "REJ" or (of["syn"] and not rf["synack"] and ff.rst_by == "resp"):
        return REFUSED
    if ff.illegal or (ff.orig_pkts and not of["syn"] and not rf["synack"] and not of["synack"]):
        return ODD
    if rf["synack"] and of["syn"]:
        # An ACK that is not just the ACK bit of the originator's own reset completes it.
        return OPENED if of["ack"] > of["rst"] else HALF_OPEN
    if of["syn"] and not ff.resp_pkts:
        return SILENT
    return OTHER
