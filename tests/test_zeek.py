"""Zeek's history letters, conn_state and sizes (capture.zeek), from hand-built segments.

Each case plays one conversation through `ZeekState` with the tracker's orientation rule (the
first segment's sender is the originator, a SYN/ACK's receiver when `initial_flip` says so) and
checks what Zeek would log. Expected values follow Zeek's source (TCPSessionAdapter.cc,
Conn.cc, main.zeek conn_state()) and the documentation of conn.log's `history`.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from capture.segment import Segment
from capture.zeek import (
    LIKELY_SERVER_PORTS,
    ZeekState,
    initial_flip,
    ip_checksum_ok,
    tcp_checksum_ok,
)
from tests.segmaker import Conv, make_segment

Script = Callable[[Conv], None]


def play(script: Script, **conv: object) -> tuple[ZeekState, list[bool]]:
    """Run a conversation; returns the state and the flips `update` reported."""
    c = Conv(**conv)  # type: ignore[arg-type]
    script(c)
    z = ZeekState(verify_checksums=False)  # segmaker frames carry no checksums
    first = c.sent[0]
    client = (first.src, first.sport)
    orig_is_client = True
    if initial_flip(first):
        z.flip()
        orig_is_client = False
    flips = []
    for seg in c.sent:
        from_client = (seg.src, seg.sport) == client
        flipped = z.update(from_client == orig_is_client, seg)
        if flipped:
            orig_is_client = not orig_is_client
        flips.append(flipped)
    return z, flips


def handshake(c: Conv) -> None:
    c.c("S")
    c.s("S.")
    c.c(".")


def _full(c: Conv) -> None:
    handshake(c)
    c.c("P.", 100)
    c.s(".")
    c.s("P.", 300)
    c.c(".")
    c.c("F.")
    c.s("F.")
    c.c(".")


def _s2(c: Conv) -> None:
    handshake(c)
    c.c("F.")


def _s3(c: Conv) -> None:
    handshake(c)
    c.s("F.")


def _rsto(c: Conv) -> None:
    handshake(c)
    c.c("P.", 10)
    c.c("R.")


def _rstr(c: Conv) -> None:
    handshake(c)
    c.s("R.")


def _rej(c: Conv) -> None:
    c.c("S")
    c.s("R.", seq=0)


def _rstos0(c: Conv) -> None:
    c.c("S")
    c.c("R")


def _sh(c: Conv) -> None:
    c.c("S")
    c.c("F")


def _oth_midstream(c: Conv) -> None:
    c.c("P.", 50)
    c.s("P.", 60)


def _s0(c: Conv) -> None:
    c.c("S")


def _syn_synack(c: Conv) -> None:
    c.c("S")
    c.s("S.")


def _rstrh(c: Conv) -> None:
    c.s("S.")
    c.s("R")


def _shr(c: Conv) -> None:
    c.s("S.")
    c.s("F.")


def _both_rst_no_data(c: Conv) -> None:
    c.c("S")
    c.c("R")
    c.s("R")


CONN_STATES: list[tuple[str, Script, str, str]] = [
    ("S0: SYN, no reply", _s0, "S0", "S"),
    ("S1: handshake, open", handshake, "S1", "ShA"),
    ("SF: handshake, data, FIN both ways", _full, "SF", "ShADadFf"),
    ("REJ: SYN answered by RST", _rej, "REJ", "Sr"),
    ("REJ: both reset, no bytes either way", _both_rst_no_data, "REJ", "SRr"),
    ("S2: originator FIN only", _s2, "S2", "ShAF"),
    ("S3: responder FIN only", _s3, "S3", "ShAf"),
    ("RSTO: originator aborts", _rsto, "RSTO", "ShADR"),
    ("RSTR: responder aborts", _rstr, "RSTR", "ShAr"),
    ("RSTOS0: SYN then RST, nothing back", _rstos0, "RSTOS0", "SR"),
    ("RSTRH: SYN/ACK then RST from the responder", _rstrh, "RSTRH", "^hr"),
    ("SH: SYN then FIN, nothing back", _sh, "SH", "SF"),
    ("SHR: SYN/ACK then FIN from the responder", _shr, "SHR", "^hf"),
    ("OTH: mid-stream, no SYN", _oth_midstream, "OTH", "Dd"),
    ("S1: SYN and SYN/ACK already establish both sides", _syn_synack, "S1", "Sh"),
]


@pytest.mark.parametrize(
    ("script", "state", "history"),
    [pytest.param(s, st, h, id=name) for name, s, st, h in CONN_STATES],
)
def test_conn_state(script: Script, state: str, history: str) -> None:
    """Every conn_state of main.zeek's conn_state() from the endpoint states it describes."""
    z, _ = play(script)
    assert (z.conn_state(), z.history) == (state, history)


