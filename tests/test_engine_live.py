"""`capture._engine.Session.live`: the engine's own sniffer thread (libpcap), tracking what it
captures, on loopback traffic the tests make themselves with real sockets."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from live_traffic import echo_server, exchange, free_port, needs_root, wait_until

from capture import _engine

pytestmark = [pytest.mark.live, needs_root]
DEADLINE = 10.0


def _events(session: Any, until: Any) -> list[tuple[float, int, str, Any]]:
    """Poll the session (bounded) until `until(events so far)` holds."""
    seen: list[tuple[float, int, str, Any]] = []

    def more() -> bool:
        seen.extend(session.poll()["events"])
        return bool(until(seen))

    assert wait_until(more, DEADLINE), f"events so far: {[e[2] for e in seen]}"
    return seen


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_a_loopback_connection_is_tracked_as_it_happens(host: str, tmp_path: Path) -> None:
    """A real connection on `lo`: its handshake, FINs and TIME_WAIT show as events while the
    capture runs, its flow reads as tcpwatch reads it, and `-w` holds every frame."""
    with echo_server(host) as port:
        pcap = tmp_path / "live.pcap"
        session = _engine.Session.live("lo", filter=f"port {port}", write_path=str(pcap), seed=11)
        session.start()
        try:
            exchange(host, port, b"hello" * 100)
            events = _events(session, lambda ev: any(e[2] == "time_wait" for e in ev))
        finally:
            session.stop()
    kinds = [e[2] for e in events]
    assert kinds.count("handshake") == 1 and kinds.count("fin") == 2
    (flow,) = session.flows()
    assert flow.resp_port == port and flow.conn_state == "SF"
    # The server's first segment after the request is its ACK or, when the echo is quick
    # enough to carry the ACK, its data: Zeek's history says which came first.
    assert flow.history in ("ShADadFf", "ShADdaFf")
    assert flow.orig.payload == flow.resp.payload == 500
    assert flow.state_orig == "TIME_WAIT" and flow.state_resp == "CLOSED"
    assert session.counters()["frames"] == flow.orig.pkts + flow.resp.pkts
    tracker = _engine.Tracker(seed=11)  # the same uids from the same seed
    tracker.read_file(str(pcap))  # -w wrote what was captured, frame for frame
    (written,) = tracker.flows()
    # The pcap keeps microseconds of the nanosecond capture times: times aside, the same flow.
    timeless = {"ts", "duration", "irtt", "rtt_syn_synack", "rtt_synack_ack", "syn_retry_gaps"}
    assert {k: v for k, v in written.record().items() if k not in timeless} == {
        k: v for k, v in flow.record().items() if k not in timeless
    }
    assert written.first_ts == pytest.approx(flow.first_ts, abs=1e-6)


def test_a_refused_connection_is_an_event() -> None:
    """A SYN to a port nobody listens on, answered by RST/ACK: one `refused` event."""
    port = free_port()
    session = _engine.Session.live("lo", filter=f"port {port}")
    session.start()
    try:
        with pytest.raises(ConnectionRefusedError):
            exchange("127.0.0.1", port, b"x")
        events = _events(session, lambda ev: any(e[2] == "refused" for e in ev))
    finally:
        session.stop()
    assert [e[2] for e in events].count("refused") == 1
    assert session.flows()[0].conn_state == "REJ"


def test_count_ends_the_capture_by_itself() -> None:
    """`count` frames and the sniffer stops: the session says it finished, with every frame."""
    with echo_server("127.0.0.1") as port:
        session = _engine.Session.live("lo", filter=f"port {port}", count=3)
        session.start()
        exchange("127.0.0.1", port, b"x")
        assert wait_until(lambda: session.poll()["finished"], DEADLINE)
    assert session.counters()["frames"] == 3
    assert session.poll()["error"] is None


def test_bad_input_is_one_line_before_anything_runs() -> None:
    """An unknown interface and a bad filter fail at open, as one line each."""
    with pytest.raises(_engine.CaptureError, match="no such interface 'nosuch0'"):
        _engine.Session.live("nosuch0")
    with pytest.raises(_engine.CaptureError, match="bad capture filter 'port porrt'"):
        _engine.Session.live("lo", filter="port porrt")


def test_a_session_never_started_stops_cleanly() -> None:
    """Opened, then stopped before `start()` (a privilege drop that failed, say)."""
    session = _engine.Session.live("lo", duration=0.1)
    started = time.monotonic()
    session.stop()
    assert session.poll()["finished"] and time.monotonic() - started < 1.0
