"""The fast ingest paths give exactly what the plain ones give.

* `syn_options` (the tracker's lean option parse) agrees with `parse_options`.
* A tracker with `linger` lets closed flows go early; the records it hands out are the same as
  those of a tracker that keeps every flow to the end.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from capture.decode import Decoder, _ether_fast
from capture.flows import Flow, FlowTracker
from capture.pcapio import CaptureError, open_capture
from capture.segment import Segment, parse_options, syn_options
from capture.sources import decoded

DATA = Path(__file__).parent / "data"
LINGER = 5.0
"""Seconds a closed flow lingers in an export (the engine's `headless::LINGER`)."""
CAPTURES = sorted(p for p in DATA.iterdir() if (DATA / (p.name + ".truth.json")).exists())


_OPTION = st.one_of(
    st.sampled_from([b"\x00", b"\x01"]),
    st.tuples(
        st.sampled_from([2, 3, 4, 5, 8, 19, 30, 34, 254]),
        st.integers(0, 14),
        st.binary(max_size=12),
    ).map(lambda t: bytes([t[0], t[1]]) + (b"\xf9\x89" if t[0] == 254 else b"") + t[2]),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_OPTION, max_size=6).map(b"".join), st.integers(0, 40))
def test_syn_options_agree_with_parse_options(raw: bytes, cut: int) -> None:
    raw = raw[:cut]
    o = parse_options(raw)
    assert syn_options(raw) == (o.mss, o.wscale, o.sack_perm, o.ts_val is not None, o.tfo_cookie)


def _records(path: Path, linger: float | None) -> tuple[list[str], FlowTracker]:
    out: list[dict[str, object]] = []

    def keep(flow: Flow) -> None:
        out.append(flow.record())

    tracker = FlowTracker(max_flows=100_000, frames_per_flow=0, on_evict=keep, linger=linger)
    for seg in decoded(open_capture(str(path)), Decoder()):
        tracker.ingest(seg)
    tracker.finish()
    out.extend(flow.record() for flow in tracker.all_flows())
    return sorted(json.dumps(r, sort_keys=True) for r in out), tracker


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_linger_releases_closed_flows_without_changing_records(path: Path) -> None:
    """With the headless export's linger (5 s), every capture gives the same records."""
    try:
        kept, _ = _records(path, None)
    except CaptureError:
        pytest.skip("not a capture this reader opens")
    early, tracker = _records(path, LINGER)
    assert early == kept
    assert tracker.evicted == 0


def test_linger_lets_closed_flows_go() -> None:
    """Closed connections leave the tracker once quiet; the others stay to the end."""
    early, tracker = _records(DATA / "tcpdump_resp_1_benchmark.pcap", 0.0)
    closed = sum(1 for r in map(json.loads, early) if r["close_kind"] not in ("", "half-closed"))
    assert tracker.released >= closed - 1 > 0  # the last to close has no later flow to wait for
    assert len(tracker.flows) + tracker.released == tracker.flow_count


def test_frame_budget_empties_the_idlest_rings_first() -> None:
    """Kept segments stay within the global budget; the idlest flows lose their rings first,
    every flow keeps its handshake and teardown segments."""
    tracker = FlowTracker(frames_per_flow=8, frame_budget=40)
    seen = 0
    for seg in decoded(open_capture(str(DATA / "tcpdump_resp_1_benchmark.pcap")), Decoder()):
        tracker.ingest(seg)
        seen += 1
        assert tracker.kept <= 40
        assert tracker.kept == sum(len(f.ring or ()) for f in tracker.flows.values())
    flows = tracker.all_flows()
    assert seen > 40 and len(flows) > 5
    with_ring = [f for f in flows if f.ring]
    without = [f for f in flows if not f.ring]
    assert with_ring and without
    assert min(f.last_ts for f in with_ring) >= max(f.last_ts for f in without)
    for flow in without:
        assert flow.frames() == sorted(flow.special or (), key=lambda s: s.frame_no)
        assert flow.frames()  # its SYN at least