def test_conn_state_is_provisional_while_open() -> None:
    """conn_state and history can be read after each segment: S0, S1, S1, S2, SF."""
    c = Conv()
    z = ZeekState(verify_checksums=False)
    seen = []
    steps: list[tuple[Callable[[], Segment], bool]] = [
        (lambda: c.c("S"), True),
        (lambda: c.s("S."), False),
        (lambda: c.c("."), True),
        (lambda: c.c("F."), True),
        (lambda: c.s("F."), False),
    ]
    for make, is_orig in steps:
        z.update(is_orig, make())
        seen.append((z.conn_state(), z.history))
    assert seen == [
        ("S0", "S"),
        ("S1", "Sh"),
        ("S1", "ShA"),
        ("S2", "ShAF"),
        ("SF", "ShAFf"),
    ]


def _syn_retransmitted(c: Conv) -> None:
    c.c("S")
    c.c("S", seq=1000)
    c.c("S", seq=1000)


def _syn_new_isn(c: Conv) -> None:
    c.c("S")
    c.c("S", seq=777777)  # init_endpoint() renumbers from this SYN: relative 0 again


def _syn_after_rst(c: Conv) -> None:
    c.c("S")
    c.c("R")
    c.c("S", seq=777777)  # after a RST the numbering stays: a new SYN number


def _data_many(c: Conv) -> None:
    handshake(c)
    for _ in range(5):
        c.c("P.", 10)
        c.s(".")
        c.s("P.", 10)
        c.c(".")


def _fin_retransmitted(c: Conv) -> None:
    handshake(c)
    c.c("F.")
    c.c("F.", seq=1001)


def _fin_after_more_data(c: Conv) -> None:
    handshake(c)
    c.c("F.", seq=1001)
    c.c("F.", 5, seq=1001)  # same start, FIN now sits after 5 bytes: a new FIN number


def _rst_twice(c: Conv) -> None:
    handshake(c)
    c.c("R.")
    c.c("R.", seq=1500)


def _rst_repeated(c: Conv) -> None:
    handshake(c)
    c.c("R.")
    c.c("R.", seq=1001)


def _fin_rst_twice(c: Conv) -> None:
    handshake(c)
    c.c("FR.")
    c.c("FR.")


def _syn_fin_twice(c: Conv) -> None:
    c.c("SF")
    c.c("SF", seq=1000)
    c.s("SF.")


def _rexmit(n: int) -> Script:
    def script(c: Conv) -> None:
        handshake(c)
        c.c("P.", 100)
        for _ in range(n):
            c.c("P.", 100, seq=1001)

    return script


def _zero_windows(n: int) -> Script:
    def script(c: Conv) -> None:
        handshake(c)
        for _ in range(n):
            c.s(".", window=0)

    return script


def _zero_window_after_peer_fin(c: Conv) -> None:
    handshake(c)
    c.c("F.")
    c.s(".", window=0)  # boring: the peer has closed


