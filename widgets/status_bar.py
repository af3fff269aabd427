"""Status bar: where the data comes from, what filters apply, how much arrived, what was lost."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from rich.text import Text
from textual.widget import Widget

from widgets.text import safe_text


@dataclass(slots=True)
class Status:
    """Everything the status bar shows, as plain data."""

    source: str = ""
    capture_filter: str = ""
    display_filter: str = ""
    packets: int = 0
    packets_per_s: int = 0
    flows_open: int = 0
    flows_total: int = 0
    kernel_drops: int = 0
    queue_drops: int = 0
    malformed: int = 0
    mode: str = "live"
    """`live`, `paused`, `loading` or `end` (a file read to its end)."""
    extra: dict[str, str] = field(default_factory=dict)


class StatusBar(Widget):
    """One line at the foot of the main screen; drops and pauses stand out."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "status-bar--key",
        "status-bar--live",
        "status-bar--paused",
        "status-bar--drops",
    }

    DEFAULT_CSS = """
    StatusBar { height: 1; background: $panel; padding: 0 1; }
    StatusBar > .status-bar--key { color: $text-muted; }
    StatusBar > .status-bar--live { color: $success; text-style: bold; }
    StatusBar > .status-bar--paused { color: $warning; text-style: bold reverse; }
    StatusBar > .status-bar--drops { color: $error; text-style: bold; }
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
        s = self.status
        key = self.get_component_rich_style("status-bar--key")
        mode_style = "status-bar--paused" if s.mode == "paused" else "status-bar--live"
        marks = {"live": "● LIVE", "paused": "❚❚ PAUSED", "loading": "◌ LOADING", "end": "■ END"}
        text = Text(no_wrap=True, overflow="ellipsis", end="")
        text.append(marks.get(s.mode, s.mode), self.get_component_rich_style(mode_style))
        text.append("  ")
        text.append_text(safe_text(s.source))
        if s.capture_filter:
            text.append("  capture ", key)
            text.append_text(safe_text(s.capture_filter))
        text.append("  filter ", key)
        text.append_text(safe_text(s.display_filter or "none"))
        text.append("  pkts ", key)
        text.append(f"{s.packets:,} ({s.packets_per_s:,}/s)")
        text.append("  flows ", key)
        text.append(f"{s.flows_open:,} open / {s.flows_total:,}")
        drops = s.kernel_drops + s.queue_drops + s.malformed
        text.append("  drops ", key)
        style = self.get_component_rich_style("status-bar--drops") if drops else ""
        text.append(
            f"kernel {s.kernel_drops:,} queue {s.queue_drops:,} malformed {s.malformed:,}", style
        )
        return text
