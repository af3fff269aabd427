"""`capture.fastpath.track_pcap` gives exactly what decoding every frame and `ingest` give.

The short way (a steady flow's segment updated from the frame's bytes, no `Segment`) must leave
every flow, record and counter as the long way leaves them: on every bundled capture, and on
generated captures whose steady flows meet everything that must send a frame the long way
(FIN/RST/SYN, fragments, frames cut by the snap length, IP longer than the wire, bad data
offsets, zero windows, retransmissions, gaps, urgent and ECN flags, VLAN tags, IPv6).
"""

from __future__ import annotations

import json
import struct
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from capture.decode import Decoder
from capture.fastpath import track_pcap
from capture.flows import Flow, FlowTracker
from capture.pcapio import CaptureError, PcapWriter, open_capture
from capture.sources import decoded
from tests.captures import decoder_counters
from tests.segmaker import Conv, syn_options
from tui.headless import LINGER

DATA = Path(__file__).parent / "data"
CAPTURES = sorted(p for p in DATA.iterdir() if (DATA / (p.name + ".truth.json")).exists())
ETH_IPV4 = b"\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02\x08\x00"
ETH_IPV6 = ETH_IPV4[:12] + b"\x86\xdd"


def _both_ways(path: Path, linger: float | None = LINGER) -> tuple[list[str], list[str], int]:
    """Records and counters the long way and through `track_pcap`; and the frames it took the
    short way."""
    results = []
    short = 0
    for fast in (False, True):
        out: list[Flow] = []
        tracker = FlowTracker(frames_per_flow=0, on_evict=out.append, linger=linger)
        reader = open_capture(str(path))
        decoder = Decoder()
        blocks = reader.pcap_blocks() if fast else None
        if blocks is not None:
            short = track_pcap(blocks, decoder, tracker, threading.Event())
        else:
            for seg in decoded(reader, decoder):
                tracker.ingest(seg)
        tracker.finish()
        out.extend(tracker.all_flows())
        records = sorted(json.dumps(f.record(), sort_keys=True) for f in out)
        results.append([*records, repr(decoder_counters(decoder)), reader.error])
    return results[0], results[1], short


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_track_pcap_equals_the_long_way_on_every_capture(path: Path) -> None:
    try:
        if open_capture(str(path)).pcap_blocks() is None:
            pytest.skip("pcapng: read record by record, not by track_pcap")
    except CaptureError:
        pytest.skip("not a capture this reader opens")
    long_way, short_way, _ = _both_ways(path)
    assert short_way == long_way


def test_track_pcap_takes_the_short_way_for_steady_flows() -> None:
    """An SSH session is mostly established-connection segments: they skip the decoder, and
    the result is still the same."""
    path = DATA / "zeek_ssh_single-conn.pcap"
    long_way, short_way, short = _both_ways(path, linger=None)
    assert short_way == long_way
    frames = int(short_way[-2].strip("()").split(",")[0])
    assert frames == 94
    assert short > frames * 3 // 4


def _frame(seg_frame: bytes, v6: bool) -> bytes:
    return (ETH_IPV6 if v6 else ETH_IPV4) + seg_frame


# What a steady flow's segment may be turned into (each must still give the same result).
_TWISTS = st.sampled_from(
    [
        "plain", "plain", "plain", "push", "zero-window", "retransmit", "gap", "urgent",
        "ecn", "ae", "fin", "rst", "syn", "fragment", "cut", "short-wire", "bad-offset",
        "vlan", "ip-options",
    ]
)  # fmt: skip


