"""What the connection table's cells say for real flows."""

from __future__ import annotations

from captures import DATA

from capture.native import load
from widgets.conn_rows import COLUMNS, category, retries


def test_retr_counts_each_resent_syn_once() -> None:
    """espn flow 3: ten SYN retries and nothing else resent: `retr` says 10, as the flow
    screen and the export do (issue 12 #3: it said 20)."""
    tracker = load().Tracker()
    tracker.read_file(str(DATA / "chrissanders_http_espn_fail.pcapng"))
    flow = tracker.flow(3)
    assert flow is not None and flow.syn_retries == 10
    record = flow.record()
    assert retries(flow) == record["retrans_orig"] + record["retrans_resp"] == 10


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
