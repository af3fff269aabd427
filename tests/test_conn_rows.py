"""What the connection table's cells say for real flows."""

from __future__ import annotations

from captures import DATA

from capture.native import load
from widgets.conn_rows import COLUMNS, average_rate, category, fit_columns, retries
from widgets.units import byte_rate


def test_retr_counts_each_resent_syn_once() -> None:
    """espn flow 3: ten SYN retries and nothing else resent: `retr` says 10, as the flow
    screen and the export do (issue 12 #3: it said 20)."""
    tracker = load().Tracker()
    tracker.read_file(str(DATA / "chrissanders_http_espn_fail.pcapng"))
    flow = tracker.flow(3)
    assert flow is not None and flow.syn_retries == 10
    record = flow.record()
    assert retries(flow) == record["retrans_orig"] + record["retrans_resp"] == 10


def test_rate_columns_leave_small_terminals_as_they_were() -> None:
    """80 columns keep what they had (endpoints, states, conn, age); from 100 the current rate
    comes right after the bytes (history gives way to it); the average only when there is
    room. With no current rate (a file read whole) the columns are those of before up to 120,
    the average standing in after the RTT from 160."""
    before = ["orig", "resp", "state_orig", "state_resp", "conn"]
    for rates in (True, False):
        assert [c.key for c in fit_columns(80, rates=rates)] == [*before, "age"]
    assert [c.key for c in fit_columns(100)] == [*before, "bytes", "age", "rate"]
    assert [c.key for c in fit_columns(100, rates=False)] == [*before, "history", "bytes"]
    file_120 = [c.key for c in fit_columns(120, rates=False)]
    assert file_120 == [*before, "history", "pkts", "bytes", "rtt"]
    assert "avg" not in [c.key for c in fit_columns(120)]
    assert [c.key for c in fit_columns(160, procs=False, rates=False)][-1] == "avg"
    assert [c.key for c in fit_columns(160, procs=False)][-2:] == ["rate", "avg"]
    # Live with owning processes known, the process comes before the average.
    assert [c.key for c in fit_columns(160)][-2:] == ["rate", "proc"]
    assert [c.key for c in fit_columns(200)][-3:] == ["rate", "avg", "proc"]


def test_average_rate_is_bytes_over_the_flows_duration() -> None:
    """espn: the average is payload bytes both ways over last minus first segment; a flow of
    one segment has none (`-`)."""
    tracker = load().Tracker()
    tracker.read_file(str(DATA / "chrissanders_http_espn_fail.pcapng"))
    for fid in range(1, 17):
        flow = tracker.flow(fid)
        assert flow is not None
        record = flow.record()
        payload = record["payload_orig"] + record["payload_resp"]
        if record["duration"] > 0:
            assert average_rate(flow) == payload / (flow.last_ts - flow.first_ts)
        else:
            assert average_rate(flow) is None and byte_rate(average_rate(flow)) == "-"
    assert byte_rate(0) == "0/s" and byte_rate(1234.0) == "1.2K/s" and byte_rate(999.4) == "999/s"


def test_a_scan_probe_answered_by_syn_ack_retries_is_not_established() -> None:
    """synscan: three probes answered by a SYN/ACK that the server retries (history `Sh`, S1)
    never got the scanner's ACK, so the table's client column says SYN_SENT, not ESTAB
    (issue 12 #17); the server's SYN_RCVD and Zeek's S1 stay."""
    tracker = load().Tracker(seed=0)
    tracker.read_file(str(DATA / "chrissanders_synscan.pcapng"))
    tracker.finish()
    probes = [f for f in tracker.flows() if f.history == "Sh"]
    assert len(probes) == 3
    for flow in probes:
        assert flow.synack_retries > 0
        cells = {c.key: c.cell(flow, flow.last_ts) for c in COLUMNS}
        assert (cells["state_orig"], cells["state_resp"]) == ("SYN_SENT", "SYN_RCVD")
        assert flow.conn_state == "S1"
        assert category(flow) == "handshaking"
