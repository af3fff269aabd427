"""The events feed: one line per engine event, newest at the bottom, following the tail.

    15:39:15.4  192.168.1.10:64859 → 68.71.212.158:80  handshake 77.6ms

Fed plain data (`set_events`): a sequence of event tuples and a mapping of flows by id to name
their endpoints. Line API: only the visible lines are formatted, and built strips are cached by
what they show. The cursor is a line; while it sits on the last line the feed follows new events
(`tail -f`); moving it up (or scrolling up) stops that, `end` resumes it. `enter` on a line posts
`EventFeed.FlowChosen`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from widgets.event_rows import line
from widgets.text import safe_str

Event = tuple[float, int, str, Any]

KIND_CLASS = {
    "handshake": "event-feed--handshake",
    "refused": "event-feed--refused",
    "reset": "event-feed--reset",
    "fin": "event-feed--closing",
    "time_wait": "event-feed--closing",
    "syn_retry": "event-feed--retry",
    "evicted": "event-feed--gone",
    "released": "event-feed--gone",
}
"""The component class each kind's words are painted with."""


class EventFeed(ScrollView, can_focus=True):
    """Events as lines: capture time, originator → responder, what happened."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "event-feed--time",
        "event-feed--cursor",
        "event-feed--empty",
        *KIND_CLASS.values(),
    }

    DEFAULT_CSS = """
    EventFeed { height: 1fr; scrollbar-size-vertical: 1; overflow-x: hidden; }
    EventFeed > .event-feed--time { color: $text-muted; }
    EventFeed > .event-feed--cursor { background: $block-cursor-background; }
    EventFeed > .event-feed--empty { color: $text-muted; text-style: italic; }
    EventFeed > .event-feed--handshake { color: $text-success; }
    EventFeed > .event-feed--refused { color: $text-error; text-style: italic; }
    EventFeed > .event-feed--reset { color: $text-error; }
    EventFeed > .event-feed--closing { color: $text-secondary; }
    EventFeed > .event-feed--retry { color: $text-warning; }
    EventFeed > .event-feed--gone { color: $text-muted; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("k", "cursor(-1)", "Up", show=False),
        Binding("j", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "cursor(-1000000000)", "First", show=False),
        Binding("end", "cursor(1000000000)", "Last", show=False),
        Binding("enter", "select", "Open flow"),
    ]

    class FlowChosen(Message):
        """`enter` (or a click) on an event: open its flow."""

        def __init__(self, flow_id: int) -> None:
            self.flow_id = flow_id
            super().__init__()

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.events: Sequence[Event] = ()
        self.flows: Mapping[int, Any] = {}
        self.cursor = 0
        self.following = True
        """The cursor sits on the newest event and moves on with the next ones."""
        self.empty_text = "No events yet."
        self._styles: dict[str, Style] | None = None
        self._cache: LRUCache[tuple[Any, ...], Strip] = LRUCache(512)

    # -- data -------------------------------------------------------------------------------

    def set_events(self, events: Sequence[Event], flows: Mapping[int, Any]) -> None:
        """Show `events` (oldest first), naming endpoints from `flows` (by flow id)."""
        current = self.events[self.cursor] if 0 <= self.cursor < len(self.events) else None
        self.events, self.flows = events, flows
        # No horizontal scroll: a line too wide for the view drops its column padding first.
        self.virtual_size = Size(0, len(events))
        if self.following or current is None:
            self.cursor = max(0, len(events) - 1)
        else:  # the cursor stays on its event (found from where it was, the list only grows)
            self.cursor = max(0, _find(events, current, self.cursor))
        if self.following:  # after the next layout: the screen may not have been sized yet
            self.call_after_refresh(self.scroll_to, y=self.cursor, animate=False)
        self.refresh()

    def line_text(self, index: int) -> str:
        """Line `index` as plain text (what is drawn, without styles)."""
        return "  ".join(self._texts(index))

    @property
    def selected(self) -> Event | None:
        """The event under the cursor."""
        return self.events[self.cursor] if 0 <= self.cursor < len(self.events) else None

    # -- keys and mouse -----------------------------------------------------------------------

    def action_cursor(self, delta: int) -> None:
        """Move the cursor by `delta` lines; on the last line the feed follows again."""
        if self.events:
            self.move_to(max(0, min(len(self.events) - 1, self.cursor + delta)))

    def action_page(self, direction: int) -> None:
        self.action_cursor(direction * max(1, self.size.height - 1))

    def move_to(self, index: int) -> None:
        """Put the cursor on line `index` and scroll it into view."""
        self.cursor = index
        self.following = index >= len(self.events) - 1
        self.scroll_to_region(Region(0, index, 1, 1), animate=False, immediate=True)
        self.refresh()

    def action_select(self) -> None:
        event = self.selected
        if event is not None:
            self.post_message(self.FlowChosen(event[1]))

    def on_click(self, event: events.Click) -> None:
        index = event.y + self.scroll_offset.y
        if 0 <= index < len(self.events):
            if index == self.cursor:
                self.action_select()
            else:
                self.move_to(index)

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        self.following = False  # the user looks back: new events no longer pull the view down

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        if self.scroll_y >= self.max_scroll_y and self.cursor >= len(self.events) - 1:
            self.following = True

    # -- rendering ----------------------------------------------------------------------------

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles = None
        self._cache.clear()

    def _style(self, name: str) -> Style:
        if self._styles is None:
            base = self.rich_style
            names = [c for c in self.COMPONENT_CLASSES if c != "event-feed--cursor"]
            styles = {c: base + self.get_component_rich_style(c, partial=True) for c in names}
            styles[""] = base
            styles["event-feed--cursor"] = self.get_component_rich_style(
                "event-feed--cursor", partial=True
            )
            self._styles = styles
        return self._styles[name]

    def _texts(self, index: int) -> tuple[str, str, str]:
        event = self.events[index]
        when, ends, what = line(event, self.flows.get(event[1]))
        return when, safe_str(ends), safe_str(what)

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        base = self._style("")
        index = y + self.scroll_offset.y
        if not self.events:
            if y == 0:
                return Strip([Segment(self.empty_text, self._style("event-feed--empty"))])
            return Strip.blank(width, base)
        if index >= len(self.events):
            return Strip.blank(width, base)
        event = self.events[index]
        flow = self.flows.get(event[1])
        ends = (flow.orig_addr, flow.orig_port, flow.resp_addr) if flow is not None else None
        key = (event, ends, index == self.cursor, width)
        strip = self._cache.get(key)
        if strip is None:
            strip = self._cache[key] = self._build(index)
        x = self.scroll_offset.x
        pad = base + self._style("event-feed--cursor") if index == self.cursor else base
        return strip.crop(x, x + width).extend_cell_length(width, pad)

    def _build(self, index: int) -> Strip:
        when, ends, what = self._texts(index)
        if (
            cell_len(when) + cell_len(ends) + cell_len(what) + 4
            > self.scrollable_content_region.width
        ):
            ends = " ".join(ends.split())
        kind = self.events[index][2]
        segments = [
            Segment(when + "  ", self._style("event-feed--time")),
            Segment(ends + "  ", self._style("")),
            Segment(what, self._style(KIND_CLASS.get(kind, ""))),
        ]
        if index == self.cursor:
            cursor = self._style("event-feed--cursor")
            segments = list(Segment.apply_style(segments, post_style=cursor))
        return Strip(segments).simplify()


def _find(events: Sequence[Event], event: Event, near: int) -> int:
    """The index of `event` in `events` (looked for from `near` down: the history drops its
    oldest events, so it moved up if anything); `near`, kept in range, when it is filtered out."""
    for i in range(min(near, len(events) - 1), -1, -1):
        if events[i] is event:
            return i
    return next((i for i, e in enumerate(events) if e is event), min(near, len(events) - 1))
