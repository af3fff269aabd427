"""Insight findings say what their numbers show: SYN retry gaps as they are (Linux's linear
retries, then doubling), and counts with the right noun form ("1 flow", never "1 flows")."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from captures import track

from capture.insights import analyse
from capture.insights.text import count, describe_retry_gaps
from tui.insights_screen import summary
from widgets.insights_list import evidence_line

DATA = Path(__file__).parent / "data"
ONE_PLURAL = re.compile(r"(?<![\d.,=])1 (flows|connections|connection attempts|SYNs|ports|sources"
                        r"|clients|times|handshakes|reuses|hosts|services|findings)\b")  # fmt: skip


@pytest.mark.parametrize(
    ("gaps", "words"),
    [
        (
            [1.03, 1.001, 1.004, 1.002, 1.004, 2.014, 4.061, 8.034],
            "5 equal gaps of ~1 s (Linux's linear retries, tcp_syn_linear_timeouts), then each "
            "gap double the last (exponential backoff, RFC 6298)",
        ),
        ([1.0, 2.0, 4.0, 8.0], "each gap double the last (exponential backoff, RFC 6298)"),
        ([3.0, 6.0, 12.0], "each gap double the last (exponential backoff, RFC 6298)"),
        ([1.0, 1.0, 1.0], "3 equal gaps of ~1 s (Linux's linear retries, tcp_syn_linear_timeouts)"),
        ([0.2, 0.2, 0.2], "3 equal gaps of ~0.2 s (a fixed interval)"),
        ([0.005, 0.997], "1 SYN resent at once (not on a timeout), then one gap of 1 s"),
        ([0.0], "1 SYN resent at once (not on a timeout)"),
        ([6.448, 2.838, 2.816], "irregular gaps, neither equal nor each double the last"),
    ],
)
def test_retry_gaps_are_described_as_they_are(gaps: list[float], words: str) -> None:
    """Linear retries, doubling, immediate resends and irregular gaps each read as such."""
    assert describe_retry_gaps(gaps) == words


def test_unanswered_syns_say_what_their_gaps_show() -> None:
    """espn: 1 s gaps five times, then doubling; no blanket "doubles each time" beside them."""
    tracker, _ = track("chrissanders_http_espn_fail.pcapng")
    found = [f for f in analyse(tracker.all_flows()) if f.kind == "unanswered"]
    assert len(found) == 1
    text = found[0].explanation
    assert "doubles each time" not in text
    assert "5 equal gaps of ~1 s (Linux's linear retries" in text
    assert "then each gap double the last (exponential backoff, RFC 6298)" in text


CAPTURES = sorted(p for p in DATA.iterdir() if p.name.endswith((".pcap", ".pcapng", ".pcap.gz")))


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_no_plural_after_one_and_no_parenthesised_plurals(path: Path) -> None:
    """Every finding of every bundled capture: "1 flow", "2 flows", never "1 flows" or "flow(s)"."""
    for finding in analyse(track(path.name)[0].all_flows()):
        for text in (finding.explanation, finding.subject, evidence_line(finding)):
            assert "(s)" not in text, text
            assert not ONE_PLURAL.search(text), text


def test_counts_and_summary_agree_with_their_number() -> None:
    assert (count(1, "flow"), count(2, "flow"), count(1_000, "flow")) == (
        "1 flow", "2 flows", "1,000 flows",
    )  # fmt: skip
    assert summary([], 1) == "No findings over 1 flow."
    assert summary([], 5) == "No findings over 5 flows."
