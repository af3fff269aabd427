"""Current byte rates per flow and in total, from what each tick says changed.

No segment is looked at: the engine reports which flows changed since the last tick, and a flow
that did not change received no byte. Each changed flow's payload bytes (both directions, as
the `bytes o/r` column counts them) are compared with what it had at its last change; the
difference goes into the bucket of the view clock's current second. A flow's rate is what its
buckets of the last `WINDOW` complete seconds hold, divided by `WINDOW` (as iftop's 2 s column;
it moves once a second, as the rows do). Kept: a byte total per flow seen and `WINDOW + 1`
buckets of the flows that moved in them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any

WINDOW = 3
"""Complete seconds a current rate is measured over."""


class ByteRates:
    """Payload bytes per flow and second over the last `WINDOW` seconds of the view's clock."""

    def __init__(self) -> None:
        self._bytes: dict[int, int] = {}
        """Payload bytes of each flow at its last change."""
        self._buckets: deque[tuple[int, dict[int, int]]] = deque()
        """(second, {flow id: bytes in that second}), oldest first."""
        self._totals: dict[int, int] = {}
        """A complete second's bytes over the flows selected (cached until `forget_totals`)."""
        self.second = 0
        """The view clock's second at the last update."""
        self._moved: set[int] = set()
        """Flows whose rate may have changed since `take_moved` (their window rolled)."""

    def update(self, flows: Mapping[int, Any], changed: Iterable[int], now: float) -> None:
        """Take in the flows that changed by `now` (view clock)."""
        second = int(now)
        if second != self.second:
            # The window rolled: every flow with bytes in the kept buckets may read differently.
            for _, bucket in self._buckets:
                self._moved.update(bucket)
            self.second = second
            while self._buckets and self._buckets[0][0] < second - WINDOW:
                self._totals.pop(self._buckets.popleft()[0], None)
        bucket = None
        kept = self._bytes
        for fid in changed:
            flow = flows.get(fid)
            if flow is None:
                kept.pop(fid, None)
                continue
            total = flow.orig.payload + flow.resp.payload
            delta = total - kept.get(fid, 0)
            if delta:
                kept[fid] = total
                if bucket is None:
                    bucket = self._bucket(second)
                bucket[fid] = bucket.get(fid, 0) + delta

    def _bucket(self, second: int) -> dict[int, int]:
        buckets = self._buckets
        if buckets and buckets[-1][0] == second:
            return buckets[-1][1]
        if buckets and buckets[-1][0] > second:  # the clock never goes back; a late tick adds
            return buckets[-1][1]
        new: dict[int, int] = {}
        buckets.append((second, new))
        return new

    def _window(self, second: int) -> list[dict[int, int]]:
        """The buckets of the `WINDOW` complete seconds before `second`."""
        return [b for s, b in self._buckets if second - WINDOW <= s < second]

    def rate(self, fid: int, now: float) -> float:
        """Flow `fid`'s payload bytes a second over the last `WINDOW` complete seconds."""
        return sum(b.get(fid, 0) for b in self._window(int(now))) / WINDOW

    def key(self, fid: int) -> int:
        """A sort key growing with `rate(fid)` at the last update's second."""
        return sum(b.get(fid, 0) for b in self._window(self.second))

    def total(self, now: float, matches: Callable[[int], bool] | None) -> float:
        """Bytes a second over the last `WINDOW` complete seconds of the flows `matches`
        selects (all when None); a complete second is summed once until `forget_totals`."""
        second = int(now)
        out = 0
        for s, bucket in self._buckets:
            if not second - WINDOW <= s < second:
                continue
            got = self._totals.get(s)
            if got is None:
                values = bucket.values() if matches is None else (
                    n for fid, n in bucket.items() if matches(fid)
                )  # fmt: skip
                got = self._totals[s] = sum(values)
            out += got
        return out / WINDOW

    def forget_totals(self) -> None:
        """The filter changed: sum the seconds again for the flows it selects."""
        self._totals.clear()

    def take_moved(self) -> set[int]:
        """Flows whose rate may read differently since the last call."""
        out, self._moved = self._moved, set()
        return out
