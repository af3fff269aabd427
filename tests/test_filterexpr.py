"""The display-filter language: parsing, errors with columns, and matching real flows."""

from __future__ import annotations

from pathlib import Path

import pytest
from captures import track, with_processes
from hypothesis import given, settings
from hypothesis import strategies as st

from capture.filterexpr import (
    CONN_STATES,
    FLAGS,
    STATES,
    FilterError,
    compile_filter,
)

DATA = Path(__file__).parent / "data"

# label -> (capture, originator port): the flows of the corpus, named for the tables below
CORPUS = {
    "http_fin": ("pcapplusplus_one_http_stream_fin.pcap", 49486),  # v4, port 80, FIN close
    "irc_rej": ("zeek_irc-353.pcap", 65388),  # ::1, SYN answered by RST
    "irc_sess": ("zeek_irc-353.pcap", 65389),  # 127.0.0.1 IRC session
    "sack_s0": ("zeek_tcp_option-sack.pcap", 20),  # 127.0.0.1 SYN retried 3 times, no answer
    "retrans": ("chrissanders_tcp_retransmissions.pcapng", 1048),  # mid-stream retransmissions
    "smtp6": ("zeek_communityid_ipv6.pcap", 63943),  # IPv6 SMTP
    "vlan_http": ("zeek_http-vlan-0.pcap", 59856),  # 802.1Q VLAN 0, port 80
}


def load_flows(name: str) -> list:
    """The flows of one capture in tests/data, through the real decoder and tracker."""
    return list(track(name)[0].all_flows())


@pytest.fixture(scope="module")
def corpus() -> dict:
    """label -> Flow for every flow in CORPUS."""
    out = {}
    cache: dict[str, list] = {}
    for label, (capture, port) in CORPUS.items():
        flows = cache.setdefault(capture, load_flows(capture))
        matches = [f for f in flows if port in (f.orig_port, f.resp_port)]
        assert len(matches) == 1, (label, matches)
        out[label] = matches[0]
    return out


def matched(corpus: dict, expression: str) -> set[str]:
    pred = compile_filter(expression)
    return {label for label, flow in corpus.items() if pred(flow)}


ALL = set(CORPUS)

MATCHES = [
    ("", ALL),
    ("port 80", {"http_fin", "sack_s0", "vlan_http"}),
    ("80", {"http_fin", "sack_s0", "vlan_http"}),
    ("port 6666", {"irc_rej", "irc_sess"}),
    ("port > 60000", {"irc_rej", "irc_sess", "smtp6"}),
    ("host ::1", {"irc_rej"}),
    ("host [::1]", {"irc_rej"}),
    ("host 127.0.0.1", {"irc_sess", "sack_s0"}),
    ("host 2607:f8b0:400c:c03::1a", {"smtp6"}),
    ("net 127.0.0.0/8", {"irc_sess", "sack_s0"}),
    ("net 10.3.0.0/16", {"retrans"}),
    ("net 2000::/3", {"smtp6"}),
    ("net ::/0", {"irc_rej", "smtp6"}),
    ("net 0.0.0.0/0", ALL - {"irc_rej", "smtp6"}),
    ("net 10.2.0.0/15", {"retrans"}),
    ("net 10.4.0.0/14", set()),
    ("net 192.168.1.0/25 or net 127.0.0.1/32", {"http_fin", "irc_sess", "sack_s0"}),
    ("net 192.168.1.128/25", set()),
    ("net 2607:f8b0:4000::/36", {"smtp6"}),
    ("net 2607:f8b0:4010::/44", set()),
    ("net ::1/128", {"irc_rej"}),
    ("vlan 0", {"vlan_http"}),
    ("flags ack", ALL - {"sack_s0"}),
    ("flags rst", {"irc_rej"}),
    ("flags synack", {"http_fin", "irc_sess", "smtp6", "vlan_http"}),
    ("FLAGS SYN and not flags synack", {"irc_rej", "sack_s0"}),
    ("retries > 0", {"sack_s0"}),
    ("retries >= 3 && retries <= 3", {"sack_s0"}),
    ("retrans > 0 and net 10.0.0.0/8", {"retrans"}),
    ("proc nginx", set()),
    ("not port 80 and not port 6666", {"retrans", "smtp6"}),
    ("!(port 80 || port 6666)", {"retrans", "smtp6"}),
    ("not not port 25", {"smtp6"}),
    # precedence: and binds tighter than or; parentheses override
    ("port 6666 or port 80 and host 127.0.0.1", {"irc_rej", "irc_sess", "sack_s0"}),
    ("(port 6666 or port 80) and host 127.0.0.1", {"irc_sess", "sack_s0"}),
    ("port 80 && !host 127.0.0.1", {"http_fin", "vlan_http"}),
    ("port 80 AND NOT vlan 0 OR host ::1", {"http_fin", "sack_s0", "irc_rej"}),
    ("id 2", {"irc_sess"}),
    ("id 2,5-6 and port 6666", {"irc_sess"}),
    ("id 1-999999999", ALL),
]


