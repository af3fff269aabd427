"""The decoder against real captures (tshark's counts) and against frames built by scapy."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.inet6 import (
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrFragment,
    IPv6ExtHdrHopByHop,
    IPv6ExtHdrRouting,
)
from scapy.layers.l2 import CookedLinux, Dot1AD, Dot1Q, Ether
from scapy.packet import Raw

from capture.decode import Decoder
from capture.pcapio import open_capture
from capture.segment import ACK, AE, CWR, ECE, FIN, PSH, RST, SYN, URG, parse_options

DATA = Path(__file__).parent / "data"
TRUTHS = sorted(DATA.glob("*.truth.json"))


def decode_one(frame: bytes, linktype: int = 1, wire_len: int | None = None):
    decoder = Decoder()
    wire = len(frame) if wire_len is None else wire_len
    return decoder.decode(frame, 1.5, wire, linktype, 1), decoder


def tcp_syn(**ip_kw: object) -> bytes:
    return bytes(
        IP(src="10.0.0.1", dst="10.0.0.2", **ip_kw)
        / TCP(sport=40000, dport=80, flags="S", seq=1000, options=[("MSS", 1460)])
    )


@pytest.mark.parametrize("truth", TRUTHS, ids=lambda p: p.name.removesuffix(".truth.json"))
def test_every_public_capture_yields_tsharks_tcp_segments(truth: Path) -> None:
    """Each capture decodes to as many TCP segments as tshark saw, with the same IP bytes."""
    expected = json.loads(truth.read_text())
    reader = open_capture(str(DATA / truth.name.removesuffix(".truth.json")))
    decoder = Decoder()
    segs = [s for i, r in enumerate(reader, 1) if (s := decoder.decode(r[2], r[0], r[1], r[3], i))]
    assert len(segs) == expected["tcp_packets"]
    assert reader.error == ""
    ip_bytes = sum(c[d]["ip_bytes"] for c in expected["conversations"] for d in ("i2r", "r2i"))
    assert sum(s.ip_len for s in segs) == ip_bytes
    assert decoder.frames == decoder.tcp + decoder.non_tcp + decoder.fragments + sum(
        decoder.malformed.values()
    )


@pytest.mark.parametrize(
    ("linktype", "frame"),
    [
        (1, bytes(Ether() / IP(tcp_syn()))),
        (0, struct.pack("<I", 2) + tcp_syn()),  # DLT_NULL, little-endian host
        (0, struct.pack(">I", 2) + tcp_syn()),  # DLT_NULL, big-endian host
        (108, struct.pack(">I", 2) + tcp_syn()),  # DLT_LOOP, always network order
        (113, bytes(CookedLinux(proto=0x0800) / IP(tcp_syn()))),
        (276, struct.pack("!HHIHBB8s", 0x0800, 0, 1, 1, 0, 6, b"\0" * 8) + tcp_syn()),
        (101, tcp_syn()),
        (12, tcp_syn()),
        (14, tcp_syn()),
        (228, tcp_syn()),
    ],
)
def test_link_types(linktype: int, frame: bytes) -> None:
    """Every supported link type reaches the same TCP header."""
    seg, _ = decode_one(frame, linktype)
    assert seg is not None
    assert (seg.sport, seg.dport, seg.seq, seg.flags) == (40000, 80, 1000, SYN)
    assert parse_options(seg.opts).mss == 1460


def test_ipv6_link_type_and_extension_headers() -> None:
    """Hop-by-hop, routing, destination options and an atomic fragment are walked."""
    pkt = (
        IPv6(src="2001:db8::1", dst="2001:db8::2")
        / IPv6ExtHdrHopByHop()
        / IPv6ExtHdrRouting()
        / IPv6ExtHdrDestOpt()
        / IPv6ExtHdrFragment(offset=0, m=0)
        / TCP(sport=1, dport=2, flags="SA")
    )
    seg, _ = decode_one(bytes(pkt), 229)
    assert seg is not None and seg.ip_version == 6
    assert seg.flags == SYN | ACK
    assert seg.ip_len == len(bytes(pkt))


def test_stacked_vlans_and_padding() -> None:
    """802.1ad + 802.1Q tags are kept outermost first; Ethernet padding is not counted."""
    frame = bytes(Ether() / Dot1AD(vlan=10) / Dot1Q(vlan=20) / IP(tcp_syn())) + b"\0" * 12
    seg, _ = decode_one(frame)
    assert seg is not None
    assert seg.vlan == (10, 20)
    assert seg.ip_len == len(tcp_syn())
    assert seg.payload_len == 0 and not seg.truncated


def test_mpls_label_stack() -> None:
    """Two MPLS labels, the second bottom-of-stack, then IPv4."""
    labels = struct.pack("!II", (100 << 12) | 64, (200 << 12) | 0x100 | 64)
    frame = bytes(Ether(type=0x8847)) + labels + tcp_syn()
    seg, _ = decode_one(frame)
    assert seg is not None and seg.dport == 80


def test_ipv4_options_and_fragments() -> None:
    """IPv4 options are skipped; a first fragment decodes, a later one is only counted."""
    with_opts = bytes(IP(src="1.1.1.1", dst="2.2.2.2", options=b"\x01\x01\x01\x00") / TCP())
    seg, _ = decode_one(with_opts, 101)
    assert seg is not None and seg.ip_off == 0 and seg.tcp_off == 24
    first = bytes(IP(flags="MF", frag=0) / TCP(dport=443) / Raw(b"x" * 40))
    seg, _ = decode_one(first, 101)
    assert seg is not None and seg.dport == 443
    later = bytes(IP(frag=3, proto=6) / Raw(b"y" * 40))
    seg, decoder = decode_one(later, 101)
    assert seg is None and decoder.fragments == 1


def test_every_flag_bit_including_ae() -> None:
    """The nine flag bits, AE taken from the data-offset byte."""
    frame = bytearray(bytes(IP() / TCP(flags="FSRPAUEC")))
    frame[20 + 12] |= 0x01  # AE (formerly NS)
    seg, _ = decode_one(bytes(frame), 101)
    assert seg is not None
    assert seg.flags == FIN | SYN | RST | PSH | ACK | URG | ECE | CWR | AE


def test_truncated_frame_keeps_header_lengths() -> None:
    """A snap-length cut keeps the IP header's length and marks the segment truncated."""
    full = bytes(IP() / TCP() / Raw(b"z" * 1000))
    seg, decoder = decode_one(full[:60], 101, wire_len=len(full))
    assert seg is not None and seg.truncated and decoder.truncated == 1
    assert seg.ip_len == len(full) and seg.payload_len == 1000
    assert seg.payload() == b"z" * 20


