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

from capture.filterexpr import keywords
from tui.filter_help import FILTER_TERMS

CONN_STATES: tuple[tuple[str, str], ...] = (
    ("S0", "a SYN, no reply"),
    ("S1", "established, not closed"),
    ("SF", "established and closed normally (FIN both ways)"),
    ("REJ", "refused: the SYN was answered with RST"),
    ("S2", "established; only the originator closed (FIN), no reply"),
    ("S3", "established; only the responder closed (FIN), no reply"),
    ("RSTO", "established, then the originator reset it (RST)"),
    ("RSTR", "established, then the responder reset it"),
    ("RSTOS0", "the originator sent a SYN then an RST; no SYN/ACK seen"),
    ("RSTRH", "the responder sent a SYN/ACK then an RST; no SYN seen"),
    ("SH", "the originator sent a SYN then a FIN; no SYN/ACK (half-open)"),
    ("SHR", "the responder sent a SYN/ACK then a FIN; no SYN seen"),
    ("OTH", "no SYN seen: traffic picked up mid-stream"),
)
"""Zeek's conn_state values and what each means (Zeek's conn.log documentation, in short)."""

KEYS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    (
        "Main screen",
        (
            ("↑ ↓ (k j) PgUp PgDn Home End", "move the cursor (it stays on its flow as rows move)"),
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
        "Counts",
        (
            ("N of M match", "every count (flag bar, sparkline, legend, flows, open)"),
            ("", "counts the N flows the filter selects of the M tracked,"),
            ("", "finished ones too after they leave the table (--linger)"),
            ("rate / avg", "status bar: those flows' bytes/s (avg: over the capture)"),
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
            ("vlan", "VLAN tags, outermost first (shown when flows differ by tag)"),
            ("retr", "SYN retries plus retransmitted segments"),
            ("rate", "payload bytes/s both ways over the last 3 s (live, --replay)"),
            ("avg", "payload bytes/s over the flow's life (all a whole file shows)"),
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
            ("↑ ↓", "move on the ladder; the open inspector follows the cursor"),
            ("⚠ [Dup ACK #1] …", "Wireshark's TCP analysis of the segment (README: the marks)"),
            ("Tab / shift+Tab", "move between the ladder and the inspector's panes"),
            ("↑ ↓ in the inspector", "pick a field: the hex dump marks that field's bytes"),
            ("", "seq and ack read raw, then relative as the ladder counts them"),
            ("a", "absolute / relative sequence numbers (the ladder's header says which)"),
            ("t", "show / hide the notes beside the ladder"),
            ("w", "save the flow's frames as a pcap"),
            ("escape", "close the inspector, then back to the table (cursor on the same flow)"),
        ),
    ),
    (
        "Insights screen",
        (
            ("↑ ↓", "move between findings"),
            ("enter", "filter the table to the finding's flows (they stay past"),
            ("", "--linger while that filter is in force)"),
            ("r", "analyse again now (live, it does so every second by itself)"),
            ("escape / i", "back to the table"),
        ),
    ),
    (
        "Events screen",
        (
            (
                "↑ ↓ (k j) PgUp PgDn Home End",
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
    table.add_row("[u]conn (Zeek's conn_state)[/u]", "")
    for state, what in CONN_STATES:
        table.add_row(state, escape(what))
    table.add_row("", "")
    table.add_row("[u]Filter language[/u]", "")
    # The engine's own keyword list, so the help names every term the parser takes.
    table.add_row("terms", escape(" ".join(keywords())))
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
