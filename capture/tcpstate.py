"""RFC 9293 endpoint states, as a passive observer's segments show them.

An observer sees segments, not the endpoints' kernels, so it moves each endpoint by one rule:

* A segment moves its **sender** by what it carries: a SYN (CLOSED → SYN_SENT), a SYN/ACK
  (LISTEN or SYN_SENT → SYN_RECEIVED), a FIN (→ FIN_WAIT_1, or CLOSE_WAIT → LAST_ACK), a RST
  (→ CLOSED), and by what its ACK field proves the sender has *received*: the peer's FIN
  (ESTABLISHED → CLOSE_WAIT, FIN_WAIT_1 → CLOSING, FIN_WAIT_2 → TIME_WAIT). A segment with ACK and
  without SYN also proves its sender synchronised (→ ESTABLISHED from UNKNOWN, SYN_SENT or
  SYN_RECEIVED; a FIN from SYN_RECEIVED goes straight to FIN_WAIT_1).
* A segment moves its **receiver** only through its ACK field and its RST: the ACK of the receiver's
  SYN (SYN_SENT + SYN/ACK → ESTABLISHED, SYN_RECEIVED → ESTABLISHED) or FIN (FIN_WAIT_1 →
  FIN_WAIT_2, CLOSING → TIME_WAIT, LAST_ACK → CLOSED), and an RST (→ CLOSED, or back to LISTEN
  from a passive SYN_RECEIVED, RFC 9293 §3.10.7.4). A received SYN or FIN counts only once the
  receiver acknowledges it: that is what tells a simultaneous close (the second FIN does not
  acknowledge the first: both sides pass through CLOSING or FIN_WAIT_2) from a 3-way close.

An endpoint nothing has been seen of is `UNKNOWN`. A SYN's sender is taken to have been CLOSED and
a SYN/ACK's sender to have been LISTEN, so the ladder reads as in RFC 9293's figure 5.
TIME_WAIT lasts for ever here: the observer reads no clock.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

from capture.segment import ACK, FIN, RST, SYN, Segment

UNKNOWN = "UNKNOWN"
LISTEN = "LISTEN"
SYN_SENT = "SYN_SENT"
SYN_RECEIVED = "SYN_RECEIVED"
ESTABLISHED = "ESTABLISHED"
FIN_WAIT_1 = "FIN_WAIT_1"
FIN_WAIT_2 = "FIN_WAIT_2"
CLOSE_WAIT = "CLOSE_WAIT"
CLOSING = "CLOSING"
LAST_ACK = "LAST_ACK"
TIME_WAIT = "TIME_WAIT"
CLOSED = "CLOSED"

STATES: tuple[str, ...] = (
    UNKNOWN,
    LISTEN,
    SYN_SENT,
    SYN_RECEIVED,
    ESTABLISHED,
    FIN_WAIT_1,
    FIN_WAIT_2,
    CLOSE_WAIT,
    CLOSING,
    LAST_ACK,
    TIME_WAIT,
    CLOSED,
)

MASK = 0xFFFFFFFF
HALF = 0x80000000
MAX_TRANSITIONS = 64
"""Transitions kept per flow; a normal connection makes about ten, an RST storm makes none."""
SIDES = ("orig", "resp")
# A transition is logged as 16 bytes (time; frame_no << 9 | side << 8 | old << 4 | new): ten of
# them cost ~190 bytes as one `bytes`, against ~900 as a list of tuples.
_REC = struct.Struct("<dQ")
_CODE = {name: i for i, name in enumerate(STATES)}

# States in which an acceptable RST closes the receiver (RFC 9293 §3.10.7).
_RST_CLOSES = frozenset(
    {ESTABLISHED, FIN_WAIT_1, FIN_WAIT_2, CLOSE_WAIT, CLOSING, LAST_ACK, TIME_WAIT}
)
# States from which a segment with ACK and without SYN shows its sender synchronised.
_NOT_SYNCED = frozenset({UNKNOWN, SYN_SENT, SYN_RECEIVED})
# States in which the receiver waits for the ACK of its SYN.
_SYNCING = frozenset({SYN_SENT, SYN_RECEIVED})
# The sender of a FIN moves from these to FIN_WAIT_1 (an active close).
_ACTIVE_CLOSE_FROM = frozenset({UNKNOWN, SYN_SENT, SYN_RECEIVED, ESTABLISHED, LISTEN})
# Receiving the peer's FIN (shown by acknowledging it): RFC 9293 §3.10.7.4, eighth step.
_ON_PEER_FIN = {
    UNKNOWN: CLOSE_WAIT,
    SYN_RECEIVED: CLOSE_WAIT,
    ESTABLISHED: CLOSE_WAIT,
    FIN_WAIT_2: TIME_WAIT,
}
# Receiving the ACK of one's own FIN.
_ON_FIN_ACKED = {FIN_WAIT_1: FIN_WAIT_2, CLOSING: TIME_WAIT, LAST_ACK: CLOSED}


def seq_ge(a: int, b: int) -> bool:
    """`a >= b` in 32-bit sequence space (RFC 9293 §3.4, modulo 2**32)."""
    return ((a - b) & MASK) < HALF


class Transition(NamedTuple):
    """One endpoint changing state: the data behind the per-flow ladder."""

    ts: float
    frame_no: int
    side: str
    """`orig` or `resp`."""
    old: str
    new: str


class Endpoint:
    """What the observer knows of one endpoint's TCP state."""

    __slots__ = ("side", "state", "isn", "fin_seq", "fin_acked", "got_fin", "active")

    def __init__(self, side: str) -> None:
        self.side = side
        """`orig` or `resp`."""
        self.state = UNKNOWN
        self.isn: int | None = None
        """Sequence number of its SYN (or SYN/ACK)."""
        self.fin_seq = -1
        """Sequence number of its first FIN; -1 before one."""
        self.fin_acked = False
        """The peer acknowledged its FIN (ack >= fin_seq + 1)."""
        self.got_fin = False
        """Its own ACK showed it received the peer's FIN."""
        self.active = False
        """It sent a SYN without ACK (an active open)."""


