"""Flag breakdown: segments per TCP flag of the flows the filter selects, rates, a sparkline.

`FlagRates` is the plain-data side: per-second buckets (capture time) of flag bytes, fed once per
tick with what the engine counted per flow, so rates and the sparkline are as deterministic as
the capture. It keeps the last minute's per-flow counts, so that a new filter recounts the
minute for the flows it selects. `FlagBreakdown` paints totals from `FlowList.flag_totals` (the
flows the filter selects) plus those rates.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable
from operator import itemgetter
from typing import Any, ClassVar

from rich.text import Text
from textual.widget import Widget

from capture.segment import ACK, CWR, ECE, FIN, PSH, RST, SYN, URG
from widgets.flow_list import FLAG_KEYS

LABELS: dict[str, str] = {
    "syn": "SYN",
    "synack": "SYN/ACK",
    "ack": "ACK",
    "psh": "PSH",
    "fin": "FIN",
    "rst": "RST",
    "urg": "URG",
    "ece": "ECE",
    "cwr": "CWR",
}

SPARK_SECONDS = 60
KEPT_ENTRIES = 400_000
"""Per-flow counts `(flow, second, flags)` kept for recounting at most (~30 MB): past it, the
oldest seconds are recounted as empty after a filter change."""
Entry = tuple[int, int, int]
"""`(flow id, second * 512 + flag bits, segments)`, as the engine's poll gives them."""
Matches = Callable[[int], bool] | None
"""Whether a flow id is selected by the filter (None: every flow)."""
WIDE = 110
"""Cells from which each flag's rate shows beside its count."""
_BARS = " ▁▂▃▄▅▆▇█"


def flag_hits(flags: int) -> tuple[int, ...]:
    """Which `FLAG_KEYS` counters one segment's flag byte adds to (syn is SYN without ACK)."""
    return (
        int(bool(flags & SYN) and not flags & ACK),
        int(bool(flags & SYN) and bool(flags & ACK)),
        int(bool(flags & ACK)),
        int(bool(flags & PSH)),
        int(bool(flags & FIN)),
        int(bool(flags & RST)),
        int(bool(flags & URG)),
        int(bool(flags & ECE)),
        int(bool(flags & CWR)),
    )


class FlagRates:
    """Per-second segment and flag counts over the last minute of capture time, of the flows
    a filter selects."""

    def __init__(self) -> None:
        self._seconds: deque[tuple[int, list[int]]] = deque()
        self._hits: dict[int, tuple[int, ...]] = {}
        self._kept: deque[tuple[int, list[Entry]]] = deque()
        """(newest second, the entries of one tick) of the last minute, for `recount`: the
        poll's own lists, kept whole (nothing is done per entry to keep them)."""
        self._kept_n = 0
        self._newest = 0

    def absorb(
        self, entries: list[Entry], totals: list[tuple[int, int]], matches: Matches = None
    ) -> None:
        """Add a tick's counts, those of the flows `matches` selects (see `Entry`); `totals`:
        the entries summed over every flow (the engine's), counted instead of the entries when
        every flow is selected."""
        if not entries:
            return
        newest = max(map(itemgetter(0), totals)) >> 9
        self._newest = max(self._newest, newest)
        self._kept.append((newest, entries))
        self._kept_n += len(entries)
        if matches is None:
            for packed, n in sorted(totals):
                self._add(packed, n)
        else:
            self._count(entries, matches)
        self._trim()

    def recount(self, matches: Matches) -> None:
        """Count the kept minute again for the flows `matches` selects (a new filter)."""
        self._seconds.clear()
        self._count([e for _, entries in self._kept for e in entries], matches)

    def _count(self, entries: list[Entry], matches: Matches) -> None:
        counted: Counter[int] = Counter()
        if matches is None:
            for _fid, packed, n in entries:
                counted[packed] += n
        else:
            for fid, packed, n in entries:
                if matches(fid):
                    counted[packed] += n
        # In time order (the engine's counts come unordered): a second is then never counted
        # after a newer one has pushed it out of the minute.
        for packed, n in sorted(counted.items()):
            self._add(packed, n)

    def _trim(self) -> None:
        kept, newest = self._kept, self._newest
        while kept and (kept[0][0] <= newest - SPARK_SECONDS or self._kept_n > KEPT_ENTRIES):
            self._kept_n -= len(kept.popleft()[1])

    def _add(self, packed: int, n: int) -> None:
        second, flags = divmod(packed, 512)
        bucket = self._bucket(second)
        hits = self._hits.get(flags)
        if hits is None:
            hits = self._hits[flags] = flag_hits(flags)
        for i, h in enumerate(hits):
            if h:
                bucket[i] += n
        bucket[-1] += n

    def _bucket(self, second: int) -> list[int]:
        secs = self._seconds
        if secs and secs[-1][0] == second:
            return secs[-1][1]
        for entry in reversed(secs):
            if entry[0] == second:
                return entry[1]
        new = [0] * (len(FLAG_KEYS) + 1)
        if not secs or second > secs[-1][0]:
            secs.append((second, new))
        elif second > secs[-1][0] - SPARK_SECONDS:  # a late second, still within the minute
            at = next(i for i, (s, _) in enumerate(secs) if s > second)
            secs.insert(at, (second, new))
        while secs and secs[0][0] <= secs[-1][0] - SPARK_SECONDS:
            secs.popleft()
        return new

    def rates(self, now: float) -> list[int]:
        """Per-flag counts in the last complete second before `now` (index -1: all segments)."""
        want = int(now) - 1
        for second, bucket in reversed(self._seconds):
            if second == want:
                return list(bucket)
            if second < want:
                break
        return [0] * (len(FLAG_KEYS) + 1)

    def spark(self, now: float) -> list[int]:
        """Segments per second for each of the last `SPARK_SECONDS` seconds, oldest first."""
        end = int(now)
        per = {s: b[-1] for s, b in self._seconds}
        return [per.get(s, 0) for s in range(end - SPARK_SECONDS + 1, end + 1)]


