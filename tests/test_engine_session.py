"""`capture._engine.Session`: a capture read on an engine thread into flows the engine owns.

The UI's view of a session is what `poll()` returns once per tick (changed flow ids, flows that
left, per-second flag counts, events) and the flow snapshots it asks for.
"""

from __future__ import annotations

import os
import struct
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from captures import DATA

from capture import _engine

DEADLINE = 10.0


def _drain(session: Any) -> dict[str, Any]:
    """Poll until the session has read everything (bounded); every poll's results merged."""
    merged: dict[str, Any] = {"changed": set(), "events": [], "flag_counts": {}, "gone": []}
    end = time.monotonic() + DEADLINE
    while True:
        p = session.poll()
        merged["changed"] |= set(p["changed"])
        merged["events"] += p["events"]
        merged["gone"] += p["gone"]
        for key, n in p["flag_totals"]:
            merged["flag_counts"][key] = merged["flag_counts"].get(key, 0) + n
        if p["finished"]:
            merged.update({k: p[k] for k in ("segments", "error", "capture_ts")})
            return merged
        assert time.monotonic() < end, "the session did not finish"
        time.sleep(0.01)


def test_a_file_session_holds_what_a_whole_read_holds() -> None:
    """Read on the engine's thread, the flows equal a whole read's, record for record (uids
    alike with the same seed)."""
    path = str(DATA / "chrissanders_http_espn_fail.pcapng")
    session = _engine.Session(path, seed=7)
    got = _drain(session)
    tracker = _engine.Tracker(seed=7)
    tracker.read_file(path)
    want = tracker.flows()
    assert [f.record() for f in session.flows()] == [f.record() for f in want]
    assert got["changed"] == {f.id for f in want}
    assert got["segments"] == tracker.counters()["tcp"] == 555
    assert sum(got["flag_counts"].values()) == 555
    assert got["error"] is None


def test_polled_snapshots_leave_the_recent_segments_to_flow() -> None:
    """The snapshots a poll hands the table carry a flow's handshake and teardown segments
    only (each of the ring's would be one more shared frame to count, a hundred thousand flows
    over); `flow(id)` has every kept segment, for the flow screen."""
    path = str(DATA / "chrissanders_http_espn_fail.pcapng")
    session = _engine.Session(path, seed=7, frames_per_flow=1 << 30)  # every frame
    snapshots: dict[int, Any] = {}
    end = time.monotonic() + DEADLINE
    while True:
        p = session.poll()
        snapshots.update({f.id: f for f in p["flows"] if f is not None})
        if p["finished"] and not p["changed_left"]:
            break
        assert time.monotonic() < end, "the session did not finish"
        time.sleep(0.01)
    busy = max(snapshots.values(), key=lambda f: f.orig.pkts + f.resp.pkts)
    full = session.flow(busy.id)
    every = [s.frame_no for s in full.frames()]
    assert len(every) == full.orig.pkts + full.resp.pkts > 20
    ends = [s.frame_no for s in busy.frames()]
    assert 3 <= len(ends) < len(every) and set(ends) <= set(every)
    # the handshake and teardown (what moved an endpoint) all stay in the snapshot
    moved = {t.frame_no for t in full.transitions}
    assert moved <= set(ends)
    assert all(s.flags & 0x07 or s.frame_no in moved for s in busy.frames())  # FIN, SYN, RST
    assert [f.record() for f in snapshots.values()] == [session.flow(i).record() for i in snapshots]


@pytest.mark.parametrize(
    ("capture", "kind", "detail"),
    [
        ("chrissanders_tcp_handshake.pcapng", "handshake", 0.132768154),
        ("chrissanders_tcp_refuseconnection.pcapng", "refused", None),
        ("chrissanders_tcp_teardown.pcapng", "fin", "resp"),  # the server closes first
        ("chrissanders_tcp_teardown.pcapng", "time_wait", "resp"),
        ("chrissanders_http_espn_fail.pcapng", "syn_retry", (1, 1.0)),
    ],
)
def test_events_say_what_the_handshakes_and_teardowns_did(
    capture: str, kind: str, detail: Any
) -> None:
    """Each kind of event comes from the capture that shows it, with its detail."""
    events = _drain(_engine.Session(str(DATA / capture)))["events"]
    found = [e for e in events if e[2] == kind]
    assert found, f"no {kind} event in {[e[2] for e in events]}"
    first = found[0][3]
    if isinstance(detail, float):
        assert first == pytest.approx(detail, abs=1e-6)
    elif isinstance(detail, tuple):
        assert first[0] == detail[0] and first[1] == pytest.approx(detail[1], abs=0.05)
    else:
        assert first == detail