def move(ep: Endpoint, new: str, seg: Segment, out: list[bytes]) -> None:
    """Set `ep` to state `new`, logging the transition to `out` when it changes."""
    old = ep.state
    if old == new:
        return
    ep.state = new
    side = 1 if ep.side == "resp" else 0
    code = seg.frame_no << 9 | side << 8 | _CODE[old] << 4 | _CODE[new]
    out.append(_REC.pack(seg.ts, code))


def append_log(log: bytes, new: bytes) -> bytes:
    """`log` with the records `new` added, up to MAX_TRANSITIONS records."""
    room = MAX_TRANSITIONS * _REC.size - len(log)
    return log + new[: max(0, room)]


def transitions(log: bytes) -> list[Transition]:
    """Decode a transition log (see `advance`)."""
    return [
        Transition(ts, v >> 9, SIDES[v >> 8 & 1], STATES[v >> 4 & 15], STATES[v & 15])
        for ts, v in _REC.iter_unpack(log)
    ]


def recent_transitions(log: bytes, n: int) -> list[Transition]:
    """The last `n` records of a transition log, decoded (the rest is not touched)."""
    return transitions(log[-n * _REC.size :]) if n else []


def advance(snd: Endpoint, rcv: Endpoint, seg: Segment) -> bytes:
    """Apply one segment sent by `snd` to both endpoints; return its state changes as a log."""
    out: list[bytes] = []
    advance_into(snd, rcv, seg, out)
    return b"".join(out)


def advance_into(snd: Endpoint, rcv: Endpoint, seg: Segment, out: list[bytes]) -> None:
    """`advance`, appending the state changes' records to `out` (the tracker's slow path)."""
    flags = seg.flags
    if flags & RST:
        _rst(snd, rcv, seg, out)
        return
    # The sender first (what it received, then what it sends), then the receiver. The helpers
    # are called only when their first test can pass (most segments need none of them).
    if flags & ACK:
        state = snd.state
        # A FIN from SYN_RECEIVED is a close before the handshake's ACK came (RFC 9293 fig. 5),
        # not a proof of it.
        if not flags & SYN and state in _NOT_SYNCED and not (flags & FIN and state == SYN_RECEIVED):
            move(snd, ESTABLISHED, seg, out)
        if rcv.fin_seq >= 0 and not snd.got_fin:
            _sender_received(snd, rcv, seg, out)
    if flags & SYN:
        _syn(snd, seg, out)
    if flags & FIN:
        _fin(snd, seg, out)
    if flags & ACK and (rcv.state in _SYNCING or (rcv.fin_seq >= 0 and not rcv.fin_acked)):
        _receiver_acked(rcv, seg, out)


