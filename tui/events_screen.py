"""The events screen (`e`): the engine's events as a scrolling feed, under the display filter.

The App keeps the history (`tui.event_history`); while this screen is shown, each tick hands it
the flows that changed and it re-selects the events to show only if the history or a verdict of
the filter moved. The filter is the main screen's: an event is shown when its flow (tracked, or
the snapshot it left when it went) is one the filter selects, judged once per flow and again
only when that flow changes. `enter` opens the event's flow while it is still tracked.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Callable
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Static

from capture.insights.text import count
from tui.event_history import Event, EventHistory
from widgets.event_feed import EventFeed
from widgets.key_bar import KeyBar
from widgets.text import safe_text


class EventsScreen(Screen[None]):
    """The feed of handshakes, refusals, resets, FINs, TIME_WAITs, SYN retries and evictions."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("e", "back", "Back", show=False),
    ]

    DEFAULT_CSS = """
    EventsScreen #events-title { height: 1; padding: 0 1; background: $panel; }
    """

    def __init__(
        self,
        history: EventHistory,
        flows: Any,
        predicate: Callable[[Any], bool] | None = None,
        display_filter: str = "",
    ) -> None:
        super().__init__()
        self.history = history
        self.tracked = flows
        self.predicate = predicate
        self.display_filter = display_filter
        self.shown: list[Event] = []
        self._verdicts: dict[int, bool] = {}
        self._seen: tuple[Any, ...] = ()
        self._stale = False
        # Kept, not queried: a tick may arrive before the screen is composed.
        self.feed = EventFeed(id="events-feed")
        self.title_bar = Static("", id="events-title")

    def compose(self) -> ComposeResult:
        yield self.title_bar
        yield self.feed
        yield KeyBar()

    def on_mount(self) -> None:
        self.feed.focus()

    def on_screen_resume(self) -> None:
        # Shown again (first, or back from a flow): ticks meanwhile went unseen, judge afresh.
        self._verdicts = {}
        self.update(set(), force=True)

    def forget(self, changed: set[int]) -> None:
        """Judge the flows in `changed` again at the next `update` (they moved meanwhile)."""
        verdicts = self._verdicts
        for fid in changed & verdicts.keys():
            del verdicts[fid]
            self._stale = True

    def update(self, changed: set[int], force: bool = False) -> None:
        """Follow the history after a tick; `changed`: the flows whose verdict may have moved."""
        self.forget(changed)
        signature = (self.history.version, len(self.history.gone), self.history.let_go)
        if not (force or self._stale or signature != self._seen):
            return
        self._seen, self._stale = signature, False
        flows = ChainMap(self.tracked, self.history.gone)
        self.shown = self._select(flows)
        self.feed.empty_text = self._empty_text()
        self.feed.set_events(self.shown, flows)
        self.title_bar.update(safe_text(self._title()))

    def _select(self, flows: ChainMap[int, Any]) -> list[Event]:
        events = self.history.events
        if self.predicate is None:
            return list(events)
        verdicts, shown = self._verdicts, self.predicate
        for fid in {e[1] for e in events} - verdicts.keys():
            flow = flows.get(fid)
            verdicts[fid] = flow is not None and bool(shown(flow))
        return [e for e in events if verdicts[e[1]]]

    def _title(self) -> str:
        h = self.history
        total = len(h.events)
        text = f"Events: {len(self.shown):,} shown of {count(total, 'event')}"
        if self.display_filter:
            text += f" matching {self.display_filter}"
        losses = []
        if h.let_go:
            losses.append(f"{h.let_go:,} older let go")
        if h.engine_dropped:
            losses.append(f"{h.engine_dropped:,} dropped unread")
        if losses:
            text += " (" + ", ".join(losses) + ")"
        return text

    def _empty_text(self) -> str:
        if self.history.events and self.predicate is not None:
            return "No event of a flow the filter selects (escape, then c clears it)."
        return "No events yet: handshakes, refusals, resets and teardowns appear here."

    def action_back(self) -> None:
        self.app.pop_screen()

    def on_event_feed_flow_chosen(self, message: EventFeed.FlowChosen) -> None:
        if message.flow_id not in self.tracked:
            self.notify("That flow is no longer tracked.", severity="warning")
            return
        open_flow = getattr(self.app, "open_flow", None)
        if open_flow is not None:
            open_flow(message.flow_id)
