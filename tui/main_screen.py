"""The main screen: connection table, flag breakdown, filter bar, status bar, footer.

The App's drain timer calls `apply` once per tick with what came in; this screen turns it into
one incremental model update and one repaint of the widgets that changed.
"""

from __future__ import annotations

from itertools import islice
from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.reactive import Reactive
from textual.screen import Screen
from textual.widget import Widget

from capture.filterexpr import FilterError, compile_filter
from capture.safetext import escape_untrusted
from tui.drain import Drained
from widgets.byte_rates import ByteRates
from widgets.conn_rows import FINISHED
from widgets.conn_table import ConnectionTable
from widgets.filter_bar import FilterBar
from widgets.flag_breakdown import FlagBreakdown, FlagRates
from widgets.flow_list import SORT_KEYS, SORT_ORDER, FlowList
from widgets.key_bar import KeyBar
from widgets.status_bar import Status, StatusBar

if TYPE_CHECKING:
    from tui.app import TcpwatchApp


UPDATE_LIMIT = 10_000
"""Flows folded into the table per tick at most (6-10 us each here): a tick stays bounded even
when a whole capture's flows change at once (end of file); the rest follow on the next ticks."""


class MainScreen(Screen[None]):
    """Every flow at a glance."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "open_filter", "Filter"),
        Binding("c", "clear_filter", "Clear filter"),
        # One of the two shows in the footer (`check_action`): what space does now.
        Binding("space", "pause", "Pause"),
        Binding("space", "resume", "Resume"),
        Binding("s", "cycle_sort", "Sort"),
        Binding("S", "reverse_sort", "Reverse", show=False),
    ]

    focused: Reactive[Widget | None] = Reactive(None, repaint=False)
    """As Textual's `Screen.focused`, without repainting the whole screen when the focus moves:
    the widgets that gain and lose it repaint themselves. `/` moves it to the filter bar and
    back; a repaint of every line made those keys cost as much as a whole tick's render."""

    def __init__(
        self, flows: Any, *, linger: float, display_filter: str = "", rates: bool = True
    ) -> None:
        """`rates`: whether current byte rates mean anything (live, a replay; not a file read
        whole, which shows average rates only)."""
        super().__init__()
        self.flows = flows
        self.model = FlowList(linger=linger, rates=ByteRates() if rates else None)
        self.rates = FlagRates()
        self.display_filter = ""
        self.paused = False
        self._pending: set[int] = set()
        self._initial_filter = display_filter
        # Kept, not queried, so that a tick arriving while the app shuts down finds them.
        self.table = ConnectionTable(self.model, flows, id="connections")
        self.breakdown = FlagBreakdown(id="flags")
        self.status_bar = StatusBar(id="status")

    @property
    def tcp_app(self) -> TcpwatchApp:
        """The App, typed."""
        from tui.app import TcpwatchApp  # noqa: PLC0415  (import cycle: the App imports us)

        assert isinstance(self.app, TcpwatchApp)
        return self.app

    def compose(self) -> ComposeResult:
        yield self.table
        yield FilterBar(id="filter-bar")
        yield self.breakdown
        yield self.status_bar
        yield KeyBar()

    def on_mount(self) -> None:
        if self._initial_filter:
            self.apply_filter(self._initial_filter)
        self.table.focus()
        self.tcp_app.tick()

    # -- per tick ----------------------------------------------------------------------------

    def apply(self, drained: Drained, now: float, status: Status) -> None:
        """Fold one tick into the view (called by the App inside `batch_update`)."""
        self.rates.absorb(self._flag_counts(drained))
        if self.paused:
            self._pending |= drained.changed
        else:
            self._update_model(drained.changed, now)
        status.display_filter = self.display_filter
        status.flows_match = self.model.matching
        status.flows_open = self.open_flows()
        # A file read to its end (or a stopped capture) has no current rate: none is shown.
        status.rates = status.mode not in ("end", "stopped")
        self._byte_rate(status, now)
        arrow = "▼" if self.model.descending else "▲"
        status.sort = f"{SORT_KEYS[self.model.sort][0]} {arrow}"
        status.mode = "paused" if self.paused else status.mode
        self.status_bar.show(status)
        self.breakdown.show(
            self.model.flag_totals, self.rates.rates(now), self.rates.spark(now), status.rates
        )
        self.table.empty_text = self._empty_text(status)

    def note_bytes(self, drained: Drained, now: float) -> None:
        """Take in the bytes the flows that changed gained, at the clock of the drain that
        brought them (called right after it: the tick's update may run later, after a sip
        has moved the clock on). Bytes come in while paused too."""
        if self.model.rates is not None:
            self.model.rates.update(self.flows, drained.changed, now)

    def absorb(self, drained: Drained, now: float) -> None:
        """Fold segments drained between ticks into the model only (see `TcpwatchApp.sip`):
        the rows' order and the cursor follow, but nothing is repainted until the next tick."""
        self.rates.absorb(self._flag_counts(drained))
        if self.paused:
            self._pending |= drained.changed
        elif drained.changed:
            self._update_model(drained.changed, now, repaint=False)

    def _byte_rate(self, status: Status, now: float) -> None:
        """The status bar's byte rate of the flows the filter selects: over the last seconds
        while there is a "now", else their bytes over the capture's span (a file's average)."""
        model = self.model
        if model.rates is not None and status.rates:
            matches = None if model.predicate is None else model.matches
            status.bytes_per_s = model.rates.total(now, matches)
            return
        span = now - model.first_ts
        status.bytes_per_s = model.bytes_total / span if span > 0 else None
        status.bytes_average = True

    def _update_model(self, changed: set[int], now: float, repaint: bool = True) -> None:
        if self._pending:
            changed = changed | self._pending
            self._pending = set()
        if len(changed) > UPDATE_LIMIT:
            # The end of a big file marks every flow changed: spread that over a few ticks.
            rest = changed
            changed = set(islice(rest, UPDATE_LIMIT))
            self._pending = rest - changed
        if changed or (repaint and self.model.expire_due(now)):
            self.model.update(self.flows, changed, now)
        self.table.sync(now, repaint=repaint)

    def _empty_text(self, status: Status) -> str:
        """What the table says while it shows no row: why, and what to do about it."""
        if self.flows and self.display_filter:
            return "No flow matches the filter (c clears it, / changes it)."
        if self.paused:
            return "Paused: space resumes."
        if status.mode == "live":  # live, or a replay still playing
            return self._waiting_text()
        if status.mode == "loading":
            return "Reading the capture…"
        return "" if self.flows else "No TCP flows seen."

    def _waiting_text(self) -> str:
        """Live and nothing yet: on which interface, through which filters."""
        source = self.tcp_app.source
        iface, bpf = getattr(source, "iface", None), getattr(source, "bpf", "")
        where = f" on {iface}" if iface else ""  # a replay has no interface
        if bpf:
            where += f", capture filter {bpf}"
        if self.display_filter:
            where += f", display filter {self.display_filter}"
        # the filters are the user's words, yet they come from a command line: no controls
        return escape_untrusted(
            f"Waiting for TCP traffic{where}… (rows appear as connections are seen)"
        )

    def open_flows(self) -> int:
        """Flows the filter selects that are not finished."""
        finished = sum(self.model.category_counts.get(c, 0) for c in FINISHED)
        return self.model.matching - finished

    def _flag_counts(self, drained: Drained) -> list[tuple[int, int]]:
        """The drained flag counts of the flows the filter selects: none when the filter
        changed since the drain counted them (the new filter's recount already holds them)."""
        pred = self.model.predicate
        if pred is None:
            return drained.flag_totals if drained.counted_for is None else []
        if drained.counted_for is not pred:
            return []
        return drained.flag_matched or []

    # -- filter ------------------------------------------------------------------------------

    def action_open_filter(self) -> None:
        self.query_one(FilterBar).open(self.display_filter)

    def apply_filter(self, expression: str, pinned: frozenset[int] | None = None) -> bool:
        """Compile and apply `expression`; on error show it in the bar and keep the old filter.

        `pinned`: flows that stay in view while this filter is in force, however long ago they
        finished (a finding's flows). Applying the same expression again keeps its pins;
        another filter drops them."""
        bar = self.query_one(FilterBar)
        try:
            predicate = compile_filter(expression)
        except FilterError as err:
            bar.open(expression)
            bar.show_error(str(err))
            return False
        if pinned is not None:
            self.model.pinned = pinned
        elif expression != self.display_filter:
            self.model.pinned = frozenset()
        self.display_filter = expression
        self.model.predicate = predicate if expression else None
        self.model.rebuild(self.flows, self.tcp_app.now())
        self.rates.recount(self.tcp_app.drain.flag_minute(self.model.predicate))
        if self.model.rates is not None:
            self.model.rates.forget_totals()
        bar.remember(expression)
        self.table.sync(self.tcp_app.now())
        # The status bar says the filter and its matches now, not at the next tick (a key
        # puts that off: `tui.input_first`).
        self.tcp_app.refresh_status()
        self.refresh_bindings()
        return True

    def on_filter_bar_submitted(self, event: FilterBar.Submitted) -> None:
        if self.apply_filter(event.expression):
            self.query_one(FilterBar).close()
            self.focus_table()

    def on_filter_bar_cancelled(self, event: FilterBar.Cancelled) -> None:
        self.focus_table()

    def focus_table(self) -> None:
        """Give the table the focus, without the repaint of all its lines that Textual's
        `Widget.focus` asks for (the table looks the same with or without it)."""
        self.set_focus(self.table, scroll_visible=False)

    def action_clear_filter(self) -> None:
        """Show every flow again (the bar closes if it was open)."""
        if self.apply_filter(""):
            self.query_one(FilterBar).close()
            self.focus_table()
            self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """`c` (clear filter) is offered only while a filter is in force; `space` is offered as
        Pause or as Resume."""
        if action == "clear_filter":
            return bool(self.display_filter)
        if action in ("pause", "resume"):
            return self.paused == (action == "resume")
        return True

    # -- sort, pause, open -------------------------------------------------------------------

    def action_cycle_sort(self) -> None:
        # Without current rates (a file read whole) there is no rate column to sort by.
        order = [n for n in SORT_ORDER if n != "rate" or self.model.rates is not None]
        i = order.index(self.model.sort) if self.model.sort in order else -1
        self._sort(order[(i + 1) % len(order)], None)

    def action_reverse_sort(self) -> None:
        self._sort(self.model.sort, not self.model.descending)

    def on_connection_table_sort_requested(self, event: ConnectionTable.SortRequested) -> None:
        same = event.sort == self.model.sort
        self._sort(event.sort, not self.model.descending if same else None)

    def _sort(self, name: str, descending: bool | None) -> None:
        self.model.set_sort(name, descending, self.flows)
        self.table.sync(self.table.now)
        arrow = "descending" if self.model.descending else "ascending"
        self.notify(f"sorted by {SORT_KEYS[name][0]}, {arrow}", timeout=2)

    def action_pause(self) -> None:
        """Freeze the rows (capture and counters go on)."""
        self.action_toggle_pause()

    def action_resume(self) -> None:
        """Catch up with what came in while paused."""
        self.action_toggle_pause()

    def action_toggle_pause(self) -> None:
        self.paused = not self.paused
        self.refresh_bindings()
        if not self.paused:
            self._update_model(set(), self.tcp_app.now())
        self.tcp_app.refresh_status()

    def on_connection_table_flow_selected(self, event: ConnectionTable.FlowSelected) -> None:
        self.tcp_app.open_flow(event.flow_id)
