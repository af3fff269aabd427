//! Every link type and encapsulation, on hand-built frames (Python: tests/test_decode.py).

use super::*;
use crate::segment::{parse_options, ACK, AE, CWR, ECE, FIN, PSH, RST, SYN, URG};

/// A TCP header with an MSS option (data offset 6), then `payload`.
pub(super) fn tcp_syn(payload: &[u8]) -> Vec<u8> {
    let mut t = vec![
        0x9c, 0x40, 0, 80, 0, 0, 0x03, 0xe8, 0, 0, 0, 0, 0x60, 0x02, 0xff, 0xff,
    ];
    t.extend([0, 0, 0, 0, 2, 4, 0x05, 0xb4]);
    t.extend(payload);
    t
}

pub(super) fn ip4(proto: u8, body: &[u8]) -> Vec<u8> {
    let total = (20 + body.len()) as u16;
    let mut h = vec![
        0x45, 0, 0, 0, 0, 1, 0, 0, 64, proto, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
    ];
    h[2..4].copy_from_slice(&total.to_be_bytes());
    h.extend(body);
    h
}

pub(super) fn ip6(nxt: u8, body: &[u8]) -> Vec<u8> {
    let mut h = vec![0x60, 0, 0, 0, 0, 0, nxt, 64];
    h[4..6].copy_from_slice(&(body.len() as u16).to_be_bytes());
    h.extend([0x20, 0x01, 0x0d, 0xb8].iter().chain(&[0; 11]).chain(&[1]));
    h.extend([0x20, 0x01, 0x0d, 0xb8].iter().chain(&[0; 11]).chain(&[2]));
    h.extend(body);
    h
}

pub(super) fn eth(etype: u16, body: &[u8]) -> Vec<u8> {
    let mut f = vec![0; 12];
    f.extend(etype.to_be_bytes());
    f.extend(body);
    f
}

pub(super) fn decode_one(frame: &[u8], linktype: i32) -> (Option<Segment>, Decoder) {
    decode_wire(frame, linktype, frame.len() as u32)
}

pub(super) fn decode_wire(frame: &[u8], linktype: i32, wire: u32) -> (Option<Segment>, Decoder) {
    let mut d = Decoder::new(false);
    let seg = d.decode(frame, 1.5, wire, linktype, 1);
    assert_eq!(d.frames, 1);
    let counted = d.tcp + d.non_tcp + d.fragments + d.malformed_total();
    assert_eq!(counted, 1, "{frame:02x?}");
    (seg, d)
}

fn assert_syn(seg: &Segment) {
    assert_eq!(
        (seg.sport, seg.dport, seg.seq, seg.flags),
        (40000, 80, 1000, SYN)
    );
    assert_eq!(parse_options(seg.opts.as_slice()).mss, Some(1460));
    assert!(seg.header_ok && seg.bad_opts.is_none());
}

#[test]
fn every_link_type_reaches_the_tcp_header() {
    let v4 = ip4(6, &tcp_syn(b""));
    let with = |head: &[u8], ip: &[u8]| [head, ip].concat();
    let sll2 = [&[0x08, 0][..], &[0; 18]].concat();
    let cases: Vec<(i32, Vec<u8>)> = vec![
        (1, eth(0x0800, &v4)),
        (0, with(&2u32.to_le_bytes(), &v4)),
        (0, with(&2u32.to_be_bytes(), &v4)),
        (108, with(&2u32.to_be_bytes(), &v4)),
        (113, with(&[[0; 14].as_slice(), &[0x08, 0]].concat(), &v4)),
        (276, with(&sll2, &v4)),
        (101, v4.clone()),
        (12, v4.clone()),
        (14, v4.clone()),
        (228, v4.clone()),
    ];
    for (linktype, frame) in cases {
        let (seg, _) = decode_one(&frame, linktype);
        let seg = seg.expect("a segment");
        assert_syn(&seg);
        assert_eq!(
            (seg.linktype, seg.ip_off as usize),
            (linktype, frame.len() - v4.len())
        );
        assert_eq!(
            (seg.ip_version, seg.ttl, seg.ip_len),
            (4, 64, v4.len() as u32)
        );
    }
}

