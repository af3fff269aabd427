//! RFC 9293 endpoint states as a passive observer sees them (Python: tests/test_tcpstate.py).

use super::*;
use crate::tracker::segmaker::{Conv, Send};

type Step = (bool, &'static str, u32, Send);

fn st(client: bool, flags: &'static str) -> Step {
    (client, flags, 0, Send::default())
}

fn stk(client: bool, flags: &'static str, seq: Option<u32>, ack: Option<u32>) -> Step {
    let kw = Send {
        seq,
        ack,
        ..Send::default()
    };
    (client, flags, 0, kw)
}

fn handshake() -> Vec<Step> {
    vec![st(true, "S"), st(false, "S."), st(true, ".")]
}

/// The originator is ESTABLISHED at its ACK, not at the SYN/ACK: only the ACK shows that the
/// SYN/ACK reached it (see `receiver_acked`).
const HANDSHAKE_MOVES: [&str; 4] = [
    "1 orig CLOSED>SYN_SENT",
    "2 resp LISTEN>SYN_RECEIVED",
    "3 orig SYN_SENT>ESTABLISHED",
    "3 resp SYN_RECEIVED>ESTABLISHED",
];

fn play(steps: Vec<Step>, conv: &mut Conv) -> (Endpoint, Endpoint, Vec<String>) {
    let (mut orig, mut resp) = (Endpoint::new(Side::Orig), Endpoint::new(Side::Resp));
    let mut log = Vec::new();
    for (client, flags, length, kw) in steps {
        let seg = conv.send(client, flags, length, kw);
        let new = if client {
            advance(&mut orig, &mut resp, &seg)
        } else {
            advance(&mut resp, &mut orig, &seg)
        };
        append_log(&mut log, &new);
    }
    let moves = log
        .iter()
        .map(|t| {
            let (old, new) = (t.old.name(), t.new.name());
            format!("{} {} {old}>{new}", t.frame_no, t.side.name())
        })
        .collect();
    (orig, resp, moves)
}

fn with_handshake(more: Vec<Step>) -> Vec<Step> {
    let mut steps = handshake();
    steps.extend(more);
    steps
}

fn moves_after_handshake(more: &[&str]) -> Vec<String> {
    HANDSHAKE_MOVES
        .iter()
        .chain(more.iter())
        .map(|s| s.to_string())
        .collect()
}

fn check(name: &str, steps: Vec<Step>, moves: Vec<String>, final_: (&str, &str)) {
    let (orig, resp, got) = play(steps, &mut Conv::default());
    assert_eq!(got, moves, "{name}");
    assert_eq!((orig.state.name(), resp.state.name()), final_, "{name}");
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn opens_and_refusals() {
    check(
        "three-way handshake",
        handshake(),
        strs(&HANDSHAKE_MOVES),
        ("ESTABLISHED", "ESTABLISHED"),
    );
    check(
        "simultaneous open",
        vec![
            st(true, "S"),
            st(false, "S"),
            stk(true, "S.", Some(1000), None),
            stk(false, "S.", Some(5000), None),
        ],
        strs(&[
            "1 orig CLOSED>SYN_SENT",
            "2 resp CLOSED>SYN_SENT",
            "3 orig SYN_SENT>SYN_RECEIVED",
            "4 resp SYN_SENT>ESTABLISHED",
            "4 orig SYN_RECEIVED>ESTABLISHED",
        ]),
        ("ESTABLISHED", "ESTABLISHED"),
    );
    check(
        "refused",
        vec![st(true, "S"), stk(false, "R.", None, Some(1001))],
        strs(&[
            "1 orig CLOSED>SYN_SENT",
            "2 resp UNKNOWN>CLOSED",
            "2 orig SYN_SENT>CLOSED",
        ]),
        ("CLOSED", "CLOSED"),
    );
    check(
        "an RST that does not acknowledge the SYN is ignored in SYN_SENT",
        vec![st(true, "S"), stk(false, "R", Some(0), None)],
        strs(&["1 orig CLOSED>SYN_SENT", "2 resp UNKNOWN>CLOSED"]),
        ("SYN_SENT", "CLOSED"),
    );
    check(
        "RST to a passive SYN_RECEIVED",
        vec![
            st(true, "S"),
            st(false, "S."),
            stk(true, "R", Some(1001), None),
            stk(false, "S", Some(9000), None),
        ],
        strs(&[
            "1 orig CLOSED>SYN_SENT",
            "2 resp LISTEN>SYN_RECEIVED",
            "3 orig SYN_SENT>CLOSED",
            "3 resp SYN_RECEIVED>LISTEN",
            "4 resp LISTEN>SYN_SENT",
        ]),
        ("CLOSED", "SYN_SENT"),
    );
    check(
        "RST to an active SYN_RECEIVED",
        vec![
            st(true, "S"),
            st(false, "S"),
            stk(true, "S.", Some(1000), None),
            stk(false, "R", Some(5001), None),
        ],
        strs(&[
            "1 orig CLOSED>SYN_SENT",
            "2 resp CLOSED>SYN_SENT",
            "3 orig SYN_SENT>SYN_RECEIVED",
            "4 resp SYN_SENT>CLOSED",
            "4 orig SYN_RECEIVED>CLOSED",
        ]),
        ("CLOSED", "CLOSED"),
    );
    check(
        "FIN from SYN_RECEIVED",
        vec![st(true, "S"), st(false, "S."), st(false, "F.")],
        strs(&[
            "1 orig CLOSED>SYN_SENT",
            "2 resp LISTEN>SYN_RECEIVED",
            "3 resp SYN_RECEIVED>FIN_WAIT_1",
        ]),
        ("SYN_SENT", "FIN_WAIT_1"),
    );
    check(
        "a SYN/ACK never acknowledged (a SYN scan's probe): the originator stays SYN_SENT",
        vec![
            st(true, "S"),
            st(false, "S."),
            stk(false, "S.", Some(5000), None),
            stk(false, "S.", Some(5000), None),
        ],
        strs(&["1 orig CLOSED>SYN_SENT", "2 resp LISTEN>SYN_RECEIVED"]),
        ("SYN_SENT", "SYN_RECEIVED"),
    );
    check(
        "data with its ACK completes the originator's side too",
        vec![
            st(true, "S"),
            st(false, "S."),
            (true, "P.", 10, Send::default()),
        ],
        strs(&[
            "1 orig CLOSED>SYN_SENT",
            "2 resp LISTEN>SYN_RECEIVED",
            "3 orig SYN_SENT>ESTABLISHED",
            "3 resp SYN_RECEIVED>ESTABLISHED",
        ]),
        ("ESTABLISHED", "ESTABLISHED"),
    );
    check(
        "mid-stream",
        vec![(true, "P.", 100, Send::default()), st(false, ".")],
        strs(&["1 orig UNKNOWN>ESTABLISHED", "2 resp UNKNOWN>ESTABLISHED"]),
        ("ESTABLISHED", "ESTABLISHED"),
    );
    check(
        "a bare ACK to SYN_SENT is dropped",
        vec![st(true, "S"), stk(false, ".", None, Some(1001))],
        strs(&["1 orig CLOSED>SYN_SENT", "2 resp UNKNOWN>ESTABLISHED"]),
        ("SYN_SENT", "ESTABLISHED"),
    );
}

#[test]
fn closes() {
    check(
        "four-way close",
        with_handshake(vec![
            st(true, "F."),
            st(false, "."),
            st(false, "F."),
            st(true, "."),
        ]),
        moves_after_handshake(&[
            "4 orig ESTABLISHED>FIN_WAIT_1",
            "5 resp ESTABLISHED>CLOSE_WAIT",
            "5 orig FIN_WAIT_1>FIN_WAIT_2",
            "6 resp CLOSE_WAIT>LAST_ACK",
            "7 orig FIN_WAIT_2>TIME_WAIT",
            "7 resp LAST_ACK>CLOSED",
        ]),
        ("TIME_WAIT", "CLOSED"),
    );
    let three_way = [
        "4 orig ESTABLISHED>FIN_WAIT_1",
        "5 resp ESTABLISHED>CLOSE_WAIT",
        "5 resp CLOSE_WAIT>LAST_ACK",
        "5 orig FIN_WAIT_1>FIN_WAIT_2",
        "6 orig FIN_WAIT_2>TIME_WAIT",
        "6 resp LAST_ACK>CLOSED",
    ];
    check(
        "three-way close",
        with_handshake(vec![st(true, "F."), st(false, "F."), st(true, ".")]),
        moves_after_handshake(&three_way),
        ("TIME_WAIT", "CLOSED"),
    );
    check(
        "simultaneous close",
        with_handshake(vec![
            st(true, "F."),
            stk(false, "F.", None, Some(1001)),
            st(true, "."),
            st(false, "."),
        ]),
        moves_after_handshake(&[
            "4 orig ESTABLISHED>FIN_WAIT_1",
            "5 resp ESTABLISHED>FIN_WAIT_1",
            "6 orig FIN_WAIT_1>CLOSING",
            "6 resp FIN_WAIT_1>FIN_WAIT_2",
            "7 resp FIN_WAIT_2>TIME_WAIT",
            "7 orig CLOSING>TIME_WAIT",
        ]),
        ("TIME_WAIT", "TIME_WAIT"),
    );
    check(
        "half-close",
        with_handshake(vec![
            st(true, "F."),
            st(false, "."),
            (false, "P.", 500, Send::default()),
            st(true, "."),
        ]),
        moves_after_handshake(&[
            "4 orig ESTABLISHED>FIN_WAIT_1",
            "5 resp ESTABLISHED>CLOSE_WAIT",
            "5 orig FIN_WAIT_1>FIN_WAIT_2",
        ]),
        ("FIN_WAIT_2", "CLOSE_WAIT"),
    );
    check(
        "a retransmitted FIN moves nothing",
        with_handshake(vec![st(true, "F."), stk(true, "F.", Some(1001), None)]),
        moves_after_handshake(&["4 orig ESTABLISHED>FIN_WAIT_1"]),
        ("FIN_WAIT_1", "ESTABLISHED"),
    );
    check(
        "RST in ESTABLISHED closes both",
        with_handshake(vec![st(false, "R.")]),
        moves_after_handshake(&["4 resp ESTABLISHED>CLOSED", "4 orig ESTABLISHED>CLOSED"]),
        ("CLOSED", "CLOSED"),
    );
    let mut tw = three_way.to_vec();
    tw.push("7 orig TIME_WAIT>CLOSED");
    check(
        "RST in TIME_WAIT ends it",
        with_handshake(vec![
            st(true, "F."),
            st(false, "F."),
            st(true, "."),
            stk(false, "R", Some(5002), Some(0)),
        ]),
        moves_after_handshake(&tw),
        ("CLOSED", "CLOSED"),
    );
}

#[test]
fn sequence_wrap_fin_acknowledged_across_zero() {
    let mut conv = Conv::default().isns(u32::MAX - 15, 5000);
    let steps = with_handshake(vec![
        (true, "P.", 100, Send::default()),
        st(false, "."),
        st(true, "F."),
        st(false, "."),
    ]);
    let (orig, resp, moves) = play(steps, &mut conv);
    assert_eq!(orig.fin_seq, Some(85));
    assert!(orig.fin_acked);
    assert_eq!(
        (orig.state, resp.state),
        (TcpState::FinWait2, TcpState::CloseWait)
    );
    assert_eq!(
        moves.last().map(String::as_str),
        Some("7 orig FIN_WAIT_1>FIN_WAIT_2")
    );
}

#[test]
fn seq_ge_is_modulo_2_32() {
    for (a, b, ge) in [
        (5, 5, true),
        (6, 5, true),
        (4, 5, false),
        (3, u32::MAX - 2, true),
        (u32::MAX - 2, 3, false),
    ] {
        assert_eq!(seq_ge(a, b), ge, "{a} {b}");
    }
}

#[test]
fn transition_log_keeps_time_and_frame_and_is_bounded() {
    let mut conv = Conv::default();
    let mut seg = conv.send(
        true,
        "S",
        0,
        Send {
            at: Some(1234567890.123456),
            ..Send::default()
        },
    );
    seg.frame_no = 1 << 40;
    let rec = advance(
        &mut Endpoint::new(Side::Orig),
        &mut Endpoint::new(Side::Resp),
        &seg,
    );
    let t = rec[0];
    assert_eq!(
        (t.ts, t.frame_no, t.side, t.old, t.new),
        (
            seg.ts,
            1 << 40,
            Side::Orig,
            TcpState::Closed,
            TcpState::SynSent
        )
    );
    let mut log = Vec::new();
    for _ in 0..MAX_TRANSITIONS + 5 {
        append_log(&mut log, &rec);
    }
    assert_eq!(log.len(), MAX_TRANSITIONS);
}
