"""Teaching notes: the handshake and teardown segments of real captures, explained."""

from __future__ import annotations

from pathlib import Path

from captures import track

from capture.flows import Flow
from capture.segment import ACK, FIN, RST, SYN, Segment
from capture.teaching import annotate, time_wait_side

DATA = Path(__file__).parent / "data"


def first_flow(name: str, frames_per_flow: int = 64) -> tuple[Flow, list[Segment]]:
    tracker, segments = track(name, frames_per_flow)
    return tracker.all_flows()[0], segments


def test_handshake_names_the_isns_and_isn_plus_one() -> None:
    """The SYN gives its ISN, the SYN/ACK acknowledges ISN+1, the next ACK completes it."""
    flow, segs = first_flow("zeek_http_get.pcap")
    notes = annotate(flow)
    syn = next(s for s in segs if s.flags & (SYN | ACK) == SYN)
    synack = next(s for s in segs if s.flags & (SYN | ACK) == SYN | ACK)
    assert f"ISN {syn.seq}" in notes[syn.frame_no]
    assert "SYN_SENT" in notes[syn.frame_no]
    assert f"ISN {synack.seq}" in notes[synack.frame_no]
    assert "ISN+1" in notes[synack.frame_no]
    assert "handshake is complete" in notes[synack.frame_no + 1]


def test_teardown_fins_consume_a_number_and_the_closer_enters_time_wait() -> None:
    """Each FIN is explained; the last ACK puts the side that closed first in TIME_WAIT."""
    flow, segs = first_flow("zeek_http_get.pcap")
    notes = annotate(flow)
    fins = [s for s in segs if s.flags & FIN]
    assert len(fins) == 2
    for fin in fins:
        assert "FIN consumes one sequence number" in notes[fin.frame_no]
    tw = next(t for t in flow.transitions if t.new == "TIME_WAIT")
    assert "TIME_WAIT" in notes[tw.frame_no]
    assert time_wait_side(flow) == {"orig": "client", "resp": "server"}[tw.side]
    assert notes[tw.frame_no].startswith("Acknowledges the server's FIN")


def test_refusal_is_explained_at_the_rst() -> None:
    """A SYN answered by RST/ACK: the RST's note says nothing listens."""
    flow, segs = first_flow("chrissanders_tcp_refuseconnection.pcapng")
    rst = next(s for s in segs if s.flags & RST)
    assert "nothing listens" in annotate(flow)[rst.frame_no]


def test_without_kept_frames_the_state_changes_are_still_explained() -> None:
    """Headless trackers keep no frames: the notes fall back to the transitions."""
    flow, _ = first_flow("zeek_http_get.pcap", frames_per_flow=0)
    notes = annotate(flow)
    assert set(notes) == {t.frame_no for t in flow.transitions}
    assert any("TIME_WAIT" in text for text in notes.values())


def test_notes_are_plain_printable_text() -> None:
    """Notes hold no control characters, whatever the capture."""
    for name in ("tcpdump_tcp_rst_data.pcap", "chrissanders_activeosfingerprinting.pcapng"):
        flow, _ = first_flow(name)
        for text in annotate(flow).values():
            assert text.isprintable()