#[test]
fn ipv6_over_every_link_that_carries_it() {
    let v6 = ip6(6, &tcp_syn(b"abc"));
    for (linktype, head) in [
        (229, vec![]),
        (101, vec![]),
        (1, eth(0x86dd, &[])),
        (0, 24u32.to_le_bytes().to_vec()),
        (0, 30u32.to_be_bytes().to_vec()),
        (0, 10u32.to_le_bytes().to_vec()),
        (108, 28u32.to_be_bytes().to_vec()),
    ] {
        let (seg, _) = decode_one(&[head.as_slice(), &v6].concat(), linktype);
        let seg = seg.expect("a segment");
        assert_syn(&seg);
        assert_eq!((seg.ip_version, seg.payload_len, seg.ip_len), (6, 3, 67));
        assert_eq!(seg.src.to_string(), "2001:db8::1");
    }
}

#[test]
fn ipv6_extension_headers_are_walked() {
    let t = tcp_syn(b"");
    let hbh = [43, 0, 0, 0, 0, 0, 0, 0];
    let routing = [60, 1].iter().chain(&[0; 14]).copied().collect::<Vec<u8>>();
    let dst = [51, 0, 0, 0, 0, 0, 0, 0];
    let ah = [44, 1].iter().chain(&[0; 10]).copied().collect::<Vec<u8>>();
    let atomic_frag = [6, 0, 0, 0, 0, 0, 0, 9];
    let body = [&hbh[..], &routing, &dst, &ah, &atomic_frag, &t].concat();
    let pkt = ip6(0, &body);
    let (seg, _) = decode_one(&pkt, 229);
    let seg = seg.expect("a segment");
    assert_syn(&seg);
    assert_eq!(seg.tcp_off as usize, pkt.len() - t.len());
    assert_eq!(seg.ip_len as usize, pkt.len());
    let later = [&[6, 0, 0, 0x09, 0, 0, 0, 1][..], &t].concat();
    let (seg, d) = decode_one(&ip6(44, &later), 229);
    assert!(seg.is_none() && d.fragments == 1);
    for (nxt, outcome) in [(59, "no next header"), (17, "UDP, not L2TP")] {
        let (seg, d) = decode_one(&ip6(nxt, &[0; 8]), 229);
        assert!(seg.is_none() && d.non_tcp == 1, "{outcome}");
    }
}

#[test]
fn stacked_vlans_and_padding() {
    let v4 = ip4(6, &tcp_syn(b""));
    let tags = [&[0, 10, 0x81, 0][..], &[0x30, 20, 0x08, 0], &v4, &[0; 12]].concat();
    let (seg, d) = decode_one(&eth(0x88a8, &tags), 1);
    let seg = seg.expect("a segment");
    assert_eq!(&*seg.vlan, &[10, 20]);
    assert_eq!(seg.ip_len as usize, v4.len());
    assert!(seg.payload_len == 0 && !seg.truncated && d.truncated == 0);
    // Tags the fast path leaves to the walk: 0x9100, 0x9200, three deep.
    let deep = [
        &[0, 1, 0x92, 0][..],
        &[0, 2, 0x81, 0],
        &[0, 3, 0x08, 0],
        &v4,
    ]
    .concat();
    let (seg, _) = decode_one(&eth(0x9100, &deep), 1);
    assert_eq!(&*seg.expect("a segment").vlan, &[1, 2, 3]);
    let mut many = Vec::new();
    for _ in 0..1000 {
        many.extend([0, 1, 0x81, 0]);
    }
    many.truncate(many.len() - 2);
    many.extend([0x08, 0]);
    many.extend(&v4);
    let (seg, _) = decode_one(&eth(0x8100, &many), 1);
    assert_eq!(seg.expect("a segment").vlan.len(), 1000);
}

