"""RFC 9293 endpoint states as a passive observer sees them: one table row per scenario."""

from __future__ import annotations

from typing import Any

import pytest

from capture.segment import Segment
from capture.tcpstate import MAX_TRANSITIONS, Endpoint, advance, append_log, seq_ge, transitions
from tests.segmaker import Conv

Step = tuple[str, str, int, dict[str, Any]]
HANDSHAKE: list[Step] = [("c", "S", 0, {}), ("s", "S.", 0, {}), ("c", ".", 0, {})]
HANDSHAKE_MOVES = [
    "1 orig CLOSED>SYN_SENT",
    "2 resp LISTEN>SYN_RECEIVED",
    "2 orig SYN_SENT>ESTABLISHED",
    "3 resp SYN_RECEIVED>ESTABLISHED",
]


def play(steps: list[Step], conv: Conv | None = None) -> tuple[Endpoint, Endpoint, list[str]]:
    """Feed the steps (client = orig) through `advance`; return both endpoints and the moves."""
    conv = conv or Conv()
    orig, resp = Endpoint("orig"), Endpoint("resp")
    log = b""
    for side, flags, length, kw in steps:
        seg: Segment = conv.send(side, flags, length, **kw)
        snd, rcv = (orig, resp) if side == "c" else (resp, orig)
        log += advance(snd, rcv, seg)
    return orig, resp, [f"{t.frame_no} {t.side} {t.old}>{t.new}" for t in transitions(log)]


def s(side: str, flags: str, length: int = 0, **kw: Any) -> Step:
    return (side, flags, length, kw)


