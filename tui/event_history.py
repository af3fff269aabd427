"""The App's bounded history of the engine's events, for the events screen (`e`).

Every tick (and sip) hands what it drained to `EventHistory.take`: one `deque.extend`, whatever
the rate. Past `KEPT` events the oldest are let go and counted. A flow that leaves the tracker
takes its endpoints with it, so the snapshot it left (`Drained.gone`) is kept for as long as one
of its events is still in the history; those snapshots are what the feed names and the display
filter judges for flows no longer tracked.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from tui.drain import Drained

Event = tuple[float, int, str, Any]
"""`(capture ts, flow id, kind, detail)`, as the engine publishes them."""

KEPT = 5_000
"""Events kept: a few screens' worth of scroll-back live, a whole small capture from a file."""
PRUNE_EVERY = 1_000
"""Events let go between two prunings of the gone flows' snapshots (a pass over the history)."""


class EventHistory:
    """The last `kept` events, what was let go, and the snapshots of the flows gone meanwhile."""

    def __init__(self, kept: int = KEPT) -> None:
        self.kept = kept
        self.events: deque[Event] = deque(maxlen=kept)
        self.let_go = 0
        """Events that fell off the history's start."""
        self.engine_dropped = 0
        """Events the engine's queue dropped before they were read."""
        self.gone: dict[int, Any] = {}
        """Snapshots of flows no longer tracked that an event in the history names."""
        self.version = 0
        """Bumped by every `take` that brought something: views repaint only then."""
        self._let_go_at_prune = 0

    def __len__(self) -> int:
        return len(self.events)

    def take(self, drained: Drained) -> None:
        """Keep what one drain brought in."""
        self.engine_dropped = max(self.engine_dropped, drained.events_dropped)
        self.let_go += drained.events_skipped  # older than the newest `kept`: let go unread
        if drained.gone:
            self.gone.update(drained.gone)
            if len(self.gone) > (self.events.maxlen or 0):  # gone, but their events were not
                self._prune()
        if not drained.events:
            return
        events = self.events
        over = len(events) + len(drained.events) - (events.maxlen or 0)
        if over > 0:
            self.let_go += min(over, len(events) + len(drained.events))
        events.extend(drained.events)
        self.version += 1
        if self.let_go - self._let_go_at_prune >= PRUNE_EVERY:
            self._prune()

    def _prune(self) -> None:
        self._let_go_at_prune = self.let_go
        named = {e[1] for e in self.events}
        self.gone = {fid: flow for fid, flow in self.gone.items() if fid in named}