#[test]
fn mpls_label_stacks_and_pseudowires() {
    let label =
        |v: u32, bottom: bool| ((v << 12) | if bottom { 0x100 } else { 0 } | 64).to_be_bytes();
    let v4 = ip4(6, &tcp_syn(b""));
    let two = [&label(100, false)[..], &label(200, true), &v4].concat();
    let (seg, _) = decode_one(&eth(0x8847, &two), 1);
    assert_syn(&seg.expect("a segment"));
    let v6 = [&label(100, true)[..], &ip6(6, &tcp_syn(b""))].concat();
    assert!(decode_one(&eth(0x8848, &v6), 1).0.is_some());
    // Outer VLAN 5, then a pseudowire (control word) carrying Ethernet with VLAN 7.
    let inner = eth(0x8100, &[&[0, 7, 0x08, 0][..], &v4].concat());
    let pw = [&[0, 5, 0x88, 0x47][..], &label(16, true), &[0; 4], &inner].concat();
    let (seg, _) = decode_one(&eth(0x8100, &pw), 1);
    assert_eq!(&*seg.expect("a segment").vlan, &[7]);
    // Without inner tags the outer ones stay (Python's `self._vlan`).
    let pw = [
        &[0, 5, 0x88, 0x47][..],
        &label(16, true),
        &[0; 4],
        &eth(0x0800, &v4),
    ]
    .concat();
    let (seg, _) = decode_one(&eth(0x8100, &pw), 1);
    assert_eq!(&*seg.expect("a segment").vlan, &[5]);
}

#[test]
fn pppoe_and_l2tp() {
    let v4 = ip4(6, &tcp_syn(b""));
    let session = [0x11, 0, 0, 1, 0, 0];
    for ppp in [&[0x00, 0x21][..], &[0x21], &[0xff, 0x03, 0x00, 0x21]] {
        let (seg, _) = decode_one(&eth(0x8864, &[&session[..], ppp, &v4].concat()), 1);
        assert_syn(&seg.expect("a segment"));
    }
    let v6 = ip6(6, &tcp_syn(b""));
    assert!(
        decode_one(&eth(0x8864, &[&session[..], &[0, 0x57], &v6].concat()), 1)
            .0
            .is_some()
    );
    let (seg, d) = decode_one(
        &eth(0x8864, &[&session[..], &[0xc0, 0x21, 0, 0]].concat()),
        1,
    );
    assert!(seg.is_none() && d.non_tcp == 1);
    // L2TPv2 data with length, sequence numbers and an offset pad, over UDP port 1701.
    let l2tp = [
        &[0x4a, 0x02, 0, 0][..],
        &[0, 5, 0, 6],
        &[0, 1, 0, 2],
        &[0, 1, 0xaa],
    ]
    .concat();
    let udp = |l2: &[u8]| [&[0x06, 0xa5, 0x06, 0xa5, 0, 0, 0, 0][..], l2].concat();
    let data = [&l2tp[..], &[0xff, 0x03, 0, 0x21], &v4].concat();
    for frame in [
        eth(0x0800, &ip4(17, &udp(&data))),
        eth(0x86dd, &ip6(17, &udp(&data))),
    ] {
        let (seg, _) = decode_one(&frame, 1);
        let seg = seg.expect("a segment");
        assert_syn(&seg);
        assert_eq!(seg.ip_off as usize, frame.len() - v4.len());
    }
    for control in [[0xc8, 0x02], [0x00, 0x03]] {
        let (seg, d) = decode_one(
            &eth(0x0800, &ip4(17, &udp(&[&control[..], &[0; 8]].concat()))),
            1,
        );
        assert!(seg.is_none() && d.non_tcp == 1);
    }
}

#[test]
fn tunnels_give_the_innermost_header() {
    let t = tcp_syn(b"");
    for (outer, inner) in [
        (ip4(4, &ip4(6, &t)), 4),
        (ip4(41, &ip6(6, &t)), 6),
        (ip6(4, &ip4(6, &t)), 4),
    ] {
        let (seg, _) = decode_one(&outer, 101);
        let seg = seg.expect("a segment");
        assert_eq!(seg.ip_version, inner);
        assert_eq!(
            seg.ip_off as usize,
            outer.len() - t.len() - if inner == 4 { 20 } else { 40 }
        );
    }
}

