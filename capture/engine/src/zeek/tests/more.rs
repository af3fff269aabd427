//! Gaps, flips, sizes, checksums, connection ends and reuse (tests/test_zeek.py).

use super::cases::{full, handshake, rstr, s0, s2};
use super::*;

#[test]
fn gap_letters_for_data_never_seen() {
    let z = play(|c| {
        handshake(c);
        c.c("P.", kw().len(100));
        c.c("P.", kw().len(100).seq(1201)); // 1101..1200 not captured
        c.s(".", kw().ack(1301));
        c.s("P.", kw().len(50).seq(5051)); // 5001..5050 not captured
        c.c(".", kw().ack(5101));
    });
    assert_eq!(z.history(), "ShADaGdg");
}

#[test]
fn no_gap_on_a_partial_connection() {
    let z = play(|c| {
        c.c("P.", kw().len(100));
        c.c("P.", kw().len(100).seq(1201));
        c.s(".", kw().ack(1301));
    });
    assert_eq!((z.history(), z.conn_state()), ("Da", "OTH"));
}

#[test]
fn flip_marks_history_and_swaps_sides() {
    let mut c = Conv::new();
    c.s("S.", kw());
    c.c(".", kw());
    c.c("P.", kw().len(40));
    c.s("P.", kw().len(7));
    let (z, flips) = play_conv(&c);
    assert_eq!(
        (z.history(), z.orig_bytes(), z.resp_bytes()),
        ("^hADd", 40, 7)
    );
    assert!(!flips.contains(&true));
}

/// Client 2745, server 1433: neither is a likely server port.
fn unlikely() -> Conv {
    Conv::with((1, 2745), (2, 1433), 1000)
}

#[test]
fn synack_then_ack_flips_without_likely_port() {
    let mut c = unlikely();
    c.s("S.", kw());
    c.s(".", kw());
    c.s("F.", kw());
    let (z, flips) = play_conv(&c);
    assert_eq!(flips, [false, true, false]);
    assert_eq!(
        (z.history(), z.orig_bytes(), z.resp_bytes()),
        ("^haf", 0, 0)
    );
}

#[test]
fn lone_synack_is_not_flipped_without_likely_port() {
    let mut c = unlikely();
    c.s("S.", kw());
    let (z, flips) = play_conv(&c);
    assert_eq!(
        (z.history(), z.conn_state(), flips),
        ("H", "OTH", vec![false])
    );
}

#[test]
fn syn_synack_reversal_flips() {
    let mut c = unlikely();
    c.s("S.", kw().ack(1001));
    c.c("S", kw().seq(1000));
    c.c(".", kw());
    let (z, flips) = play_conv(&c);
    assert_eq!(flips, [false, true, false]);
    // the SYN's letter is written before the state machine flips; then both are established
    assert_eq!((z.history(), z.conn_state()), ("Hs^A", "S1"));
}

#[test]
fn initial_flip_cases() {
    let cases = [
        ("S", 80, 40000, false), // a SYN is never flipped
        ("S.", 80, 40000, true), // server port to client port
        ("S.", 40000, 80, false),
        (".", 443, 51000, true),
        ("P.", 51000, 443, false),
        (".", 80, 8080, true), // both likely: flip a non-SYN whose source port is lower
        (".", 8080, 80, false),
        ("S.", 80, 8080, false), // ... but never a SYN/ACK then (stealth scans)
        ("S.", 2745, 1433, false), // neither is a likely server port
    ];
    for (flags, sport, dport, flip) in cases {
        let seg = segment((1, sport), (2, dport), flag_bits(flags), 0, 0);
        assert_eq!(initial_flip(&seg), flip, "{flags} {sport} {dport}");
    }
}