HISTORY_RULES: list[tuple[str, Script, str]] = [
    ("S once for a retransmitted SYN", _syn_retransmitted, "S"),
    ("S once for a SYN with a new ISN (renumbered)", _syn_new_isn, "S"),
    ("S again for a SYN with another number", _syn_after_rst, "SRS"),
    ("D/d and A/a once per direction", _data_many, "ShADad"),
    ("F once for a retransmitted FIN", _fin_retransmitted, "ShAF"),
    ("F again when the FIN number moves", _fin_after_more_data, "ShAFF"),
    ("R again for a RST with another number", _rst_twice, "ShARR"),
    ("R once for a repeated RST", _rst_repeated, "ShAR"),
    ("I (FIN+RST) once per direction", _fin_rst_twice, "ShAI"),
    ("Q (SYN+FIN) once per direction", _syn_fin_twice, "Qq"),
    ("T at the 1st retransmission", _rexmit(1), "ShADT"),
    ("T still once at 9", _rexmit(9), "ShADT"),
    ("T again at the 10th", _rexmit(10), "ShADTT"),
    ("T a third time at the 100th", _rexmit(100), "ShADTTT"),
    ("w at the 1st zero window", _zero_windows(1), "ShAaw"),
    ("w again at the 10th", _zero_windows(10), "ShAaww"),
    ("no w after the peer's FIN", _zero_window_after_peer_fin, "ShAFa"),
]


@pytest.mark.parametrize(
    ("script", "history"),
    [pytest.param(s, h, id=name) for name, s, h in HISTORY_RULES],
)
def test_history_letters(script: Script, history: str) -> None:
    """Zeek's letter rules: once per direction, again on a new number, logarithmic."""
    z, _ = play(script)
    assert z.history == history


def test_gap_letters_for_data_never_seen() -> None:
    """An ack past data that was never captured is a content gap: G (and g the other way)."""

    def script(c: Conv) -> None:
        handshake(c)
        c.c("P.", 100)
        c.c("P.", 100, seq=1201)  # 1101..1200 not captured
        c.s(".", ack=1301)
        c.s("P.", 50, seq=5051)  # 5001..5050 not captured
        c.c(".", ack=5101)

    z, _ = play(script)
    assert z.history == "ShADaGdg"


def test_no_gap_on_a_partial_connection() -> None:
    """Gaps count only while both sides are established (established_or_cleanly_closing)."""

    def script(c: Conv) -> None:
        c.c("P.", 100)
        c.c("P.", 100, seq=1201)
        c.s(".", ack=1301)

    z, _ = play(script)
    assert (z.history, z.conn_state()) == ("Da", "OTH")


def test_flip_marks_history_and_swaps_sides() -> None:
    """A flip appends ^; later letters take the new sides' case; sizes follow the sides."""

    def script(c: Conv) -> None:
        c.s("S.")
        c.c(".")
        c.c("P.", 40)
        c.s("P.", 7)

    z, flips = play(script)
    assert (z.history, z.orig_bytes, z.resp_bytes) == ("^hADd", 40, 7)
    assert not any(flips)


def test_synack_then_ack_flips_without_likely_port() -> None:
    """zeek#2191: a connection opening with a SYN/ACK is flipped once an ACK or data follows."""

    def script(c: Conv) -> None:
        c.s("S.")
        c.s(".")
        c.s("F.")

    z, flips = play(script, client=("10.0.0.1", 2745), server=("10.0.0.2", 1433))
    assert flips == [False, True, False]
    assert (z.history, z.orig_bytes, z.resp_bytes) == ("^haf", 0, 0)


def test_lone_synack_is_not_flipped_without_likely_port() -> None:
    """A SYN/ACK with nothing after it may answer a stealth scan: no flip."""
    z, flips = play(lambda c: c.s("S."), client=("10.0.0.1", 2745), server=("10.0.0.2", 1433))
    assert (z.history, z.conn_state(), any(flips)) == ("H", "OTH", False)