CASES: list[tuple[str, list[Step], list[str], tuple[str, str]]] = [
    ("three-way handshake", HANDSHAKE, HANDSHAKE_MOVES, ("ESTABLISHED", "ESTABLISHED")),
    (
        "simultaneous open: SYNs cross, then SYN/ACKs",
        [s("c", "S"), s("s", "S"), s("c", "S.", seq=1000), s("s", "S.", seq=5000)],
        [
            "1 orig CLOSED>SYN_SENT",
            "2 resp CLOSED>SYN_SENT",
            "3 orig SYN_SENT>SYN_RECEIVED",
            "3 resp SYN_SENT>ESTABLISHED",
            "4 orig SYN_RECEIVED>ESTABLISHED",
        ],
        ("ESTABLISHED", "ESTABLISHED"),
    ),
    (
        "refused: RST/ACK answers the SYN",
        [s("c", "S"), s("s", "R.", ack=1001)],
        ["1 orig CLOSED>SYN_SENT", "2 resp UNKNOWN>CLOSED", "2 orig SYN_SENT>CLOSED"],
        ("CLOSED", "CLOSED"),
    ),
    (
        "an RST that does not acknowledge the SYN is ignored in SYN_SENT",
        [s("c", "S"), s("s", "R", seq=0)],
        ["1 orig CLOSED>SYN_SENT", "2 resp UNKNOWN>CLOSED"],
        ("SYN_SENT", "CLOSED"),
    ),
    (
        "RST to a passive SYN_RECEIVED: back to LISTEN, which may then send a SYN",
        [s("c", "S"), s("s", "S."), s("c", "R", seq=1001), s("s", "S", seq=9000)],
        [
            "1 orig CLOSED>SYN_SENT",
            "2 resp LISTEN>SYN_RECEIVED",
            "2 orig SYN_SENT>ESTABLISHED",
            "3 orig ESTABLISHED>CLOSED",
            "3 resp SYN_RECEIVED>LISTEN",
            "4 resp LISTEN>SYN_SENT",
        ],
        ("CLOSED", "SYN_SENT"),
    ),
    (
        "RST to an active SYN_RECEIVED (simultaneous open) closes it",
        [s("c", "S"), s("s", "S"), s("c", "S.", seq=1000), s("s", "R", seq=5001)],
        [
            "1 orig CLOSED>SYN_SENT",
            "2 resp CLOSED>SYN_SENT",
            "3 orig SYN_SENT>SYN_RECEIVED",
            "3 resp SYN_SENT>ESTABLISHED",
            "4 resp ESTABLISHED>CLOSED",
            "4 orig SYN_RECEIVED>CLOSED",
        ],
        ("CLOSED", "CLOSED"),
    ),
    (
        "four-way close: ACK, then the second FIN",
        HANDSHAKE + [s("c", "F."), s("s", "."), s("s", "F."), s("c", ".")],
        HANDSHAKE_MOVES
        + [
            "4 orig ESTABLISHED>FIN_WAIT_1",
            "5 resp ESTABLISHED>CLOSE_WAIT",
            "5 orig FIN_WAIT_1>FIN_WAIT_2",
            "6 resp CLOSE_WAIT>LAST_ACK",
            "7 orig FIN_WAIT_2>TIME_WAIT",
            "7 resp LAST_ACK>CLOSED",
        ],
        ("TIME_WAIT", "CLOSED"),
    ),
    (
        "three-way close: the second FIN acknowledges the first",
        HANDSHAKE + [s("c", "F."), s("s", "F."), s("c", ".")],
        HANDSHAKE_MOVES
        + [
            "4 orig ESTABLISHED>FIN_WAIT_1",
            "5 resp ESTABLISHED>CLOSE_WAIT",
            "5 resp CLOSE_WAIT>LAST_ACK",
            "5 orig FIN_WAIT_1>FIN_WAIT_2",
            "6 orig FIN_WAIT_2>TIME_WAIT",
            "6 resp LAST_ACK>CLOSED",
        ],
        ("TIME_WAIT", "CLOSED"),
    ),
    (
        "simultaneous close: the FINs cross (CLOSING on one side)",
        HANDSHAKE + [s("c", "F."), s("s", "F.", ack=1001), s("c", "."), s("s", ".")],
        HANDSHAKE_MOVES
        + [
            "4 orig ESTABLISHED>FIN_WAIT_1",
            "5 resp ESTABLISHED>FIN_WAIT_1",
            "6 orig FIN_WAIT_1>CLOSING",
            "6 resp FIN_WAIT_1>FIN_WAIT_2",
            "7 resp FIN_WAIT_2>TIME_WAIT",
            "7 orig CLOSING>TIME_WAIT",
        ],
        ("TIME_WAIT", "TIME_WAIT"),
    ),
    (
        "half-close: the server keeps sending after the client's FIN",
        HANDSHAKE + [s("c", "F."), s("s", "."), s("s", "P.", 500), s("c", ".")],
        HANDSHAKE_MOVES
        + [
            "4 orig ESTABLISHED>FIN_WAIT_1",
            "5 resp ESTABLISHED>CLOSE_WAIT",
            "5 orig FIN_WAIT_1>FIN_WAIT_2",
        ],
        ("FIN_WAIT_2", "CLOSE_WAIT"),
    ),
    (
        "a retransmitted FIN moves nothing",
        HANDSHAKE + [s("c", "F."), s("c", "F.", seq=1001)],
        HANDSHAKE_MOVES + ["4 orig ESTABLISHED>FIN_WAIT_1"],
        ("FIN_WAIT_1", "ESTABLISHED"),
    ),
    (
        "RST in ESTABLISHED closes both",
        HANDSHAKE + [s("s", "R.")],
        HANDSHAKE_MOVES + ["4 resp ESTABLISHED>CLOSED", "4 orig ESTABLISHED>CLOSED"],
        ("CLOSED", "CLOSED"),
    ),
    (
        "RST in TIME_WAIT ends it (RFC 9293; RFC 1337 hosts may ignore it)",
        HANDSHAKE + [s("c", "F."), s("s", "F."), s("c", "."), s("s", "R", seq=5002, ack=0)],
        HANDSHAKE_MOVES
        + [
            "4 orig ESTABLISHED>FIN_WAIT_1",
            "5 resp ESTABLISHED>CLOSE_WAIT",
            "5 resp CLOSE_WAIT>LAST_ACK",
            "5 orig FIN_WAIT_1>FIN_WAIT_2",
            "6 orig FIN_WAIT_2>TIME_WAIT",
            "6 resp LAST_ACK>CLOSED",
            "7 orig TIME_WAIT>CLOSED",
        ],
        ("CLOSED", "CLOSED"),
    ),
    (
        "FIN from SYN_RECEIVED: a close before the handshake's ACK",
        [s("c", "S"), s("s", "S."), s("s", "F.")],
        [
            "1 orig CLOSED>SYN_SENT",
            "2 resp LISTEN>SYN_RECEIVED",
            "2 orig SYN_SENT>ESTABLISHED",
            "3 resp SYN_RECEIVED>FIN_WAIT_1",
        ],
        ("ESTABLISHED", "FIN_WAIT_1"),
    ),
    (
        "mid-stream: no handshake seen, data shows both synchronised",
        [s("c", "P.", 100), s("s", ".")],
        ["1 orig UNKNOWN>ESTABLISHED", "2 resp UNKNOWN>ESTABLISHED"],
        ("ESTABLISHED", "ESTABLISHED"),
    ),
    (
        "a bare ACK to SYN_SENT is dropped (no SYN in it)",
        [s("c", "S"), s("s", ".", ack=1001)],
        ["1 orig CLOSED>SYN_SENT", "2 resp UNKNOWN>ESTABLISHED"],
        ("SYN_SENT", "ESTABLISHED"),
    ),
]


