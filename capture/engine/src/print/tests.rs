use super::text::{write_addr, write_flags};
use super::*;
use crate::segment::{tcpdump_flags, Addr, Opts, PSH};
use crate::tcpstate::TcpState;

fn seg(frame_no: u64, flags: u16, seq: u32, ack: u32, payload_len: u32) -> Segment {
    Segment {
        frame_no,
        ts: 1_362_692_526.869_344 + frame_no as f64,
        ip_version: 4,
        src: Addr::new(&[10, 0, 0, 1]),
        dst: Addr::new(&[10, 0, 0, 2]),
        sport: 40000,
        dport: 80,
        seq,
        ack,
        flags,
        window: 512,
        payload_len,
        ..Segment::default()
    }
}

fn text(p: &mut Printer, s: &Segment, from_orig: bool, moves: &[Transition]) -> String {
    let mut out = Vec::new();
    p.line(&mut out, s, 7, from_orig, moves);
    String::from_utf8(out).expect("utf-8")
}

#[test]
fn handshake_relative_and_absolute() {
    let mut syn = seg(1, SYN, 1000, 0, 0);
    syn.opts = Opts::new(&[2, 4, 5, 0xb4, 1, 1, 3, 3, 7]);
    let moved = Transition {
        ts: syn.ts,
        frame_no: 1,
        side: Side::Orig,
        old: TcpState::Closed,
        new: TcpState::SynSent,
    };
    let synack = seg(2, SYN | ACK, 5000, 1001, 0);
    let data = seg(3, PSH | ACK, 1001, 5001, 10);
    let bare = seg(4, ACK, 5001, 1011, 0);
    let mut rel = Printer::new(false, true);
    assert_eq!(
        text(&mut rel, &syn, true, &[moved]),
        "21:42:07.869344 IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [S], seq 1000, win 512, \
         options [mss 1460,nop,nop,wscale 7], length 0  #7 client SYN_SENT\n"
    );
    assert!(text(&mut rel, &synack, false, &[moved]).contains("[S.], seq 5000, ack 1001, win"));
    assert!(text(&mut rel, &data, true, &[]).contains("[P.], seq 1:11, ack 1, win 512, length 10"));
    assert!(text(&mut rel, &bare, false, &[]).contains("[.], ack 11, win 512, length 0  #7\n"));
    let mut abs = Printer::new(true, true);
    text(&mut abs, &syn, true, &[]);
    assert!(text(&mut abs, &data, true, &[]).contains("seq 1001:1011, ack 5001,"));
}

#[test]
fn flags_as_segment_spells_them() {
    for flags in 0..0x200u16 {
        let mut out = Vec::new();
        write_flags(&mut out, flags);
        assert_eq!(out, tcpdump_flags(flags).as_bytes());
    }
}

proptest::proptest! {
    #[test]
    fn addresses_as_display_writes_them(raw in proptest::collection::vec(0u8..3, 16), v4: bool) {
        // Bytes of 0..3 make many zero groups, hence many `::` choices.
        let addr = Addr::new(if v4 { &raw[..4] } else { &raw[..] });
        let mut out = Vec::new();
        write_addr(&mut out, &addr);
        proptest::prop_assert_eq!(String::from_utf8(out).expect("ascii"), addr.to_string());
    }

    #[test]
    fn any_segment_prints_one_line(
        opts in proptest::collection::vec(proptest::num::u8::ANY, 0..48),
        flags in 0u16..0x200, seq: u32, ack: u32, payload_len: u32, ts: f64, v6: bool,
        bad in proptest::option::of(".*"),
    ) {
        let mut s = seg(1, flags, seq, ack, payload_len);
        s.opts = Opts::new(&opts);
        s.ts = ts;
        s.bad_opts = bad.map(Into::into);
        if v6 {
            s.ip_version = 6;
            s.src = Addr::new(&[0xfe; 16]);
        }
        let mut out = Vec::new();
        let mut p = Printer::new(false, false);
        p.line(&mut out, &s, u64::MAX, false, &[]);
        p.line(&mut out, &s, u64::MAX, true, &[]);
        proptest::prop_assert!(out.ends_with(b"\n"));
    }
}