@pytest.mark.parametrize(("expression", "expected"), MATCHES)
def test_matches_real_flows(corpus, expression, expected):
    """Each expression selects exactly the expected flows of the real-capture corpus."""
    assert matched(corpus, expression) == expected


@pytest.mark.parametrize(("expression", "expected"), [m for m in MATCHES if m[0]])
def test_not_selects_the_complement(corpus, expression, expected):
    """`not (X)` selects exactly the flows `X` leaves out."""
    assert matched(corpus, f"not ({expression})") == ALL - expected


def test_conn_and_state_match_each_flow_s_own_values(corpus):
    """`conn X` and `state X` select exactly the flows whose own Zeek or endpoint state is X."""
    for conn in CONN_STATES:
        want = {label for label, f in corpus.items() if f.conn_state == conn}
        assert matched(corpus, f"conn {conn.lower()}") == want
    for state in STATES:
        want = {label for label, f in corpus.items() if state in (f.state_orig, f.state_resp)}
        assert matched(corpus, f"state {state.lower().replace('_', '-')}") == want


def test_concrete_states(corpus):
    """The refused and the unanswered attempts have their Zeek and RFC states."""
    assert "irc_rej" in matched(corpus, "conn REJ")
    assert "sack_s0" in matched(corpus, "conn S0 and state syn_sent")
    assert "http_fin" in matched(corpus, "conn SF")


def test_irtt_with_units(corpus):
    """`irtt` compares in seconds whatever the unit; flows without a handshake never match."""
    irtt = {label: f.irtt for label, f in corpus.items()}
    assert irtt["irc_sess"] is not None and irtt["retrans"] is None
    for text, seconds in [("10ms", 0.010), ("250us", 250e-6), ("0.5s", 0.5), ("1", 1.0)]:
        want = {lab for lab, v in irtt.items() if v is not None and v > seconds}
        assert matched(corpus, f"irtt > {text}") == want
    assert "retrans" not in matched(corpus, "irtt >= 0s")
    assert "retrans" in matched(corpus, "not irtt >= 0s")


def test_proc_matches_either_end_case_insensitively(corpus):
    """`proc` is a case-insensitive substring of either end's process name."""
    flow = corpus["irc_sess"]
    capture, _ = CORPUS["irc_sess"]
    owned = with_processes(capture, flow.id, resp=(4242, "ircd: Nginx-like worker"))
    assert owned.proc_resp == "ircd: Nginx-like worker"
    corpus["irc_sess"] = owned
    try:
        assert matched(corpus, "proc nginx") == {"irc_sess"}
        assert matched(corpus, "proc NGINX and port 6666") == {"irc_sess"}
    finally:
        corpus["irc_sess"] = flow


ERRORS = [
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
]


