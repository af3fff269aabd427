"""`FactsCache`: an analysis that reuses the facts of unchanged flows finds exactly what a fresh
one finds, and reuses only the flows that did not move."""

from __future__ import annotations

import pytest
from captures import read_segments, tracked, tracker_over

from capture.insights import analyse
from capture.insights.facts import FactsCache

CAPTURES = [
    "chrissanders_synscan.pcapng",
    "zeek_nmap-vsn.pcap",
    "pcapplusplus_one_http_stream_fin.pcap",
    "tcpdump_resp_1_benchmark.pcap",
]


@pytest.mark.parametrize("name", CAPTURES)
def test_cached_analysis_equals_a_fresh_one_while_flows_move(name: str) -> None:
    segments = read_segments(name)
    half = len(segments) // 2
    tracker = tracker_over(segments[:half])
    cache = FactsCache()
    assert analyse(tracker.all_flows(), cache=cache) == analyse(tracker.all_flows())
    assert cache.reused == 0
    marks = {f.id: (f.last_ts, f.orig.pkts, f.resp.pkts) for f in tracker.all_flows()}
    tracker.feed(segments[half:])
    flows = tracker.all_flows()
    assert analyse(flows, cache=cache) == analyse(flows)
    still = sum(1 for f in flows if marks.get(f.id) == (f.last_ts, f.orig.pkts, f.resp.pkts))
    assert cache.reused == still < len(flows)
    analyse(flows, cache=cache)
    assert cache.reused == len(flows)  # nothing moved since
    # The end of input makes new snapshots of every flow (the engine finishes them all).
    tracker.finish()
    flows = tracker.all_flows()
    assert analyse(flows, cache=cache) == analyse(flows)


def test_a_flow_gone_from_the_tracker_leaves_the_cache() -> None:
    tracker = tracked("zeek_nmap-vsn.pcap", finish=False)
    cache = FactsCache()
    flows = tracker.all_flows()
    analyse(flows, cache=cache)
    analyse(flows[1:], cache=cache)
    analyse(flows, cache=cache)
    assert cache.reused == len(flows) - 1  # the first flow's facts were taken again
