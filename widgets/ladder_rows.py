"""The rows of the state-timeline ladder, built from a `Flow` as plain data (no Textual here).

One `LadderRow` per kept segment, in capture order: its direction, flags, sequence numbers (both
absolute and relative to each direction's base, the engine's, as `--print` counts), length,
window, the options of SYNs, the time since the previous segment, each endpoint's state
transitions at that frame, and marks for what deserves attention: illegal flag combinations, SYN
retries with their gaps, and the engine's Wireshark-style TCP analysis tags (`[Dup ACK #1]`,
`[Fast Retransmission]`, `[ZeroWindow]` …, `capture.tcp_analysis`). Where the tracker did not
keep frames (its per-flow ring), a row says how many are missing. `annotate` adds the teaching
notes (ISN, ISN+1, FIN takes a sequence number, TIME_WAIT).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from capture import tcp_analysis
from capture.segment import (
    ACK,
    FIN,
    PSH,
    RST,
    SYN,
    URG,
    Segment,
    flag_words,
    parse_options,
    tcpdump_flags,
)
from widgets.units import duration

MOD = 1 << 32


@dataclass(slots=True)
class LadderRow:
    """One line of the ladder: a segment, a state change without a kept frame, or a gap."""

    frame_no: int
    ts: float
    dt: float
    from_orig: bool
    flags: int = 0
    seq: int = 0
    ack: int = 0
    rel_seq: int = 0
    rel_ack: int = 0
    length: int = 0
    window: int = 0
    scale: int = 0
    """Window scale shift in force for this segment (RFC 7323: both SYNs offered it, not a SYN)."""
    options: str = ""
    marks: list[str] = field(default_factory=list)
    orig_states: list[str] = field(default_factory=list)
    resp_states: list[str] = field(default_factory=list)
    note: str = ""
    skipped: int = 0
    """For a `skip` row: how many segments of the flow were not kept there."""
    kind: str = "segment"
    """`segment`, `state` (transitions whose frame was not kept) or `skip`."""

    def label(self, absolute: bool, width: int = 10_000) -> str:
        """The text on the arrow: flags both ways, seq/ack, length, window, SYN options.

        When it does not fit `width` cells the least useful parts go first (options, flag
        words, window), so narrow terminals keep flags and sequence numbers.
        """
        seq, ack = (self.seq, self.ack) if absolute else (self.rel_seq, self.rel_ack)
        parts = [
            (0, f"[{tcpdump_flags(self.flags)}]"),
            (5, flag_words(self.flags)),
            (1, f"seq {seq}"),
            (2, f"ack {ack}" if self.flags & ACK else ""),
            (3, f"len {self.length}"),
            (4, f"win {self.window}" + (f"×{1 << self.scale}" if self.scale else "")),
            (6, f"<{self.options}>" if self.options else ""),
        ]
        parts = [(rank, text) for rank, text in parts if text]
        text = " ".join(t for _, t in parts)
        while len(text) > width and len(parts) > 2:
            parts.remove(max(parts))
            text = " ".join(t for _, t in parts)
        return text


def illegal_combinations(flags: int) -> list[str]:
    """Every illegal flag combination in `flags`, named and counted as the tracker counts them."""
    found = [name for pair, name in _ILLEGAL_PAIRS if flags & pair == pair]
    if flags & (FIN | PSH | URG) == FIN | PSH | URG:
        found.append("xmas (FIN+PSH+URG)")
    if not flags:
        found.append("null (no flags)")
    return found


_ILLEGAL_PAIRS = ((SYN | FIN, "SYN+FIN"), (SYN | RST, "SYN+RST"), (FIN | RST, "FIN+RST"))


def syn_options(seg: Segment) -> str:
    """The options of a SYN or SYN/ACK in short form: `mss 1460,sackOK,TS,wscale 7`."""
    opts = parse_options(seg.opts)
    shown = [
        name if not value or name == "TS" else f"{name} {value}" for _, name, value in opts.items
    ]
    return ",".join(s for s in shown if s not in ("nop", "eol"))


def _base(side: Any) -> int | None:
    """Where relative numbers count from: the engine's base for that direction, the one
    `--print` counts from too (`Side::rel_base`: the ISN; mid-stream, tcpdump's base: the peer's
    first ack - 1, else the direction's first sequence number). None: nothing seen to count
    from (numbers then stay absolute)."""
    base = side.rel_base
    return None if base is None else int(base)


def _is_orig(flow: Any, seg: Segment) -> bool:
    return bool(seg.src == flow.orig_addr and seg.sport == flow.orig_port)


class _Direction:
    """Per-direction bookkeeping while walking the segments: ISN, SYNs seen."""

    __slots__ = ("isn", "syn_ts", "syns", "scale")

    def __init__(self, isn: int | None, scale: int) -> None:
        self.isn = isn
        self.scale = scale
        self.syn_ts: float | None = None
        self.syns = 0


def build_rows(flow: Any) -> list[LadderRow]:
    """The ladder rows of `flow`: its kept frames in order, with transitions and marks."""
    frames: list[Segment] = flow.frames()
    ws_o, ws_r = flow.orig.wscale, flow.resp.wscale
    scaled = ws_o is not None and ws_r is not None  # RFC 7323 §2.2: only when both offered it
    dirs = {
        True: _Direction(_base(flow.orig), min(ws_o, 14) if scaled else 0),
        False: _Direction(_base(flow.resp), min(ws_r, 14) if scaled else 0),
    }
    by_frame = _transitions_by_frame(flow)
    rows: list[LadderRow] = []
    prev_ts = frames[0].ts if frames else 0.0
    for seg in frames:
        rows.append(_row(flow, seg, dirs, seg.ts - prev_ts, by_frame.pop(seg.frame_no, [])))
        prev_ts = seg.ts
    _add_loose_transitions(rows, by_frame)
    _add_skipped(rows, flow, frames)
    annotate(rows)
    return rows


def _row(
    flow: Any, seg: Segment, dirs: dict[bool, _Direction], dt: float, trans: list[Any]
) -> LadderRow:
    orig = _is_orig(flow, seg)
    mine, theirs = dirs[orig], dirs[not orig]
    row = LadderRow(seg.frame_no, seg.ts, dt, orig, seg.flags, seg.seq, seg.ack)
    row.rel_seq = (seg.seq - mine.isn) % MOD if mine.isn is not None else seg.seq
    row.rel_ack = (seg.ack - theirs.isn) % MOD if theirs.isn is not None else seg.ack
    row.length, row.window = seg.payload_len, seg.window
    if seg.flags & SYN:  # a SYN's window is never scaled
        row.options = syn_options(seg)
    else:
        row.scale = mine.scale
    _mark(row, seg, mine)
    for t in trans:
        (row.orig_states if _side_is_orig(t.side) else row.resp_states).append(t.new)
    return row


def _mark(row: LadderRow, seg: Segment, mine: _Direction) -> None:
    flags = seg.flags
    bad = illegal_combinations(flags)
    if bad:
        row.marks.append("illegal " + ", ".join(bad))
    tags = tcp_analysis.tags(seg)
    if flags & SYN:
        mine.syns += 1
        if mine.syns > 1 and mine.syn_ts is not None:
            kind = "SYN/ACK" if flags & ACK else "SYN"
            row.marks.append(f"{kind} retry #{mine.syns - 1} (+{_fmt_gap(seg.ts - mine.syn_ts)})")
            tags = [t for t in tags if t != _RETRANSMISSION]  # the retry says it better
        mine.syn_ts = seg.ts
    row.marks.extend(tags)


_RETRANSMISSION = "[Retransmission]"


def _fmt_gap(seconds: float) -> str:
    return duration(seconds)


def _side_is_orig(side: str) -> bool:
    return side == "orig"


def _transitions_by_frame(flow: Any) -> dict[int, list[Any]]:
    out: dict[int, list[Any]] = {}
    for t in flow.transitions:
        out.setdefault(t.frame_no, []).append(t)
    return out


def _add_loose_transitions(rows: list[LadderRow], loose: dict[int, list[Any]]) -> None:
    """Transitions whose frame was not kept (or that came from the end of input) get a row."""
    for frame_no, trans in sorted(loose.items()):
        row = LadderRow(frame_no, trans[0].ts, 0.0, True, kind="state")
        for t in trans:
            (row.orig_states if _side_is_orig(t.side) else row.resp_states).append(t.new)
        at = next((i for i, r in enumerate(rows) if r.frame_no > frame_no), len(rows))
        if frame_no == 0:  # no frame: the end of the capture finalised it
            at = len(rows)
        rows.insert(at, row)


def _add_skipped(rows: list[LadderRow], flow: Any, frames: list[Segment]) -> None:
    """A row for each run of this flow's segments that was not kept, where the run began.

    The tracker keeps the handshake and teardown segments and a ring of the most recent ones
    (live, while tracking is behind the capture, fewer for a moment). Each kept segment knows
    its place in the flow (`nth`): a gap between two places is a run not kept. Its row goes
    right after the kept segment before it, ahead of the state changes made during the run.
    """
    gaps: list[tuple[int | None, int]] = []  # (the kept frame before the run, or None; count)
    last, last_frame = 0, None
    for seg in frames:
        if seg.nth > last + 1:
            gaps.append((last_frame, seg.nth - last - 1))
        if seg.nth > last:
            last, last_frame = seg.nth, seg.frame_no
    total = flow.orig.pkts + flow.resp.pkts
    if total > last:
        gaps.append((last_frame, total - last))
    at = {r.frame_no: i for i, r in enumerate(rows) if r.kind == "segment"}
    for frame_no, count in reversed(gaps):  # from the end: the places before stay true
        where = 0 if frame_no is None else at[frame_no] + 1
        rows.insert(where, LadderRow(0, 0.0, 0.0, True, skipped=count, kind="skip"))


def annotate(rows: list[LadderRow]) -> None:
    """Teaching notes on the handshake and teardown rows (shown with `t`).

    What RFC 9293 makes each of these segments mean: the ISNs, that SYN and FIN each consume one
    sequence number (so the peer acknowledges ISN+1 and FIN+1), and who is left in TIME_WAIT.
    """
    fin_end: dict[bool, int] = {}  # side -> absolute seq just after its FIN
    synced: set[bool] = set()
    for row in rows:
        if row.kind != "segment":
            continue
        notes = _segment_notes(row, fin_end, synced)
        for who, states in (("client", row.orig_states), ("server", row.resp_states)):
            if "TIME_WAIT" in states:
                notes.append(f"{who} enters TIME_WAIT (waits 2×MSL before the ports can be reused)")
        row.note = "; ".join(notes)


def _segment_notes(row: LadderRow, fin_end: dict[bool, int], synced: set[bool]) -> list[str]:
    who = "client" if row.from_orig else "server"
    notes: list[str] = []
    if row.flags & SYN and row.flags & ACK:
        notes.append(f"server ISN {row.seq}; ack = client ISN+1 (the SYN took one number)")
    elif row.flags & SYN:
        notes.append(f"client ISN {row.seq}; a SYN consumes one sequence number")
    elif row.flags & ACK and row.from_orig and row.rel_ack == 1 and True not in synced:
        notes.append("ack = server ISN+1: the three-way handshake is complete")
    if row.flags & (SYN | ACK) == ACK:
        synced.add(row.from_orig)
    peer_fin = fin_end.get(not row.from_orig)
    if row.flags & ACK and peer_fin is not None and row.ack == peer_fin:
        notes.append("acknowledges the peer's FIN (its seq + 1)")
        fin_end.pop(not row.from_orig)
    if row.flags & FIN and row.from_orig not in fin_end:
        fin_end[row.from_orig] = (row.seq + row.length + 1) % MOD
        notes.append(f"{who} closes its sending side: a FIN consumes one sequence number")
    if row.flags & RST:
        notes.append(f"{who} aborts with RST: no FIN exchange, no TIME_WAIT")
    return notes
