"""What one repaint of each main-screen widget costs: the render part of a tick, apart.

The real `TcpwatchApp` reads tui_bench's capture of 2,000 flows whole (`-r`, every flow kept in
view) headless at 200x60; once it is loaded and idle, each case below marks what it names for
repaint, then times the main screen's compositor refresh alone (`Screen._compositor_refresh`,
as a tick's repaint runs it: the widgets' `render_line`, Textual's line cache and filters, the
compositor's cuts), REPEAT times, without the drain or the model:

    status bar                 the status bar's line (it changes at every live tick)
    flag breakdown             its two lines (they change at every live tick)
    scrollbar                  the table's vertical scrollbar
    table whole, rows rebuilt  every line of the table, each row's strip built anew
    table whole, rows cached   every line, the rows' strips from the table's cache
    table 6 lines              six rows and nothing else (a busy tick's usual share)
    tick-like                  six rows, the status bar and the flag breakdown

Headless Textual writes nothing to a terminal, so terminal output time is not included.

    .venv/bin/python bench/render_bench.py
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

from textual.geometry import Region  # noqa: E402
from tui_bench import ensure_capture  # noqa: E402

from capture.engine_source import EngineSource  # noqa: E402
from tui.app import TcpwatchApp  # noqa: E402

REPEAT = 60
LOAD_TIMEOUT = 60.0
ROWS = (1, 5, 9, 20, 30, 40)


def timed(screen: Any, mark: Callable[[], Iterable[Any]]) -> list[float]:
    """Seconds of each of REPEAT compositor refreshes after `mark` asked for a repaint (and
    returned the widgets it marked)."""
    times = []
    for _ in range(REPEAT):
        for widget in mark():
            screen._dirty_widgets.add(widget)
        t = time.perf_counter()
        screen._compositor.update_widgets(screen._dirty_widgets)
        screen._compositor_refresh()
        times.append(time.perf_counter() - t)
    return times


async def run() -> list[tuple[str, list[float]]]:
    capture = ensure_capture(2000, 50_000, 6)
    source = EngineSource(str(capture), seed=0)
    app = TcpwatchApp(source, source, linger=1e12)
    async with app.run_test(size=(200, 60)) as pilot:
        deadline = time.perf_counter() + LOAD_TIMEOUT
        while not (app.drain.finished and not app.drain.backlog and app.ticks > 5):
            if time.perf_counter() > deadline:
                raise TimeoutError("the capture did not load")
            await pilot.pause(0.05)
        await pilot.pause(0.3)
        screen, table = app.main, app.main.table
        status, flags, bar = screen.status_bar, screen.breakdown, table.vertical_scrollbar
        width = table.size.width

        def lines() -> list[Any]:
            for y in ROWS:
                table.refresh(Region(0, y, width, 1))
            return [table]

        def rebuilt() -> list[Any]:
            table._cache.clear()
            table.refresh()
            return [table]

        def whole() -> list[Any]:
            table.refresh()
            return [table]

        def tick_like() -> list[Any]:
            status.refresh()
            flags.refresh()
            return [*lines(), status, flags]

        cases: list[tuple[str, Callable[[], Iterable[Any]]]] = [
            ("status bar", lambda: [status.refresh()]),
            ("flag breakdown", lambda: [flags.refresh()]),
            ("scrollbar", lambda: [bar.refresh()]),
            ("table whole, rows rebuilt", rebuilt),
            ("table whole, rows cached", whole),
            ("table 6 lines", lines),
            ("tick-like", tick_like),
        ]
        return [(name, timed(screen, mark)) for name, mark in cases]


def main() -> int:
    print(f"{REPEAT} repaints each, 200x60, tui_bench's capture of 2,000 flows read whole")
    print("| repaint | ms median | p90 |")
    print("| --- | --- | --- |")
    for name, times in asyncio.run(run()):
        ordered = sorted(times)
        p90 = ordered[int(len(ordered) * 0.9)]
        print(f"| {name} | {statistics.median(ordered) * 1e3:.2f} | {p90 * 1e3:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
