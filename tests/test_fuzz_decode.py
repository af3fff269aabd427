"""Property tests: random and mutated frames of every supported link type through the decoder
and the tracker. Nothing escapes, every frame is counted exactly once, memory stays bounded.

Frames are built layer by layer from drawn parameters (VLAN stacks of any depth, MPLS stacks,
IPv4 options and fragments, IPv6 extension chains that loop or overrun, TCP data offsets and
option lists that lie), then mutated: cut anywhere, bytes overwritten, length fields rewritten.
"""

from __future__ import annotations

import io
import json
import os
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from capture.decode import MALFORMED_KEEP, SUPPORTED_LINKTYPES, Decoder
from capture.flows import FlowTracker
from capture.pcapio import CaptureError, CaptureReader
from capture.segment import Segment

FUZZ = settings(
    # Quick in the suite; TCPWATCH_FUZZ_EXAMPLES=5000 for a longer hunt.
    max_examples=int(os.environ.get("TCPWATCH_FUZZ_EXAMPLES", "100")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.large_base_example],
)

V4 = st.binary(min_size=4, max_size=4)
V6 = st.binary(min_size=16, max_size=16)
EXT_TYPES = (0, 43, 44, 51, 60, 135, 139, 140, 6, 17, 4, 41, 59, 255)


