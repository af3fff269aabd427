"""The connection table's model: the ids of the flows shown, filtered and kept sorted.

A table over 100,000 flows cannot re-sort or rebuild per tick. The ids live in a `SortedList` of
`(key, id)`; each tick only the flows that changed are looked at, and only those whose sort key
moved are re-placed (O(log n) each). Finished flows leave after lingering, through a heap of
deadlines, so nothing here walks every flow except a filter or sort change. Counts for the flag
breakdown are kept the same way: each shown flow's contribution is added and taken back.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sortedcontainers import SortedList

from capture.segment import endpoint
from widgets.conn_rows import CATEGORIES, FINISHED, category

Flow = Any
Predicate = Callable[[Flow], bool]

FLAG_KEYS: tuple[str, ...] = ("syn", "synack", "ack", "psh", "fin", "rst", "urg", "ece", "cwr")
"""Flag counters in breakdown order; `illegal` is counted apart, after them."""


def _addr_key(raw: bytes, port: int) -> int:
    # IPv4 before IPv6, then address, then port.
    return len(raw) << 144 | int.from_bytes(raw, "big") << 16 | port


_CATEGORY_RANK = {c: i for i, c in enumerate(CATEGORIES)}
_NO_RTT = 1 << 62

SORT_KEYS: dict[str, tuple[str, Callable[[Flow, str], int], bool]] = {
    "id": ("#", lambda f, c: 0, False),
    "idle": ("last seen", lambda f, c: int(f.last_ts * 1e6), True),
    "bytes": ("bytes", lambda f, c: f.orig.payload + f.resp.payload, True),
    "pkts": ("packets", lambda f, c: f.orig.pkts + f.resp.pkts, True),
    "state": ("state", lambda f, c: _CATEGORY_RANK[c], False),
    "orig": ("originator", lambda f, c: _addr_key(f.orig_addr, f.orig_port), False),
    "resp": ("responder", lambda f, c: _addr_key(f.resp_addr, f.resp_port), False),
    "rtt": ("rtt", lambda f, c: _NO_RTT if f.irtt is None else int(f.irtt * 1e9), True),
    "age": ("age", lambda f, c: int(f.first_ts * 1e6), False),
}
"""Sort name → (label, key of (flow, category), descending by default); `s` cycles in order.