@pytest.mark.parametrize(
    ("steps", "moves", "final"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_transitions(steps: list[Step], moves: list[str], final: tuple[str, str]) -> None:
    """Each scenario gives exactly these transitions, in this order, and these end states."""
    orig, resp, got = play(steps)
    assert got == moves
    assert (orig.state, resp.state) == final


def test_sequence_wrap_fin_acknowledged_across_zero() -> None:
    """A FIN near 2**32 is acknowledged by an ack that wrapped past zero."""
    # GIVEN a connection whose client ISN is 16 below 2**32, then 100 bytes of data
    conv = Conv(isn_c=2**32 - 16)
    steps = HANDSHAKE + [s("c", "P.", 100), s("s", "."), s("c", "F."), s("s", ".")]
    # WHEN the server acknowledges the FIN (ack = 86 after the wrap)
    orig, resp, moves = play(steps, conv)
    # THEN the client's FIN counts as acknowledged
    assert orig.fin_seq == 85
    assert conv.sent[-1].ack == 86
    assert orig.fin_acked and (orig.state, resp.state) == ("FIN_WAIT_2", "CLOSE_WAIT")
    assert moves[-1] == "7 orig FIN_WAIT_1>FIN_WAIT_2"


@pytest.mark.parametrize(
    ("a", "b", "ge"),
    [(5, 5, True), (6, 5, True), (4, 5, False), (3, 2**32 - 3, True), (2**32 - 3, 3, False)],
)
def test_seq_ge_is_modulo_2_32(a: int, b: int, ge: bool) -> None:
    """Sequence comparison wraps at 2**32 (RFC 9293 §3.4)."""
    assert seq_ge(a, b) is ge


def test_transition_log_keeps_time_and_frame_and_is_bounded() -> None:
    """The packed log gives back time and frame number exactly; it stops at MAX_TRANSITIONS."""
    conv = Conv()
    seg = conv.c("S", at=1234567890.123456)
    seg.frame_no = 2**40
    rec = advance(Endpoint("orig"), Endpoint("resp"), seg)
    (t,) = transitions(rec)
    assert (t.ts, t.frame_no, t.side, t.old, t.new) == (seg.ts, 2**40, "orig", "CLOSED", "SYN_SENT")
    log = b""
    for _ in range(MAX_TRANSITIONS + 5):
        log = append_log(log, rec)
    assert len(transitions(log)) == MAX_TRANSITIONS
