"""Insights over real captures: scans, refusals, unanswered SYNs, zero windows, flags, quiet."""

from __future__ import annotations

from pathlib import Path

import pytest
from captures import track

from capture.insights import Finding, Thresholds, analyse
from capture.segment import ACK, RST, SYN

DATA = Path(__file__).parent / "data"


def findings(name: str, **kw: object) -> list[Finding]:
    tracker, _ = track(name)
    return analyse(tracker.all_flows(), **kw)  # type: ignore[arg-type]


def of_kind(found: list[Finding], kind: str) -> list[Finding]:
    return [f for f in found if f.kind == kind]


@pytest.mark.parametrize(
    ("name", "scanner", "style"),
    [
        ("chrissanders_synscan.pcapng", "172.16.0.8", "SYN scan"),
        ("chrissanders_activeosfingerprinting.pcapng", "172.16.16.128", "OS-fingerprinting"),
        ("zeek_nmap-vsn.pcap", "192.168.1.71", "connect scan"),
    ],
)
def test_nmap_captures_name_the_scanner(name: str, scanner: str, style: str) -> None:
    """nmap's SYN scan, OS detection and version scan each make one port-scan alert."""
    tracker, _ = track(name)
    scans = of_kind(analyse(tracker.all_flows()), "port_scan")
    assert [f.subject for f in scans] == [scanner]
    scan = scans[0]
    assert scan.severity == "alert"
    assert scan.numbers["scanner"] == scanner
    assert style in scan.explanation
    # Every flow behind the finding really comes from the scanner.
    for fid in scan.flow_ids:
        assert tracker.flows[fid].orig_addr == bytes(int(p) for p in scanner.split("."))


def test_syn_scan_counts_ports_and_claims_its_refusals() -> None:
    """The 1,000-port SYN scan: its refused and silent probes are not repeated as refusals."""
    found = findings("chrissanders_synscan.pcapng")
    scan = of_kind(found, "port_scan")[0]
    assert scan.numbers["ports"] == 1000
    assert scan.numbers["hosts"] == 1
    assert scan.numbers["open"] + scan.numbers["closed"] + scan.numbers["filtered"] <= len(
        scan.flow_ids
    )
    assert not of_kind(found, "refused") and not of_kind(found, "unanswered")


def test_scan_thresholds_are_configurable() -> None:
    """Raised thresholds turn the same probes back into per-service findings."""
    found = findings("chrissanders_synscan.pcapng", thresholds=Thresholds(scan_min_targets=5000))
    assert not of_kind(found, "port_scan")
    assert of_kind(found, "refused") and of_kind(found, "unanswered")


@pytest.mark.parametrize(
    ("name", "service"),
    [
        ("chrissanders_tcp_refuseconnection.pcapng", "192.168.100.1:80"),
        ("chrissanders_nowebaccess2.pcapng", "172.16.0.102:80"),
        ("pcapplusplus_one_tcp_rst.pcap", "10.1.1.6:20000"),
        ("zeek_irc-353.pcap", "[::1]:6666"),
    ],
)
def test_refused_connections(name: str, service: str) -> None:
    """A SYN answered by RST: 'nothing listens', with the RST frames as evidence."""
    tracker, segments = track(name)
    refused = of_kind(analyse(tracker.all_flows()), "refused")
    assert [f.subject for f in refused] == [service]
    assert refused[0].severity == "warning"
    assert "Nothing listens on" in refused[0].explanation
    by_no = {s.frame_no: s for s in segments}
    assert refused[0].frames
    assert all(by_no[n].flags & RST for n in refused[0].frames)


@pytest.mark.parametrize("name", ["chrissanders_nowebaccess3.pcapng", "zeek_tcp_option-sack.pcap"])
def test_unanswered_syns_carry_their_retry_gaps(name: str) -> None:
    """Unanswered SYNs: the gaps reported are those between the SYNs in the capture."""
    tracker, segments = track(name)
    unanswered = of_kind(analyse(tracker.all_flows()), "unanswered")
    assert len(unanswered) == 1
    syn_times = [s.ts for s in segments if s.flags & (SYN | ACK) == SYN]
    gaps = [round(b - a, 3) for a, b in zip(syn_times, syn_times[1:], strict=False)]
    assert len(gaps) >= 2
    assert unanswered[0].numbers["retry_gaps"] == gaps
    assert unanswered[0].numbers["syn_retries"] == len(gaps)
    assert "never answered" in unanswered[0].explanation


def test_young_syns_are_pending_in_live_mode() -> None:
    """Given `now` just after the SYN, it is still waiting, not unanswered."""
    tracker, segments = track("chrissanders_nowebaccess3.pcapng")
    first = segments[0].ts
    assert not of_kind(analyse(tracker.all_flows(), now=first + 0.5), "unanswered")
    assert of_kind(analyse(tracker.all_flows(), now=first + 5.0), "unanswered")


