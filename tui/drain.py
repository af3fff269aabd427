"""The drain: once per tick, pull a bounded batch of segments from the source into the tracker.

Nothing here touches a widget. A tick reads for at most `budget` seconds (so a fast file cannot
starve the UI), counts flag bytes per second of capture time per flow (the one bit of
per-segment work outside the tracker, a single dict increment), and reports what changed.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

CHUNK = 128
"""Segments asked of the source per poll; a tick polls until its budget is spent (small, so
that a slow tracker overshoots the budget by little: ~2 ms at 100,000 flows)."""
BUDGET = 0.025
"""Seconds a tick may spend draining at most."""
MIN_BUDGET = 0.004
"""Seconds a tick drains at least, however slow the view: the data must keep coming."""
DRAIN_AND_UPDATE = 0.022
"""Seconds a tick's drain and the view's update of what it drained may take together: the
50 ms per-tick target less the render (~10-15 ms p95 at 200x60) and some room for noise.
What is not drained stays in the source (a live source's bounded queue counts the overflow as
queue drops, which the status bar shows)."""


@dataclass(slots=True)
class Drained:
    """What one tick brought in."""

    changed: set[int] = field(default_factory=set)
    flag_entries: list[tuple[int, int, int]] = field(default_factory=list)
    """Segments per `(flow id, second * 512 + flag bits, count)` (see `FlagRates.absorb`)."""
    segments: int = 0
    finished_now: bool = False
    events: list[tuple[float, int, str, Any]] = field(default_factory=list)
    """The engine's events `(ts, flow_id, kind, detail)`, oldest first (see `tui.event_history`)."""
    gone: dict[int, Any] = field(default_factory=dict)
    """Snapshots of the flows that left the tracker, by id (so their events can name them)."""
    events_dropped: int = 0
    """Events the engine's queue dropped so far, unread."""


class Drain:
    """Pulls segments from a `Source` into a `FlowTracker` and keeps the capture clock."""

    def __init__(self, source: Any, tracker: Any, *, live: bool = False) -> None:
        self.source = source
        self.tracker = tracker
        self.live = live
        self.capture_ts = 0.0
        self.segments = 0
        self.per_second: Counter[int] = Counter()
        self.finished = False
        self.update_cost = 0.0
        """Seconds the view's update of recent ticks took (smoothed; set by the view): the
        drain gets what `DRAIN_AND_UPDATE` leaves, since updating costs per flow drained."""

    def budget(self) -> float:
        """Seconds the next tick may drain."""
        return min(BUDGET, max(MIN_BUDGET, DRAIN_AND_UPDATE - self.update_cost))

    def note_update(self, seconds: float) -> None:
        """Record how long the view took to fold in one tick (smoothed over a few ticks)."""
        self.update_cost = 0.5 * self.update_cost + 0.5 * seconds

    def now(self) -> float:
        """The view's clock: wall time live, the replay's position in a replay, else the
        latest capture time seen (a whole file: its end)."""
        if self.live:
            return time.time()
        position = getattr(self.source, "position", None)
        if position is not None:  # a replay's clock runs on after its last segment, as live
            at = position()
            if at is not None:
                return max(self.capture_ts, at)
        return self.capture_ts

    def step(self, budget: float | None = None) -> Drained:
        """Drain for up to `budget` seconds (default: `budget()`).

        Flag and per-second counts are built per poll batch with list comprehensions and
        `Counter.update` (C): counting in the per-segment loop cost ~3 us a segment next to the
        tracker's ~5 (measured), more than half as much again.
        """
        if hasattr(self.source, "step"):  # the native engine tracks on its own thread
            return self._engine_step()
        out = Drained()
        ingest = self.tracker.ingest
        counted: Counter[tuple[int, int]] = Counter()
        deadline = time.perf_counter() + (self.budget() if budget is None else budget)
        latest = self.capture_ts
        while True:
            batch = self.source.poll(CHUNK)
            if batch:
                flows = [ingest(seg) for seg in batch]
                latest = max(latest, max(seg.ts for seg in batch))
                self._count(batch, flows, counted)
            out.segments += len(batch)
            if len(batch) < CHUNK or time.perf_counter() >= deadline:
                break
        self.capture_ts = latest
        out.flag_entries = [(fid, key, n) for (fid, key), n in counted.items()]
        self.segments += out.segments
        if not self.finished and self.source.finished:
            self.finished = out.finished_now = True
            self.tracker.finish()
        out.changed = set(self.tracker.take_changed())
        self._processes(out.changed)
        self._trim()
        return out

    def _engine_step(self) -> Drained:
        """`step` for a source whose engine tracks the flows itself: take in what it did."""
        got = self.source.step()
        self.segments += got.segments
        self.per_second.update(got.per_second)
        self.capture_ts = max(self.capture_ts, self.source.capture_ts)
        if got.finished_now:
            self.finished = True
        self._trim()
        return Drained(
            changed=got.changed,
            flag_entries=got.flag_entries,
            segments=got.segments,
            finished_now=got.finished_now,
            events=got.events,
            gone=got.gone,
            events_dropped=got.events_dropped,
        )

    def _count(self, batch: list[Any], flows: list[Any], counts: Counter[tuple[int, int]]) -> None:
        seconds = [int(seg.ts) for seg in batch]
        self.per_second.update(seconds)
        counts.update(
            (flow.id, sec * 512 + (seg.flags & 0x1FF))
            for sec, seg, flow in zip(seconds, batch, flows, strict=True)
        )

    def _processes(self, changed: set[int]) -> None:
        # Live: owning processes on changed flows, and our listeners to orient mid-stream flows.
        annotate = getattr(self.source, "annotate", None)
        procs = getattr(self.source, "procs", None)
        if annotate is None or procs is None:
            return
        self.tracker.listen_ports = procs.listen_keys()
        flows = self.tracker.flows
        for fid in changed:
            flow = flows.get(fid)
            if flow is not None:
                annotate(flow)

    def packets_per_second(self) -> int:
        """Segments in the last complete second of the view's clock."""
        return self.per_second.get(int(self.now()) - 1, 0)

    def _trim(self) -> None:
        if len(self.per_second) > 120:
            keep = sorted(self.per_second)[-61:]
            self.per_second = Counter({s: self.per_second[s] for s in keep})
