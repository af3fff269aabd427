"""Flag breakdown: segments per TCP flag of the flows the filter selects, rates, a sparkline.

`FlagRates` is the plain-data side: per-second buckets (capture time) of flag bytes, fed once per
tick with what the engine counted for the flows the filter selects, so rates and the sparkline
are as deterministic as the capture. The engine keeps the last minute's per-flow counts, so that
a new filter recounts the minute for the flows it selects. `FlagBreakdown` paints totals from
`FlowList.flag_totals` (the flows the filter selects) plus those rates.
"""

from __future__ import annotations

from collections import deque
from typing import Any, ClassVar

from rich.segment import Segment
from textual.strip import Strip
from textual.widget import Widget

from capture.segment import ACK, CWR, ECE, FIN, PSH, RST, SYN, URG
from widgets.flow_list import FLAG_KEYS
from widgets.text import fit_strip

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
Counts = list[tuple[int, int]]
"""Segments per `(second * 512 + flag bits, segments)`, in time order, as the engine sums them
(a second is then never counted after a newer one has pushed it out of the minute)."""
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
    a filter selects (the engine sums them: `Counts`)."""

    def __init__(self) -> None:
        self._seconds: deque[tuple[int, list[int]]] = deque()
        self._hits: dict[int, tuple[int, ...]] = {}

    def absorb(self, counts: Counts) -> None:
        """Add a tick's counts."""
        for packed, n in counts:
            self._add(packed, n)

    def recount(self, counts: Counts) -> None:
        """Start again from `counts` (the engine's recount of the last minute for a new
        filter)."""
        self._seconds.clear()
        self.absorb(counts)

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

    def render_line(self, y: int) -> Strip:
        """Line `y` (0: the flags, 1: illegal, segments a second, the sparkline), built as
        segments: live, it changes at every tick, and a `Text` went through Textual's
        conversion each time (most of the breakdown's repaint)."""
        width = self.size.width
        base = self.rich_style
        if y > 1:
            return Strip.blank(width, base)
        rate = base + self.get_component_rich_style("flag-breakdown--rate")
        if y == 0:
            label = base + self.get_component_rich_style("flag-breakdown--label")
            count = base + self.get_component_rich_style("flag-breakdown--count")
            # Narrow terminals get counts only; rates per flag need about 110 cells.
            with_rates = self.live and width >= WIDE
            segments = []
            for i, key in enumerate(FLAG_KEYS):
                segments.append(Segment(LABELS[key] + " ", label))
                segments.append(Segment(f"{self.totals[i]:,}", count))
                segments.append(Segment(f" {self.rates[i]}/s  " if with_rates else "  ", rate))
            return fit_strip(Strip(segments), width, base)
        illegal = self.totals[len(FLAG_KEYS)]
        style = base + self.get_component_rich_style("flag-breakdown--illegal") if illegal else rate
        if self.live:
            per_s = f"   segs {self.rates[-1]:,}/s  last 60s "
        else:
            per_s = "   segments a second over the capture's last 60 s "
        text = Strip([Segment(f"illegal {illegal:,}", style), Segment(per_s, rate)])
        spark = base + self.get_component_rich_style("flag-breakdown--spark")
        bars = sparkline(self.spark, min(width - text.cell_length, 120))
        return fit_strip(Strip([*text, Segment(bars, spark)]), width, base)

    def shown(self) -> str:
        """Both lines as they show now, as plain text."""
        return "\n".join(self.render_line(y).text for y in range(2))