#[test]
fn ipv4_options_and_fragments() {
    let mut with_opts = ip4(6, &[&[1, 1, 1, 0][..], &tcp_syn(b"")].concat());
    with_opts[0] = 0x46;
    let (seg, _) = decode_one(&with_opts, 101);
    assert_eq!(seg.expect("a segment").tcp_off, 24);
    let mut first = ip4(6, &tcp_syn(&[b'x'; 40]));
    first[6] = 0x20; // MF, offset 0
    assert!(decode_one(&first, 101).0.is_some());
    let mut later = ip4(6, &[b'y'; 40]);
    later[7] = 3;
    let (seg, d) = decode_one(&later, 101);
    assert!(seg.is_none() && d.fragments == 1);
    let (seg, d) = decode_one(&ip4(1, &[0; 8]), 101);
    assert!(seg.is_none() && d.non_tcp == 1);
}

#[test]
fn every_flag_bit_including_ae() {
    let mut t = tcp_syn(b"");
    t[13] = 0xff;
    t[12] |= 1;
    let (seg, _) = decode_one(&ip4(6, &t), 101);
    let all = FIN | SYN | RST | PSH | ACK | URG | ECE | CWR | AE;
    assert_eq!(seg.expect("a segment").flags, all);
}

#[test]
fn truncated_frame_keeps_header_lengths() {
    let full = ip4(6, &tcp_syn(&[b'z'; 1000]));
    let (seg, d) = decode_wire(&full[..60], 101, full.len() as u32);
    let seg = seg.expect("a segment");
    assert!(seg.truncated && d.truncated == 1);
    assert_eq!(
        (seg.ip_len as usize, seg.payload_len, seg.caplen),
        (full.len(), 1000, 60)
    );
}

#[test]
fn ip_length_beyond_the_wire_caps_the_payload() {
    let mut ip = ip4(6, &tcp_syn(&[b'z'; 100]));
    ip[2..4].copy_from_slice(&1500u16.to_be_bytes());
    for frame in [
        eth(0x0800, &ip),
        eth(0x8100, &[&[0, 5, 8, 0][..], &ip].concat()),
    ] {
        let (seg, d) = decode_one(&frame, 1);
        let seg = seg.expect("a segment");
        assert!(d.malformed.is_empty() && seg.truncated);
        assert_eq!((seg.ip_len, seg.payload_len), (1500, 100));
    }
}

#[test]
fn zero_total_length_is_segmentation_offload() {
    let mut ip = ip4(6, &tcp_syn(&[1; 10]));
    ip[2..4].copy_from_slice(&[0, 0]);
    let (seg, _) = decode_one(&eth(0x0800, &ip), 1);
    let seg = seg.expect("a segment");
    assert_eq!(
        (seg.ip_len as usize, seg.payload_len, seg.truncated),
        (ip.len(), 10, false)
    );
}

#[test]
fn bad_data_offsets_are_flagged_not_fatal() {
    let mut t = tcp_syn(b"");
    t[12] = 3 << 4;
    let (seg, _) = decode_one(&ip4(6, &t), 101);
    let seg = seg.expect("a segment");
    assert_eq!(seg.bad_opts.as_deref(), Some("bad data offset 12"));
    assert!(!seg.header_ok && seg.opts.is_empty());
    t[12] = 15 << 4;
    let (seg, _) = decode_one(&ip4(6, &t), 101);
    let seg = seg.expect("a segment");
    assert_eq!(
        seg.bad_opts.as_deref(),
        Some("data offset 60 beyond the IP payload")
    );
    assert_eq!((seg.opts.as_slice().len(), seg.payload_len), (4, 0));
    assert!(!seg.header_ok);
}

#[test]
fn non_ip_is_counted_as_such() {
    for (linktype, frame) in [
        (1, eth(0x0806, &[0; 28])),
        (0, vec![7, 0, 0, 0, 0x45]),
        (113, vec![0; 20]),
    ] {
        let (seg, d) = decode_one(&frame, linktype);
        assert!(seg.is_none() && d.non_tcp == 1);
    }
}

/// The Internet checksum of `words` (RFC 1071), for building frames with right checksums.
fn inet_sum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = bytes
        .chunks(2)
        .map(|w| u32::from(w[0]) << 8 | u32::from(*w.get(1).unwrap_or(&0)))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[test]
