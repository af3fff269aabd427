//! Parsing and errors (Python: tests/test_filterexpr.py, tests/test_insights_filter.py).

use proptest::prelude::*;

use super::lex::{tokenize, Token};
use super::{ipaddr, state_name, Filter, FilterError};

fn error(text: &str) -> FilterError {
    match Filter::compile(text) {
        Err(e) => e,
        Ok(_) => panic!("{text:?} compiled"),
    }
}

/// Python's ERRORS: (expression, column, a fragment of the message).
#[rustfmt::skip]
const ERRORS: &[(&str, usize, &str)] = &[
    ("port", 5, "expected a port number after 'port' at the end"),
    ("port x", 6, "expected a port number 0-65535, got 'x'"),
    ("port 70000", 6, "port number 0-65535"),
    ("99999", 1, "port number 0-65535"),
    ("host", 5, "expected an address"),
    ("host 300.1.1.1", 6, "expected an IPv4 or IPv6 address, got '300.1.1.1'"),
    ("host foo", 6, "IPv4 or IPv6 address"),
    ("net 10.0.0.1/8", 5, "host bits set"),
    ("net banana", 5, "expected a network like 10.0.0.0/8"),
    ("state estab1ished", 7, "unknown state 'estab1ished'"),
    ("conn S9", 6, "unknown conn_state 'S9'"),
    ("flags syn-ack", 7, "unknown flag 'syn-ack'"),
    ("retries 3", 9, "expected a comparison"),
    ("retries >", 10, "expected a value"),
    ("retries > x", 11, "expected a whole number, got 'x'"),
    ("irtt > 10m", 8, "expected a duration like 10ms"),
    ("irtt > fast", 8, "duration"),
    ("bogus 1", 1, "unknown filter term 'bogus'"),
    ("port 80 port 443", 9, "expected 'and' or 'or' before 'port'"),
    ("(port 80", 9, "expected ')' to match the '(' at column 1"),
    ("(port 80 80)", 10, "expected ')' or an operator, got '80'"),
    ("port 80 and", 12, "expected a filter term at the end"),
    ("port 80 or or port 1", 12, "unknown filter term 'or'"),
    ("port 80 )", 9, "expected 'and' or 'or' before ')'"),
    ("port 80 & port 1", 9, "unexpected character '&'"),
    ("proc \x1b[31m", 6, "unexpected character '\\x1b'"),
    ("not", 4, "expected a filter term at the end"),
];

#[test]
fn errors_name_the_column() {
    for &(text, column, fragment) in ERRORS {
        let err = error(text);
        let message = err.to_string();
        assert!(
            !message.contains('\n') && !message.contains('\x1b'),
            "{message}"
        );
        assert_eq!(err.pos + 1, column, "{message}");
        assert!(
            message.starts_with(&format!("column {column}: ")),
            "{message}"
        );
        assert!(message.contains(fragment), "{message}");
    }
}

/// Whole messages, as Python writes them (each checked against `str(err)`).
#[rustfmt::skip]
const MESSAGES: &[(&str, &str)] = &[
    ("port   ", "column 8: expected a port number after 'port' at the end of the filter"),
    ("port\t", "column 6: expected a port number after 'port' at the end of the filter"),
    ("é bogus", "column 1: unknown filter term 'é' (try: analysis, bytes, conn, dupacks, \
                 duration, flag, flags, host, id, irtt, net, pkts, port, proc, retrans, retries, \
                 state, vlan)"),
    ("analysis dup", "column 10: unknown TCP analysis kind 'dup' (one of: zero_window \
                      zero_window_probe zero_window_probe_ack keep_alive keep_alive_ack \
                      window_update duplicate_ack lost_segment ack_lost_segment retransmission \
                      fast_retransmission spurious_retransmission out_of_order)"),
    ("proc é & x", "column 8: unexpected character '&'"),
    ("proc \u{202e}", "column 6: unexpected character '\\u202e'"),
    ("irtt > ١٠ms x", "column 13: expected 'and' or 'or' before 'x'"),
    ("(port 1", "column 8: expected ')' to match the '(' at column 1 at the end of the filter"),
    ("state x", "column 7: unknown state 'x' (one of: close_wait, closed, closing, established, \
                 fin_wait_1, fin_wait_2, last_ack, listen, syn_received, syn_sent, time_wait, \
                 unknown)"),
    ("conn x", "column 6: unknown conn_state 'x' (one of: OTH REJ RSTO RSTOS0 RSTR RSTRH S0 S1 \
                S2 S3 SF SH SHR)"),
    ("flags x", "column 7: unknown flag 'x' (one of: syn synack fin rst psh ack urg ece cwr)"),
    ("net 2001:DB8::1/32", "column 5: expected a network like 10.0.0.0/8, got '2001:DB8::1/32' \
                            (2001:db8::1/32 has host bits set)"),
    ("net ::ffff:1.2.3.4/64", "column 5: expected a network like 10.0.0.0/8, got \
                               '::ffff:1.2.3.4/64' (::ffff:102:304/64 has host bits set)"),
    ("net a/b/c", "column 5: expected a network like 10.0.0.0/8, got 'a/b/c' ('a/b/c' does not \
                   appear to be an IPv4 or IPv6 network)"),
    ("net 10.0.0.1/0.255.255.255", "column 5: expected a network like 10.0.0.0/8, got \
                                    '10.0.0.1/0.255.255.255' (10.0.0.1/8 has host bits set)"),
    ("conn ſf x", "column 9: expected 'and' or 'or' before 'x'"),
    ("id 3,,4", "column 4: expected flow ids like 3,7,12-40, got '3,,4'"),
    ("retries >= ²", "column 12: expected a whole number, got '²'"),
    ("flag", "column 5: expected a flag name after 'flags' at the end of the filter"),
    ("port > x", "column 8: expected a port number 0-65535, got 'x'"),
    ("port >", "column 7: expected a port number after the comparison at the end of the filter"),
    ("irtt", "column 5: expected a comparison (> >= < <= == !=) after 'irtt' at the end of the \
              filter"),
    ("IRTT 3", "column 6: expected a comparison (> >= < <= == !=) after 'IRTT', got '3'"),
    ("Pkts >", "column 7: expected a value after 'Pkts' and the comparison at the end of the \
                filter"),
];