Keys are non-negative ints; a row is stored as `key << ID_BITS | flow id`, one int, because
ints compare and move faster than tuples in the `SortedList` (measured ~25% at 100,000 rows).
"""

ID_BITS = 40
_ID_MASK = (1 << ID_BITS) - 1

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
    try:  # the tracker's per-side counters, read directly: this runs per changed flow per tick
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
    except AttributeError:  # only the documented `flags` counts: slower, same answer
        fo, fr = o.flags, r.flags
        return (*(fo.get(k, 0) + fr.get(k, 0) for k in FLAG_KEYS), n_illegal)


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
        self._queued: set[int] = set()
        self.categories: dict[int, str] = {}
        """State category of every flow seen changing (shown or not)."""
        self.category_counts: dict[str, int] = {}
        self.versions: dict[int, int] = {}
        self.flag_totals: list[int] = [0] * (len(FLAG_KEYS) + 1)
        self.endpoint_width = 0
        self.procs_seen = False
        """Whether any flow placed so far has a process (live attribution)."""
        """Cells of the longest `addr:port` placed so far (the table sizes its columns by it)."""

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, fid: int) -> bool:
        return fid in self._keys

    def id_at(self, row: int) -> int:
        """The flow id on `row` (0-based, in display order)."""
        if self.descending:
            row = len(self._rows) - 1 - row
        return int(self._rows[row]) & _ID_MASK

    def row_of(self, fid: int) -> int | None:
        """The display row of flow `fid`, or None when it is not shown."""
        key = self._keys.get(fid)
        if key is None:
            return None
        row = self._rows.index(key)
        return len(self._rows) - 1 - row if self.descending else int(row)

    def set_sort(self, name: str, descending: bool | None, flows: Mapping[int, Flow]) -> None:
        """Sort by `name` (a `SORT_KEYS` entry); re-keys every shown flow once."""
        self.sort = name
        self.descending = SORT_KEYS[name][2] if descending is None else descending
        keyf = SORT_KEYS[name][1]
        cats = self.categories
        ids = [fid for fid in self._keys if fid in flows]
        if name == "id":  # the key is the id itself: no flow needs reading
            keys = ids
        else:
            keys = [keyf(flows[fid], cats[fid]) << ID_BITS | fid for fid in ids]
        self._keys = dict(zip(ids, keys, strict=True))
        self._rows = SortedList(keys)

    def rebuild(self, flows: Mapping[int, Flow], now: float) -> None:
        """Start over from every tracked flow (after a filter change)."""
        self._rows = SortedList()
        self._keys.clear()
        self._contrib.clear()
        self._deadlines.clear()
        self._queued.clear()
        self.flag_totals = [0] * len(self.flag_totals)
        self.update(flows, flows.keys(), now)

    def update(self, flows: Mapping[int, Flow], changed: Iterable[int], now: float) -> set[int]:
        """Account for flows that changed; then drop finished flows whose linger ran out.

        Returns the ids that left the view. This is the per-tick hot loop (thousands of flows a
        tick under load), hence the locals and the flag totals summed once at the end.
        """
        keyf = SORT_KEYS[self.sort][1]
        pred = self.predicate
        versions, keys, contribs = self.versions, self._keys, self._contrib
        rows = self._rows
        plus: list[tuple[int, ...]] = []
        minus: list[tuple[int, ...]] = []
        gone: set[int] = set()
        for fid in changed:
            flow = flows.get(fid)
            versions[fid] = versions.get(fid, 0) + 1
            if flow is None:
                self.forget((fid,))
                gone.add(fid)
                continue
            cat = self._categorise(fid, flow)
            if (pred is not None and not pred(flow)) or (
                cat in FINISHED and not self._lingers(fid, flow, now)
            ):
                if self._remove(fid):
                    gone.add(fid)
                continue
            key = keyf(flow, cat) << ID_BITS | fid
            old = keys.get(fid)
            if old is None:
                self._measure(flow)
                rows.add(key)
                keys[fid] = key
            elif old != key:
                rows.remove(old)
                rows.add(key)
                keys[fid] = key
            if not self.procs_seen and (flow.proc_orig or flow.proc_resp):
                self.procs_seen = True
            contrib = flag_counts(flow)
            prev = contribs.get(fid)
            if prev is not None:
                minus.append(prev)
            plus.append(contrib)
            contribs[fid] = contrib
        self._add_totals(plus, minus)
        gone |= self.expire(flows, now)
        return gone

    def _add_totals(self, plus: list[tuple[int, ...]], minus: list[tuple[int, ...]]) -> None:
        totals = self.flag_totals
        if plus:
            for i, column in enumerate(zip(*plus, strict=True)):
                totals[i] += sum(column)
        if minus:
            for i, column in enumerate(zip(*minus, strict=True)):
                totals[i] -= sum(column)

    def _lingers(self, fid: int, flow: Flow, now: float) -> bool:
        """Whether a finished flow is still in its linger time; queues its deadline once."""
        deadline = flow.last_ts + self.linger
        if deadline <= now:
            return False
        if fid not in self._queued:
            self._queued.add(fid)
            heapq.heappush(self._deadlines, (deadline, fid))
        return True

    def _categorise(self, fid: int, flow: Flow) -> str:
        # Both ends ESTABLISHED (the tracker's fast-path flag): nothing else to look at.
        cat = "established" if getattr(flow, "steady", False) else category(flow)
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
            self._queued.discard(fid)
            flow = flows.get(fid)
            if flow is not None and self.categories.get(fid) not in FINISHED:
                continue
            if flow is not None and flow.last_ts + self.linger > now:
                # A later segment extended its linger: queue the new deadline.
                self._queued.add(fid)
                heapq.heappush(heap, (flow.last_ts + self.linger, fid))
            elif self._remove(fid):
                gone.add(fid)
        return gone

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

    def _remove(self, fid: int) -> bool:
        key = self._keys.pop(fid, None)
        if key is None:
            return False
        self._rows.remove(key)
        prev = self._contrib.pop(fid, None)
        if prev is not None:
            self._add_totals([], [prev])
        return True
