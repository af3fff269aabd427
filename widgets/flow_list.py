"""The connection table's model: the ids of the flows shown, filtered and kept sorted.

A table over 100,000 flows cannot re-sort or rebuild per tick. The ids live in a `SortedList` of
`(key, id)`; each tick only the flows that changed are looked at, and only those whose sort key
moved are re-placed (O(log n) each). Finished flows leave after lingering, through a heap of
deadlines, so nothing here walks every flow except a filter or sort change. Counts for the flag
breakdown and the state legend are kept the same way: each matching flow's contribution is added
and taken back. They count every flow the filter selects, finished flows that have left the rows
(linger) included: a count does not drop because time passed.

Every sort's key of every shown flow is kept up to date (one dict per sort), so a sort change
sorts keys it already has instead of reading 100,000 flows: reading them is memory-bound
(measured 30-90 ms at 100,000 flows, the Flow objects are scattered), sorting ints is not.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Mapping
from itertools import repeat
from operator import add, and_, attrgetter, lshift, mul, or_, sub
from typing import Any

from sortedcontainers import SortedList

from capture.segment import endpoint
from widgets.byte_rates import ByteRates
from widgets.conn_rows import (
    CATEGORIES,
    FINISHED,
    SHORT_STATE,
    average_rate,
    category,
    proc_text,
    retries,
)

Flow = Any
Predicate = Callable[[Flow], bool]

FLAG_KEYS: tuple[str, ...] = ("syn", "synack", "ack", "psh", "fin", "rst", "urg", "ece", "cwr")
"""Flag counters in breakdown order; `illegal` is counted apart, after them."""


def _addr_key(raw: bytes, port: int) -> int:
    # IPv4 before IPv6, then address, then port.
    return len(raw) << 144 | int.from_bytes(raw, "big") << 16 | port


_CATEGORY_RANK = {c: i for i, c in enumerate(CATEGORIES)}
MISSING = 1 << 100
"""The key of a flow without a value in that column (no RTT yet, no process): such rows come
last whichever way the column is sorted (`FlowList.id_at`)."""
_NO_RTT = MISSING
TS_BASE = 1 << 60
"""Microseconds; idle and age keys count down from it, so that a key grows with the value shown
(`now - last_ts`, `now - first_ts`) and the header's arrow reads the way the rows do."""
TEXT_BYTES = 12
"""Leading bytes of a text column that its key orders by (ties beyond that: by flow id)."""


def _text_key(text: str) -> int:
    """An int that orders as `text` does (by its first TEXT_BYTES bytes); "" is MISSING."""
    if not text:
        return MISSING
    raw = text.encode("utf-8", "replace")[:TEXT_BYTES]
    return int.from_bytes(raw.ljust(TEXT_BYTES, b"\0"), "big")


def _avg_key(f: Flow) -> int:
    avg = average_rate(f)
    return MISSING if avg is None else int(avg * 1000)


SORT_KEYS: dict[str, tuple[str, Callable[[Flow, str], int], bool]] = {
    "id": ("#", lambda f, c: 0, False),
    "idle": ("idle", lambda f, c: TS_BASE - int(f.last_ts * 1e6), False),
    "bytes": ("bytes", lambda f, c: f.orig.payload + f.resp.payload, True),
    "pkts": ("packets", lambda f, c: f.orig.pkts + f.resp.pkts, True),
    "state": ("state", lambda f, c: _CATEGORY_RANK[c], False),
    "orig": ("originator", lambda f, c: _addr_key(f.orig_addr, f.orig_port), False),
    "resp": ("responder", lambda f, c: _addr_key(f.resp_addr, f.resp_port), False),
    "rtt": ("rtt", lambda f, c: _NO_RTT if f.irtt is None else int(f.irtt * 1e9), True),
    "age": ("age", lambda f, c: TS_BASE - int(f.first_ts * 1e6), True),
    "retries": ("retr", lambda f, c: retries(f), True),
    "state_orig": (
        "orig st",
        lambda f, c: _text_key(SHORT_STATE.get(f.state_orig, f.state_orig)),
        False,
    ),
    "state_resp": (
        "resp st",
        lambda f, c: _text_key(SHORT_STATE.get(f.state_resp, f.state_resp)),
        False,
    ),
    "conn": ("conn", lambda f, c: _text_key(f.conn_state), False),
    "history": ("history", lambda f, c: _text_key(f.history), False),
    "proc": ("process", lambda f, c: _text_key(proc_text(f)), False),
    # The model's `ByteRates` gives the current rate's key (`FlowList._keyf`): 0 without one.
    "rate": ("rate", lambda f, c: 0, True),
    "avg": ("avg rate", lambda f, c: _avg_key(f), True),
}
"""Sort name → (label, key of (flow, category), descending by default).

Keys are non-negative ints that grow with the value the column shows (so `▼` puts the largest
first); a row is stored as `key << ID_BITS | flow id`, one int, because ints compare and move
faster than tuples in the `SortedList` (measured ~25% at 100,000 rows).
"""