#[test]
fn messages_are_pythons() {
    for &(text, message) in MESSAGES {
        assert_eq!(error(text).to_string(), message, "{text:?}");
    }
}

#[test]
fn tokens_keep_their_positions() {
    let toks = tokenize("irtt>10ms&&!(port 80||host ::1)").expect("tokens");
    let got: Vec<(&str, usize)> = toks.iter().map(|t| (t.text, t.pos)).collect();
    #[rustfmt::skip]
    let want = [
        ("irtt", 0), (">", 4), ("10ms", 5), ("&&", 9), ("!", 11), ("(", 12), ("port", 13),
        ("80", 18), ("||", 20), ("host", 22), ("::1", 27), (")", 30),
    ];
    assert_eq!(got, want);
    // `!=` is one operator, `!` before a word another; positions count characters.
    let toks = tokenize("é!=ü !x").expect("tokens");
    let want = [
        Token { text: "é", pos: 0 },
        Token { text: "!=", pos: 1 },
        Token { text: "ü", pos: 3 },
        Token { text: "!", pos: 5 },
        Token { text: "x", pos: 6 },
    ];
    assert_eq!(toks, want);
}

#[test]
fn python_whitespace_separates_tokens() {
    // \x1c-\x1f are whitespace to Python (str.isspace), and so are U+1680 and U+3000.
    for text in [
        "port\x1c80",
        "port\u{1680}80",
        "port 80\u{3000}",
        "port 80 \x1f",
    ] {
        assert!(Filter::compile(text).is_ok(), "{text:?}");
    }
    // A combining vowel sign is not `\w` to Python (it is alphabetic to Rust).
    assert_eq!(error("proc कि").msg, "unexpected character 'ि'");
}

#[test]
fn state_names_normalise() {
    for (text, name) in [
        ("established", "ESTABLISHED"),
        ("syn-sent", "SYN_SENT"),
        ("Time_Wait", "TIME_WAIT"),
        ("syn_rcvd", "SYN_RECEIVED"),
        ("fin-wait-1", "FIN_WAIT_1"),
        ("estab", "ESTABLISHED"),
        ("SYN-RECV", "SYN_RECEIVED"),
    ] {
        assert_eq!(state_name(text), name);
    }
}

#[test]
fn every_flag_name_compiles() {
    for flag in [
        "syn", "synack", "fin", "rst", "psh", "ack", "urg", "ece", "cwr",
    ] {
        assert!(Filter::compile(&format!("flags {}", flag.to_uppercase())).is_ok());
        assert!(Filter::compile(&format!("flag {flag}")).is_ok());
    }
}

#[test]
fn non_ascii_digits_are_a_clean_error() {
    for text in ["port ¹", "¹", "id ¹-2", "retries > ²"] {
        error(text);
    }
}

#[test]
fn bad_id_lists_are_one_line_errors() {
    for text in [
        "id", "id x", "id 5-2", "id 3,,4", "id 1-", "id 1-2-3", "id ,",
    ] {
        assert!(!error(text).to_string().contains('\n'));
    }
    // Compared by value, whatever the length: 10^40 - 1 is below 10^40.
    let huge = format!("id 1{}-{}", "0".repeat(40), "9".repeat(40));
    assert!(error(&huge).msg.starts_with("expected flow ids"));
    assert!(Filter::compile(&format!("id 5-{}5", "0".repeat(40))).is_ok());
}

#[test]
fn empty_and_blank_match_everything() {
    for text in ["", "   ", "\t\u{3000}"] {
        assert!(Filter::compile(text).expect("compiles").is_empty());
    }
    assert!(!Filter::compile("80").expect("compiles").is_empty());
}

