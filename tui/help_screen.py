"""The help screen: every key, on every screen, in one place (`?`)."""

from __future__ import annotations

from typing import ClassVar

from rich.markup import escape
from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tui.filter_help import FILTER_TERMS

KEYS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    (
        "Main screen",
        (
            ("↑ ↓ PgUp PgDn Home End", "move the cursor (it stays on its flow as rows move)"),
            ("enter / click", "open the flow under the cursor (click a highlighted row)"),
            ("/", "filter: enter applies, escape cancels the edit, ↑ ↓ recall"),
            ("c", "clear the filter (shown in the footer while one is in force)"),
            ("s", "cycle the sort column"),
            ("S", "reverse the sort order"),
            ("click a header", "sort by that column (again: reverse): ▼ largest first"),
            ("", "rows without a value (no RTT yet) stay last either way"),
            ("space", "pause / resume the view (capture and counters go on)"),
        ),
    ),
    (
        "Table rows",
        (
            ("+", "a new flow (first seen in the last 2 s)"),
            ("•", "a flow that moved in the last second"),
            (
                "colour",
                "state: handshaking, established, closing, closed, reset, refused, half-open",
            ),
            ("dimmed", "finished; it leaves the table after --linger seconds"),
            ("retr", "SYN retries plus retransmitted segments"),
            (
                "history",
                "Zeek's letters: UPPER case from the originator, lower from the other end",
            ),
            ("", "S SYN  H SYN/ACK  A ACK  D data  F FIN  R RST"),
            ("", "T retransmission  W zero window  G content gap  C bad checksum"),
            ("", "I inconsistent (SYN+RST)  Q multi-flag (SYN+FIN)  ^ direction flipped"),
            ("", "(C T W G are written again at the 10th, 100th … time)"),
        ),
    ),
    (
        "Flow screen",
        (
            ("enter / click", "inspect the frame on that ladder line"),
            ("⚠ [Dup ACK #1] …", "Wireshark's TCP analysis of the segment (README: the marks)"),
            ("Tab / shift+Tab", "move between the ladder and the inspector's panes"),
            ("a", "absolute / relative sequence numbers"),
            ("t", "show / hide the notes beside the ladder"),
            ("w", "save the flow's frames as a pcap"),
            ("escape", "close the inspector, then back to the table (cursor on the same flow)"),
        ),
    ),
    (
        "Insights screen",
        (
            ("↑ ↓", "move between findings"),
            ("enter", "filter the table to the finding's flows"),
            ("r", "analyse again now (live, it does so every second by itself)"),
            ("escape / i", "back to the table"),
        ),
    ),
    (
        "Events screen",
        (
            (
                "↑ ↓ PgUp PgDn Home End",
                "move through the feed (it follows new events on the last line)",
            ),
            ("enter / click", "open the event's flow (while it is still tracked)"),
            ("escape / e", "back to the table"),
        ),
    ),
    (
        "Everywhere",
        (
            ("i", "insights: findings (scans, floods, refusals, retries)"),
            ("e", "events: handshakes, refusals, resets, FINs, SYN retries as a feed (filtered)"),
            ("?", "this help"),
            ("q  ctrl+c", "quit (the terminal is restored)"),
        ),
    ),
)


def key_table() -> Table:
    """Every key as a Rich table (the help screen's body)."""
    table = Table(box=None, show_header=False, padding=(0, 2), expand=False)
    table.add_column(style="bold")
    table.add_column()
    for section, rows in KEYS:
        table.add_row(f"[u]{section}[/u]", "")
        for key, what in rows:
            table.add_row(escape(key), escape(what))
        table.add_row("", "")
    table.add_row("[u]Filter language[/u]", "")
    for term, what in FILTER_TERMS:
        table.add_row(escape(term), escape(what))
    return table


class HelpScreen(ModalScreen[None]):
    """Lists every key; any of escape, q or ? closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss", "Close"),
        Binding("q", "dismiss", "Close", show=False),
        Binding("question_mark", "dismiss", "Close", show=False),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body"):
            yield Static("tcpwatch — keys", id="help-title")
            yield Static(key_table())
