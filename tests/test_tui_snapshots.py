"""SVG snapshots of each screen over real captures, at fixed sizes.

The view's clock is capture time (files), so these are deterministic without patching time.
Baselines live in tests/__snapshots__/; update them with `--snapshot-update` only after looking.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from capture.flows import FlowTracker
from capture.sources import FileSource
from tui.app import TcpwatchApp

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
    return TcpwatchApp(FileSource(str(path)), FlowTracker(), linger=1e9)


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


def test_help_screen(snap_compare: Any) -> None:
    """`?` lists every key."""
    run = after_load("question_mark", screen="HelpScreen")
    assert snap_compare(loaded_app(NMAP), terminal_size=(120, 40), run_before=run)


def test_flow_screen(snap_compare: Any) -> None:
    """`enter` on a row: the ladder with the handshake at the top."""
    run = after_load("down", "enter", screen="FlowScreen")
    assert snap_compare(loaded_app(ESPN), terminal_size=(140, 45), run_before=run)