ID_BITS = 40
_ID_MASK = (1 << ID_BITS) - 1

SORT_ORDER: tuple[str, ...] = ("id", "idle", "bytes", "pkts", "state", "orig", "resp", "rtt",
                               "age", "retries", "rate", "avg")  # fmt: skip
"""The sorts `s` cycles through; the others are a header click away."""
LAZY_SORTS = frozenset(SORT_KEYS) - frozenset(SORT_ORDER) | {"rate", "avg"}
"""Sorts whose keys are kept only while they are the current sort: they are computed from every
shown flow when chosen (a click on a text column's header, or `s` to a rate), instead of being
refreshed for each changed flow on every tick as the other cycled sorts' keys are."""
STATIC_SORTS = frozenset({"id", "orig", "resp", "age"})
"""Sorts whose key never changes for a flow (endpoints and first segment): computed once."""

_get = {name: attrgetter(name) for name in ("last_ts", "first_ts", "irtt", "orig_addr",
        "orig_port", "resp_addr", "resp_port", "orig.payload", "resp.payload", "orig.pkts",
        "resp.pkts")}  # fmt: skip


def _micros(values: Iterable[float]) -> Iterable[int]:
    return map(int, map(mul, values, repeat(1e6)))


def _ago(values: Iterable[float]) -> Iterable[int]:
    return map(sub, repeat(TS_BASE), _micros(values))


BATCH_KEYS: dict[str, Callable[[list[Flow], list[str]], Iterable[int]]] = {
    "id": lambda fl, cats: repeat(0, len(fl)),
    "idle": lambda fl, cats: _ago(map(_get["last_ts"], fl)),
    "bytes": lambda fl, cats: map(
        add, map(_get["orig.payload"], fl), map(_get["resp.payload"], fl)
    ),
    "pkts": lambda fl, cats: map(add, map(_get["orig.pkts"], fl), map(_get["resp.pkts"], fl)),
    "state": lambda fl, cats: map(_CATEGORY_RANK.__getitem__, cats),
    "orig": lambda fl, cats: map(_addr_key, map(_get["orig_addr"], fl), map(_get["orig_port"], fl)),
    "resp": lambda fl, cats: map(_addr_key, map(_get["resp_addr"], fl), map(_get["resp_port"], fl)),
    "rtt": lambda fl, cats: [_NO_RTT if x is None else int(x * 1e9) for x in map(_get["irtt"], fl)],
    "age": lambda fl, cats: _ago(map(_get["first_ts"], fl)),
    "retries": lambda fl, cats: map(retries, fl),
}
"""`SORT_KEYS`' keys of many flows at once, through C-level `map`s (~4x faster a key): these
refresh the kept keys of every sort but the current one, for each tick's changed flows."""
COLUMN_SORTS = {
    "id": "id",
    "orig": "orig",
    "resp": "resp",
    "conn": "conn",
    "history": "history",
    "state_orig": "state_orig",
    "state_resp": "state_resp",
    "pkts": "pkts",
    "bytes": "bytes",
    "rtt": "rtt",
    "age": "age",
    "idle": "idle",
    "retries": "retries",
    "proc": "proc",
    "rate": "rate",
    "avg": "avg",
}
"""Which sort a click on each column header selects: the column's own values."""