#[test]
fn sizes_from_sequence_numbers() {
    let z = play(|c| {
        handshake(c);
        c.c("P.", kw().len(100));
        c.c("P.", kw().len(100).seq(1401)); // 300 bytes missing in between
        c.s(".", kw().ack(1501));
        c.c("F.", kw());
        c.s("F.", kw());
    });
    assert_eq!((z.orig_bytes(), z.resp_bytes()), (500, 0));
}

#[test]
fn sizes_across_sequence_wrap() {
    let mut c = Conv::with((1, 40000), (2, 80), 0xFFFF_F000);
    handshake(&mut c);
    for _ in 0..4 {
        c.c("P.", kw().len(1000));
        c.s(".", kw());
    }
    c.c("F.", kw());
    c.s("F.", kw());
    let (z, _) = play_conv(&c);
    assert_eq!((z.orig_bytes(), z.conn_state()), (4000, "SF"));
}

#[test]
fn sizes_without_syn_start_at_the_first_segment() {
    let z = play(|c| {
        c.c("P.", kw().len(10));
        c.s("P.", kw().len(20));
        c.c("P.", kw().len(30));
    });
    assert_eq!((z.orig_bytes(), z.resp_bytes()), (40, 20));
}

#[test]
fn half_open_reset_reports_no_size() {
    let z = play(|c| {
        c.c("S", kw());
        c.s(".", kw().ack(1101)); // an ACK (of data never sent) instead of a SYN/ACK
        c.c("R", kw().seq(1001 + 5000));
    });
    assert_eq!(
        (z.history(), z.conn_state(), z.orig_bytes()),
        ("SaR", "RSTOS0", 0)
    );
}

#[test]
fn checksums_verify_and_bad_ones_are_dropped() {
    let mut c = Conv::new();
    let good = c.c("S", kw());
    let mut bad = c.s("S.", kw());
    bad.tcp_checksum_ok = false;
    let mut z = ZeekState::new(true);
    z.update(true, &good);
    z.update(false, &bad);
    assert_eq!((z.history(), z.conn_state()), ("Sc", "S0"));
}

#[test]
fn bad_ip_header_checksum_is_dropped_silently() {
    let mut seg = Conv::new().c("S", kw());
    (seg.ip_checksum_ok, seg.tcp_checksum_ok) = (false, false);
    let mut z = ZeekState::new(true);
    z.update(true, &seg);
    assert_eq!((z.history(), z.conn_state()), ("", "OTH"));
}

#[test]
fn bad_checksums_count_logarithmically() {
    let mut z = ZeekState::new(true);
    let mut c = Conv::new();
    for _ in 0..10 {
        let mut seg = c.c("S", kw().seq(1000));
        seg.tcp_checksum_ok = false;
        z.update(true, &seg);
    }
    assert_eq!((z.history(), z.conn_state()), ("CC", "OTH"));
}

#[test]
fn truncated_header_is_ignored() {
    let mut seg = Conv::new().c("S", kw());
    (seg.truncated, seg.header_ok) = (true, false);
    let mut z = ZeekState::new(false);
    z.update(true, &seg);
    assert_eq!((z.history(), z.conn_state()), ("", "OTH"));
}

#[test]
fn checksums_are_not_verified_by_default() {
    let mut z = ZeekState::default();
    let mut c = Conv::new();
    let mut syn = c.c("S", kw());
    let mut synack = c.s("S.", kw());
    for seg in [&mut syn, &mut synack] {
        (seg.ip_checksum_ok, seg.tcp_checksum_ok) = (false, false);
    }
    z.update(true, &syn);
    z.update(false, &synack);
    assert_eq!((z.history(), z.conn_state()), ("Sh", "S1"));
}