@pytest.mark.parametrize("vlan", [False, True])
def test_ip_length_beyond_the_wire_caps_the_payload(vlan: bool) -> None:
    """An IPv4 total length larger than the frame on the wire (zeek_tcp_reassembly.pcap): the
    payload is what the wire held, as tshark's tcp.len; ip_len stays the header's."""
    ip = IP(len=1500) / TCP() / Raw(b"z" * 100)
    frame = bytes(Ether() / Dot1Q(vlan=5) / ip if vlan else Ether() / ip)
    seg, decoder = decode_one(frame)
    assert seg is not None and not decoder.malformed
    assert seg.ip_len == 1500 and seg.payload_len == 100
    assert seg.truncated  # the capture holds less than the IP header says


def test_bad_data_offset_and_options_are_flagged_not_fatal() -> None:
    """A data offset below 5 and an overrunning option list are reported on the segment."""
    frame = bytearray(bytes(IP() / TCP()))
    frame[32] = (3 << 4) | (frame[32] & 0x0F)
    seg, _ = decode_one(bytes(frame), 101)
    assert seg is not None and "data offset" in seg.bad_opts
    opts = parse_options(b"\x02\x04\x05")
    assert opts.malformed and opts.mss is None


@pytest.mark.parametrize(
    ("frame", "linktype", "reason"),
    [
        (b"\x00\x01", 1, "truncated header"),
        (bytes(Ether(type=0x0800)) + b"\x45\x00", 1, "truncated header"),
        (b"\x70" + b"\0" * 39, 101, "IP version 7"),
        (bytes(IP(proto=6)) + b"\0" * 8, 101, "truncated TCP header"),
        (b"\0" * 40, 147, "unsupported link type 147"),
    ],
)
def test_malformed_frames_are_counted_and_kept(frame: bytes, linktype: int, reason: str) -> None:
    """Undecodable frames never raise: they are counted by reason and kept for inspection."""
    seg, decoder = decode_one(frame, linktype)
    assert seg is None
    assert decoder.malformed == {reason: 1}
    assert decoder.malformed_frames[0][3] == frame


def test_options_of_every_kind() -> None:
    """MSS, wscale, SACK-permitted, SACK blocks, timestamps, TFO (34 and 254), MPTCP, unknown."""
    raw = (
        b"\x02\x04\x05\xb4\x03\x03\x07\x04\x02\x05\x0a\x00\x00\x00\x01\x00\x00\x00\x02"
        b"\x08\x0a\x00\x00\x00\x09\x00\x00\x00\x00\x22\x06\xaa\xbb\xcc\xdd"
        b"\xfe\x04\xf9\x89\x1e\x04\x00\x81\x1b\x03\x07\x00"
    )
    o = parse_options(raw)
    assert (o.mss, o.wscale, o.sack_perm) == (1460, 7, True)
    assert o.sack_blocks == [(1, 2)]
    assert (o.ts_val, o.ts_ecr) == (9, 0)
    assert o.tfo_cookie == b""  # the last TFO option seen (experimental kind 254) is a request
    assert o.mptcp
    assert [k for k, _, _ in o.items] == [2, 3, 4, 5, 8, 34, 254, 30, 27, 0]
    assert o.items[-2] == (27, "opt-27", "kind 27 len 3")
    assert not o.malformed
