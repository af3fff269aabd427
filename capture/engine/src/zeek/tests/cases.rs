//! conn_state and history letters (tests/test_zeek.py CONN_STATES, HISTORY_RULES).

use super::*;

pub(super) fn handshake(c: &mut Conv) {
    c.c("S", kw());
    c.s("S.", kw());
    c.c(".", kw());
}

pub(super) fn full(c: &mut Conv) {
    handshake(c);
    c.c("P.", kw().len(100));
    c.s(".", kw());
    c.s("P.", kw().len(300));
    c.c(".", kw());
    c.c("F.", kw());
    c.s("F.", kw());
    c.c(".", kw());
}

pub(super) fn s0(c: &mut Conv) {
    c.c("S", kw());
}

pub(super) fn s2(c: &mut Conv) {
    handshake(c);
    c.c("F.", kw());
}

pub(super) fn rstr(c: &mut Conv) {
    handshake(c);
    c.s("R.", kw());
}

type Case = (&'static str, fn(&mut Conv), &'static str, &'static str);

#[test]
fn conn_states() {
    let cases: [Case; 15] = [
        ("S0", s0, "S0", "S"),
        ("S1", handshake, "S1", "ShA"),
        ("SF", full, "SF", "ShADadFf"),
        (
            "REJ",
            |c| {
                c.c("S", kw());
                c.s("R.", kw().seq(0));
            },
            "REJ",
            "Sr",
        ),
        (
            "REJ both",
            |c| {
                c.c("S", kw());
                c.c("R", kw());
                c.s("R", kw());
            },
            "REJ",
            "SRr",
        ),
        ("S2", s2, "S2", "ShAF"),
        (
            "S3",
            |c| {
                handshake(c);
                c.s("F.", kw());
            },
            "S3",
            "ShAf",
        ),
        (
            "RSTO",
            |c| {
                handshake(c);
                c.c("P.", kw().len(10));
                c.c("R.", kw());
            },
            "RSTO",
            "ShADR",
        ),
        ("RSTR", rstr, "RSTR", "ShAr"),
        (
            "RSTOS0",
            |c| {
                c.c("S", kw());
                c.c("R", kw());
            },
            "RSTOS0",
            "SR",
        ),
        (
            "RSTRH",
            |c| {
                c.s("S.", kw());
                c.s("R", kw());
            },
            "RSTRH",
            "^hr",
        ),
        (
            "SH",
            |c| {
                c.c("S", kw());
                c.c("F", kw());
            },
            "SH",
            "SF",
        ),
        (
            "SHR",
            |c| {
                c.s("S.", kw());
                c.s("F.", kw());
            },
            "SHR",
            "^hf",
        ),
        (
            "OTH",
            |c| {
                c.c("P.", kw().len(50));
                c.s("P.", kw().len(60));
            },
            "OTH",
            "Dd",
        ),
        (
            "S1 by SYN, SYN/ACK",
            |c| {
                c.c("S", kw());
                c.s("S.", kw());
            },
            "S1",
            "Sh",
        ),
    ];
    for (name, script, state, history) in cases {
        let z = play(script);
        assert_eq!((z.conn_state(), z.history()), (state, history), "{name}");
    }
}

#[test]
fn conn_state_is_provisional_while_open() {
    let mut c = Conv::new();
    let mut z = ZeekState::new(false);
    let mut seen = Vec::new();
    type Step = (fn(&mut Conv) -> Segment, bool);
    let steps: [Step; 5] = [
        (|c| c.c("S", kw()), true),
        (|c| c.s("S.", kw()), false),
        (|c| c.c(".", kw()), true),
        (|c| c.c("F.", kw()), true),
        (|c| c.s("F.", kw()), false),
    ];
    for (make, is_orig) in steps {
        let seg = make(&mut c);
        z.update(is_orig, &seg);
        seen.push((z.conn_state(), z.history().to_string()));
    }
    let expected = [
        ("S0", "S"),
        ("S1", "Sh"),
        ("S1", "ShA"),
        ("S2", "ShAF"),
        ("SF", "ShAFf"),
    ];
    let expected: Vec<_> = expected.iter().map(|(a, b)| (*a, b.to_string())).collect();
    assert_eq!(seen, expected);
}

fn rexmit(c: &mut Conv, n: usize) {
    handshake(c);
    c.c("P.", kw().len(100));
    for _ in 0..n {
        c.c("P.", kw().len(100).seq(1001));
    }
}

fn zero_windows(c: &mut Conv, n: usize) {
    handshake(c);
    for _ in 0..n {
        c.s(".", kw().window(0));
    }
}

#[test]
fn history_letters() {
    type Rule = (&'static str, fn(&mut Conv), &'static str);
    let rules: [Rule; 17] = [
        (
            "S once for a retransmitted SYN",
            |c| {
                c.c("S", kw());
                c.c("S", kw().seq(1000));
                c.c("S", kw().seq(1000));
            },
            "S",
        ),
        (
            "S once for a SYN with a new ISN",
            |c| {
                c.c("S", kw());
                c.c("S", kw().seq(777777)); // init_endpoint() renumbers: relative 0 again
            },
            "S",
        ),
        (
            "S again for a SYN with another number",
            |c| {
                c.c("S", kw());
                c.c("R", kw());
                c.c("S", kw().seq(777777)); // after a RST the numbering stays
            },
            "SRS",
        ),
        (
            "D/d and A/a once per direction",
            |c| {
                handshake(c);
                for _ in 0..5 {
                    c.c("P.", kw().len(10));
                    c.s(".", kw());
                    c.s("P.", kw().len(10));
                    c.c(".", kw());
                }
            },
            "ShADad",
        ),
        (
            "F once for a retransmitted FIN",
            |c| {
                handshake(c);
                c.c("F.", kw());
                c.c("F.", kw().seq(1001));
            },
            "ShAF",
        ),
        (
            "F again when the FIN number moves",
            |c| {
                handshake(c);
                c.c("F.", kw().seq(1001));
                c.c("F.", kw().len(5).seq(1001));
            },
            "ShAFF",
        ),
        (
            "R again for a RST with another number",
            |c| {
                handshake(c);
                c.c("R.", kw());
                c.c("R.", kw().seq(1500));
            },
            "ShARR",
        ),
        (
            "R once for a repeated RST",
            |c| {
                handshake(c);
                c.c("R.", kw());
                c.c("R.", kw().seq(1001));
            },
            "ShAR",
        ),
        (
            "I (FIN+RST) once per direction",
            |c| {
                handshake(c);
                c.c("FR.", kw());
                c.c("FR.", kw());
            },
            "ShAI",
        ),
        (
            "Q (SYN+FIN) once per direction",
            |c| {
                c.c("SF", kw());
                c.c("SF", kw().seq(1000));
                c.s("SF.", kw());
            },
            "Qq",
        ),
        ("T at the 1st retransmission", |c| rexmit(c, 1), "ShADT"),
        ("T still once at 9", |c| rexmit(c, 9), "ShADT"),
        ("T again at the 10th", |c| rexmit(c, 10), "ShADTT"),
        ("T a third time at the 100th", |c| rexmit(c, 100), "ShADTTT"),
        ("w at the 1st zero window", |c| zero_windows(c, 1), "ShAaw"),
        ("w again at the 10th", |c| zero_windows(c, 10), "ShAaww"),
        (
            "no w after the peer's FIN",
            |c| {
                handshake(c);
                c.c("F.", kw());
                c.s(".", kw().window(0)); // boring: the peer has closed
            },
            "ShAFa",
        ),
    ];
    for (name, script, history) in rules {
        assert_eq!(play(script).history(), history, "{name}");
    }
}

#[test]
fn rstos0_matcher_is_the_regex() {
    // \^?S[^HAFGIQ]*R.*
    for (h, m) in [
        ("SR", true),
        ("^SR", true),
        ("SdtR", true),
        ("SrRA", true),
        ("SAR", false),
        ("^^SR", false),
        ("R", false),
        ("S", false),
        ("", false),
        ("sR", false),
        ("SqR", true),
        ("SQR", false),
    ] {
        assert_eq!(rstos0_history(h), m, "{h}");
    }
}