#[test]
fn where_python_raises_other_exceptions() {
    // Python: KeyError ('ſ' matches the regex's IGNORECASE `s`, then `.lower()` misses).
    assert!(error("irtt > 10ſ").msg.starts_with("expected a duration"));
    // Python: ValueError past 4300 digits. Here a port that large is out of range, and a count
    // that large exceeds every flow's.
    assert!(error(&format!("port {}", "9".repeat(5000)))
        .msg
        .contains("0-65535"));
    assert!(Filter::compile(&format!("retries < {}", "9".repeat(5000))).is_ok());
    // Python: RecursionError past some 330 parentheses.
    let deep = format!("{}port 1{}", "(".repeat(400), ")".repeat(400));
    assert!(Filter::compile(&deep).is_ok());
    let too_deep = format!("{}port 1", "not ".repeat(600));
    assert_eq!(error(&too_deep).pos, 4 * 500);
}

#[test]
fn durations_read_any_scripts_digits() {
    let a = Filter::compile("irtt > ١٠ms").expect("compiles");
    let b = Filter::compile("irtt > 10ms").expect("compiles");
    assert_eq!(a, b);
    assert_eq!(
        Filter::compile("irtt > 10MS"),
        Filter::compile("irtt > 0.01")
    );
    assert_eq!(Filter::compile("irtt > 5."), Filter::compile("irtt > 5s"));
    assert_eq!(
        Filter::compile("irtt > .5Us"),
        Filter::compile("irtt > 0.0000005")
    );
    for bad in [
        "irtt > .",
        "irtt > 1.2.3",
        "irtt > 1e3",
        "irtt > 10 ms",
        "irtt > -1",
    ] {
        assert!(Filter::compile(bad).is_err(), "{bad}");
    }
}

#[test]
fn addresses_as_pythons_ipaddress() {
    #[rustfmt::skip]
    let good = ["1.2.3.4", "::", "::1", "1::", "::ffff:1.2.3.4", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6::8"];
    for ok in good {
        assert!(ipaddr::ip_address(ok).is_some(), "{ok}");
    }
    #[rustfmt::skip]
    let bad = [
        "", "1.2.3", "1.2.3.04", "256.1.1.1", "1.2.3.4/32", ":::", "1::2::3", ":1::", "1::2:",
        "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7::8", "12345::", "::g", "1:2:3:4:5:6:7", "::1.2.3",
        "1.2.3.4::", "::١",
    ];
    for bad in bad {
        assert!(ipaddr::ip_address(bad).is_none(), "{bad}");
    }
    let net = |s: &str| ipaddr::ip_network(s).map(|n| (n.addr.to_string(), n.prefix));
    assert_eq!(net("10.0.0.0/255.0.0.0"), Ok(("10.0.0.0".into(), 8)));
    assert_eq!(net("10.0.0.0/0.0.255.255"), Ok(("10.0.0.0".into(), 16)));
    assert_eq!(net("0.0.0.0/0.0.0.0"), Ok(("0.0.0.0".into(), 0)));
    assert_eq!(net("10.0.0.0/008"), Ok(("10.0.0.0".into(), 8)));
    assert_eq!(net("1.2.3.4"), Ok(("1.2.3.4".into(), 32)));
    assert_eq!(net("::/0"), Ok(("::".into(), 0)));
    assert!(net("1::/129").is_err() && net("1::/+3").is_err() && net("1.2.3.4/33").is_err());
}

proptest! {
    #[test]
    fn any_text_compiles_or_fails_with_one_clean_line(text in "\\PC{0,40}|[\\x00-\\x7f]{0,40}") {
        check_any(&text);
    }

    #[test]
    fn any_word_soup_compiles_or_fails_cleanly(
        words in prop::collection::vec(prop::sample::select(WORDS), 0..9),
        noise in "\\PC{0,6}",
    ) {
        let text = words.join(" ");
        check_any(&text);
        check_any(&format!("{text}{noise}"));
    }
}

const WORDS: &[&str] = &[
    "port",
    "host",
    "net",
    "state",
    "conn",
    "flags",
    "retries",
    "irtt",
    "proc",
    "and",
    "or",
    "not",
    "(",
    ")",
    "&&",
    "||",
    "!",
    ">",
    ">=",
    "==",
    "80",
    "10ms",
    "::1",
    "syn",
    "S0",
    "10.0.0.0/8",
    "established",
    "id",
    "1-3",
    ",",
    "vlan",
    "pkts",
    "bytes",
    "duration",
    "ſ",
    "١",
    "\x1c",
];

fn check_any(text: &str) {
    if let Err(err) = Filter::compile(text) {
        let message = err.to_string();
        assert!(message.starts_with("column "));
        assert!(!message
            .chars()
            .any(|c| (c as u32) < 0x20 || (0x7f..=0x9f).contains(&(c as u32))));
        assert!(err.pos <= text.chars().count());
    }
}
