"""Render the README screenshots by driving the real App headless over a bundled real capture.

    scripts/screenshots            # writes screenshots/*.svg, and *.png when cairosvg is present

Each shot is the App as a user sees it after a few keys: the main screen (120x40 and 80x24), a
filtered view, a flow's ladder, the frame inspector and the events feed. The view's clock is
capture time, and the feed's times are written in UTC here, so the pictures are the same on
every run.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from textual.pilot import Pilot  # noqa: E402

from capture.engine_source import EngineSource  # noqa: E402
from tui.app import TcpwatchApp  # noqa: E402

CAPTURE = ROOT / "tests" / "data" / "chrissanders_http_espn_fail.pcapng"
OUT = ROOT / "screenshots"

SHOTS: tuple[tuple[str, tuple[int, int], tuple[str, ...], str | None], ...] = (
    ("main", (120, 40), (), None),
    ("main-200x60", (200, 60), (), None),
    ("main-80x24", (80, 24), (), None),
    ("filtered", (120, 40), ("slash", *"retries > 0 or conn S1", "enter", "s", "s"), None),
    ("flow-ladder", (140, 45), ("down", "enter"), "FlowScreen"),
    ("frame-inspector", (140, 45), ("down", "enter", "wait:FlowScreen", "down", "enter"), None),
    ("help", (120, 40), ("question_mark",), "HelpScreen"),
    ("events", (120, 30), ("e",), "EventsScreen"),
)
"""(name, terminal size, keys, screen to wait for). `wait:Name` waits mid-sequence."""


async def until(pilot: Pilot[None], cond: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError("the app did not reach the expected state")
        await pilot.pause()


async def shoot(name: str, size: tuple[int, int], keys: tuple[str, ...], wait: str | None) -> Path:
    # A relative path, so the status bar in the pictures names no directory of this machine.
    source = EngineSource(str(CAPTURE.relative_to(ROOT)))
    app = TcpwatchApp(source, source, linger=1e9)
    async with app.run_test(size=size) as pilot:
        start = app.ticks
        await until(pilot, lambda: app.drain.finished and app.ticks > start + 1)
        for key in keys:
            if key.startswith("wait:"):
                screen = key[5:]
                await until(pilot, lambda s=screen: type(app.screen).__name__ == s)  # type: ignore[misc]
            else:
                await pilot.press(key)
        if wait:
            await until(pilot, lambda: type(app.screen).__name__ == wait)
        app.clear_notifications()
        await pilot.pause()
        path = OUT / f"{name}.svg"
        app.save_screenshot(filename=path.name, path=str(OUT))
    return path


def to_png(svg: Path) -> Path | None:
    """A PNG beside `svg` (cairosvg), with a locally installed monospace font for alignment."""
    try:
        import cairosvg  # noqa: PLC0415  (optional: only for the PNG copies)
    except ImportError:
        return None
    text = svg.read_text(encoding="utf-8")
    # The SVG names Fira Code (a web font); a rasteriser without it falls back to a proportional
    # bold face and columns drift. DejaVu Sans Mono is everywhere.
    text = re.sub(r'font-family: "?Fira Code"?', 'font-family: "DejaVu Sans Mono"', text)
    png = svg.with_suffix(".png")
    cairosvg.svg2png(bytestring=text.encode(), write_to=str(png))
    return png


def main() -> int:
    os.chdir(ROOT)
    os.environ["TZ"] = "UTC"  # the events feed writes local times: the same picture everywhere
    time.tzset()
    OUT.mkdir(exist_ok=True)
    for name, size, keys, wait in SHOTS:
        svg = asyncio.run(shoot(name, size, keys, wait))
        png = to_png(svg)
        print(
            svg.relative_to(ROOT),
            "and",
            png.relative_to(ROOT) if png else "(no PNG: pip install cairosvg)",
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