def test_a_replay_takes_the_capture_s_time_divided_by_its_speed() -> None:
    """`speed` paces the records: a 10x replay of a capture spanning D seconds takes >= D/10."""
    path = str(DATA / "chrissanders_http_espn_fail.pcapng")
    tracker = _engine.Tracker()
    tracker.read_file(path)
    flows = tracker.flows()
    span = max(f.last_ts for f in flows) - min(f.first_ts for f in flows)
    started = time.monotonic()
    _drain(_engine.Session(path, speed=span / 0.3))
    assert time.monotonic() - started >= 0.3


def _records(n: int, start: int) -> bytes:
    """`n` Ethernet/IPv4/TCP SYN records (classic pcap, microseconds) to distinct ports."""
    out = b""
    for i in range(start, start + n):
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, 0, 0, 64, 6, 0, b"\x7f\0\0\1", b"\x7f\0\0\1")
        tcp = struct.pack("!HHIIBBHHH", 40000 + i, 80, 1000, 0, 0x50, 0x02, 65535, 0, 0)
        frame = b"\0" * 12 + b"\x08\x00" + ip + tcp
        out += struct.pack("<IIII", 1_700_000_000 + i, 0, len(frame), len(frame)) + frame
    return out


def test_a_pipe_s_records_show_before_the_writer_is_done(tmp_path: Path) -> None:
    """What arrived through a pipe is tracked at once, not when a batch fills (issue 12 #8)."""
    fifo = tmp_path / "capture.fifo"
    os.mkfifo(fifo)
    header = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    release = threading.Event()

    def writer() -> None:
        with open(fifo, "wb", buffering=0) as out:
            out.write(header + _records(5, 0))
            release.wait(DEADLINE)
            out.write(_records(3, 5))

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        session = _engine.Session(str(fifo))
        end = time.monotonic() + DEADLINE
        while session.poll()["segments"] < 5:
            assert time.monotonic() < end, "the first records never showed"
            time.sleep(0.01)
        assert not session.poll()["finished"]
    finally:
        release.set()
        thread.join()
    assert _drain(session)["segments"] == 8


def test_stop_ends_the_thread_and_keeps_what_was_read() -> None:
    """`stop()` returns once the engine's thread has ended; the flows stay readable."""
    session = _engine.Session(str(DATA / "chrissanders_http_espn_fail.pcapng"))
    session.stop()
    assert session.poll()["finished"]
    assert all(session.flow(f.id) is not None for f in session.flows())


def test_a_missing_file_is_one_line() -> None:
    """Opening fails before any thread runs, with the reader's one line."""
    with pytest.raises(_engine.CaptureError, match="no such file"):
        _engine.Session("/nonexistent.pcap")


def test_flag_counts_of_the_filtered_flows_are_summed_in_the_engine() -> None:
    """A poll given a filter sums the flag counts of the flows it selects apart from all
    flows'; the engine keeps the minute's per-flow counts, so a new filter's recount gives the
    same sums as polls made with it all along."""
    path = str(DATA / "chrissanders_synscan.pcapng")  # 23 s: all within the minute
    low_ports = _engine.Filter("port < 1000")
    session = _engine.Session(path, seed=7)
    matched: dict[int, int] = {}
    end = time.monotonic() + DEADLINE
    while True:
        p = session.poll(None, [], low_ports)
        for key, n in p["flag_matched"]:
            matched[key] = matched.get(key, 0) + n
        if p["finished"]:
            break
        assert time.monotonic() < end, "the session did not finish"
        time.sleep(0.01)
    selected = [f for f in session.flows() if low_ports(f)]
    assert 0 < len(selected) < len(session.flows())
    assert sum(matched.values()) == sum(f.orig.pkts + f.resp.pkts for f in selected)
    assert session.poll()["flag_matched"] is None
    assert dict(session.flag_minute(low_ports)) == matched
    every = dict(session.flag_minute(_engine.Filter("")))
    assert sum(every.values()) == 2011
    assert all(every[key] >= n for key, n in matched.items())