def _twist(frame: bytes, how: str, v6: bool) -> tuple[bytes, int]:
    """Change a steady segment's Ethernet frame as `how` says; returns (captured, wire length)."""
    ip = 14
    tcp = ip + (40 if v6 else 20)
    b = bytearray(frame)
    wire = len(b)
    if how == "push":
        b[tcp + 13] |= 0x08
    elif how == "zero-window":
        b[tcp + 14 : tcp + 16] = b"\0\0"
    elif how == "urgent":
        b[tcp + 13] |= 0x20
    elif how == "ecn":
        b[tcp + 13] |= 0xC0
    elif how == "ae":
        b[tcp + 12] |= 0x01
    elif how in ("fin", "rst", "syn"):
        b[tcp + 13] |= {"fin": 0x01, "rst": 0x04, "syn": 0x02}[how]
    elif how == "fragment" and not v6:
        b[ip + 6] |= 0x20  # more fragments
    elif how == "cut":
        return bytes(b[: tcp + 20]), wire
    elif how == "short-wire":
        return bytes(b), tcp + 10
    elif how == "bad-offset":
        b[tcp + 12] = (b[tcp + 12] & 0x0F) | 0x30  # 12 bytes: below the minimum
    elif how == "vlan":
        b[12:12] = b"\x81\x00\x00\x07"
        wire += 4
    elif how == "ip-options" and not v6:
        b[ip] = 0x46  # a 24-byte header: the 4 bytes after it now read as "options"
    return bytes(b), wire


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    twists=st.lists(st.tuples(_TWISTS, st.integers(0, 1400), st.booleans()), max_size=40),
    v6=st.booleans(),
)
def test_track_pcap_equals_the_long_way_on_twisted_steady_flows(
    tmp_path: Path, twists: list[tuple[str, int, bool]], v6: bool
) -> None:
    conv = Conv(("fd00::1", 40000), ("fd00::2", 443)) if v6 else Conv()
    conv.c("S", opts=syn_options())
    conv.s("S.", opts=syn_options())
    conv.c(".")
    for how, length, from_client in twists:
        send = conv.c if from_client else conv.s
        if how == "retransmit":
            side = "c" if from_client else "s"
            send("P.", length, seq=(conv.nxt[side] - max(length, 1)) & 0xFFFFFFFF)
        elif how == "gap":
            side = "c" if from_client else "s"
            send(".", length, seq=(conv.nxt[side] + 5000) & 0xFFFFFFFF)
        else:
            send(".", length)
    conv.c("F.")
    conv.s("F.")
    conv.c(".")
    path = tmp_path / "twisted.pcap"
    writer = PcapWriter(str(path), 1)
    hows = iter(["plain"] * 3 + [t[0] for t in twists] + ["plain"] * 3)
    for seg in conv.sent:
        data, wire = _twist(_frame(seg.frame, v6), next(hows), v6)
        writer.write(seg.ts, data, wire)
    writer.close()
    long_way, short_way, short = _both_ways(path)
    assert short_way == long_way
    if twists and twists[0][0] == "plain":
        assert short >= 1  # the first segment after the handshake goes the short way


def test_track_pcap_stops_when_asked(tmp_path: Path) -> None:
    conv = Conv()
    conv.c("S")
    conv.s("S.")
    for _ in range(3 * 4096):
        conv.c(".", 10)
    path = tmp_path / "long.pcap"
    writer = PcapWriter(str(path), 1)
    for seg in conv.sent:
        writer.write(seg.ts, _frame(seg.frame, False), len(seg.frame) + 14)
    writer.close()
    stop = threading.Event()
    stop.set()
    decoder = Decoder()
    track_pcap(open_capture(str(path)).pcap_blocks(), decoder, FlowTracker(frames_per_flow=0), stop)
    assert 0 < decoder.frames < len(conv.sent)


def test_track_pcap_refuses_a_tracker_that_keeps_frames() -> None:
    blocks = open_capture(str(DATA / "tcpdump_resp_1_benchmark.pcap")).pcap_blocks()
    assert blocks is not None
    with pytest.raises(ValueError, match="keeps no frames"):
        track_pcap(blocks, Decoder(), FlowTracker(frames_per_flow=8), threading.Event())


def test_raw_index_forgets_flows_that_close_or_leave() -> None:
    """Only steady flows are indexed; a FIN, an eviction or a new SYN on the 4-tuple removes
    them."""
    tracker = FlowTracker(frames_per_flow=0, max_flows=1)
    index = tracker.index_raw()
    conv = Conv()
    for seg in (conv.c("S"), conv.s("S."), conv.c(".")):
        tracker.ingest(seg)
    flow = next(iter(tracker.flows.values()))
    assert sorted(v[1] for v in index.values()) == [False, True]
    key = flow.orig_addr + flow.resp_addr + struct.pack("!HH", flow.orig_port, flow.resp_port)
    assert index[key] == (flow, True)
    tracker.ingest(conv.c("F."))
    assert index == {}
    other = Conv(("10.0.0.9", 1234))
    for seg in (other.c("S"), other.s("S."), other.c(".")):
        tracker.ingest(seg)
    assert len(index) == 2
    for seg in (Conv(("10.0.0.7", 999)).c("S"),):  # the cap of 1: the steady flow is evicted
        tracker.ingest(seg)
    assert index == {}
