"""The events feed's words, times and endpoints, and the App's bounded event history."""

from __future__ import annotations

import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from captures import DATA, read_segments

from capture.engine_source import EngineSource
from tui.drain import Drain, Drained
from tui.event_history import EventHistory
from widgets.event_rows import clock, endpoints, line, words

ESPN = DATA / "chrissanders_http_espn_fail.pcapng"


@pytest.fixture(autouse=True)
def _utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Local time is UTC in these tests; the host's zone comes back after `monkeypatch`."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def flow(orig: bytes = bytes([10, 0, 0, 1]), resp: bytes = bytes([10, 0, 0, 2]), **resp_side: Any):
    side = SimpleNamespace(pkts=resp_side.get("pkts", 1), flags={"ack": resp_side.get("ack", 1)})
    return SimpleNamespace(
        orig_addr=orig, orig_port=40000, resp_addr=resp, resp_port=443, resp=side
    )


@pytest.mark.parametrize(
    ("kind", "detail", "want"),
    [
        ("handshake", 0.0012, "handshake 1.2ms"),
        ("handshake", None, "handshake"),
        ("refused", None, "refused (RST/ACK)"),
        ("reset", "resp", "reset by server"),
        ("reset", "orig", "reset by client"),
        ("fin", "orig", "FIN from client"),
        ("time_wait", "orig", "TIME_WAIT (client)"),
        ("syn_retry", (2, 2.0), "SYN retry 2 (gap 2.0s)"),
        ("evicted", None, "evicted"),
        ("released", None, "released"),
    ],
)
def test_each_kind_in_words(kind: str, detail: Any, want: str) -> None:
    """Every event kind reads as a few words, durations as `widgets.units` writes them."""
    assert words(kind, detail, flow()) == want


def test_refusal_says_how_only_when_the_responder_agrees() -> None:
    """A bare RST reads `(RST)`; mixed segments from the responder say nothing more."""
    assert words("refused", None, flow(ack=0)) == "refused (RST)"
    assert words("refused", None, flow(ack=1, pkts=2)) == "refused"
    assert words("refused", None, None) == "refused"


def test_clock_is_local_tenths_cut() -> None:
    """`HH:MM:SS.d` in local time, tenths cut (x.99 never rounds to the next second)."""
    assert clock(12 * 3600 + 1.29) == "12:00:01.2"
    assert clock(59.99) == "00:00:59.9"


def test_endpoints_bracket_ipv6_and_name_unknown_flows() -> None:
    """IPv4 ends padded to one width; IPv6 bracketed; a flow not known by its id."""
    assert endpoints(flow(), 1).split() == ["10.0.0.1:40000", "→", "10.0.0.2:443"]
    v6 = flow(orig=bytes(15) + b"\x01", resp=bytes.fromhex("20010db8" + "00" * 11 + "02"))
    assert endpoints(v6, 1).split() == ["[::1]:40000", "→", "[2001:db8::2]:443"]
    assert endpoints(None, 7).strip() == "flow 7"
    assert line((1.25, 1, "fin", "resp"), flow())[2] == "FIN from server"


def test_history_keeps_the_last_events_and_counts_the_rest() -> None:
    """Past its size the history lets the oldest go, counted; gone flows' snapshots are kept
    only while one of their events is."""
    # GIVEN a history of 10 events, and a flow that went with its event
    history = EventHistory(kept=10)
    history.take(Drained(events=[(0.0, 1, "released", None)], gone={1: "snapshot"}))
    # WHEN 14 more events arrive, in two drains
    history.take(Drained(events=[(float(i), 2, "fin", "orig") for i in range(1, 8)]))
    history.take(Drained(events=[(float(i), 2, "fin", "orig") for i in range(8, 15)]))
    # THEN the last 10 are kept, 5 were let go, and the engine's own drops are reported
    assert [e[0] for e in history.events] == [float(i) for i in range(5, 15)]
    assert history.let_go == 5
    history._prune()
    assert history.gone == {}
    history.take(Drained(events_dropped=3))
    assert history.engine_dropped == 3


def test_a_step_takes_only_the_events_the_history_keeps() -> None:
    """Events older than the newest a step may take are left in the engine and counted: the
    history ends with the same events, and as many let go, as if it had taken them all."""

    def drained(events_kept: int | None) -> tuple[EventHistory, list[Drained]]:
        source = EngineSource(str(ESPN), seed=0)
        deadline = time.monotonic() + 30
        while source.session.counters()["frames"] < len(read_segments(ESPN)):
            assert time.monotonic() < deadline, "the engine read the capture"
            time.sleep(0.01)
        drain, history, steps = Drain(source, events_kept=events_kept), EventHistory(kept=10), []
        while not drain.finished or drain.backlog:
            assert time.monotonic() < deadline, "the engine finished"
            steps.append(drain.step())
            history.take(steps[-1])
        return history, steps

    every, _ = drained(None)
    newest, steps = drained(10)
    assert every.let_go == 86, "96 handshakes, FINs, resets and TIME_WAITs, 10 kept"
    assert list(newest.events) == list(every.events)
    assert newest.let_go == every.let_go
    assert all(len(step.events) <= 10 for step in steps)
    assert sum(step.events_skipped for step in steps) > 0