fn checksums_are_verified_only_when_asked() {
    let mut ip = ip4(6, &tcp_syn(b"odd"));
    let ck = inet_sum(&ip[..20]);
    ip[10..12].copy_from_slice(&ck.to_be_bytes());
    let tcp_len = (ip.len() - 20) as u16;
    let pseudo = [&ip[12..20], &[0, 6], &tcp_len.to_be_bytes(), &ip[20..]].concat();
    let ck = inet_sum(&pseudo);
    ip[36..38].copy_from_slice(&ck.to_be_bytes());
    let mut d = Decoder::new(true);
    let seg = d
        .decode(&ip, 0.0, ip.len() as u32, 101, 1)
        .expect("a segment");
    assert!(seg.ip_checksum_ok && seg.tcp_checksum_ok);
    ip[40] ^= 1;
    ip[15] ^= 1;
    let seg = d
        .decode(&ip, 0.0, ip.len() as u32, 101, 2)
        .expect("a segment");
    assert!(!seg.ip_checksum_ok && !seg.tcp_checksum_ok);
    let seg = Decoder::new(false)
        .decode(&ip, 0.0, ip.len() as u32, 101, 2)
        .expect("a segment");
    assert!(seg.ip_checksum_ok && seg.tcp_checksum_ok);
}

/// Python (test_zeek.py): test_checksums_ipv6. The IPv6 pseudo-header checksum verifies too; one
/// changed payload byte fails it.
#[test]
fn checksums_ipv6() {
    let mut tcp = tcp_syn(b"hello world"); // odd length: the last byte is a high half
    tcp[13] = 0x18; // PSH ACK
    let mut ip = ip6(6, &tcp);
    let tcp_len = (ip.len() - 40) as u32;
    let pseudo = [&ip[8..40], &tcp_len.to_be_bytes(), &[0, 0, 0, 6], &ip[40..]].concat();
    let ck = inet_sum(&pseudo);
    ip[56..58].copy_from_slice(&ck.to_be_bytes());
    let mut d = Decoder::new(true);
    let seg = d
        .decode(&ip, 0.0, ip.len() as u32, 229, 1)
        .expect("a segment");
    assert!(seg.ip_version == 6 && seg.tcp_checksum_ok);
    let last = ip.len() - 1;
    ip[last] = 1;
    let seg = d
        .decode(&ip, 0.0, ip.len() as u32, 229, 2)
        .expect("a segment");
    assert!(!seg.tcp_checksum_ok);
}

/// Python: test_options_of_every_kind (capture.segment.parse_options, which the engine's
/// parse_options mirrors). MSS, wscale, SACK-permitted, SACK blocks, timestamps, TFO (34 and
/// 254), MPTCP, unknown.
#[test]
fn options_of_every_kind() {
    let raw = b"\x02\x04\x05\xb4\x03\x03\x07\x04\x02\x05\x0a\x00\x00\x00\x01\x00\x00\x00\x02\
        \x08\x0a\x00\x00\x00\x09\x00\x00\x00\x00\x22\x06\xaa\xbb\xcc\xdd\
        \xfe\x04\xf9\x89\x1e\x04\x00\x81\x1b\x03\x07\x00";
    let o = parse_options(raw);
    assert_eq!((o.mss, o.wscale, o.sack_perm), (Some(1460), Some(7), true));
    assert_eq!(o.sack_blocks, vec![(1, 2)]);
    assert_eq!((o.ts_val, o.ts_ecr), (Some(9), Some(0)));
    // the last TFO option seen (experimental kind 254) is a request
    assert_eq!(o.tfo_cookie, Some(Vec::new()));
    assert!(o.mptcp);
    let kinds: Vec<u8> = o.items.iter().map(|i| i.0).collect();
    assert_eq!(kinds, vec![2, 3, 4, 5, 8, 34, 254, 30, 27, 0]);
    let unknown = &o.items[o.items.len() - 2];
    assert_eq!(
        (unknown.0, unknown.1.as_str(), unknown.2.as_str()),
        (27, "opt-27", "kind 27 len 3")
    );
    assert!(o.malformed.is_empty());
    let bad = parse_options(b"\x02\x04\x05");
    assert!(!bad.malformed.is_empty() && bad.mss.is_none());
}