@st.composite
def tcp_header(draw: st.DrawFn) -> bytes:
    """A TCP header whose data offset and option list may lie about their lengths."""
    opts = draw(st.binary(max_size=40))
    off = draw(st.one_of(st.just((20 + len(opts) + 3) // 4), st.integers(0, 15)))
    head = struct.pack(
        "!HHIIBBHHH",
        draw(st.integers(0, 65535)),
        draw(st.integers(0, 65535)),
        draw(st.integers(0, 2**32 - 1)),
        draw(st.integers(0, 2**32 - 1)),
        (off << 4) | draw(st.integers(0, 15)),
        draw(st.integers(0, 255)),
        draw(st.integers(0, 65535)),
        0,
        draw(st.integers(0, 65535)),
    )
    return head + opts + draw(st.binary(max_size=64))


@st.composite
def ipv4(draw: st.DrawFn, inner: bytes) -> bytes:
    """IPv4 with options, fragment fields and a total length that is right or drawn."""
    options = draw(st.binary(max_size=40))
    options += b"\0" * (-len(options) % 4)
    ihl = draw(st.one_of(st.just(5 + len(options) // 4), st.integers(0, 15)))
    total = draw(st.one_of(st.just(20 + len(options) + len(inner)), st.integers(0, 65535)))
    frag = draw(st.sampled_from((0, 0x4000, 0x2000, 0x0001, 0x2005, 0x1FFF)))
    proto = draw(st.sampled_from((6, 6, 6, 17, 4, 41, 1, 255)))
    head = struct.pack(
        "!BBHHHBBH4s4s",
        (draw(st.sampled_from((4, 4, 4, 6, 0, 15))) << 4) | ihl,
        0,
        total,
        0,
        frag,
        64,
        proto,
        0,
        draw(V4),
        draw(V4),
    )
    return head + options + inner


@st.composite
def ipv6(draw: st.DrawFn, inner: bytes) -> bytes:
    """IPv6 with an extension chain that may loop (a header naming its own type) or overrun."""
    chain = draw(st.lists(st.sampled_from(EXT_TYPES), max_size=18))
    body = inner
    nxt = 6
    for ext in reversed(chain):
        hlen = draw(st.integers(0, 255)) if draw(st.booleans()) else 0
        ext_body = bytes([nxt, hlen]) + draw(st.binary(min_size=6, max_size=14))
        body = ext_body + body
        nxt = ext
    plen = draw(st.one_of(st.just(len(body)), st.integers(0, 65535)))
    version = draw(st.sampled_from((6, 6, 6, 4)))
    head = struct.pack("!IHBB16s16s", version << 28, plen, nxt, 64, draw(V6), draw(V6))
    return head + body


@st.composite
def ip_packet(draw: st.DrawFn) -> tuple[int, bytes]:
    """(ethertype, packet): IPv4 or IPv6 over TCP, sometimes tunnelled once."""
    inner = draw(tcp_header())
    if draw(st.booleans()):
        pkt = draw(ipv4(inner))
        etype = 0x0800
    else:
        pkt = draw(ipv6(inner))
        etype = 0x86DD
    if draw(st.integers(0, 9)) == 0:  # IP in IP
        pkt = draw(ipv4(pkt)) if draw(st.booleans()) else draw(ipv6(pkt))
    return etype, pkt


@st.composite
def ethernet(draw: st.DrawFn, etype: int, pkt: bytes) -> bytes:
    """Ethernet with a VLAN stack of any depth, or an MPLS label stack."""
    tags = b""
    for tpid in draw(st.lists(st.sampled_from((0x8100, 0x88A8, 0x9100, 0x9200)), max_size=10)):
        tags += struct.pack("!HH", tpid, draw(st.integers(0, 65535)))
    if draw(st.integers(0, 5)) == 0:
        labels = draw(st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=20))
        stack = b"".join(struct.pack("!I", lab & ~0x100) for lab in labels[:-1])
        stack += struct.pack("!I", labels[-1] | 0x100)
        return bytes(12) + tags + b"\x88\x47" + stack + pkt
    return bytes(12) + tags + struct.pack("!H", etype) + pkt


@st.composite
def frame(draw: st.DrawFn) -> tuple[int, bytes]:
    """(linktype, frame) for any supported link type, or an unsupported one."""
    etype, pkt = draw(ip_packet())
    linktype = draw(st.sampled_from(sorted(SUPPORTED_LINKTYPES) + [147, 9999]))
    family = 2 if etype == 0x0800 else draw(st.sampled_from((10, 24, 28, 30, 99)))
    if linktype == 1:
        data = draw(ethernet(etype, pkt))
    elif linktype == 113:
        data = bytes(14) + struct.pack("!H", etype) + pkt
    elif linktype == 276:
        data = struct.pack("!H", etype) + bytes(18) + pkt
    elif linktype == 0:
        order = "<" if draw(st.booleans()) else ">"
        data = struct.pack(order + "I", family) + pkt
    elif linktype == 108:
        data = struct.pack(">I", family) + pkt
    else:
        data = pkt
    return linktype, data


@st.composite
def mutated(draw: st.DrawFn) -> tuple[int, bytes]:
    """A drawn frame, then cut, overwritten and/or with random bytes."""
    linktype, data = draw(frame())
    buf = bytearray(data)
    for _ in range(draw(st.integers(0, 4))):
        if buf:
            pos = draw(st.integers(0, len(buf) - 1))
            buf[pos] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        buf = buf[: draw(st.integers(0, len(buf)))]
    if draw(st.integers(0, 9)) == 0:
        buf = bytearray(draw(st.binary(max_size=120)))
    return linktype, bytes(buf)


def _counted(d: Decoder) -> int:
    return d.tcp + d.non_tcp + d.fragments + d.malformed_total()


def _check_segment(seg: Segment, data: bytes) -> None:
    assert seg.frame is data
    assert seg.ip_version in (4, 6)
    assert len(seg.src) == len(seg.dst) == (4 if seg.ip_version == 4 else 16)
    assert 0 <= seg.sport <= 65535 and 0 <= seg.dport <= 65535
    assert 0 <= seg.seq < 2**32 and 0 <= seg.ack < 2**32
    assert seg.payload_len >= 0
    assert 0 <= seg.ip_off <= seg.tcp_off <= len(data)
    seg.payload()  # the inspector's view must not raise either
    repr(seg)


@FUZZ
@given(st.lists(mutated(), min_size=1, max_size=20))
def test_decoder_counts_every_frame_once_and_never_raises(frames: list[tuple[int, bytes]]) -> None:
    """Each decode() lands in exactly one counter; a Segment is returned exactly for `tcp`."""
    d = Decoder()
    for n, (linktype, data) in enumerate(frames, 1):
        tcp_before, counted_before = d.tcp, _counted(d)
        seg = d.decode(data, float(n), len(data), linktype, n)
        assert d.frames == n
        assert _counted(d) == counted_before + 1, (linktype, data.hex())
        assert (seg is not None) == (d.tcp == tcp_before + 1)
        if seg is not None:
            _check_segment(seg, data)
    for reason in d.malformed:
        assert reason.isprintable() and reason.isascii() and len(reason) < 80, reason


@FUZZ
@given(st.lists(mutated(), min_size=1, max_size=25), st.integers(1, 5))
def test_tracker_accounts_every_segment(frames: list[tuple[int, bytes]], cap: int) -> None:
    """Through a tiny tracker: every decoded segment is in exactly one exported flow."""
    d = Decoder()
    exported: list[dict[str, object]] = []
    tracker = FlowTracker(
        max_flows=cap, frames_per_flow=4, on_evict=lambda f: exported.append(f.record())
    )
    segments = 0
    for n, (linktype, data) in enumerate(frames, 1):
        seg = d.decode(data, 1000.0 + n * 0.001, len(data), linktype, n)
        if seg is not None:
            segments += 1
            tracker.ingest(seg)
            assert len(tracker.flows) <= cap
            tracker.take_changed()
    tracker.finish()
    exported += [f.record() for f in tracker.all_flows()]
    assert sum(r["orig_pkts"] + r["resp_pkts"] for r in exported) == segments  # type: ignore[operator]
    assert len(exported) == tracker.flow_count
    json.dumps(exported)  # every record is plain data


def test_malformed_keep_is_bounded() -> None:
    """However many bad frames arrive, only MALFORMED_KEEP are kept; the count stays exact."""
    d = Decoder()
    n = 0
    for linktype in sorted(SUPPORTED_LINKTYPES):
        for size in range(3):
            for _ in range(MALFORMED_KEEP // 10):
                n += 1
                d.decode(b"\x45" * size, 0.0, size, linktype, n)
    assert d.frames == _counted(d) == n
    assert d.malformed_total() > MALFORMED_KEEP
    assert len(d.malformed_frames) == MALFORMED_KEEP


LINK_HEADER = {0: 4, 1: 14, 12: 20, 14: 20, 101: 20, 108: 4, 113: 16, 228: 20, 229: 40, 276: 20}


@pytest.mark.parametrize("linktype", sorted(LINK_HEADER))
def test_frame_shorter_than_its_headers_is_malformed(linktype: int) -> None:
    """A frame cut inside its first header is malformed (not silently "non-TCP")."""
    for size in range(min(3, LINK_HEADER[linktype])):
        d = Decoder()
        assert d.decode(b"\x45" * size, 0.0, size, linktype, 1) is None
        assert d.malformed_total() == 1, (size, d.non_tcp)


def test_ipv6_extension_loop_is_bounded() -> None:
    """A chain of hop-by-hop headers each naming the next as hop-by-hop, longer than the limit."""
    chain = bytes([0, 0]) + bytes(6)
    pkt = struct.pack("!IHBB16s16s", 6 << 28, 8 * 200, 0, 64, bytes(16), bytes(16)) + chain * 200
    d = Decoder()
    assert d.decode(pkt, 0.0, len(pkt), 229, 1) is None
    assert _counted(d) == 1 and d.malformed_total() + d.non_tcp == 1


def test_deep_vlan_stack() -> None:
    """A thousand stacked VLAN tags: decoded or malformed, never a recursion or a hang."""
    tcp = struct.pack("!HHIIBBHHH", 1, 2, 0, 0, 0x50, 2, 0, 0, 0)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, 0, 0, 64, 6, 0, bytes(4), bytes(4)) + tcp
    data = bytes(12) + b"\x81\x00\x00\x01" * 1000 + b"\x08\x00" + ip
    d = Decoder()
    seg = d.decode(data, 0.0, len(data), 1, 1)
    assert _counted(d) == 1
    assert seg is None or len(seg.vlan) == 1000


# Inputs found by fuzz/atheris_decode.py (file mode: the first byte is the mode, then a capture).
FOUND = Path(__file__).parent / "data" / "fuzz"
OPEN_FINDINGS: dict[str, str] = {}


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(p.name, marks=pytest.mark.xfail(strict=True, reason=OPEN_FINDINGS[p.name]))
        if p.name in OPEN_FINDINGS
        else p.name
        for p in sorted(FOUND.glob("*.bin"))
    ],
)
def test_fuzz_findings_stay_fixed(name: str) -> None:
    """Each kept fuzz finding goes through reader, decoder and tracker without an exception."""
    data = (FOUND / name).read_bytes()[1:]
    try:
        records = list(CaptureReader(io.BytesIO(data), name))
    except CaptureError:
        return
    d = Decoder()
    tracker = FlowTracker(max_flows=4, frames_per_flow=4)
    for n, (ts, wire_len, frame, linktype) in enumerate(records, 1):
        seg = d.decode(frame, ts, wire_len, linktype, n)
        if seg is not None:
            tracker.ingest(seg)
    tracker.finish()
    assert _counted(d) == len(records)
    json.dumps([f.record() for f in tracker.all_flows()])
