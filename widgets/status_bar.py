"""Status bar: where the data comes from, what filters apply, how much arrived, what was lost."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from rich.style import Style
from rich.text import Text
from textual.widget import Widget

from widgets.text import safe_text
from widgets.units import byte_rate


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

    def render(self) -> Text:
        parts = self._parts()
        width = self.content_size.width or 200
        # Drop the least important parts until the line fits (the sort and capture filter
        # first, then zero drops, the display filter, the counts; the source last, mode never).
        while len(parts) > 1 and sum(p.cell_len + 2 for _, p in parts) - 2 > width:
            parts.remove(max(parts, key=lambda item: item[0]))
        return Text("  ", no_wrap=True, overflow="ellipsis", end="").join(p for _, p in parts)

    def _parts(self) -> list[tuple[int, Text]]:
        """(priority, text) in display order; a higher priority number goes first when narrow.

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
        drop_style = self.get_component_rich_style("status-bar--drops") if drops else ""
        parts = [
            (0, Text(marks.get(s.mode, s.mode), self.get_component_rich_style(mode_style))),
            (1, safe_text(s.source)),
            (5, _field("capture ", key, safe_text(s.capture_filter))) if s.capture_filter else None,
            (3, _field("filter ", key, safe_text(s.display_filter or "none"))),
            (5, _field("sort ", key, Text(s.sort))) if s.sort else None,
            (2, _field("pkts ", key, Text(f"{s.packets:,}" + per_s))),
            (2, _field("flows ", key, Text(_flows(s)))),
            (
                (
                    3,
                    _field(
                        "avg " if s.bytes_average else "rate ", key, Text(byte_rate(s.bytes_per_s))
                    ),
                )
                if s.bytes_per_s is not None
                else None
            ),
            (4, _field("open ", key, Text(f"{s.flows_open:,}"))),
            (
                2 if drops else 4,
                _field(
                    "drops ",
                    key,
                    Text(
                        f"kernel {s.kernel_drops:,} queue {s.queue_drops:,} "
                        f"malformed {s.malformed:,}",
                        drop_style,
                    ),
                ),
            ),
            (
                (
                    3,
                    _field(
                        "not kept ",
                        key,
                        Text(
                            f"{s.frames_shed:,}",
                            self.get_component_rich_style("status-bar--shed"),
                        ),
                    ),
                )
                if s.frames_shed
                else None
            ),
        ]
        return [p for p in parts if p is not None]


def _flows(s: Status) -> str:
    """`3 of 16 match` under a filter, else `16`: the one rule of the main screen's counts
    (they count the flows the filter selects), said where the counts are."""
    if s.display_filter:
        return f"{s.flows_match:,} of {s.flows_total:,} match"
    return f"{s.flows_total:,}"


def _field(label: str, style: Style, value: Text) -> Text:
    text = Text(label, style, end="")
    text.append_text(value)
    return text
