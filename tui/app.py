"""`TcpwatchApp`: the drain timer, the screens, the keys every screen shares.

Data flow: a 10 Hz timer drains the source into the tracker (`tui.drain`), then hands the tick's
changes to the main screen inside one `batch_update`. Between ticks, a 50 Hz timer drains a few
milliseconds more and folds that into the table's model without painting (`sip`), so the idle time
between frames takes in a busy source too. Nothing is posted per packet. The flow screen
refreshes itself from the tracker on its own timer.
"""

from __future__ import annotations

import gc
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual import events
from textual.app import App
from textual.binding import Binding, BindingType
from textual.message import Message

from capture.insights import Thresholds
from capture.safetext import escape_untrusted
from tui.drain import Drain, Drained
from tui.errors import say
from tui.event_history import EventHistory
from tui.events_screen import EventsScreen
from tui.help_screen import HelpScreen
from tui.input_first import InputFirst
from tui.main_screen import MainScreen
from tui.terminal import terminal_problem
from widgets.status_bar import Status

if TYPE_CHECKING:
    from tui.flow_screen import FlowScreen

EXIT_NO_TERMINAL = 2
"""The exit status of the TUI started without a terminal (as for other bad usage)."""
TICK = 0.1
"""Seconds between drains: 10 updates a second reads as live and leaves the UI idle between."""
SIP_EVERY = 0.02
"""Between ticks the App takes in what the engine did every SIP_EVERY (`TcpwatchApp.sip`)."""


INPUT = (
    events.Key,
    events.MouseDown,
    events.MouseUp,
    events.MouseScrollDown,
    events.MouseScrollUp,
    events.MouseScrollLeft,
    events.MouseScrollRight,
)
"""The input events the App puts its own work off for (`tui.input_first`): not mouse moves."""

FREEZE_TICKS = 20
FREEZE_FLOWS = 20_000
"""From this many tracked flows, survivors are frozen every FREEZE_TICKS ticks (see below)."""


def _preload_flow_screen() -> None:
    """Import the flow screen once the table has been painted: its imports (the dissector,
    the ladder, process lookups) take ~50 ms, which the first `enter` would otherwise wait.
    Scapy's layers, which the inspector dissects with (~0.3 s), are imported on a thread of
    their own meanwhile.

    Then everything loaded so far (modules, Textual's and scapy's classes and tables, the main
    screen), which lives as long as the App, is moved out of the collector's reach: every
    collection of the old generation went through all of it, 55 ms on the UI thread each time
    (measured live, `bench/replay_bench.py --tui`, with 3,000 to 15,000 flows tracked)."""
    import tui.flow_screen  # noqa: F401, PLC0415

    threading.Thread(target=_import_scapy, name="tcpwatch-scapy", daemon=True).start()
    gc.collect()
    gc.freeze()


def _import_scapy() -> None:
    from scapy.layers import inet, inet6, l2  # noqa: F401, PLC0415


def freeze_survivors() -> None:
    """Collect the young generations, then move every survivor out of the collector's reach.

    100,000 flows with their kept segments are ~1.6 million tracked objects; a full collection
    of them was measured at 3.3 s here (load ~10, 2 CPUs), and CPython runs one each time the
    old generation grows by a quarter: a multi-second freeze of the UI every few seconds under
    load. Flows and segments hold no reference cycles (reference counting frees them), so
    freezing them costs nothing; the price is that cyclic garbage already in the old generation
    (e.g. a screen popped long ago) is never collected. Only done with many flows tracked.
    """
    gc.collect(1)
    gc.freeze()


def _is_live(source: Any) -> bool:
    try:
        from capture.live import LiveSource  # noqa: PLC0415  (only needed to tell the clock)
    except ImportError:  # pragma: no cover - live capture is optional on some platforms
        return False
    return isinstance(source, LiveSource)


