"""The help screen: every key, on every screen, in one place (`?`)."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    (
        "Main screen",
        (
            ("↑ ↓ PgUp PgDn Home End", "move the cursor (it stays on its flow as rows move)"),
            ("enter / click", "open the flow under the cursor (click a highlighted row)"),
            ("/", "filter: enter applies, escape cancels the edit, ↑ ↓ recall earlier filters"),
            ("c", "clear the filter (shown in the footer while one is in force)"),
            ("s", "cycle the sort column"),
            ("S", "reverse the sort order"),
            ("click a header", "sort by that column (again: reverse); ▼ largest first, ▲ smallest"),
            ("", "rows without a value (no RTT yet) stay last either way"),
            ("space", "pause / resume the view (capture and counters go on)"),
        ),
    ),
    (
        "Flow screen",
        (
            ("enter / click", "inspect the frame on that ladder line"),
            ("a", "absolute / relative sequence numbers"),
            ("t", "show / hide the notes beside the ladder"),
            ("w", "save the flow's frames as a pcap"),
            ("escape", "back to the table, cursor on the same flow"),
        ),
    ),
    (
        "Everywhere",
        (
            ("i", "insights: findings (scans, floods, refusals, retries); enter filters to them"),
            ("?", "this help"),
            ("q  ctrl+c", "quit (the terminal is restored)"),
        ),
    ),
)

FILTER_EXAMPLES = (
    "port 443   host 10.0.0.5   net 10.0.0.0/8   state established   conn S0   flags rst",
    "retries > 0   irtt > 10ms   proc nginx   80 (a bare number is a port)",
    "joined with and / or / not and parentheses",
)


def key_table() -> Table:
    """Every key as a Rich table (the help screen's body)."""
    table = Table(box=None, show_header=False, padding=(0, 2), expand=False)
    table.add_column(style="bold")
    table.add_column()
    for section, rows in KEYS:
        table.add_row(f"[u]{section}[/u]", "")
        for key, what in rows:
            table.add_row(key, what)
        table.add_row("", "")
    table.add_row("[u]Filter language[/u]", "")
    for line in FILTER_EXAMPLES:
        table.add_row("", line)
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
