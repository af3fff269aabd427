"""The connection table's model: the ids of the flows shown, filtered and kept sorted.

A table over 100,000 flows cannot re-sort or rebuild per tick. The ids live in a `SortedList` of
`(key, id)`; each tick only the flows that changed are looked at, and only those whose sort key
moved are re-placed (O(log n) each). Finished flows leave after lingering, through a heap of
deadlines, so nothing here walks every flow except a filter or sort change. Counts for the flag
breakdown are kept the same way: each shown flow's contribution is added and taken back.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sortedcontainers import SortedList

from capture.segment import endpoint
from widgets.conn_rows import FINISHED, category

Flow = Any
Predicate = Callable[[Flow], bool]

FLAG_KEYS: tuple[str, ...] = ("syn", "synack", "ack", "psh", "fin", "rst", "urg", "ece", "cwr")
"""Flag counters in breakdown order; `illegal` is counted apart, after them."""


def _addr_key(raw: bytes, port: int) -> tuple[int, bytes, int]:
    return (len(raw), raw, port)


SORT_KEYS: dict[str, tuple[str, Callable[[Flow], Any], bool]] = {
    "id": ("#", lambda f: f.id, False),
    "idle": ("last seen", lambda f: f.last_ts, True),
    "bytes": ("bytes", lambda f: f.orig.payload + f.resp.payload, True),
    "pkts": ("packets", lambda f: f.orig.pkts + f.resp.pkts, True),
    "state": ("state", lambda f: category(f), False),
    "orig": ("originator", lambda f: _addr_key(f.orig_addr, f.orig_port), False),
    "resp": ("responder", lambda f: _addr_key(f.resp_addr, f.resp_port), False),
    "rtt": ("rtt", lambda f: f.irtt if f.irtt is not None else math.inf, True),
    "age": ("age", lambda f: f.first_ts, False),
}
"""Sort name → (label, key function, descending by default). `s` cycles in this order."""

SORT_ORDER: tuple[str, ...] = tuple(SORT_KEYS)
COLUMN_SORTS = {
    "id": "id",
    "orig": "orig",
    "resp": "resp",
    "conn": "state",
    "history": "state",
    "state_orig": "state",
    "state_resp": "state",
    "pkts": "pkts",
    "bytes": "bytes",
    "rtt": "rtt",
    "age": "age",
    "idle": "idle",
    "retries": "id",
    "proc": "id",
}
"""Which sort a click on each column header selects."""


def flag_counts(flow: Flow) -> tuple[int, ...]:
    """A flow's segments per flag (both directions, `FLAG_KEYS` order) then its illegal count."""
    o, r = flow.orig, flow.resp
    # The tracker keeps `illegal` (kind -> count); its export record calls it `illegal_flags`.
    illegal = getattr(flow, "illegal", None)
    n_illegal = sum(illegal.values()) if isinstance(illegal, dict) else int(illegal or 0)
    return (
        o.syn + r.syn,
        o.synack + r.synack,
        o.pkts - o.noack + r.pkts - r.noack,
        o.psh + r.psh,
        o.fin + r.fin,
        o.rst + r.rst,
        o.urg + r.urg,
        o.ece + r.ece,
        o.cwr + r.cwr,
        n_illegal,
    )