def test_syn_synack_reversal_flips() -> None:
    """SYN/ACK captured before its SYN (and not flipped by port): Zeek flips on the SYN."""

    def script(c: Conv) -> None:
        c.s("S.", ack=1001)
        c.c("S", seq=1000)
        c.c(".")

    z, flips = play(script, client=("10.0.0.1", 2745), server=("10.0.0.2", 1433))
    assert flips == [False, True, False]
    # the SYN's letter is written before the state machine flips; then both are established
    assert (z.history, z.conn_state()) == ("Hs^A", "S1")


@pytest.mark.parametrize(
    ("flags", "sport", "dport", "flip"),
    [
        ("S", 80, 40000, False),  # a SYN is never flipped
        ("S.", 80, 40000, True),  # server port to client port
        ("S.", 40000, 80, False),
        (".", 443, 51000, True),
        ("P.", 51000, 443, False),
        (".", 80, 8080, True),  # both likely: flip a non-SYN whose source port is lower
        (".", 8080, 80, False),
        ("S.", 80, 8080, False),  # ... but never a SYN/ACK then (stealth scans)
        ("S.", 2745, 1433, False),  # neither is a likely server port
    ],
)
def test_initial_flip(flags: str, sport: int, dport: int, flip: bool) -> None:
    """TCPAnalyzer::WantConnection's likely_server_ports heuristic."""
    seg = make_segment("10.0.0.1", sport, "10.0.0.2", dport, flags)
    assert initial_flip(seg) is flip


def test_likely_server_ports_are_zeeks_defaults() -> None:
    """The well-known ports of the protocols Zeek loads by default are in the set."""
    assert {22, 25, 80, 443, 21, 6667, 53, 3389, 445}.issubset(LIKELY_SERVER_PORTS)
    assert 1433 not in LIKELY_SERVER_PORTS and 888 not in LIKELY_SERVER_PORTS


def test_sizes_from_sequence_numbers() -> None:
    """orig_bytes/resp_bytes count the sequence space (data never captured included)."""

    def script(c: Conv) -> None:
        handshake(c)
        c.c("P.", 100)
        c.c("P.", 100, seq=1401)  # 300 bytes missing in between
        c.s(".", ack=1501)
        c.c("F.")
        c.s("F.")

    z, _ = play(script)
    assert (z.orig_bytes, z.resp_bytes) == (500, 0)


def test_sizes_across_sequence_wrap() -> None:
    """A stream crossing 2^32 keeps counting (Zeek's seq_wraps)."""

    def script(c: Conv) -> None:
        handshake(c)
        for _ in range(4):
            c.c("P.", 1000)
            c.s(".")
        c.c("F.")
        c.s("F.")

    z, _ = play(script, isn_c=0xFFFFF000)
    assert (z.orig_bytes, z.conn_state()) == (4000, "SF")


def test_sizes_without_syn_start_at_the_first_segment() -> None:
    """A partial connection is numbered as if its SYN had been just before the first byte."""

    def script(c: Conv) -> None:
        c.c("P.", 10)
        c.s("P.", 20)
        c.c("P.", 30)

    z, _ = play(script)
    assert (z.orig_bytes, z.resp_bytes) == (40, 20)


def test_half_open_reset_reports_no_size() -> None:
    """SYN, then a RST far from the SYN's number: Size() is 0 (half-open found and aborted)."""

    def script(c: Conv) -> None:
        c.c("S")
        c.s(".", ack=1101)  # an ACK (of data never sent) instead of a SYN/ACK
        c.c("R", seq=1001 + 5000)

    z, _ = play(script)
    assert (z.history, z.conn_state(), z.orig_bytes) == ("SaR", "RSTOS0", 0)