def sparkline(values: list[int], width: int) -> str:
    """`values` squeezed into `width` block characters, scaled to their maximum."""
    if width <= 0 or not values:
        return ""
    step = len(values) / width
    cols = [
        max(values[int(i * step) : max(int((i + 1) * step), int(i * step) + 1)])
        for i in range(width)
    ]
    top = max(cols) or 1
    return "".join(_BARS[0 if v == 0 else max(1, round(v / top * 8))] for v in cols)


class FlagBreakdown(Widget):
    """Totals per flag for the flows shown, their rate per second, illegal combinations apart."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "flag-breakdown--label",
        "flag-breakdown--count",
        "flag-breakdown--rate",
        "flag-breakdown--illegal",
        "flag-breakdown--spark",
    }

    DEFAULT_CSS = """
    FlagBreakdown { height: 2; padding: 0 1; }
    FlagBreakdown > .flag-breakdown--label { text-style: bold; }
    FlagBreakdown > .flag-breakdown--rate { color: $text-muted; }
    FlagBreakdown > .flag-breakdown--illegal { color: $error; text-style: bold; }
    FlagBreakdown > .flag-breakdown--spark { color: $accent; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.totals: list[int] = [0] * (len(FLAG_KEYS) + 1)
        self.rates: list[int] = [0] * (len(FLAG_KEYS) + 1)
        self.spark: list[int] = [0] * SPARK_SECONDS
        self.live = True
        """Whether rates are current (False: a file read to its end, rates are left out)."""

    def show(
        self, totals: list[int], rates: list[int], spark: list[int], live: bool = True
    ) -> None:
        """Take new figures; repaints only when they differ."""
        new = (totals, rates, spark, live)
        if new != (self.totals, self.rates, self.spark, self.live):
            self.totals, self.rates, self.spark = list(totals), list(rates), list(spark)
            self.live = live
            self.refresh()

    def render(self) -> Text:
        label = self.get_component_rich_style("flag-breakdown--label")
        count = self.get_component_rich_style("flag-breakdown--count")
        rate = self.get_component_rich_style("flag-breakdown--rate")
        text = Text(no_wrap=True, overflow="ellipsis")
        # Narrow terminals get counts only; rates per flag need about 110 cells.
        with_rates = self.live and self.content_size.width >= WIDE
        for i, key in enumerate(FLAG_KEYS):
            text.append(LABELS[key] + " ", label)
            text.append(f"{self.totals[i]:,}", count)
            text.append(f" {self.rates[i]}/s  " if with_rates else "  ", rate)
        line2 = Text(no_wrap=True)
        illegal = self.totals[len(FLAG_KEYS)]
        style = self.get_component_rich_style("flag-breakdown--illegal") if illegal else rate
        line2.append(f"illegal {illegal:,}", style)
        if self.live:
            line2.append(f"   segs {self.rates[-1]:,}/s  last 60s ", rate)
        else:
            line2.append("   segments a second over the capture's last 60 s ", rate)
        width = min(self.content_size.width - line2.cell_len, 120)
        spark_style = self.get_component_rich_style("flag-breakdown--spark")
        line2.append(sparkline(self.spark, width), spark_style)
        return Text("\n", no_wrap=True).join([text, line2])