@pytest.mark.parametrize(("expression", "column", "fragment"), ERRORS)
def test_errors_name_the_column(expression, column, fragment):
    """A bad expression raises FilterError: one line, its column, what was expected."""
    with pytest.raises(FilterError) as info:
        compile_filter(expression)
    message = str(info.value)
    assert "\n" not in message and "\x1b" not in message
    assert info.value.pos + 1 == column, message
    assert message.startswith(f"column {column}: "), message
    assert fragment in message, message


# Token positions and state-name spellings are the engine's: `capture/engine/src/filter/tests.rs`
# (`tokens_keep_their_positions`, `state_names_normalise`) checks them.


def test_every_flag_name_compiles():
    """Every documented flag name is accepted."""
    assert set(FLAGS) == {"syn", "synack", "fin", "rst", "psh", "ack", "urg", "ece", "cwr"}
    for flag in FLAGS:
        compile_filter(f"flags {flag.upper()}")


WORDS = ["port", "host", "net", "state", "conn", "flags", "retries", "irtt", "proc", "and",
         "or", "not", "(", ")", "&&", "||", "!", ">", ">=", "==", "80", "10ms", "::1", "syn",
         "S0", "10.0.0.0/8", "established", "id", "1-3", ",", "vlan"]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(WORDS), max_size=8), st.text(max_size=12))
def test_any_input_compiles_or_fails_with_one_clean_line(words, noise):
    """Whatever is typed, the result is a predicate or a FilterError: one line, no controls."""
    for text in (" ".join(words), " ".join(words) + noise, noise):
        try:
            pred = compile_filter(text)
        except FilterError as err:
            message = str(err)
            assert message.startswith("column ") and "\n" not in message
            assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in message)
            assert 0 <= err.pos <= len(text)
        else:
            assert callable(pred)


@pytest.mark.parametrize("text", ["port ¹", "¹", "id ¹-2", "retries > ²"])
def test_non_ascii_digits_are_a_clean_error(text: str) -> None:
    """Superscript digits pass str.isdigit but are not numbers: a FilterError, never ValueError."""
    with pytest.raises(FilterError):
        compile_filter(text)


@pytest.mark.parametrize(
    ("capture", "expression", "expected"),
    [
        ("chrissanders_tcp_dupack.pcapng", "dupacks == 3", True),
        ("chrissanders_tcp_dupack.pcapng", "dupacks > 3", False),
        ("chrissanders_tcp_dupack.pcapng", "analysis fast_retransmission", True),
        ("chrissanders_tcp_dupack.pcapng", "analysis retransmission", False),
        ("chrissanders_tcp_retransmissions.pcapng", "analysis retransmission", True),
        ("chrissanders_tcp_zerowindowdead.pcapng", "analysis keep_alive and dupacks == 0", True),
        ("chrissanders_tcp_zerowindowdead.pcapng", "analysis ZERO-WINDOW", True),
        ("chrissanders_tcp_zerowindowrecovery.pcapng", "analysis window_update", True),
        ("chrissanders_tcp_zerowindowrecovery.pcapng", "analysis keep_alive", False),
    ],
)
def test_tcp_analysis_terms_match_wiresharks_marks(capture, expression, expected):
    """`dupacks` and `analysis KIND` read the engine's Wireshark-style marks (tshark 4.0.17:
    3 dup ACKs and a fast retransmission; keep-alives; a zero window then a window update)."""
    (flow,) = load_flows(capture)
    assert compile_filter(expression)(flow) is expected


def test_an_unknown_analysis_kind_lists_the_kinds():
    """A misspelt kind names every kind Wireshark's analysis has."""
    with pytest.raises(FilterError) as err:
        compile_filter("analysis dupack")
    assert str(err.value).startswith("column 10: unknown TCP analysis kind 'dupack' (one of: ")
    assert "duplicate_ack" in str(err.value) and "zero_window_probe_ack" in str(err.value)
