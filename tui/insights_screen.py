"""The insights screen (`i`): findings by severity, live; `enter` shows a finding's flows.

The screen re-runs `capture.insights.analyse` over the tracked flows on its own timer (once a
second, less often when the analysis itself is slow, and not at all once a file is done), never
per packet. The facts of each flow (~50 us) are taken on the UI thread, where the tracker lives,
and again only for flows that changed since the last analysis (`FactsCache`); the rules run over
them (~15 us a flow) on a worker thread. Live, it passes the view's clock (so a SYN sent a moment
ago is not yet "unanswered") and the LISTEN sockets' accept queues.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from functools import partial
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Static

from capture.insights import Finding, analyse_facts, facts_of, flow_filter
from capture.insights.facts import FactsCache
from capture.insights.listen import read_listen_queues
from capture.insights.text import count
from capture.safetext import escape_untrusted
from widgets.insights_list import InsightsList
from widgets.key_bar import KeyBar

REFRESH = 1.0
"""Seconds between analyses while the screen is open (a live view reads as current)."""
MAX_SHARE = 0.2
"""Analysis may take at most this share of the UI's time: slow analyses refresh less often."""


class InsightsScreen(Screen[None]):
    """Lists the findings; `enter` filters the connection table to the chosen finding's flows."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("i", "back", "Back", show=False),
        Binding("r", "refresh_now", "Refresh"),
    ]

    DEFAULT_CSS = """
    InsightsScreen #insights-summary { height: 1; padding: 0 1; background: $panel; }
    """

    def __init__(self, tracker: Any, *, live: bool = False, clock: Any = None) -> None:
        super().__init__()
        self.tracker = tracker
        self.live = live
        self.clock = clock
        """A callable giving the view's time (the App's `now`), used live."""
        self.findings: list[Finding] = []
        self.analyses = 0
        """Analyses run so far; tests wait on it instead of sleeping."""
        self._next_at = 0.0
        self._seen: tuple[Any, ...] = ()
        self.facts_cache = FactsCache()
        self._analysing = False
        """Facts of unchanged flows are reused from one analysis to the next."""
        # Kept, not queried: a screen pushed while the App exits may never be composed.
        self.list = InsightsList(id="insights-list")
        self.summary = Static("", id="insights-summary")

    def compose(self) -> ComposeResult:
        yield self.summary
        yield self.list
        yield KeyBar()

    def on_mount(self) -> None:
        self.refresh_findings()
        self.set_interval(REFRESH, self._tick)
        self.list.focus()

    def _tick(self) -> None:
        # A finished file does not change: analyse it again only if the tracker did.
        if time.monotonic() >= self._next_at and self._signature() != self._seen:
            self.refresh_findings()

    def _signature(self) -> tuple[Any, ...]:
        if self.live:
            return (time.monotonic(),)  # the clock alone can change a finding (pending SYNs)
        t = self.tracker
        return (len(t.flows), getattr(t, "flow_count", 0), getattr(t, "finished", False))

    def refresh_findings(self) -> None:
        """Analyse the tracked flows now; the result shows when the rules are done.

        The flows' facts are taken here, on the UI thread that updates the flows (only those
        that changed since the last analysis: `FactsCache`); the rules run over those plain
        copies on a worker thread, so a big analysis slows the UI down instead of freezing it.
        """
        if self._analysing:
            return  # one analysis at a time; the timer asks again
        started = time.monotonic()
        self._seen = self._signature()
        flows = list(self.tracker.flows.values())
        all_facts = facts_of(flows, self.facts_cache)
        now = queues = None
        if self.live:
            now = self.clock() if self.clock is not None else None
            queues = read_listen_queues()
        self._analysing = True
        rules = partial(
            analyse_facts, all_facts, self.app.insight_thresholds, now=now, listen_queues=queues
        )
        self.run_worker(
            partial(self._run_rules, rules, started, len(flows)),
            thread=True,
            group="insights",
            exit_on_error=False,
        )

    def _run_rules(self, rules: Callable[[], list[Finding]], started: float, n_flows: int) -> None:
        """On the worker thread: run the rules, hand the findings to the UI thread."""
        try:
            found = rules()
        except Exception as exc:  # a bug in a rule must not take the App down
            found, error = [], f"insights failed: {exc!r}"
        else:
            error = ""
        with contextlib.suppress(RuntimeError):  # the App is already gone
            self.app.call_from_thread(self._show, found, error, started, n_flows)

    def _show(self, found: list[Finding], error: str, started: float, n_flows: int) -> None:
        self._analysing = False
        if not self.is_mounted:
            return
        self.findings = found
        self.list.set_findings(found)
        text = escape_untrusted(error) if error else summary(found, n_flows)
        self.summary.update(text)
        cost = time.monotonic() - started
        self._next_at = started + max(REFRESH, cost / MAX_SHARE)
        self.analyses += 1

    def action_refresh_now(self) -> None:
        self.refresh_findings()

    def action_back(self) -> None:
        self.app.pop_screen()

    def on_insights_list_finding_chosen(self, message: InsightsList.FindingChosen) -> None:
        self.show_flows(message.finding)

    def show_flows(self, finding: Finding) -> bool:
        """Filter the main table to the finding's flows that are still tracked; back to it.

        Those flows are pinned: they stay in the table, finished or not, while the filter
        naming them is in force (the view's linger would otherwise take the finished ones
        away, some before the table is even shown)."""
        ids = [i for i in finding.flow_ids if i in self.tracker.flows]
        if not ids:
            self.notify("Those flows are no longer tracked.", severity="warning")
            return False
        main = getattr(self.app, "main", None)
        if main is None or not main.apply_filter(flow_filter(ids), pinned=frozenset(ids)):
            return False
        self.app.pop_screen()
        self.app.notify(f"Showing the {len(ids)} flow(s) behind this finding (/ to change).")
        return True


def summary(found: list[Finding], n_flows: int) -> str:
    """`2 alerts · 3 warnings · 1 info over 1,994 flows`."""
    counts = {s: sum(1 for f in found if f.severity == s) for s in ("alert", "warning", "info")}
    over = count(n_flows, "flow")
    if not found:
        return f"No findings over {over}."
    parts = [count(n, s, "info" if s == "info" else "") for s, n in counts.items() if n]
    return (
        " · ".join(parts) + f" over {over}  (enter: show its flows, r: analyse again, escape: back)"
    )