class FlowList:
    """Sorted, filtered ids of the flows on screen, updated incrementally."""

    def __init__(self, linger: float = 10.0) -> None:
        self.linger = linger
        self.sort = "id"
        self.descending = False
        self.predicate: Predicate | None = None
        self._rows: SortedList = SortedList()
        self._keys: dict[int, Any] = {}
        self._contrib: dict[int, tuple[int, ...]] = {}
        self._deadlines: list[tuple[float, int]] = []
        self.categories: dict[int, str] = {}
        """State category of every flow seen changing (shown or not)."""
        self.category_counts: dict[str, int] = {}
        self.versions: dict[int, int] = {}
        self.flag_totals: list[int] = [0] * (len(FLAG_KEYS) + 1)
        self.endpoint_width = 0
        """Cells of the longest `addr:port` placed so far (the table sizes its columns by it)."""

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, fid: int) -> bool:
        return fid in self._keys

    def id_at(self, row: int) -> int:
        """The flow id on `row` (0-based, in display order)."""
        if self.descending:
            row = len(self._rows) - 1 - row
        return int(self._rows[row][1])

    def row_of(self, fid: int) -> int | None:
        """The display row of flow `fid`, or None when it is not shown."""
        key = self._keys.get(fid)
        if key is None:
            return None
        row = self._rows.index((key, fid))
        return len(self._rows) - 1 - row if self.descending else int(row)

    def set_sort(self, name: str, descending: bool | None, flows: Mapping[int, Flow]) -> None:
        """Sort by `name` (a `SORT_KEYS` entry); re-keys every shown flow once."""
        self.sort = name
        self.descending = SORT_KEYS[name][2] if descending is None else descending
        keyf = SORT_KEYS[name][1]
        self._keys = {fid: keyf(flows[fid]) for fid in self._keys if fid in flows}
        self._rows = SortedList((k, fid) for fid, k in self._keys.items())

    def rebuild(self, flows: Mapping[int, Flow], now: float) -> None:
        """Start over from every tracked flow (after a filter change)."""
        self._rows = SortedList()
        self._keys.clear()
        self._contrib.clear()
        self._deadlines.clear()
        self.flag_totals = [0] * len(self.flag_totals)
        self.update(flows, flows.keys(), now)

    def update(self, flows: Mapping[int, Flow], changed: Iterable[int], now: float) -> set[int]:
        """Account for flows that changed; then drop finished flows whose linger ran out.

        Returns the ids that left the view.
        """
        keyf = SORT_KEYS[self.sort][1]
        pred = self.predicate
        versions = self.versions
        gone: set[int] = set()
        for fid in changed:
            flow = flows.get(fid)
            versions[fid] = versions.get(fid, 0) + 1
            if flow is None:
                self.forget((fid,))
                gone.add(fid)
                continue
            cat = self._categorise(fid, flow)
            if pred is not None and not pred(flow):
                if self._remove(fid):
                    gone.add(fid)
                continue
            if cat in FINISHED:
                deadline = flow.last_ts + self.linger
                if deadline <= now:
                    if self._remove(fid):
                        gone.add(fid)
                    continue
                heapq.heappush(self._deadlines, (deadline, fid))
            self._place(fid, flow, keyf(flow), flag_counts(flow))
        gone |= self.expire(flows, now)
        return gone

    def _categorise(self, fid: int, flow: Flow) -> str:
        cat = category(flow)
        old = self.categories.get(fid)
        if old != cat:
            counts = self.category_counts
            if old is not None:
                counts[old] -= 1
            counts[cat] = counts.get(cat, 0) + 1
            self.categories[fid] = cat
        return cat

    def expire_due(self, now: float) -> bool:
        """Whether some lingering flow's time is up at `now`."""
        return bool(self._deadlines) and self._deadlines[0][0] <= now

    def expire(self, flows: Mapping[int, Flow], now: float) -> set[int]:
        """Drop finished flows whose linger ended at or before `now`."""
        gone: set[int] = set()
        heap = self._deadlines
        while heap and heap[0][0] <= now:
            _, fid = heapq.heappop(heap)
            if self._lapsed(flows.get(fid), fid, now) and self._remove(fid):
                gone.add(fid)
        return gone

    def _lapsed(self, flow: Flow | None, fid: int, now: float) -> bool:
        if flow is None:
            return True
        return self.categories.get(fid) in FINISHED and flow.last_ts + self.linger <= now

    def forget(self, fids: Iterable[int]) -> None:
        """Drop bookkeeping for flows the tracker no longer holds (evicted)."""
        for fid in fids:
            self._remove(fid)
            cat = self.categories.pop(fid, None)
            if cat is not None:
                self.category_counts[cat] -= 1
            self.versions.pop(fid, None)

    def _measure(self, flow: Flow) -> None:
        # An IPv4 endpoint always fits the narrowest column; only IPv6 needs measuring.
        if len(flow.orig_addr) == 16:
            longest = max(
                len(endpoint(flow.orig_addr, flow.orig_port)),
                len(endpoint(flow.resp_addr, flow.resp_port)),
            )
            self.endpoint_width = max(self.endpoint_width, longest)

    def _place(self, fid: int, flow: Flow, key: Any, contrib: tuple[int, ...]) -> None:
        old = self._keys.get(fid)
        if old is None:
            self._measure(flow)
        if old is None or old != key:
            if old is not None:
                self._rows.remove((old, fid))
            self._rows.add((key, fid))
            self._keys[fid] = key
        prev = self._contrib.get(fid)
        if prev != contrib:
            totals = self.flag_totals
            if prev is not None:
                for i, v in enumerate(prev):
                    totals[i] -= v
            for i, v in enumerate(contrib):
                totals[i] += v
            self._contrib[fid] = contrib

    def _remove(self, fid: int) -> bool:
        key = self._keys.pop(fid, None)
        if key is None:
            return False
        self._rows.remove((key, fid))
        prev = self._contrib.pop(fid, None)
        if prev is not None:
            for i, v in enumerate(prev):
                self.flag_totals[i] -= v
        return True
