"""What the connection table's cells say for real flows."""

from __future__ import annotations

from captures import DATA

from capture.native import load
from widgets.conn_rows import retries


def test_retr_counts_each_resent_syn_once() -> None:
    """espn flow 3: ten SYN retries and nothing else resent: `retr` says 10, as the flow
    screen and the export do (issue 12 #3: it said 20)."""
    tracker = load().Tracker()
    tracker.read_file(str(DATA / "chrissanders_http_espn_fail.pcapng"))
    flow = tracker.flow(3)
    assert flow is not None and flow.syn_retries == 10
    record = flow.record()
    assert retries(flow) == record["retrans_orig"] + record["retrans_resp"] == 10
