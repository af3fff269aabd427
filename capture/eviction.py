"""The order in which `FlowTracker` evicts flows at its cap: closed first, then the idlest.

Two heaps of (last seen, id): closed or superseded flows, and open ones. A tracker under its cap
keeps none (`built` is False until the first eviction). An entry is refreshed only when it reaches
the top: a flow seen since it was pushed goes back with its new time, so touching a flow costs
nothing here. Entries of flows already gone, or (in the open heap) closed since, are dropped at
the top. With capture times that only move forward the victims are those of a full sort by
(closed, last seen, id); with times that go backwards the order is approximate.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping

from capture.flow import Flow

Entry = tuple[float, int]
"""(last seen, flow id)."""


class EvictionOrder:
    """The eviction heaps over a tracker's flows (see the module docstring)."""

    def __init__(self) -> None:
        self._done: list[Entry] = []
        self._open: list[Entry] | None = None

    @property
    def built(self) -> bool:
        """Whether the heaps exist (from the first eviction on)."""
        return self._open is not None

    def build(self, flows: Mapping[int, Flow]) -> None:
        """Heaps over every tracked flow, afresh."""
        done: list[Entry] = []
        live: list[Entry] = []
        for fid, flow in flows.items():
            (done if flow.closed or flow.superseded else live).append((flow.last_ts, fid))
        heapq.heapify(done)
        heapq.heapify(live)
        self._done, self._open = done, live

    def opened(self, flow: Flow, flows: Mapping[int, Flow]) -> None:
        """A new flow is tracked (`flows` already holds it)."""
        if self._open is None:
            return
        heapq.heappush(self._open, (flow.last_ts, flow.id))
        if len(self._open) + len(self._done) > 2 * len(flows) + 1024:
            self.build(flows)  # mostly entries of flows let go: start afresh

    def closed(self, flow: Flow) -> None:
        """`flow` closed or was superseded: it goes before every open flow."""
        if self._open is not None:
            heapq.heappush(self._done, (flow.last_ts, flow.id))

    def victim(self, flows: Mapping[int, Flow], rival: Entry | None = None) -> Flow | None:
        """The next flow to evict (left in `flows`); None when none is tracked, or when `rival`
        (an embryo's (time, id), see `capture.embryo`) is idler than every open flow."""
        for heap in (self._done, self._open or []):
            done = heap is self._done
            while heap:
                ts, fid = heap[0]
                flow = flows.get(fid)
                if flow is None or (not done and (flow.closed or flow.superseded)):
                    heapq.heappop(heap)
                elif flow.last_ts != ts:
                    heapq.heapreplace(heap, (flow.last_ts, fid))
                else:
                    if not done and rival is not None and rival < (ts, fid):
                        return None
                    heapq.heappop(heap)
                    return flow
        return None
