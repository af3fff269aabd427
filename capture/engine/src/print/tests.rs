use super::text::{write_addr, write_flags};
use super::*;
use crate::segment::{tcpdump_flags, Addr, Opts, PSH};
use crate::tracker::{FlowTracker, TrackerConfig};

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

/// The lines `--print` writes for `segs`, each given to a tracker first (as a run does).
fn printed(segs: &[Segment], absolute: bool) -> Vec<String> {
    let mut t = FlowTracker::new(TrackerConfig::default()).expect("a tracker");
    let mut p = Printer::new(absolute, true);
    segs.iter()
        .map(|s| {
            let id = t.ingest(s.clone(), &[]);
            let flow = t.flow(id).expect("tracked");
            let from_orig = (s.src, s.sport) == flow.orig_end();
            let mut out = Vec::new();
            p.line(&mut out, s, flow, from_orig);
            String::from_utf8(out).expect("utf-8")
        })
        .collect()
}

/// `seg` sent the other way (server to client).
fn back(mut s: Segment) -> Segment {
    std::mem::swap(&mut s.src, &mut s.dst);
    std::mem::swap(&mut s.sport, &mut s.dport);
    s
}

#[test]
fn handshake_relative_and_absolute() {
    let mut syn = seg(1, SYN, 1000, 0, 0);
    syn.opts = Opts::new(&[2, 4, 5, 0xb4, 1, 1, 3, 3, 7]);
    let synack = back(seg(2, SYN | ACK, 5000, 1001, 0));
    let data = seg(3, PSH | ACK, 1001, 5001, 10);
    let bare = back(seg(4, ACK, 5001, 1011, 0));
    let segs = [syn, synack, data, bare];
    let rel = printed(&segs, false);
    assert_eq!(
        rel[0],
        "21:42:07.869344 IP 10.0.0.1.40000 > 10.0.0.2.80: Flags [S], seq 1000, win 512, \
         options [mss 1460,nop,nop,wscale 7], length 0  #1 client SYN_SENT\n"
    );
    assert!(
        rel[1].contains("[S.], seq 5000, ack 1001, win"),
        "{}",
        rel[1]
    );
    assert!(rel[2].contains("[P.], seq 1:11, ack 1, win 512, length 10"));
    assert!(rel[3].contains("[.], ack 11, win 512, length 0  #1\n"));
    let abs = printed(&segs, true);
    assert!(abs[2].contains("seq 1001:1011, ack 5001,"));
}

/// `tcpwatch -r tests/data/chrissanders_tcp_teardown.pcapng --print` (issue 12 #13): the flow
/// starts mid-stream with the server's FIN. tcpdump -n prints `ack 1`, `seq 1, ack 1` and
/// `ack 2` on the last three lines (its first line is absolute); tcpwatch printed `seq 0, ack
/// 2079380537` (a relative seq beside an absolute ack), `ack 1`, `seq 0, ack 1`, `ack 1`.
#[test]
fn mid_stream_numbers_count_as_tcpdump_counts_them() {
    let (s, c) = (822_643_295, 2_079_380_537);
    let segs = [
        back(seg(1, FIN | ACK, s, c, 0)),
        seg(2, ACK, c, s + 1, 0),
        seg(3, FIN | ACK, c, s + 1, 0),
        back(seg(4, ACK, s + 1, c + 1, 0)),
    ];
    let seq_ack = |line: &String| {
        let core = line.split(", win").next().expect("a line").to_owned();
        core.split("], ").nth(1).unwrap_or_default().to_owned()
    };
    let rel: Vec<String> = printed(&segs, false).iter().map(seq_ack).collect();
    assert_eq!(rel, ["seq 0, ack 1", "ack 1", "seq 1, ack 1", "ack 2"]);
    let abs: Vec<String> = printed(&segs, true).iter().map(seq_ack).collect();
    assert_eq!(abs[0], format!("seq {s}, ack {c}"));
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
        let mut t = FlowTracker::new(TrackerConfig::default()).expect("a tracker");
        let id = t.ingest(s.clone(), &[]);
        let flow = t.flow(id).expect("tracked");
        let mut out = Vec::new();
        let mut p = Printer::new(false, false);
        p.line(&mut out, &s, flow, false);
        p.line(&mut out, &s, flow, true);
        proptest::prop_assert!(out.ends_with(b"\n"));
        proptest::prop_assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 2);
    }
}