class TcpwatchApp(App[None]):
    """Watch TCP connections: a table of flows, a ladder per flow, a frame inspector."""

    CSS_PATH = Path(__file__).with_name("app.tcss")
    TITLE = "tcpwatch"
    ENABLE_COMMAND_PALETTE = False

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit"),
        # Textual's own ctrl+c only says "press ctrl+q to quit"; the README promises that
        # SIGINT (which ctrl+c is, outside a TUI) ends tcpwatch. Priority: in the filter bar
        # ctrl+c would copy instead.
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
        Binding("question_mark", "help", "Help"),
        Binding("i", "insights", "Insights"),
        Binding("e", "events", "Events"),
    ]

    def __init__(
        self,
        source: Any,
        tracker: Any,
        *,
        display_filter: str = "",
        linger: float = 10.0,
        replay: bool = False,
        insight_thresholds: Thresholds | None = None,
    ) -> None:
        super().__init__()
        self.insight_thresholds = insight_thresholds or Thresholds()
        """Thresholds the insights screen analyses with (`--insight-threshold`)."""
        self.source = source
        self.tracker = tracker
        self.replay = replay
        self.events = EventHistory()
        """The engine's recent events, for the events screen (`e`)."""
        self.drain = Drain(source, live=_is_live(source), events_kept=self.events.kept)
        self.main = MainScreen(
            tracker.flows,
            linger=linger,
            display_filter=display_filter,
            rates=self.drain.live or replay,
        )
        self._error_shown: str | None = None
        self.ticks = 0
        """Ticks run so far; tests wait on it instead of sleeping."""
        self._frozen_at = -FREEZE_TICKS
        self.quit_requested = False
        """Set by a signal handler (`tui.run`); the next tick exits the App cleanly."""
        self._stopped_at: float | None = None
        self.leaving = False
        """Set once the App is exiting: keys typed ahead of the exit open no screen."""
        self._flow_screen: FlowScreen | None = None
        """The flow screen `open_flow` keeps and shows each flow on (made at the first)."""
        self.input_first = InputFirst()
        """Sips, a tick and the garbage collector wait while an input is handled."""

    def post_message(self, message: Message) -> bool:
        """Queue `message` (as Textual does), noting each key, click and scroll as the driver
        queues it (`tui.input_first`): before it waits in the App's queue."""
        if isinstance(message, INPUT) and not message.is_forwarded:
            self.input_first.noted()
        return super().post_message(message)

    def exit(self, *args: Any, **kwargs: Any) -> None:
        """Exit (as Textual does), and ignore screens asked for after this."""
        self.leaving = True
        super().exit(*args, **kwargs)

    def run(self, *args: Any, **kwargs: Any) -> Any:
        """Run on the terminal, or, without one, say so in one line and exit with status 2.

        Checked here, as the App is about to start: a source that cannot be opened (a file
        missing, `-w` not writable) has been reported by then, as it is with a terminal.
        `SystemExit` unwinds `tui.run`, which stops the source on the way out."""
        problem = "" if kwargs.get("headless") else terminal_problem()
        if problem:
            say(problem)
            raise SystemExit(EXIT_NO_TERMINAL)
        return super().run(*args, **kwargs)

    def get_default_screen(self) -> MainScreen:
        return self.main

    def on_mount(self) -> None:
        self.source.start()
        self.set_interval(TICK, self.tick, name="tick")
        self.set_interval(SIP_EVERY, self.sip, name="sip")
        self.call_after_refresh(_preload_flow_screen)

    def on_unmount(self) -> None:
        self.input_first.release()
        self.source.stop()

    def now(self) -> float:
        """The view's clock (capture time for files and replays, wall time live).

        Once a live capture has stopped (the interface went away, `-c`, `--duration`), the
        clock stops with it: what was seen stays in view, as a file's flows do at its end."""
        if self._stopped_at is not None:
            return self._stopped_at
        if self.drain.live and self.drain.finished:
            self._stopped_at = self.drain.now()
        return self.drain.now()

    def tick(self) -> None:
        """Drain, then (as the next message) update the main screen once; put off once while
        an input is handled (`tui.input_first`)."""
        if self.quit_requested:
            # Asked by SIGHUP/SIGTERM/SIGINT: leave as `q` does, so the terminal is restored
            # and on_unmount stops the source (the `-w` pcap is flushed and closed).
            self.exit()
            return
        if not self.main.is_mounted or self.input_first.put_off_tick():
            return
        table, predicate = self.main.table, self.main.model.predicate
        drained = self.drain.step(table.visible_ids(), predicate, tick=True)
        self.main.note_bytes(drained, self.now())
        self.events.take(drained)
        self._report_error()
        # Queued rather than run now: a key that arrived during the drain is handled first,
        # so it waits for the drain only, not for the drain and the update.
        self.call_later(self.show_tick, drained)

    def sip(self) -> None:
        """Between ticks: take in what the engine did and fold it into the model, painting
        nothing. A busy capture changes thousands of flows a tick; taken in a few times between
        ticks, the snapshots and model updates are spread over the frame instead of landing on
        the tick that also paints (a key waits one sip at most). Not while live tracking is
        behind (`tui.drain.BEHIND_AT`): the ticks alone take in what changed, and the CPU the
        sips took is the tracker's. Nor while an input is handled (`tui.input_first`)."""
        busy = self.input_first.busy()
        done = self.drain.finished and not self.drain.backlog
        if self.quit_requested or not self.main.is_mounted or done or self.drain.behind or busy:
            return
        drained = self.drain.step(self.main.table.visible_ids(), self.main.model.predicate)
        self.main.note_bytes(drained, self.now())
        self.events.take(drained)
        if isinstance(self.screen, EventsScreen):
            self.screen.forget(drained.changed)
        if drained.segments or drained.changed:
            self.main.absorb(drained, self.now())

    def show_tick(self, drained: Drained) -> None:
        """Fold one tick's changes into the main screen, in one batch."""
        if self.ticks - self._frozen_at >= FREEZE_TICKS and len(self.tracker.flows) >= FREEZE_FLOWS:
            self._frozen_at = self.ticks
            freeze_survivors()
        with self.batch_update():
            self.main.apply(drained, self.now(), self.status())
            if isinstance(self.screen, EventsScreen):
                self.screen.update(drained.changed)
        self.ticks += 1

    def status(self) -> Status:
        """The status bar's figures now."""
        stats = self.source.stats()
        if self.drain.live:
            mode = "stopped" if self.drain.finished else "live"
        elif self.replay:
            mode = "end" if self.drain.finished else "live"
        else:
            mode = "end" if self.drain.finished else "loading"
        return Status(
            source=self.source.description,
            capture_filter=self.source.capture_filter,
            packets=self.drain.segments,
            packets_per_s=self.drain.packets_per_second(),
            flows_open=self.main.open_flows(),
            flows_match=self.main.model.matching,
            flows_total=len(self.tracker.flows),
            kernel_drops=stats.kernel_drops,
            queue_drops=stats.queue_drops,
            frames_shed=stats.frames_shed,
            malformed=sum(stats.malformed.values()),
            mode=mode,
        )

    def refresh_status(self) -> None:
        """Repaint the status bar now (after pause/resume), without waiting for a tick."""
        status = self.status()
        self.main.apply(Drained(), self.now(), status)

    def _report_error(self) -> None:
        error = self.source.error
        if error and error != self._error_shown:
            self._error_shown = error
            self.notify(
                escape_untrusted(error) + "\nThe flows seen so far stay in view; q quits.",
                title="capture error",
                severity="error",
                timeout=30,
                markup=False,
            )

    def open_flow(self, flow_id: int) -> None:
        """Push the flow screen for `flow_id`: the one kept (installed, so it outlives its pop)
        showing it now, or a new one while the kept one is in the stack (a flow, its events,
        another flow)."""
        from tui.flow_screen import FlowScreen  # noqa: PLC0415  (its own heavier imports)

        if self.leaving:
            return
        screen = self._flow_screen
        if screen is None:
            screen = self._flow_screen = FlowScreen(self.tracker, flow_id)
            self.install_screen(screen, name="flow")
        elif screen in self.screen_stack:
            screen = FlowScreen(self.tracker, flow_id)
        else:
            screen.show_flow(flow_id)
        self.push_screen(screen)

    def action_insights(self) -> None:
        """Push the insights screen (findings over the tracked flows)."""
        from tui.insights_screen import InsightsScreen  # noqa: PLC0415  (opened on demand)

        if not self.leaving and not isinstance(self.screen, InsightsScreen):
            self.push_screen(InsightsScreen(self.tracker, live=self.drain.live, clock=self.now))

    def action_events(self) -> None:
        """Push the events screen (the engine's events under the main screen's filter)."""
        if not self.leaving and not isinstance(self.screen, EventsScreen):
            main = self.main
            screen = EventsScreen(
                self.events, self.tracker.flows, main.model.predicate, main.display_filter
            )
            self.push_screen(screen)

    def action_help(self) -> None:
        if not self.leaving and not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())
