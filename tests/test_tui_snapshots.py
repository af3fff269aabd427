"""SVG snapshots of each screen over real captures, at fixed sizes.

The view's clock is capture time (files), so these are deterministic without patching time.
Baselines live in tests/__snapshots__/; update them with `--snapshot-update` only after looking.
The status bar's narrowing order, which several snapshots show, is asserted directly at the end.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from captures import engine
from live_traffic import needs_root
from textual.app import App, ComposeResult
from textual.pilot import Pilot

from tui.app import TcpwatchApp
from widgets.status_bar import Status, StatusBar

ROOT = Path(__file__).parent.parent
DATA = Path("tests/data")  # relative: the status bar shows the path, the same in every clone
NMAP = DATA / "zeek_nmap-vsn.pcap"
ESPN = DATA / "chrissanders_http_espn_fail.pcapng"
V4V6 = DATA / "chrissanders_http_ip4and6.pcapng"


@pytest.fixture(autouse=True)
def _in_repository(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


async def _until(pilot: Pilot[None], cond: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not reached in time"
        await pilot.pause()


def loaded_app(path: Path) -> TcpwatchApp:
    return TcpwatchApp(*engine(str(path)), linger=1e9)


def after_load(*keys: str, screen: str | None = None) -> Callable[[Pilot[None]], Any]:
    """A `run_before` that waits for the whole file, presses `keys`, then lets the screen settle."""

    async def run_before(pilot: Pilot[None]) -> None:
        app = pilot.app
        assert isinstance(app, TcpwatchApp)
        start = app.ticks
        await _until(pilot, lambda: app.drain.finished and app.ticks > start + 1)
        for key in keys:
            await pilot.press(key)
        if screen is not None:
            await _until(pilot, lambda: type(app.screen).__name__ == screen)
        app.clear_notifications()
        await pilot.pause()

    return run_before


def test_main_screen_120x40(snap_compare: Any) -> None:
    """The table, the flag breakdown and the status bar over a capture of mixed endings."""
    assert snap_compare(loaded_app(ESPN), terminal_size=(120, 40), run_before=after_load())


def test_main_screen_80x24(snap_compare: Any) -> None:
    """The narrowest supported terminal keeps endpoints, both states and conn_state."""
    assert snap_compare(loaded_app(NMAP), terminal_size=(80, 24), run_before=after_load())


def test_main_screen_filtered_and_sorted(snap_compare: Any) -> None:
    """`port 443` applied from the filter bar, then sorted by the next sort (`s`)."""
    keys = ("slash", *"port 443", "enter", "s")
    assert snap_compare(loaded_app(NMAP), terminal_size=(120, 30), run_before=after_load(*keys))


def test_main_screen_ipv6_200x30(snap_compare: Any) -> None:
    """IPv6 endpoints whole and bracketed on a wide terminal."""
    assert snap_compare(loaded_app(V4V6), terminal_size=(200, 30), run_before=after_load())


def test_bad_filter_shows_its_error(snap_compare: Any) -> None:
    """A bad expression leaves the bar open with the error beside it."""
    keys = ("slash", *"port nope", "enter")
    assert snap_compare(loaded_app(NMAP), terminal_size=(120, 30), run_before=after_load(*keys))


def test_filter_bar_open_80x24(snap_compare: Any) -> None:
    """`/` then typing: the bar shows what was typed, on the narrowest supported terminal."""
    keys = ("slash", *"port 443 and flags rst")
    assert snap_compare(loaded_app(NMAP), terminal_size=(80, 24), run_before=after_load(*keys))


@pytest.mark.live
@needs_root
def test_empty_live_table_says_it_is_waiting(snap_compare: Any) -> None:
    """A live capture that has seen nothing yet: the table says it is waiting for traffic."""
    from test_tui_small import quiet_live

    source = quiet_live()
    app = TcpwatchApp(source, source)

    async def run_before(pilot: Pilot[None]) -> None:
        await _until(pilot, lambda: app.ticks > 2)

    assert snap_compare(app, terminal_size=(100, 20), run_before=run_before)


def test_help_screen(snap_compare: Any) -> None:
    """`?` lists every key."""
    run = after_load("question_mark", screen="HelpScreen")
    assert snap_compare(loaded_app(NMAP), terminal_size=(120, 40), run_before=run)


def test_flow_screen(snap_compare: Any) -> None:
    """`enter` on a row: the ladder with the handshake at the top."""
    run = after_load("down", "enter", screen="FlowScreen")
    assert snap_compare(loaded_app(ESPN), terminal_size=(140, 45), run_before=run)


def test_flow_screen_inspector_marks_one_field(snap_compare: Any) -> None:
    """The inspector open on the third segment (it followed the ladder's cursor), on TCP `seq`:
    the hex dump marks those four bytes only, and seq reads raw and relative."""
    from tui.flow_screen import FlowScreen
    from widgets.inspector import Inspector

    async def run_before(pilot: Pilot[None]) -> None:
        await after_load("down", "enter", screen="FlowScreen")(pilot)
        screen = pilot.app.screen
        assert isinstance(screen, FlowScreen)
        await pilot.press("enter", "down", "down")
        await _until(pilot, lambda: screen.inspected == screen.flow.frames()[2].frame_no)
        inspector = screen.query_one(Inspector)
        seq = next(i for i, line in enumerate(inspector.lines) if line.label == "seq")
        await pilot.press("tab", *["down"] * seq)
        await _until(pilot, lambda: inspector.cursor == seq)
        await pilot.pause()

    assert snap_compare(loaded_app(ESPN), terminal_size=(140, 45), run_before=run_before)


class _StatusHost(App[None]):
    """The status bar alone, as wide as the terminal."""

    def __init__(self, status: Status) -> None:
        super().__init__()
        self.status = status

    def compose(self) -> ComposeResult:
        yield StatusBar()

    def on_mount(self) -> None:
        self.query_one(StatusBar).show(self.status)


LIVE_BUSY = Status(
    source="live enp0s31f6 (tcp port 443)",
    capture_filter="tcp port 443",
    display_filter="state established",
    sort="last seen ▼",
    packets=12_345_678,
    packets_per_s=45_678,
    flows_open=12_345,
    flows_match=23_456,
    flows_total=234_567,
    mode="live",
)


@pytest.mark.parametrize("kernel_drops", [0, 1_234_567])
async def test_live_status_at_120_columns_names_the_interface(kernel_drops: int) -> None:
    """At 120 columns a busy live status keeps the interface (and any drops): the sort and the
    capture filter give way first."""
    status = dataclasses.replace(LIVE_BUSY, kernel_drops=kernel_drops)
    app = _StatusHost(status)
    async with app.run_test(size=(120, 5)) as pilot:
        await pilot.pause()
        shown = app.query_one(StatusBar).shown()
    assert shown.startswith("● LIVE  live enp0s31f6 (tcp port 443)  "), shown
    assert "flows 23,456 of 234,567 match" in shown
    assert ("drops kernel 1,234,567" in shown) == bool(kernel_drops)
    assert "sort" not in shown and "capture tcp" not in shown


async def test_source_is_the_last_part_dropped() -> None:
    """However narrow, the source goes only after everything but the mode."""
    app = _StatusHost(dataclasses.replace(LIVE_BUSY, kernel_drops=5))
    async with app.run_test(size=(40, 5)) as pilot:
        await pilot.pause()
        shown = app.query_one(StatusBar).shown()
    assert shown == "● LIVE  live enp0s31f6 (tcp port 443)", shown


async def test_status_bar_shows_outside_text_escaped_and_cuts_what_does_not_fit() -> None:
    """A file name and a filter come from outside: their control and bidi characters show as
    escapes, markup as the text it is. A line too long even for the mode ends in an ellipsis."""
    status = dataclasses.replace(
        LIVE_BUSY, source="evil\x1b]0;title\x07[bold]\u202e.pcap", display_filter="host \x9b2J"
    )
    app = _StatusHost(status)
    async with app.run_test(size=(160, 5)) as pilot:
        await pilot.pause()
        bar = app.query_one(StatusBar)
        segments = list(bar.render_line(0))
    shown = "".join(seg.text for seg in segments)
    assert "evil\\x1b]0;title\\x07[bold]\\u202e.pcap" in shown, shown
    assert "filter host \\x9b2J" in shown, shown
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F or c == "\u202e" for c in shown)
    async with _StatusHost(status).run_test(size=(6, 5)) as pilot:  # 4 cells inside the padding
        await pilot.pause()
        assert pilot.app.query_one(StatusBar).shown() == "● L…"