def _checksummed(seg: Segment, tcp_too: bool = True) -> Segment:
    """Fill in the IPv4 header (and TCP) checksums of a segmaker frame."""
    frame = bytearray(seg.frame)
    if seg.ip_version == 4:
        frame[10:12] = _fold(int.from_bytes(frame[:20], "big")).to_bytes(2, "big")
    if not tcp_too:
        seg.frame = bytes(frame)
        return seg
    tcp = frame[seg.tcp_off :]
    pseudo = int.from_bytes(seg.src + seg.dst, "big") + 6 + len(tcp)
    total = int.from_bytes(tcp, "big") << (8 if len(tcp) & 1 else 0)
    frame[seg.tcp_off + 16 : seg.tcp_off + 18] = _fold(total + pseudo).to_bytes(2, "big")
    seg.frame = bytes(frame)
    return seg


def _fold(total: int) -> int:
    """The one's complement checksum field for a sum computed with the field at zero."""
    s = total % 0xFFFF
    return 0xFFFF - s if s else 0xFFFF


def test_checksums_verify_and_bad_ones_are_dropped() -> None:
    """Verifying (Zeek without -C): a bad TCP checksum is letter C, the segment is ignored."""
    c = Conv(client=("10.0.0.1", 40000))
    good = _checksummed(c.c("S"))
    bad = _checksummed(c.s("S."), tcp_too=False)  # TCP checksum left at 0: wrong
    assert tcp_checksum_ok(good) and ip_checksum_ok(good)
    assert not tcp_checksum_ok(bad)
    z = ZeekState(verify_checksums=True)
    z.update(True, good)
    z.update(False, bad)
    assert (z.history, z.conn_state()) == ("Sc", "S0")


def test_bad_ip_header_checksum_is_dropped_silently() -> None:
    """A bad IPv4 header checksum stops the packet before TCP: no letter at all."""
    z = ZeekState(verify_checksums=True)
    z.update(True, Conv().c("S"))  # segmaker leaves both checksums at 0
    assert (z.history, z.conn_state()) == ("", "OTH")


def test_checksums_ipv6() -> None:
    """The IPv6 pseudo-header checksum verifies too."""
    c = Conv(client=("2001:db8::1", 40000), server=("2001:db8::2", 80))
    seg = _checksummed(c.c("P.", 11))
    assert tcp_checksum_ok(seg)
    seg.frame = seg.frame[:-1] + b"\x01"
    assert not tcp_checksum_ok(seg)


def test_bad_checksums_count_logarithmically() -> None:
    """Only a bad-checksum segment and nothing else: history C, then C again at the 10th."""
    z = ZeekState(verify_checksums=True)
    c = Conv()
    for _ in range(10):
        z.update(True, _checksummed(c.c("S", seq=1000), tcp_too=False))
    assert (z.history, z.conn_state()) == ("CC", "OTH")


def test_truncated_header_is_ignored() -> None:
    """A segment whose TCP header is cut by the snap length never reaches Zeek's TCP."""
    c = Conv()
    seg = c.c("S", opts=b"\x02\x04\x05\xb4")
    seg.frame = seg.frame[: seg.tcp_off + 21]
    seg.truncated = True
    z = ZeekState(verify_checksums=False)
    z.update(True, seg)
    assert (z.history, z.conn_state()) == ("", "OTH")


def test_checksums_are_not_verified_by_default() -> None:
    """By default ZeekState runs as `zeek -C`: offloaded (unfinished) checksums do not matter."""
    z = ZeekState()
    c = Conv()
    z.update(True, c.c("S"))  # both checksums 0
    z.update(False, c.s("S."))
    assert (z.history, z.conn_state()) == ("Sh", "S1")


def _ends(script: Script) -> tuple[ZeekState, float]:
    z, _ = play(script)
    return z, z.last_ts


