"""The inspector's dissection of one frame, on real captures (VLAN, SLL, SLL2, IPv6, options)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from captures import read_segments

from capture.dissect import Layer, Row, bit_row, dissect, dissect_segment

DATA = Path(__file__).parent / "data"


segments = read_segments


def layer(layers: list[Layer], name: str) -> dict[str, str]:
    """The rows of the named layer as a dict (first occurrence of each field)."""
    found = [lay for lay in layers if lay.name == name]
    assert found, f"no {name} layer in {[lay.name for lay in layers]}"
    rows: dict[str, str] = {}
    for row in found[0].rows:
        rows.setdefault(row.field, row.value)
    return rows


def test_bit_row_spells_one_bit():
    """`......1. = SYN: set` is the Wireshark-like spelling of bit 6 of 8."""
    assert bit_row(8, 6, "SYN", 1) == Row("......1.", "SYN: set", 1)
    assert bit_row(8, 0, "CWR", 0) == Row("0.......", "CWR: not set", 1)


def test_vlan_syn_every_layer_and_flag_bits():
    """An 802.1Q-tagged SYN: Ethernet, VLAN, IPv4 (DF, TTL, ID), TCP flag bits and options."""
    # GIVEN the first frame of a VLAN-tagged HTTP capture (a SYN)
    seg = segments("zeek_http-vlan-0.pcap")[0]
    # WHEN it is dissected
    layers = dissect_segment(seg)
    # THEN every layer is there, in order, with byte ranges that tile the headers
    assert [lay.name for lay in layers] == ["Frame", "Ethernet", "802.1Q VLAN", "IPv4", "TCP"]
    assert [(lay.start, lay.end) for lay in layers[1:]] == [(0, 14), (14, 18), (18, 38), (38, 82)]
    assert layer(layers, "Frame")["number"] == "1"
    assert layer(layers, "Ethernet")["type"] == "0x8100 (n_802_1Q)"
    assert layer(layers, "802.1Q VLAN")["type"] == "0x0800 (IPv4)"
    ip = layer(layers, "IPv4")
    assert ip["ttl"] == "64" and ip["id"] == "57230" and ip["flags"] == "0x2 (DF)"
    assert ip[".1."] == "DF: set" and ip["..0"] == "MF: not set"
    assert ip["chksum"] == "0x6dd3 (correct)"
    tcp = layer(layers, "TCP")
    assert tcp["flags"] == "0x002 (SYN)"
    assert tcp["......1."] == "SYN: set"
    assert tcp["...0...."] == "ACK: not set"
    assert tcp["MSS"] == "1460" and tcp["WScale"] == "4"
    assert tcp["Timestamp"] == "val 374005024 ecr 0"
    assert "SAckOK" in tcp and tcp["dataofs"] == "11 (44 bytes)"


def test_synack_flag_bits():
    """The SYN/ACK of the same capture has both SYN and ACK bits set, FIN not."""
    synack = next(s for s in segments("zeek_http-vlan-0.pcap") if s.flags & 0x12 == 0x12)
    tcp = layer(dissect(synack.frame, synack.linktype), "TCP")
    assert tcp["flags"] == "0x012 (ACK, SYN)"
    assert tcp["......1."] == "SYN: set" and tcp["...1...."] == "ACK: set"
    assert tcp[".......0"] == "FIN: not set"


def test_linux_cooked_sll_and_payload_text_is_printable_only():
    """SLL (113): cooked header, then IPv4/TCP; payload text keeps printable ASCII only."""
    segs = segments("zeek_tls_irc-starttls.pcap")
    data_seg = next(s for s in segs if s.payload_len)
    layers = dissect(data_seg.frame, data_seg.linktype)
    assert [lay.name for lay in layers][:3] == ["cooked linux", "IPv4", "TCP"]
    cooked = layer(layers, "cooked linux")
    assert cooked["lladdrlen"] == "6" and cooked["src"] == "34:e6:d7:12:1e:b1"
    payload = layer(layers, "Payload")
    assert payload["length"] == f"{data_seg.payload_len} bytes"
    assert all(0x20 <= ord(c) < 0x7F or c == "…" for c in payload["text"])


def test_linux_cooked_v2():
    """SLL2 (276) frames dissect to the cooked v2 header, IPv4 and TCP."""
    seg = segments("suricata_decode-sll2-01.pcap")[0]
    names = [lay.name for lay in dissect(seg.frame, seg.linktype)]
    assert names[:3] == ["cooked linux v2", "IPv4", "TCP"]


def test_ipv6_with_checksum_verified():
    """IPv6 over Ethernet: IPv6 fields and a verified TCP checksum over the v6 pseudo-header."""
    seg = segments("zeek_communityid_ipv6.pcap")[0]
    layers = dissect(seg.frame, seg.linktype)
    v6 = layer(layers, "IPv6")
    assert v6["nh"] == "6 (TCP)"
    assert v6["src"] == "2001:470:e5bf:dead:4957:2174:e82c:4887"
    assert layer(layers, "TCP")["chksum"].endswith("(correct)")


def test_bsd_loopback_ipv6():
    """DLT_NULL with a BSD AF_INET6 family value still dissects down to IPv6 and TCP."""
    seg = next(s for s in segments("zeek_irc-353.pcap") if s.ip_version == 6)
    names = [lay.name for lay in dissect(seg.frame, seg.linktype)]
    assert names[:3] == ["Loopback", "IPv6", "TCP"]


def test_raw_ip_and_wrong_checksum_is_reported():
    """A tampered TCP checksum is reported as wrong with the expected value."""
    seg = segments("zeek_tcp_options.pcap")[0]
    frame = bytearray(seg.frame)
    frame[seg.tcp_off + 16] ^= 0xFF
    tcp = layer(dissect(bytes(frame), seg.linktype), "TCP")
    assert tcp["chksum"].startswith("0x") and "(wrong, expected 0x" in tcp["chksum"]


@pytest.mark.parametrize("cut", [0, 1, 13, 20, 37, 45])
def test_cut_frames_never_raise(cut):
    """A frame cut anywhere dissects to something (or an Undecoded layer), never an exception."""
    seg = segments("zeek_http-vlan-0.pcap")[0]
    layers = dissect(seg.frame[:cut], seg.linktype)
    assert all(isinstance(lay, Layer) for lay in layers)


def test_hostile_payload_has_no_control_characters():
    """Escape bytes in the payload never reach a row value."""
    seg = next(s for s in segments("zeek_tls_irc-starttls.pcap") if s.payload_len)
    start = seg.tcp_off + (seg.frame[seg.tcp_off + 12] >> 4) * 4
    frame = seg.frame[:start] + b"\x1b]0;owned\x07\x9b" + seg.frame[start + 12 :]
    for lay in dissect(frame, seg.linktype):
        for row in lay.rows:
            assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in row.field + row.value)


def test_import_is_lazy():
    """Importing capture.dissect does not import scapy (only the first dissection does)."""
    code = "import sys, capture.dissect; print('scapy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


CAPTURES = [
    "pcapplusplus_one_http_stream_fin.pcap",  # Ethernet trailer padding on some frames
    "zeek_http-vlan-0.pcap",
    "zeek_vlan-qinqinq.pcap",
    "zeek_tls_irc-starttls.pcap",
    "suricata_decode-sll2-01.pcap",
    "zeek_irc-353.pcap",
    "zeek_communityid_ipv6.pcap",
    "zeek_tcp_payload-syn.pcap",
    "tcpdump_print-flags.pcap",
]


@pytest.mark.parametrize("name", CAPTURES)
def test_layer_bytes_agree_with_the_decoder_on_every_frame(name):
    """scapy's layer boundaries (what the hex dump marks) match our decoder's offsets."""
    for seg in segments(name):
        layers = dissect(seg.frame, seg.linktype)
        ip = [lay for lay in layers if lay.name in ("IPv4", "IPv6")][-1]
        tcp = next(lay for lay in layers if lay.name == "TCP")
        assert (ip.start, tcp.start) == (seg.ip_off, seg.tcp_off), seg
        assert tcp.end - tcp.start == 4 * (seg.frame[seg.tcp_off + 12] >> 4), seg
        payload = [lay for lay in layers if lay.name == "Payload"]
        captured = min(seg.payload_len, len(seg.frame) - tcp.end)
        assert (payload[0].end - payload[0].start if payload else 0) == captured, seg


@pytest.mark.parametrize("name", CAPTURES)
def test_field_spans_hold_the_fields_values_on_every_frame(name):
    """The bytes each TCP field is said to come from hold that field's value (what `Row.span`
    makes the hex dump mark), on every frame of real captures."""
    for seg in segments(name):
        tcp = next(lay for lay in dissect(seg.frame, seg.linktype) if lay.name == "TCP")
        spans = {row.field: row.span for row in tcp.rows if row.depth == 0}
        for field, value, size in (
            ("sport", seg.sport, 2), ("dport", seg.dport, 2), ("seq", seg.seq, 4),
            ("ack", seg.ack, 4), ("window", seg.window, 2),
        ):  # fmt: skip
            start, end = spans[field]
            assert seg.frame[start:end] == value.to_bytes(size, "big"), (seg, field)
        start, end = spans["flags"]
        assert (start, end) == (seg.tcp_off + 12, seg.tcp_off + 14)
        assert seg.frame[end - 1] == seg.flags & 0xFF, seg
        options = [row.span for row in tcp.rows if row.depth == 1 and row.field[0] not in ".01"]
        if options and spans["options"] != options[0]:  # the options tile the options field
            assert options[0][0] == spans["options"][0] and options[-1][1] == spans["options"][1]
            assert all(a[1] == b[0] for a, b in zip(options, options[1:], strict=False))


def test_analysis_layer_says_what_the_engine_marked():
    """A duplicate ACK ends with Wireshark's analysis: its number and the frame it repeats; an
    unmarked segment has no such layer."""
    segs = {s.frame_no: s for s in segments("chrissanders_tcp_dupack.pcapng")}
    layers = dissect_segment(segs[5])
    assert layers[-1].name == "TCP analysis" and layers[-1].start == layers[-1].end == 0
    assert layer(layers, "TCP analysis") == {
        "[Dup ACK #2]": "duplicate ACK #2: the same ACK, window and sequence as frame 1"
    }
    fast = layer(dissect_segment(segs[8]), "TCP analysis")
    assert list(fast) == ["[Fast Retransmission]"]
    assert "TCP analysis" not in [lay.name for lay in dissect_segment(segs[1])]
