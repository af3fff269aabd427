"""SVG snapshots of the insights screen over real captures (baselines in tests/__snapshots__/).

File sources run on capture time, so the findings and the screen are deterministic.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from captures import engine
from textual.pilot import Pilot

from tui.app import TcpwatchApp
from tui.insights_screen import InsightsScreen

DATA = Path(__file__).parent / "data"


async def _until(pilot: Pilot[None], cond: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not reached in time"
        await pilot.pause()


async def _open_insights(pilot: Pilot[None]) -> None:
    app = pilot.app
    assert isinstance(app, TcpwatchApp)
    await _until(pilot, lambda: app.drain.finished and app.ticks > 2)
    await pilot.press("i")
    await _until(pilot, lambda: isinstance(app.screen, InsightsScreen) and app.screen.analyses > 0)
    app.clear_notifications()
    await pilot.pause()


def test_insights_espn_120x40(snap_compare: Any) -> None:
    """Unanswered SYNs, a server reset and a server-side TIME_WAIT, most severe first."""
    app = TcpwatchApp(*engine(str(DATA / "chrissanders_http_espn_fail.pcapng")))
    assert snap_compare(app, terminal_size=(120, 40), run_before=_open_insights)


def test_insights_os_detection_100x30(snap_compare: Any) -> None:
    """nmap OS detection: the scan alert above the illegal-flag warnings."""
    path = DATA / "chrissanders_activeosfingerprinting.pcapng"
    app = TcpwatchApp(*engine(str(path)))
    assert snap_compare(app, terminal_size=(100, 30), run_before=_open_insights)