@pytest.mark.parametrize(
    ("script", "after", "ended"),
    [
        (_s0, 4.999, False),  # attempt timer: tcp_attempt_delay is 5 s
        (_s0, 5.0, True),
        (handshake, 5.0, False),  # answered: no attempt timer
        (handshake, 299.9, False),  # established: tcp_inactivity_timeout is 5 min
        (handshake, 300.0, True),
        (_full, 4.999, False),  # closed both ways: deleted tcp_close_delay (5 s) later
        (_full, 5.0, True),
        (_rstr, 5.0, True),  # a RST closes completely
        (_s2, 60.0, False),  # half closed, peer still open: only inactivity ends it
    ],
)
def test_ended_before(script: Script, after: float, ended: bool) -> None:
    """Zeek's connection-ending timers, measured from the last segment."""
    z, last = _ends(script)
    assert z.ended_before(last + after) is ended


@pytest.mark.parametrize(
    ("script", "syn", "reuse"),
    [
        (_s0, "S", False),  # the same ISN again: a retransmission
        (_s0, "S new", True),  # another ISN while open: SYN_seq_jump, a new connection
        (handshake, "S.", False),  # a SYN/ACK while the originator is active
        (_full, "S", True),  # after a close any SYN starts over
        (handshake, ".", False),  # only SYNs
    ],
)
def test_is_reuse(script: Script, syn: str, reuse: bool) -> None:
    """TCPSessionAdapter::IsReuse for the next segment on the same 4-tuple."""
    z, _ = play(script)
    flags, _, new = syn.partition(" ")
    if flags == "S.":
        seg = make_segment("10.0.0.2", 80, "10.0.0.1", 40000, flags, seq=5000, ack=1001)
    else:
        seq = 424242 if new else 1000
        seg = make_segment("10.0.0.1", 40000, "10.0.0.2", 80, flags, seq=seq, ack=0)
    assert z.is_reuse(seg) is reuse


def test_header_length_below_20_is_ignored() -> None:
    """A data offset under 5 words is a bogus header (bad_TCP_header_len): Zeek drops it."""
    c = Conv()
    seg = c.c("S")
    frame = bytearray(seg.frame)
    frame[seg.tcp_off + 12] = 4 << 4
    seg.frame, seg.bad_opts = bytes(frame), "bad data offset 16"
    z = ZeekState()
    z.update(True, seg)
    assert (z.history, z.is_reuse(seg)) == ("", False)


_VALID_STATES = {"S0", "S1", "SF", "REJ", "S2", "S3", "RSTO", "RSTR", "RSTOS0", "RSTRH", "SH"}
_VALID_STATES |= {"SHR", "OTH"}


@given(
    st.lists(
        st.tuples(
            st.booleans(),  # from the client
            st.integers(0, 0x1FF),  # flags
            st.integers(0, 0xFFFFFFFF),  # seq
            st.integers(0, 0xFFFFFFFF),  # ack
            st.integers(0, 3000),  # payload length
            st.sampled_from([0, 1, 65535]),  # window
        ),
        max_size=40,
    )
)
@settings(max_examples=200, deadline=None)
def test_any_segment_sequence_is_accounted(
    segs: list[tuple[bool, int, int, int, int, int]],
) -> None:
    """Whatever arrives, ZeekState never fails and speaks only Zeek's letters and states."""
    z = ZeekState()
    client = True
    for from_client, flags, seq, ack, length, window in segs:
        src, dst = ("10.0.0.1", "10.0.0.2") if from_client else ("10.0.0.2", "10.0.0.1")
        sport, dport = (40000, 80) if from_client else (80, 40000)
        seg = make_segment(
            src, sport, dst, dport, flags, seq=seq, ack=ack, payload_len=length, window=window
        )
        z.ended_before(seg.ts)
        z.is_reuse(seg)
        if z.update(from_client == client, seg):
            client = not client
    assert set(z.history) <= set("shadfrcgtwiqSHADFRCGTWIQ^")
    assert z.conn_state() in _VALID_STATES
    assert z.orig_bytes >= 0 and z.resp_bytes >= 0
