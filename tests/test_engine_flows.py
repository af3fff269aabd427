"""The engine's flows, read through `capture._engine.Tracker`, equal the Python tracker's.

The export records are checked byte for byte by tests/test_golden.py; this compares everything
else the views read from a flow (each side's counters and options, the transitions, the kept
frames field by field), on every bundled capture, before the Python tracker is retired.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from captures import DATA, track

from capture import _engine

CAPTURES = sorted(p.name for p in DATA.iterdir() if p.suffix in (".pcap", ".pcapng"))

FLOW_FIELDS = [
    "id",
    "uid",
    "orig_addr",
    "orig_port",
    "resp_addr",
    "resp_port",
    "vlan",
    "direction_inferred",
    "first_ts",
    "last_ts",
    "state_orig",
    "state_resp",
    "history",
    "conn_state",
    "closed",
    "close_kind",
    "closed_by",
    "irtt",
    "rtt_syn_synack",
    "rtt_synack_ack",
    "syn_retries",
    "syn_retry_gaps",
    "synack_retries",
    "synack_retry_gaps",
    "sack_perm",
    "timestamps",
    "time_wait_by",
    "steady",
    "superseded",
    "pid_orig",
    "pid_resp",
    "proc_orig",
    "proc_resp",
]
SIDE_FIELDS = [
    "side",
    "state",
    "isn",
    "fin_seq",
    "fin_acked",
    "got_fin",
    "active",
    "pkts",
    "ip_bytes",
    "payload",
    "noack",
    "syn",
    "synack",
    "fin",
    "rst",
    "psh",
    "urg",
    "ece",
    "cwr",
    "base",
    "hi",
    "retrans",
    "zero_window",
    "mss",
    "wscale",
    "sack_perm",
    "timestamps",
    "tfo",
    "syn_data",
    "syn_ts",
    "synack_ts",
    "syn_times",
    "synack_times",
    "flags",
]
SEGMENT_FIELDS = [
    "frame_no",
    "ts",
    "linktype",
    "frame",
    "wire_len",
    "truncated",
    "ip_version",
    "ip_off",
    "src",
    "dst",
    "ip_len",
    "ttl",
    "vlan",
    "tcp_off",
    "sport",
    "dport",
    "seq",
    "ack",
    "flags",
    "window",
    "urg_ptr",
    "opts",
    "bad_opts",
    "payload_len",
]


def _fields(obj: Any, names: list[str]) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in names}


def _engine_flows(name: str) -> list[Any]:
    tracker = _engine.Tracker(max_flows=100_000, frames_per_flow=64)
    totals = tracker.read_file(str(DATA / name))
    tracker.finish()
    assert totals["error"] is None or isinstance(totals["error"], str)
    return tracker.flows()


@pytest.mark.parametrize("name", CAPTURES)
def test_engine_flows_equal_the_python_trackers(name: str) -> None:
    """Every attribute the views read, for every flow of the capture."""
    # GIVEN the Python tracker's flows and the engine's, over the same capture
    expected, _ = track(name)
    want = expected.all_flows()
    # WHEN
    got = _engine_flows(name)
    # THEN
    assert [f.id for f in got] == [f.id for f in want]
    for a, b in zip(got, want, strict=True):
        assert _fields(a, FLOW_FIELDS) == _fields(b, FLOW_FIELDS), f"flow {b.id}"
        assert (a.illegal or None) == (b.illegal or None)
        for side in ("orig", "resp"):
            assert _fields(getattr(a, side), SIDE_FIELDS) == _fields(
                getattr(b, side), SIDE_FIELDS
            ), f"flow {b.id} {side}"
        assert [
            tuple(_fields(t, ["ts", "frame_no", "side", "old", "new"]).values())
            for t in a.transitions
        ] == [tuple(t) for t in b.transitions], f"flow {b.id}"
        assert [_fields(s, SEGMENT_FIELDS) for s in a.frames()] == [
            _fields(s, SEGMENT_FIELDS) for s in b.frames()
        ], f"flow {b.id} frames"
        assert [s.payload() for s in a.frames()] == [s.payload() for s in b.frames()]
        assert a.record() == b.record()


def test_a_capture_that_is_not_one_is_one_line() -> None:
    """The engine's reader refuses a non-capture with the same one line as before."""
    tracker = _engine.Tracker()
    with pytest.raises(_engine.CaptureError, match="not a pcap or pcapng file"):
        tracker.read_file(str(Path(__file__)))