def test_a_full_listen_queue_turns_silence_into_an_accept_queue_finding() -> None:
    """With the LISTEN socket's queue over its backlog, unanswered SYNs mean a full queue."""
    tracker, _ = track("chrissanders_nowebaccess3.pcapng")
    server = bytes([74, 125, 95, 105])
    found = analyse(tracker.all_flows(), listen_queues={(server, 80): (5, 4)})
    assert not of_kind(found, "unanswered")
    (queue,) = of_kind(found, "accept_queue")
    assert queue.numbers["queued"] == 5 and queue.numbers["backlog"] == 4


@pytest.mark.parametrize("frames_per_flow", [0, 1, 64])
@pytest.mark.parametrize(
    ("name", "subject", "severity"),
    [
        ("chrissanders_tcp_zerowindowdead.pcapng", "not recovered", "warning"),
        ("chrissanders_tcp_zerowindowrecovery.pcapng", "recovered", "info"),
    ],
)
def test_zero_windows(name: str, frames_per_flow: int, subject: str, severity: str) -> None:
    """A zero window that never reopens is a warning; one that reopens is explained. The
    engine follows each side's last window itself: kept frames (none headless, one in a ring
    that has long moved on) make no difference."""
    tracker, _ = track(name, frames_per_flow)
    zero = of_kind(analyse(tracker.all_flows()), "zero_window")
    assert [(f.subject, f.severity) for f in zero] == [(subject, severity)]


@pytest.mark.parametrize(
    ("name", "combos"),
    [
        (
            "tcpdump_tcp_eight_lowest_weight_flags_set.pcap",
            {"SYN+FIN", "SYN+RST", "FIN+RST", "xmas"},
        ),
        ("chrissanders_activeosfingerprinting.pcapng", {"SYN+FIN", "xmas", "null"}),
    ],
)
def test_illegal_flag_combinations(name: str, combos: set[str]) -> None:
    """Each illegal combination in the capture is its own explained anomaly."""
    illegal = of_kind(findings(name), "illegal_flags")
    assert {f.subject for f in illegal} == combos
    assert all(f.severity == "warning" and f.flow_ids for f in illegal)


@pytest.mark.parametrize(
    "name",
    [
        "zeek_http_get.pcap",
        "tcpdump_print-flags.pcap",
        "zeek_ssh_single-conn.pcap",
        "tcpdump_ssh.pcap",
        "tcpdump_dns_tcp.pcap",
        "zeek_wikipedia.pcap",
        "tcpdump_resp_1_benchmark.pcap",
    ],
)
def test_normal_sessions_raise_no_warning(name: str) -> None:
    """Plain HTTP, SSH, DNS over TCP: at most informational findings."""
    for frames_per_flow in (0, 64):
        tracker, _ = track(name, frames_per_flow)
        loud = [f for f in analyse(tracker.all_flows()) if f.severity != "info"]
        assert loud == []


def test_headless_and_tui_trackers_agree_on_the_scan() -> None:
    """Without kept frames (headless) the scan and refusal findings are the same."""
    for name in ("zeek_nmap-vsn.pcap", "chrissanders_tcp_refuseconnection.pcapng"):
        with_frames = [(f.kind, f.subject, f.flow_ids) for f in findings(name)]
        tracker, _ = track(name, 0)
        without = [(f.kind, f.subject, f.flow_ids) for f in analyse(tracker.all_flows())]
        assert with_frames == without


def test_many_services_fold_into_one_finding() -> None:
    """Without the scan rule, ~1,000 silent ports make 10 named findings and one for the rest."""
    tracker, _ = track("chrissanders_synscan.pcapng")
    found = analyse(tracker.all_flows(), Thresholds(scan_min_targets=5000))
    unanswered = of_kind(found, "unanswered")
    assert len(unanswered) == 11
    rest = [f for f in unanswered if f.subject.endswith("other services")]
    assert len(rest) == 1
    named = {f.subject for f in unanswered} - {rest[0].subject}
    assert len(named) == 10 and all(s.startswith("64.13.134.52:") for s in named)
    silent = {fid for f in unanswered for fid in f.flow_ids}
    assert sum(f.numbers["flows"] for f in unanswered) == len(silent)


def test_resets_are_grouped_by_who_sent_them() -> None:
    """The server's FIN answered by the client's RST: one 'reset by client' finding."""
    tracker, _ = track("pcapplusplus_one_http_stream_rst.pcap")
    resets = of_kind(analyse(tracker.all_flows()), "reset")
    assert [f.subject for f in resets] == ["by client"]
    assert "after a FIN" in resets[0].explanation
    flow = tracker.flows[resets[0].flow_ids[0]]
    assert flow.rst_by == "orig"
