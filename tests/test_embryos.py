"""Embryos: flows that have seen one SYN only, kept packed (`FlowTracker(embryos=True)`).

They must be invisible in what comes out: the same records, in the same order, with the same
evictions, as a tracker that makes every flow a `Flow` at once; on every bundled capture, with and
without a flow cap.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from captures import read_segments
from segmaker import Conv

from capture.flows import Flow, FlowTracker
from capture.pcapio import CaptureError

DATA = Path(__file__).parent / "data"
CAPTURES = sorted(p for p in DATA.iterdir() if (DATA / (p.name + ".truth.json")).exists())


def _export(segments: list, embryos: bool, max_flows: int) -> tuple[list[str], int, int]:
    """The records as the headless export writes them (evicted first, then the rest), the
    evictions and the flows started."""
    out: list[Flow] = []
    tracker = FlowTracker(
        max_flows=max_flows, frames_per_flow=0, on_evict=out.append, linger=5.0, embryos=embryos
    )
    for seg in segments:
        if embryos:
            tracker.add(seg)
        else:
            tracker.ingest(seg)
    tracker.finish()
    out.extend(tracker.iter_flows())
    return [json.dumps(f.record()) for f in out], tracker.evicted, tracker.flow_count


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
@pytest.mark.parametrize("max_flows", [100_000, 3])
def test_embryos_change_nothing_that_comes_out(path: Path, max_flows: int) -> None:
    try:
        segments = read_segments(path.name)
    except CaptureError:
        pytest.skip("not a capture this reader opens")
    assert _export(segments, True, max_flows) == _export(segments, False, max_flows)


def _syn(i: int) -> Conv:
    return Conv((f"10.9.{i // 250}.{i % 250 + 1}", 40000 + i), ("10.0.0.80", 80), isn_c=i * 7)


def test_a_flood_stays_packed_until_a_flow_grows() -> None:
    tracker = FlowTracker(frames_per_flow=0, embryos=True)
    convs = [_syn(i) for i in range(500)]
    for conv in convs:
        tracker.add(conv.c("S"))
    assert tracker.flow_count == tracker.tracked == 500
    assert len(tracker.flows) == 0  # all packed
    tracker.add(convs[7].s("S."))  # the server answers one: it grows, SYN first
    assert len(tracker.flows) == 1 and tracker.tracked == 500
    grown = next(iter(tracker.flows.values()))
    assert grown.id == 8 and grown.history == "Sh" and grown.orig.isn == 49
    assert grown.orig_port == 40007 and not grown.direction_inferred
    flows = list(tracker.iter_flows())
    assert [f.id for f in flows] == list(range(1, 501))
    assert flows[0].conn_state == "S0" and flows[0].orig.pkts == 1


def test_a_new_syn_on_an_embryo_grows_it_then_starts_the_next_flow() -> None:
    tracker = FlowTracker(frames_per_flow=0, embryos=True)
    first = Conv(isn_c=1000)
    tracker.add(first.c("S"))
    tracker.add(first.c("S", seq=1000))  # the same ISN: a retransmission, same flow
    again = Conv(isn_c=90_000)
    tracker.add(again.c("S"))  # a new ISN on the 4-tuple: a new flow (port reuse)
    flows = list(tracker.iter_flows())
    assert [(f.id, f.orig.pkts, f.syn_retries) for f in flows] == [(1, 2, 1), (2, 1, 0)]


def test_embryos_need_a_tracker_without_frames() -> None:
    with pytest.raises(ValueError, match="keeps no frames"):
        FlowTracker(frames_per_flow=4, embryos=True)