class FlowList:
    """Sorted, filtered ids of the flows on screen, updated incrementally."""

    def __init__(self, linger: float = 10.0, rates: ByteRates | None = None) -> None:
        self.linger = linger
        self.rates = rates
        """Current byte rates (live, replay); None for a file read whole (no "now")."""
        self.pinned: frozenset[int] = frozenset()
        """Flows kept in view however long ago they finished (a finding's flows, while its
        filter is in force): linger does not apply to them."""
        self.sort = "id"
        self.descending = False
        self.predicate: Predicate | None = None
        self._rows: SortedList = SortedList()
        self._caches: dict[str, dict[int, int]] = {
            name: {} for name in SORT_ORDER if name not in LAZY_SORTS
        }
        """Sort name -> {flow id: `key << ID_BITS | id`} for every shown flow."""
        self._keys = self._caches[self.sort]
        """The current sort's keys (the same dict as its cache entry)."""
        self._no_rtt: set[int] = set()
        """Shown flows that may have no irtt yet (their rtt key is the only one that waits)."""
        self._contrib: dict[int, tuple[int, ...]] = {}
        self._deadlines: list[tuple[float, int]] = []
        self._queued: set[int] = set()
        self.categories: dict[int, str] = {}
        """State category of every flow seen changing (shown or not)."""
        self._matched: dict[int, str] = {}
        """Category of every flow the filter selects (shown, or gone from the rows by linger)."""
        self.category_counts: dict[str, int] = {}
        """Flows the filter selects, by state category (the table's legend)."""
        self.versions: dict[int, int] = {}
        self.flag_totals: list[int] = [0] * (len(FLAG_KEYS) + 1)
        self._bytes: dict[int, int] = {}
        self.bytes_total = 0
        """Payload bytes of the flows the filter selects."""
        self.first_ts = float("inf")
        """The earliest first segment of any flow seen (a whole file's start)."""
        self.endpoint_width = 0
        self.procs_seen = False
        """Whether any flow placed so far has a process (live attribution)."""
        """Cells of the longest `addr:port` placed so far (the table sizes its columns by it)."""
        self._vlans: set[tuple[int, ...]] = set()
        """Distinct VLAN tag stacks placed so far (two are enough to know: `many_vlans`)."""

    def __len__(self) -> int:
        return len(self._rows)

    @property
    def matching(self) -> int:
        """How many tracked flows the filter selects (rows, and finished flows past linger)."""
        return len(self._matched)

    def matches(self, fid: int) -> bool:
        """Whether the filter selected flow `fid` at its last update."""
        return fid in self._matched

    def __contains__(self, fid: int) -> bool:
        return fid in self._keys

    def _valued(self) -> int:
        """How many shown flows have a value in the sort column (the rest have MISSING keys)."""
        return int(self._rows.bisect_left(MISSING << ID_BITS))

    def id_at(self, row: int) -> int:
        """The flow id on `row` (0-based, in display order).

        Descending reverses the flows with a value only: those without one stay last."""
        if self.descending:
            valued = self._valued()
            if row < valued:
                row = valued - 1 - row
        return int(self._rows[row]) & _ID_MASK

    def row_of(self, fid: int) -> int | None:
        """The display row of flow `fid`, or None when it is not shown."""
        key = self._keys.get(fid)
        if key is None:
            return None
        row = int(self._rows.index(key))
        if self.descending:
            valued = self._valued()
            if row < valued:
                return valued - 1 - row
        return row

    def set_sort(self, name: str, descending: bool | None, flows: Mapping[int, Flow]) -> None:
        """Sort by `name` (a `SORT_KEYS` entry): its keys are kept, so no flow is read.

        The order is that of the last `update` (a paused view re-sorts what it shows)."""
        self.descending = SORT_KEYS[name][2] if descending is None else descending
        if name == self.sort:
            return
        if name in LAZY_SORTS:  # keys kept only while current: compute them now
            keyf = self._keyf(name)
            cats = self.categories
            self._caches[name] = {
                fid: keyf(flows[fid], cats[fid]) << ID_BITS | fid for fid in self._keys
            }
        if self.sort in LAZY_SORTS:
            self._caches.pop(self.sort, None)
        self.sort = name
        self._keys = self._caches[name]
        self._rows = SortedList(self._keys.values())

    def _keyf(self, name: str) -> Callable[[Flow, str], int]:
        """The key function of sort `name` (the current rate's comes from `rates`)."""
        rates = self.rates
        if name == "rate" and rates is not None:
            return lambda f, c: rates.key(f.id)
        return SORT_KEYS[name][1]

    def rebuild(self, flows: Mapping[int, Flow], now: float) -> None:
        """Start over from every tracked flow (after a filter change)."""
        self._rows = SortedList()
        for cache in self._caches.values():
            cache.clear()
        self._no_rtt.clear()
        self._contrib.clear()
        self._bytes.clear()
        self.bytes_total = 0
        self._matched.clear()
        self.category_counts.clear()
        self._deadlines.clear()
        self._queued.clear()
        self.flag_totals = [0] * len(self.flag_totals)
        self.update(flows, flows.keys(), now)

    def update(self, flows: Mapping[int, Flow], changed: Iterable[int], now: float) -> set[int]:
        """Account for flows that changed; then drop finished flows whose linger ran out.

        Returns the ids that left the view. This is the per-tick hot loop (thousands of flows a
        tick under load), hence the locals and the flag totals summed once at the end.
        """
        if self.rates is not None:
            moved = self.rates.take_moved()
            if moved and self.sort == "rate":  # their rate moved with the clock: re-place them
                changed = set(changed) | moved
        keyf = self._keyf(self.sort)
        pred = self.predicate
        versions, keys, contribs = self.versions, self._keys, self._contrib
        payloads, more_bytes = self._bytes, 0
        rows = self._rows
        categories, state_keys = self.categories, self._caches["state"]
        placed: tuple[list[int], list[Flow], list[str]] = ([], [], [])
        kept: tuple[list[int], list[Flow], list[str]] = ([], [], [])
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
            prev_cat = categories.get(fid)
            if prev_cat is None and flow.first_ts < self.first_ts:
                self.first_ts = flow.first_ts
            cat = self._categorise(fid, flow)
            if pred is not None and not pred(flow):
                if self._remove(fid):
                    gone.add(fid)
                continue
            self._match(fid, cat)
            contrib = flow.flag_counts  # per flag, both sides, then illegal (the engine's)
            prev = contribs.get(fid)
            if prev is not None:
                minus.append(prev)
            plus.append(contrib)
            contribs[fid] = contrib
            payload = flow.orig.payload + flow.resp.payload
            more_bytes += payload - payloads.get(fid, 0)
            payloads[fid] = payload
            if cat in FINISHED and not self._lingers(fid, flow, now):
                if self._remove_row(fid):
                    gone.add(fid)
                continue
            key = keyf(flow, cat) << ID_BITS | fid
            old = keys.get(fid)
            if old is None:
                self._measure(flow)
                rows.add(key)
                keys[fid] = key
                batch = placed
            else:
                if old != key:
                    rows.remove(old)
                    rows.add(key)
                    keys[fid] = key
                if cat != prev_cat:  # the state sort's key moves with the category only
                    state_keys[fid] = _CATEGORY_RANK[cat] << ID_BITS | fid
                batch = kept
            batch[0].append(fid)
            batch[1].append(flow)
            batch[2].append(cat)
            if not self.procs_seen and (flow.proc_orig or flow.proc_resp):
                self.procs_seen = True
        self._add_totals(plus, minus)
        self.bytes_total += more_bytes
        self._fill(placed, static=True)
        self._fill(kept, static=False)
        gone |= self.expire(flows, now)
        return gone

    def _fill(self, batch: tuple[list[int], list[Flow], list[str]], static: bool) -> None:
        """Refresh the kept keys of every sort but the current one for `batch` (ids, flows,
        categories); keys of `STATIC_SORTS` and the state sort only when `static` (flows just
        placed: `update` refreshes a state key when the category changes)."""
        fids, fl, cats = batch
        if not fids:
            return
        if static:
            self._no_rtt.update(fid for fid, f in zip(fids, fl, strict=True) if f.irtt is None)
        for name, cache in self._caches.items():
            if name == self.sort or name in LAZY_SORTS:
                continue
            if not static and (name in STATIC_SORTS or name == "state"):
                continue
            if name == "rtt" and not static:
                self._fill_rtt(cache, fids, fl)
                continue
            raw = BATCH_KEYS[name](fl, cats)
            composite = map(or_, map(lshift, raw, repeat(ID_BITS)), fids)
            if name == "idle":
                # (Re-)inserted in key order: the dict then holds the idle keys in runs already
                # sorted, one per tick, and a sort by idle merges runs (timsort) instead of
                # sorting 100,000 random keys (30-60 ms measured). Descending: later ticks
                # have smaller idle keys, so the whole dict stays one descending run.
                if not static:
                    for fid in fids:
                        del cache[fid]
                ordered = sorted(composite, reverse=True)
                cache.update(zip(map(and_, ordered, repeat(_ID_MASK)), ordered, strict=True))
                continue
            cache.update(zip(fids, composite, strict=True))

    def _fill_rtt(self, cache: dict[int, int], fids: list[int], fl: list[Flow]) -> None:
        # A flow's irtt is set once (None -> seconds) and never changes afterwards: only the
        # flows that may still lack one (`_no_rtt`, a superset) can have a new rtt key.
        maybe = self._no_rtt.intersection(fids)
        if not maybe:
            return
        for fid, flow in zip(fids, fl, strict=True):
            if fid in maybe and flow.irtt is not None:
                cache[fid] = int(flow.irtt * 1e9) << ID_BITS | fid
                self._no_rtt.discard(fid)

    def _add_totals(self, plus: list[tuple[int, ...]], minus: list[tuple[int, ...]]) -> None:
        totals = self.flag_totals
        if plus:
            for i, column in enumerate(zip(*plus, strict=True)):
                totals[i] += sum(column)
        if minus:
            for i, column in enumerate(zip(*minus, strict=True)):
                totals[i] -= sum(column)

    def _lingers(self, fid: int, flow: Flow, now: float) -> bool:
        """Whether a finished flow is still in its linger time (a pinned flow always is);
        queues its deadline once."""
        if fid in self.pinned:
            return True
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
        self.categories[fid] = cat
        return cat

    def _match(self, fid: int, cat: str) -> None:
        """Count `fid` (of category `cat`) among the flows the filter selects."""
        old = self._matched.get(fid)
        if old != cat:
            counts = self.category_counts
            if old is not None:
                counts[old] -= 1
            counts[cat] = counts.get(cat, 0) + 1
            self._matched[fid] = cat

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
            if fid in self.pinned or (
                flow is not None and self.categories.get(fid) not in FINISHED
            ):
                continue
            if flow is not None and flow.last_ts + self.linger > now:
                # A later segment extended its linger: queue the new deadline.
                self._queued.add(fid)
                heapq.heappush(heap, (flow.last_ts + self.linger, fid))
            elif self._remove_row(fid):
                gone.add(fid)
        return gone

    def forget(self, fids: Iterable[int]) -> None:
        """Drop bookkeeping for flows the tracker no longer holds (evicted)."""
        for fid in fids:
            self._remove(fid)
            self.categories.pop(fid, None)
            self.versions.pop(fid, None)

    @property
    def many_vlans(self) -> bool:
        """Whether flows placed so far came with different VLAN tags (then the table shows
        them: flows may differ by nothing else)."""
        return len(self._vlans) > 1

    def _measure(self, flow: Flow) -> None:
        if len(self._vlans) < 2:
            self._vlans.add(tuple(flow.vlan))
        # An IPv4 endpoint always fits the narrowest column; only IPv6 needs measuring.
        if len(flow.orig_addr) == 16:
            longest = max(
                len(endpoint(flow.orig_addr, flow.orig_port)),
                len(endpoint(flow.resp_addr, flow.resp_port)),
            )
            self.endpoint_width = max(self.endpoint_width, longest)

    def _remove(self, fid: int) -> bool:
        """Take `fid` out of the rows and out of the counts (the filter no longer selects it,
        or the tracker let it go); whether it had a row."""
        cat = self._matched.pop(fid, None)
        if cat is not None:
            self.category_counts[cat] -= 1
        prev = self._contrib.pop(fid, None)
        if prev is not None:
            self._add_totals([], [prev])
        self.bytes_total -= self._bytes.pop(fid, 0)
        return self._remove_row(fid)

    def _remove_row(self, fid: int) -> bool:
        """Take `fid` out of the rows only (its linger ran out: it still counts)."""
        key = self._keys.get(fid)
        if key is None:
            return False
        for cache in self._caches.values():
            cache.pop(fid, None)
        self._no_rtt.discard(fid)
        self._rows.remove(key)
        return True