#[test]
fn ended_before() {
    type Case = (fn(&mut Conv), f64, bool);
    let cases: [Case; 9] = [
        (s0, 4.999, false), // attempt timer: tcp_attempt_delay is 5 s
        (s0, 5.0, true),
        (handshake, 5.0, false),   // answered: no attempt timer
        (handshake, 299.9, false), // established: tcp_inactivity_timeout is 5 min
        (handshake, 300.0, true),
        (full, 4.999, false), // closed both ways: deleted tcp_close_delay (5 s) later
        (full, 5.0, true),
        (rstr, 5.0, true), // a RST closes completely
        (s2, 60.0, false), // half closed, peer still open: only inactivity ends it
    ];
    for (i, (script, after, ended)) in cases.into_iter().enumerate() {
        let z = play(script);
        assert_eq!(z.ended_before(z.last_ts() + after), ended, "case {i}");
    }
}

#[test]
fn is_reuse() {
    type Case = (fn(&mut Conv), &'static str, bool);
    let cases: [Case; 5] = [
        (s0, "S", false),         // the same ISN again: a retransmission
        (s0, "S new", true),      // another ISN while open: SYN_seq_jump, a new connection
        (handshake, "S.", false), // a SYN/ACK while the originator is active
        (full, "S", true),        // after a close any SYN starts over
        (handshake, ".", false),  // only SYNs
    ];
    for (i, (script, syn, reuse)) in cases.into_iter().enumerate() {
        let z = play(script);
        let (flags, new) = syn.split_once(' ').unwrap_or((syn, ""));
        let seg = if flags == "S." {
            segment((2, 80), (1, 40000), flag_bits(flags), 5000, 1001)
        } else {
            let seq = if new.is_empty() { 1000 } else { 424242 };
            segment((1, 40000), (2, 80), flag_bits(flags), seq, 0)
        };
        assert_eq!(z.is_reuse(&seg), reuse, "case {i}");
    }
}

#[test]
fn header_length_below_20_is_ignored() {
    let mut seg = Conv::new().c("S", kw());
    seg.header_ok = false;
    seg.bad_opts = Some("bad data offset 16".into());
    let mut z = ZeekState::default();
    z.update(true, &seg);
    assert_eq!((z.history(), z.is_reuse(&seg)), ("", false));
}

#[test]
fn state_is_small() {
    // a flow holds one ZeekState: keep it small (240 bytes on 64-bit targets)
    eprintln!("ZeekState: {} bytes", std::mem::size_of::<ZeekState>());
    assert!(std::mem::size_of::<ZeekState>() <= 240);
}

proptest::proptest! {
    /// Whatever arrives, ZeekState never fails and speaks only Zeek's letters and states.
    #[test]
    fn any_segment_sequence_is_accounted(segs in proptest::collection::vec(
        (proptest::bool::ANY, 0u16..0x200, proptest::num::u32::ANY, proptest::num::u32::ANY,
         0u32..3000, proptest::sample::select(vec![0u16, 1, 65535])),
        0..40,
    )) {
        let mut z = ZeekState::default();
        let mut client = true;
        for (from_client, flags, seq, ack, length, window) in segs {
            let (from, to) = if from_client { ((1, 40000), (2, 80)) } else { ((2, 80), (1, 40000)) };
            let mut seg = segment(from, to, flags, seq, ack);
            (seg.payload_len, seg.window) = (length, window);
            z.ended_before(seg.ts);
            z.is_reuse(&seg);
            if z.update(from_client == client, &seg) {
                client = !client;
            }
        }
        proptest::prop_assert!(z.history().chars().all(|c| "shadfrcgtwiqSHADFRCGTWIQ^".contains(c)));
        let states = ["S0", "S1", "SF", "REJ", "S2", "S3", "RSTO", "RSTR", "RSTOS0", "RSTRH", "SH", "SHR", "OTH"];
        proptest::prop_assert!(states.contains(&z.conn_state()));
    }
}

#[test]
fn likely_server_ports_are_zeeks_defaults() {
    for port in [22, 25, 80, 443, 21, 6667, 53, 3389, 445] {
        assert!(LIKELY_SERVER_PORTS.contains(&port), "{port}");
    }
    assert!(!LIKELY_SERVER_PORTS.contains(&1433) && !LIKELY_SERVER_PORTS.contains(&888));
}
