"""The connection table's incremental model against a from-scratch answer, over real captures."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from captures import Tracked, read_segments
from hypothesis import given, settings
from hypothesis import strategies as st

from capture.filterexpr import compile_filter
from widgets.byte_rates import WINDOW, ByteRates
from widgets.conn_rows import FINISHED, category
from widgets.flow_list import BATCH_KEYS, FLAG_KEYS, ID_BITS, MISSING, SORT_KEYS, FlowList

DATA = Path(__file__).parent / "data"
CAPTURES = ("chrissanders_http_espn_fail.pcapng", "zeek_nmap-vsn.pcap", "zeek_wikipedia.pcap")


SEGMENTS = {name: read_segments(name) for name in CAPTURES}
"""Every TCP segment of each capture; a test feeds them to an engine tracker in chunks."""


def side_flag_counts(flow: Any) -> list[int]:
    """A flow's segments per flag from each side's own `flags` counts, then its illegal ones:
    what the engine's `Flow.flag_counts` sums."""
    o, r = flow.orig.flags, flow.resp.flags
    return [o.get(k, 0) + r.get(k, 0) for k in FLAG_KEYS] + [sum((flow.illegal or {}).values())]


def expected(model: FlowList, tracker: Tracked, now: float) -> list[int]:
    """What the view must show, computed from scratch: filter, linger, sort."""
    pred = model.predicate
    keep = []
    for fid, flow in tracker.flows.items():
        if pred is not None and not pred(flow):
            continue
        cat = category(flow)
        if cat in FINISHED and flow.last_ts + model.linger <= now:
            continue
        keep.append(SORT_KEYS[model.sort][1](flow, cat) << ID_BITS | fid)
    keep.sort(reverse=model.descending)
    # Rows without a value in the sort column come last either way.
    keep = [k for k in keep if k < MISSING << ID_BITS] + sorted(
        k for k in keep if k >= MISSING << ID_BITS
    )
    return [k & ((1 << ID_BITS) - 1) for k in keep]


def shown(model: FlowList) -> list[int]:
    return [model.id_at(i) for i in range(len(model))]


@settings(max_examples=40, deadline=None)
@given(
    name=st.sampled_from(CAPTURES),
    chunks=st.lists(st.integers(1, 200), min_size=1, max_size=30),
    sorts=st.lists(st.sampled_from(sorted(SORT_KEYS)), min_size=1, max_size=30),
    linger=st.sampled_from([0.5, 5.0, 1e9]),
    expression=st.sampled_from(["", "port 80", "not conn S0", "flags rst or retries > 0"]),
)
def test_incremental_model_matches_a_full_recompute(
    name: str, chunks: list[int], sorts: list[str], linger: float, expression: str
) -> None:
    """Fed in random chunks with random sort changes, the model equals the answer from scratch."""
    segs = SEGMENTS[name]
    tracker = Tracked()
    model = FlowList(linger=linger)
    model.predicate = compile_filter(expression) if expression else None
    pos, now = 0, 0.0
    for i, size in enumerate(chunks):
        chunk = segs[pos : pos + size]
        tracker.feed(chunk)
        now = max([now, *(seg.ts for seg in chunk)])
        pos += size
        if pos >= len(segs):
            tracker.finish()
        model.update(tracker.flows, tracker.take_changed(), now)
        if i < len(sorts):
            model.set_sort(sorts[i], i % 3 == 1 if i % 3 else None, tracker.flows)
        assert shown(model) == expected(model, tracker, now)
        # Counts cover every flow the filter selects, those gone from the rows by linger too.
        pred = model.predicate
        selected = [f for f in tracker.flows.values() if pred is None or pred(f)]
        rows = [side_flag_counts(f) for f in selected]
        totals = [sum(col) for col in zip(*rows, strict=True)]
        assert model.flag_totals == (totals or [0] * len(model.flag_totals))
        assert model.matching == len(selected)
        legend = {c: n for c, n in model.category_counts.items() if n}
        assert legend == Counter(category(f) for f in selected)
        for row, fid in enumerate(shown(model)):
            assert model.row_of(fid) == row
        if pos >= len(segs):
            break


@pytest.mark.parametrize("name", CAPTURES)
def test_rebuild_after_a_filter_change_equals_incremental(name: str) -> None:
    """A filter applied late (rebuild) gives what applying it from the start gives."""
    tracker, late, early = Tracked(), FlowList(), FlowList()
    early.predicate = compile_filter("port 80")
    tracker.read(name)
    now = max(seg.ts for seg in SEGMENTS[name])
    tracker.finish()
    changed = tracker.take_changed()
    late.update(tracker.flows, changed, now)
    early.update(tracker.flows, changed, now)
    late.predicate = compile_filter("port 80")
    late.rebuild(tracker.flows, now)
    assert shown(late) == shown(early) == expected(early, tracker, now)
    assert late.flag_totals == early.flag_totals


@pytest.mark.parametrize("name", CAPTURES)
def test_batch_keys_equal_the_per_flow_keys(name: str) -> None:
    """The kept keys of every sort (computed many flows at a time) are `SORT_KEYS`' keys."""
    tracker = Tracked()
    tracker.read(name)
    flows = list(tracker.flows.values())
    cats = [category(f) for f in flows]
    for sort, keys in BATCH_KEYS.items():
        keyf = SORT_KEYS[sort][1]
        batch = list(keys(flows, cats))
        assert batch == [keyf(f, c) for f, c in zip(flows, cats, strict=True)], sort


@pytest.mark.parametrize("name", CAPTURES)
def test_the_rate_sort_follows_the_rates_as_the_clock_rolls(name: str) -> None:
    """Fed a second of capture at a time (then seconds with nothing), rows sorted by current
    rate stay in the order of `ByteRates`' keys, which move with the clock alone."""
    segs = SEGMENTS[name]
    tracker = Tracked()
    rates = ByteRates()
    model = FlowList(linger=1e9, rates=rates)
    model.set_sort("rate", None, tracker.flows)
    start = int(segs[0].ts)
    for second in range(start, int(segs[-1].ts) + WINDOW + 3):
        tracker.feed([s for s in segs if int(s.ts) == second])
        changed = tracker.take_changed()
        rates.update(tracker.flows, changed, second + 0.5)
        model.update(tracker.flows, changed, second + 0.5)
        keys = sorted((rates.key(fid) << ID_BITS | fid for fid in tracker.flows), reverse=True)
        assert shown(model) == [k & ((1 << ID_BITS) - 1) for k in keys]
        for fid in tracker.flows:
            assert rates.rate(fid, second + 0.5) * WINDOW == rates.key(fid)
    assert all(rates.key(fid) == 0 for fid in tracker.flows)  # all quiet at the end
