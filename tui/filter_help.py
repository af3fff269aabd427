"""The display-filter language in words: one list for `--help` and for the help screen (`?`).

Plain data (no Textual), so `tcpwatch --help` stays quick. `tests/test_cli_help.py` checks that
every term `capture.filterexpr` accepts is listed here.
"""

from __future__ import annotations

FILTER_TERMS: tuple[tuple[str, str], ...] = (
    ("port N / port > N", "either end's port (a bare number is a port too: 443)"),
    ("host ADDR / net CIDR", "either end's address, IPv4 or IPv6: host 10.0.0.5, net 10.0.0.0/8"),
    ("state NAME", "either end's RFC 9293 state: established, syn_sent, time_wait, …"),
    ("conn STATE", "Zeek's conn_state: S0 S1 SF REJ S2 S3 RSTO RSTR RSTOS0 RSTRH SH SHR OTH"),
    ("flags F / flag F", "a segment with flag F was seen: syn synack fin rst psh ack urg ece cwr"),
    ("proc NAME", "a process name contains NAME (live, with process attribution)"),
    ("vlan N", "a VLAN id of the flow"),
    ("id 3,7,12-40", "flows by number (enter on an insight filters this way)"),
    ("retries CMP N", "SYN retries, e.g. retries > 0"),
    ("retrans CMP N", "retransmitted segments, both directions"),
    ("dupacks CMP N", "duplicate ACKs (Wireshark's), both directions: dupacks > 2"),
    ("analysis KIND", "a segment Wireshark's analysis marks KIND: duplicate_ack, keep_alive, …"),
    ("pkts / bytes CMP N", "packets / payload bytes, both directions"),
    ("irtt / duration CMP T", "handshake RTT / first to last segment: 10ms, 1.5s, 200us"),
    ("and or not ( )", "combine terms (&& || ! too); CMP is one of > >= < <= == !="),
)
"""(term, meaning) for every term of the filter language, in the order the help shows them."""

FILTER_KEYWORDS: tuple[str, ...] = (
    "port", "host", "net", "state", "conn", "flags", "flag", "proc", "vlan", "id",
    "retries", "retrans", "dupacks", "analysis", "pkts", "bytes", "irtt", "duration",
)  # fmt: skip
"""The term keywords listed above (checked against the parser by the tests)."""


def filter_help(indent: str = "  ") -> str:
    """The terms as aligned text lines (for `--help`)."""
    width = max(len(term) for term, _ in FILTER_TERMS)
    return "\n".join(f"{indent}{term.ljust(width)}  {what}" for term, what in FILTER_TERMS)
