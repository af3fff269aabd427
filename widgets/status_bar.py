"""Status bar: where the data comes from, what filters apply, how much arrived, what was lost."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip
from textual.widget import Widget

from widgets.text import fit_strip, safe_str
from widgets.units import byte_rate

Piece = tuple[str, Style | None]
"""A run of text and its style (None: the bar's own)."""


@dataclass(slots=True)
class Status:
    """Everything the status bar shows, as plain data."""

    source: str = ""
    capture_filter: str = ""
    display_filter: str = ""
    packets: int = 0
    packets_per_s: int = 0
    flows_open: int = 0
    """Flows the display filter selects that are not finished."""
    flows_match: int = 0
    """Flows the display filter selects (every count on the main screen counts these)."""
    flows_total: int = 0
    """Every flow tracked."""
    kernel_drops: int = 0
    queue_drops: int = 0
    frames_shed: int = 0
    """Segments tracked without their frames kept for the flow screen (live, while tracking
    was behind the capture)."""
    malformed: int = 0
    bytes_per_s: float | None = None
    """Payload bytes a second of the flows the display filter selects (None: not known)."""
    bytes_average: bool = False
    """Whether `bytes_per_s` is an average over the capture (a file read whole, or a capture
    that ended), not a current rate."""
    sort: str = ""
    """The sort shown, e.g. `last seen ▼`."""
    rates: bool = True
    """Whether per-second rates mean anything (not for a file read to its end)."""
    mode: str = "live"
    """`live`, `paused`, `loading`, `end` (a file read to its end) or `stopped` (a live
    capture that ended: its interface went away, or `-c`/`--duration` was reached)."""
    extra: dict[str, str] = field(default_factory=dict)


class StatusBar(Widget):
    """One line at the foot of the main screen; drops and pauses stand out."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "status-bar--key",
        "status-bar--live",
        "status-bar--paused",
        "status-bar--drops",
        "status-bar--shed",
    }

    DEFAULT_CSS = """
    StatusBar { height: 1; background: $panel; padding: 0 1; }
    StatusBar > .status-bar--key { color: $text-muted; }
    StatusBar > .status-bar--live { color: $success; text-style: bold; }
    StatusBar > .status-bar--paused { color: $warning; text-style: bold reverse; }
    StatusBar > .status-bar--drops { color: $error; text-style: bold; }
    StatusBar > .status-bar--shed { color: $warning; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.status = Status()

    def show(self, status: Status) -> None:
        """Take new figures; repaints only when they differ."""
        if status != self.status:
            self.status = status
            self.refresh()

    def render_line(self, y: int) -> Strip:
        """The bar's one line, built as segments: live, it changes at every tick, and a `Text`
        went through Textual's conversion each time (most of the bar's repaint)."""
        width = self.size.width
        base = self.rich_style
        if y:
            return Strip.blank(width, base)
        parts = self._parts()
        # Drop the least important parts until the line fits (the sort and capture filter
        # first, then zero drops, the display filter, the counts; the source last, mode never).
        cells = [sum(cell_len(text) for text, _ in part) + 2 for _, part in parts]
        while len(parts) > 1 and sum(cells) - 2 > width:
            drop = max(range(len(parts)), key=lambda i: parts[i][0])
            del parts[drop], cells[drop]
        segments = []
        for i, (_, part) in enumerate(parts):
            if i:
                segments.append(Segment("  ", base))
            segments.extend(Segment(text, base + style if style else base) for text, style in part)
        return fit_strip(Strip(segments), width, base)  # one part alone may be too long

    def shown(self) -> str:
        """The line as it shows now, as plain text."""
        return self.render_line(0).text

    def _parts(self) -> list[tuple[int, list[Piece]]]:
        """(priority, pieces) in display order; a higher priority number goes first when narrow.

        What is being watched (the interface or file) matters most after the mode: counts and
        drops mean little without it. Drops that happened rank with the counts."""
        s = self.status
        key = self.get_component_rich_style("status-bar--key")
        mode_style = "status-bar--paused" if s.mode == "paused" else "status-bar--live"
        marks = {
            "live": "● LIVE",
            "paused": "❚❚ PAUSED",
            "loading": "◌ LOADING",
            "end": "■ END",
            "stopped": "■ STOPPED",
        }
        drops = s.kernel_drops + s.queue_drops + s.malformed
        per_s = f" ({s.packets_per_s:,}/s)" if s.rates else ""
        drop_style = self.get_component_rich_style("status-bar--drops") if drops else None
        shed_style = self.get_component_rich_style("status-bar--shed")
        rate_label = "avg " if s.bytes_average else "rate "
        drop_counts = f"kernel {s.kernel_drops:,} queue {s.queue_drops:,} malformed {s.malformed:,}"
        parts: list[tuple[int, list[Piece]] | None] = [
            (0, [(marks.get(s.mode, s.mode), self.get_component_rich_style(mode_style))]),
            (1, [(safe_str(s.source), None)]),
            (5, _field("capture ", key, safe_str(s.capture_filter))) if s.capture_filter else None,
            (3, _field("filter ", key, safe_str(s.display_filter or "none"))),
            (5, _field("sort ", key, s.sort)) if s.sort else None,
            (2, _field("pkts ", key, f"{s.packets:,}" + per_s)),
            (2, _field("flows ", key, _flows(s))),
            (
                (3, _field(rate_label, key, byte_rate(s.bytes_per_s)))
                if s.bytes_per_s is not None
                else None
            ),
            (4, _field("open ", key, f"{s.flows_open:,}")),
            (2 if drops else 4, _field("drops ", key, drop_counts, drop_style)),
            (3, _field("not kept ", key, f"{s.frames_shed:,}", shed_style))
            if s.frames_shed
            else None,
        ]
        return [p for p in parts if p is not None]


def _flows(s: Status) -> str:
    """`3 of 16 match` under a filter, else `16`: the one rule of the main screen's counts
    (they count the flows the filter selects), said where the counts are."""
    if s.display_filter:
        return f"{s.flows_match:,} of {s.flows_total:,} match"
    return f"{s.flows_total:,}"


def _field(label: str, style: Style, value: str, value_style: Style | None = None) -> list[Piece]:
    return [(label, style), (value, value_style)]
