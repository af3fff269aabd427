"""The drain: each tick (and sip) takes in what the engine tracked since the last one.

The engine reads, decodes and tracks on its own thread; a step asks it for the flows that
changed, their flag counts and its events (`capture.engine_source.EngineSource.step`). Nothing
here touches a widget or a packet.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

CHANGED_PER_STEP = 400
"""Changed flows a step takes in at most. Each costs a snapshot and a model update (~10 us at
100,000 flows): a busy capture changes tens of thousands a tick, which taken at once would
freeze the view for a second. The engine keeps the rest noted and hands them over in turn at
the next steps (ticks and sips, 60 a second: 24,000 flows a second, 21,000 live, where a tick
takes a quarter), the rows on screen first.
A key waits for the step under way at most: at 100,000 busy flows, 400 kept the keys' p95
under 70 ms where 1,000 let it reach 106 ms, and the UI thread at a third of a core
(BENCHMARKS.md)."""
BEHIND_AT = 0.125
"""Live: tracking is behind when this share of its queue from the capture thread is in use
(16 of the 128 batches by default, ~60,000 frames). The App then takes in what changed at its
ticks only (`TcpwatchApp.sip`), and a quarter as many flows a step (`SMALL_SHARE`), leaving
the CPU to the tracker: on a busy two-core machine what the UI thread spent on them was what
the tracker lacked to keep up, and a full queue drops frames (BENCHMARKS.md)."""
SMALL_SHARE = 4
"""A step takes `CHANGED_PER_STEP // SMALL_SHARE` changed flows while live tracking is behind,
and so does a live tick's step at any time: the tick paints right after, and the sips between
ticks fold in the bulk (live, the UI thread waits for a core about as long as it computes, so
a tick's work counts about twice)."""


@dataclass(slots=True)
class Drained:
    """What one tick brought in."""

    changed: set[int] = field(default_factory=set)
    flag_totals: list[tuple[int, int]] = field(default_factory=list)
    """Segments of every flow per `(second * 512 + flag bits, count)` (see `FlagRates`)."""
    flag_matched: list[tuple[int, int]] | None = None
    """The same for the flows `counted_for` selects (None without a filter)."""
    counted_for: Any = None
    """The filter the step counted `flag_matched` for (the view's, when the step began)."""
    segments: int = 0
    finished_now: bool = False
    events: list[tuple[float, int, str, Any]] = field(default_factory=list)
    """The engine's events `(ts, flow_id, kind, detail)`, oldest first (see `tui.event_history`)."""
    gone: dict[int, Any] = field(default_factory=dict)
    """Snapshots of the flows that left the tracker, by id (so their events can name them)."""
    events_dropped: int = 0
    """Events the engine's queue dropped so far, unread."""
    events_skipped: int = 0
    """Events of this step older than the newest `Drain.events_kept`, left in the engine."""


class Drain:
    """Takes in what the engine behind a source tracked, and keeps the capture clock."""

    def __init__(self, source: Any, *, live: bool = False, events_kept: int | None = None) -> None:
        """`events_kept`: the events a step takes at most, the newest (the App's history keeps
        no more: older ones would cost their Python objects only to be let go)."""
        self.source = source
        self.live = live
        self.events_kept = events_kept
        self.capture_ts = 0.0
        self.segments = 0
        self.per_second: Counter[int] = Counter()
        self.finished = False
        self.queue_fill = 0.0
        """Live: how full tracking's queue was at the last step (see `BEHIND_AT`)."""

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

    def step(self, first: Sequence[int] = (), matching: Any = None, tick: bool = False) -> Drained:
        """Take in what the engine did since the last step: at most `CHANGED_PER_STEP` changed
        flows (a quarter while live tracking is `behind`, and for a live `tick`'s step), those
        of `first` (the rows on screen) that changed among them first; the flag counts of the
        flows `matching` (the view's compiled filter) selects apart."""
        small = self.behind or (tick and self.live)
        limit = CHANGED_PER_STEP // SMALL_SHARE if small else CHANGED_PER_STEP
        got = self.source.step(limit, first, matching, self.events_kept)
        self.segments += got.segments
        self.per_second.update(got.per_second)
        self.capture_ts = max(self.capture_ts, self.source.capture_ts)
        self.queue_fill = got.queue_fill
        if got.finished_now:
            self.finished = True
        self._trim()
        return Drained(
            changed=got.changed,
            flag_totals=got.flag_totals,
            flag_matched=got.flag_matched,
            counted_for=matching,
            segments=got.segments,
            finished_now=got.finished_now,
            events=got.events,
            gone=got.gone,
            events_dropped=got.events_dropped,
            events_skipped=got.events_skipped,
        )

    def flag_minute(self, matching: Any = None) -> list[tuple[int, int]]:
        """The last minute's flag counts of the flows `matching` selects (a new filter)."""
        return list(self.source.flag_minute(matching))

    @property
    def behind(self) -> bool:
        """Live tracking is behind the capture (`BEHIND_AT`)."""
        return self.queue_fill >= BEHIND_AT

    @property
    def backlog(self) -> int:
        """Changed flows the engine holds for the next steps."""
        return int(self.source.backlog)

    def packets_per_second(self) -> int:
        """Segments in the last complete second of the view's clock."""
        return self.per_second.get(int(self.now()) - 1, 0)

    def _trim(self) -> None:
        if len(self.per_second) > 120:
            keep = sorted(self.per_second)[-61:]
            self.per_second = Counter({s: self.per_second[s] for s in keep})