def test_frame_bytes_budget_counts_what_the_frames_weigh() -> None:
    """Big frames (64 KiB on loopback) fill the byte budget long before the segment budget:
    the idlest rings are emptied so that the kept frames stay within it."""
    from segmaker import Conv

    tracker = FlowTracker(frames_per_flow=8, frame_bytes=200_000)
    convs = [Conv(("10.1.0.1", 40000 + i), isn_c=i) for i in range(6)]
    for conv in convs:
        for flags in ("S", "S.", "."):
            (conv.c if flags != "S." else conv.s)(flags)
    for _ in range(5):
        for conv in convs:
            conv.c("P.", 16_000)  # a 16 KB segment each
    segments = sorted((seg for conv in convs for seg in conv.sent), key=lambda s: s.ts)
    for seg in segments:
        tracker.ingest(seg)
        assert tracker.kept_bytes <= 200_000
        rings = [f.ring for f in tracker.flows.values() if f.ring]
        assert tracker.kept_bytes == sum(len(s.frame) for ring in rings for s in ring)
        assert tracker.kept == sum(len(ring) for ring in rings)
    unbounded = FlowTracker(frames_per_flow=8)
    for seg in segments:
        unbounded.ingest(seg)
    assert unbounded.kept_bytes > 450_000  # what the rings would hold without the byte budget


def _fields(seg: Segment | None) -> list[object] | None:
    return None if seg is None else [getattr(seg, k) for k in Segment.__slots__]


def _ethernet_frames() -> list[tuple[bytes, int]]:
    frames = []
    for path in CAPTURES:
        try:
            reader = open_capture(str(path))
            frames += [(data, wire) for _, wire, data, lt in reader if lt == 1]
        except CaptureError:
            continue
    return frames


@pytest.fixture(scope="module")
def ethernet_frames() -> list[tuple[bytes, int]]:
    return _ethernet_frames()


def test_fast_path_equals_the_long_way_on_real_frames(
    ethernet_frames: list[tuple[bytes, int]],
) -> None:
    """Wherever the Ethernet fast path answers, the general decoder gives the same segment."""
    answered = 0
    for n, (data, wire) in enumerate(ethernet_frames, 1):
        fast = _ether_fast(data, 1.0, wire, n)
        if fast is not None:
            answered += 1
            assert _fields(fast) == _fields(Decoder()._long(data, 1.0, wire, 1, n)), n
    assert answered > len(ethernet_frames) // 2


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_fast_path_equals_the_long_way_on_mutated_frames(data: st.DataObject) -> None:
    frames = _ETHERNET
    frame, wire = frames[data.draw(st.integers(0, len(frames) - 1))]
    raw = bytearray(frame)
    for _ in range(data.draw(st.integers(0, 4))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    raw = raw[: data.draw(st.integers(0, len(raw)))]
    wire = data.draw(st.sampled_from([wire, len(raw), max(0, len(raw) - 20)]))
    fast = _ether_fast(bytes(raw), 1.0, wire, 1)
    if fast is not None:
        assert _fields(fast) == _fields(Decoder()._long(bytes(raw), 1.0, wire, 1, 1))


_ETHERNET = [f for f in _ethernet_frames() if 14 < len(f[0]) < 2000][::7]


class _SortedEviction(FlowTracker):
    """The reference eviction: a full sort of the tracked flows by (open, last seen, id)."""

    def _evict(self) -> None:
        order = sorted(
            self.flows.values(), key=lambda f: (not (f.closed or f.superseded), f.last_ts, f.id)
        )
        for flow in order[: max(1, self.max_flows // 64)]:
            self._forget(flow)
            self.evicted += 1
            if self.on_evict is not None:
                self.on_evict(flow)


@pytest.mark.parametrize("cap", [1, 3, 17, 130])
@pytest.mark.parametrize("linger", [None, 0.5])
def test_eviction_order_equals_a_full_sort(cap: int, linger: float | None) -> None:
    """The lazily refreshed eviction heaps evict the flows a full sort would, in its order."""
    segments = []
    for path in CAPTURES:
        try:
            segments = list(decoded(open_capture(str(path)), Decoder()))
        except CaptureError:
            continue
        # a capture in time order: the heaps are exact when flows' times only move forward
        if all(a.ts <= b.ts for a, b in zip(segments, segments[1:], strict=False)):
            runs: list[list[int]] = []
            for cls in (FlowTracker, _SortedEviction):
                gone: list[int] = []
                tracker = cls(max_flows=cap, frames_per_flow=0, linger=linger)
                tracker.on_evict = lambda f, gone=gone: gone.append(f.id)
                for seg in segments:
                    tracker.ingest(seg)
                runs.append(gone)
            assert runs[0] == runs[1], path.name
