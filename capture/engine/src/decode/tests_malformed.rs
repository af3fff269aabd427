//! Every malformed reason, with Python's text, and the bounded keep of malformed frames.

use super::tests::{decode_one, eth, ip4, ip6, tcp_syn};
use super::*;

fn assert_malformed(frame: &[u8], linktype: i32, reason: &str) {
    let (seg, d) = decode_one(frame, linktype);
    assert!(seg.is_none());
    assert_eq!(
        d.malformed,
        BTreeMap::from([(reason.to_string(), 1)]),
        "{frame:02x?}"
    );
    let kept = &d.malformed_frames[0];
    assert_eq!(
        (&*kept.frame, kept.reason.as_str(), kept.linktype),
        (frame, reason, linktype)
    );
    assert_eq!((kept.frame_no, kept.ts), (1, 1.5));
}

#[test]
fn every_reason_has_pythons_text() {
    let t = tcp_syn(b"");
    let mut short_ihl = ip4(6, &t);
    short_ihl[0] = 0x44;
    let label = |bottom: u8| [0, 1, bottom, 64];
    let deep: Vec<u8> = (0..17).flat_map(|_| label(0)).chain(ip4(6, &t)).collect();
    let hbh_loop: Vec<u8> = (0..17).flat_map(|_| [0u8, 0, 0, 0, 0, 0, 0, 0]).collect();
    let cases: Vec<(i32, Vec<u8>, &str)> = vec![
        (1, vec![0, 1], "truncated header"),
        (1, eth(0x0800, &[0x45, 0]), "truncated header"),
        (276, vec![0x08, 0, 0, 0], "truncated header"),
        (101, [&[0x70][..], &[0; 39]].concat(), "IP version 7"),
        (
            101,
            [&ip4(6, &[])[..], &[0; 8]].concat(),
            "truncated TCP header",
        ),
        (229, ip6(6, &[0; 19]), "truncated TCP header"),
        (147, vec![0; 40], "unsupported link type 147"),
        (-1, ip4(6, &t), "packet of an undeclared pcapng interface"),
        (1, eth(0x8847, &deep), "MPLS label stack too deep"),
        (228, ip6(6, &t), "IPv4 header with version 6"),
        (1, eth(0x0800, &ip6(6, &t)), "IPv4 header with version 6"),
        (101, short_ihl, "IPv4 header length below 20"),
        (229, ip4(6, &t), "IPv6 header with version 4"),
        (
            229,
            ip6(0, &hbh_loop),
            "IPv6 extension header chain too long",
        ),
        (101, ip4(4, &[]), "truncated tunnelled IP header"),
        (101, ip6(41, &[]), "truncated tunnelled IP header"),
        (101, ip4(4, &ip6(6, &t)), "IPv4 header with version 6"),
    ];
    for (linktype, frame, reason) in cases {
        assert_malformed(&frame, linktype, reason);
    }
}

/// Python's `LINK_HEADER`: the first header of each link type, longer than the cut frames.
const LINK_HEADER: [(i32, usize); 10] = [
    (0, 4),
    (1, 14),
    (12, 20),
    (14, 20),
    (101, 20),
    (108, 4),
    (113, 16),
    (228, 20),
    (229, 40),
    (276, 20),
];

#[test]
fn frame_shorter_than_its_headers_is_malformed() {
    for (linktype, header) in LINK_HEADER {
        for size in 0..header.min(3) {
            let (seg, d) = decode_one(&vec![0x45; size], linktype);
            assert!(seg.is_none());
            assert_eq!(d.malformed_total(), 1, "{linktype} {size}");
        }
    }
}

#[test]
fn every_cut_of_a_frame_is_counted_once() {
    let label = [0, 1, 1, 64];
    let frames = [
        eth(
            0x8100,
            &[
                &[0, 5, 0x88, 0x47][..],
                &label,
                &ip6(0, &[&[6, 0, 0, 0, 0, 0, 0, 0][..], &tcp_syn(b"x")].concat()),
            ]
            .concat(),
        ),
        eth(
            0x8864,
            &[
                &[0x11, 0, 0, 1, 0, 0, 0xff, 0x03, 0, 0x21][..],
                &ip4(4, &ip4(6, &tcp_syn(b""))),
            ]
            .concat(),
        ),
    ];
    for frame in frames {
        for n in 0..=frame.len() {
            let (seg, d) = decode_one(&frame[..n], 1);
            assert_eq!(seg.is_some(), d.tcp == 1);
        }
    }
}

#[test]
fn malformed_keep_is_bounded() {
    let mut d = Decoder::new(false);
    let mut n = 0;
    for linktype in SUPPORTED_LINKTYPES {
        for size in 0..3 {
            for _ in 0..MALFORMED_KEEP / 10 {
                n += 1;
                d.decode(&vec![0x45; size], 0.0, size as u32, linktype, n);
            }
        }
    }
    assert_eq!(d.frames, n);
    assert_eq!(d.tcp + d.non_tcp + d.fragments + d.malformed_total(), n);
    assert!(d.malformed_total() > MALFORMED_KEEP as u64);
    assert_eq!(d.malformed_frames.len(), MALFORMED_KEEP);
    assert_eq!(d.malformed_frames.back().map(|k| k.frame_no), Some(n));
}