def _rst(snd: Endpoint, rcv: Endpoint, seg: Segment, out: list[bytes]) -> None:
    if snd.state != CLOSED:
        move(snd, CLOSED, seg, out)
    state = rcv.state
    if state in _RST_CLOSES:
        move(rcv, CLOSED, seg, out)
    elif state == SYN_RECEIVED:
        # A passive open goes back to LISTEN; a simultaneous open is closed.
        move(rcv, CLOSED if rcv.active else LISTEN, seg, out)
    elif state == SYN_SENT and _acks_syn(rcv, seg):
        # In SYN_SENT an RST counts only if it acknowledges the SYN (RFC 9293 §3.10.7.3).
        move(rcv, CLOSED, seg, out)


def _acks_syn(ep: Endpoint, seg: Segment) -> bool:
    return bool(seg.flags & ACK) and ep.isn is not None and seg.ack == (ep.isn + 1) & MASK


def _sender_received(snd: Endpoint, rcv: Endpoint, seg: Segment, out: list[bytes]) -> None:
    """What `snd`'s ACK field proves it received: the peer's FIN."""
    if rcv.fin_seq < 0 or snd.got_fin or not seq_ge(seg.ack, rcv.fin_seq + 1):
        return
    snd.got_fin = True
    if snd.state == FIN_WAIT_1:
        move(snd, TIME_WAIT if snd.fin_acked else CLOSING, seg, out)
        return
    new = _ON_PEER_FIN.get(snd.state)
    if new is not None:
        move(snd, new, seg, out)


def _receiver_acked(rcv: Endpoint, seg: Segment, out: list[bytes]) -> None:
    """The receiver takes in the ACK: of its SYN, or of its FIN."""
    state = rcv.state
    if state in (SYN_SENT, SYN_RECEIVED):
        # SYN_SENT needs the SYN too (a bare ACK is dropped there, RFC 9293 §3.10.7.3).
        if state == SYN_SENT and not seg.flags & SYN:
            return
        if rcv.isn is None or seq_ge(seg.ack, rcv.isn + 1):
            move(rcv, ESTABLISHED, seg, out)
        return
    if rcv.fin_seq >= 0 and not rcv.fin_acked and seq_ge(seg.ack, rcv.fin_seq + 1):
        rcv.fin_acked = True
        new = _ON_FIN_ACKED.get(state)
        if new is not None:
            move(rcv, new, seg, out)


def _syn(snd: Endpoint, seg: Segment, out: list[bytes]) -> None:
    if snd.isn is None:
        snd.isn = seg.seq
    state = snd.state
    if seg.flags & ACK:
        if state == UNKNOWN:
            snd.state = LISTEN  # it answered a SYN, so it was listening
            state = LISTEN
        if state in (LISTEN, SYN_SENT):
            move(snd, SYN_RECEIVED, seg, out)
        return
    snd.active = True
    if state == UNKNOWN:
        snd.state = CLOSED  # an active open starts from CLOSED
        state = CLOSED
    if state in (CLOSED, LISTEN):
        move(snd, SYN_SENT, seg, out)


def _fin(snd: Endpoint, seg: Segment, out: list[bytes]) -> None:
    if snd.fin_seq < 0:
        # The FIN takes the sequence number after the data (and after the SYN, if both are set).
        snd.fin_seq = (seg.seq + seg.payload_len + (1 if seg.flags & SYN else 0)) & MASK
    state = snd.state
    if state == CLOSE_WAIT:
        move(snd, LAST_ACK, seg, out)
    elif state in _ACTIVE_CLOSE_FROM:
        move(snd, FIN_WAIT_1, seg, out)
