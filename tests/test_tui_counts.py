"""One rule for the main screen's counts, through Pilot over real captures: the flag bar, its
rates and sparkline, the state legend and the status bar's flows count the flows the display
filter selects (finished flows gone from the rows after --linger included); the status bar
says how many of all tracked flows that is."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

from captures import engine, frames_of, keep_all, tracked
from tui_wait import wait_until

from capture.engine_source import EngineSource
from tui.app import TcpwatchApp
from widgets.conn_rows import CATEGORIES, category
from widgets.flag_breakdown import flag_hits
from widgets.status_bar import StatusBar

DATA = Path(__file__).parent / "data"
ESPN = DATA / "chrissanders_http_espn_fail.pcapng"  # 16 flows, one reset by the server
NMAP = DATA / "zeek_nmap-vsn.pcap"  # 17 flows: refused, reset, unanswered, closed


def truth(path: Path, ids: set[int] | None = None) -> tuple[list[int], Counter[int], Counter[str]]:
    """From the capture itself (an engine tracker keeping every frame), for flows `ids` (all
    when None): per-flag segment counts, segments per second, flows per state category."""
    run = tracked(path, **keep_all())
    flows = [f for i, f in run.flows.items() if ids is None or i in ids]
    flags = [0] * 9
    seconds: Counter[int] = Counter()
    for seg in frames_of(flows):
        flags = [t + h for t, h in zip(flags, flag_hits(seg.flags), strict=True)]
        seconds[int(seg.ts)] += 1
    return flags, seconds, Counter(category(f) for f in flows)


def open_flows(cats: Counter[str]) -> int:
    return sum(n for c, n in cats.items() if c not in ("closed", "reset", "refused"))


def legend(app: TcpwatchApp) -> dict[str, int]:
    """The state legend as the table's header line shows it: `category n` pairs."""
    words = app.main.table.render_line(0).text.split()
    return {
        w: int(n.replace(",", ""))
        for w, n in zip(words, words[1:], strict=False)
        if w in CATEGORIES and n.replace(",", "").isdigit()
    }


async def test_a_filter_scopes_every_count_and_the_status_bar_says_how_many_match() -> None:
    """`flags rst` over a whole file: one flow matches; the status bar says 1 of 16, and the
    flag bar, the sparkline and the legend count that flow only."""
    app = TcpwatchApp(*engine(str(ESPN)), linger=math.inf)  # as `-r FILE` runs it
    async with app.run_test(size=(200, 30)) as pilot:
        await wait_until(pilot, lambda: app.drain.finished and app.ticks > 2)
        status = app.main.query_one(StatusBar)
        shown = status.shown()
        assert "flows 16  " in shown and f"open {open_flows(truth(ESPN)[2])}  " in shown
        end = int(app.drain.capture_ts)
        _flags, every_second, _cats = truth(ESPN)
        minute = [every_second.get(s, 0) for s in range(end - 59, end + 1)]
        assert app.main.breakdown.spark == minute  # read in one go, counted in time order
        await pilot.press("slash", *"flags rst", "enter")
        await wait_until(pilot, lambda: app.main.display_filter == "flags rst")
        ticks = app.ticks
        await wait_until(pilot, lambda: app.ticks > ticks + 1)
        ids = set(app.main.model._matched)
        assert len(ids) == len(app.main.model) == 1
        flags, seconds, cats = truth(ESPN, ids)
        shown = status.shown()
        assert "flows 1 of 16 match  " in shown and "open 0  " in shown
        breakdown = app.main.breakdown
        assert breakdown.totals[:9] == flags
        assert breakdown.spark == [seconds.get(s, 0) for s in range(end - 59, end + 1)]
        assert legend(app) == dict(cats)


async def test_counts_do_not_drop_when_finished_flows_leave_the_rows() -> None:
    """A replay with a short linger: the finished flows leave the table, but the flag bar and
    the legend still count them (every flow here: no filter), as the status bar says."""
    clock = [0.0]
    source = EngineSource(str(NMAP), speed=1.0, clock=lambda: clock[0])
    app = TcpwatchApp(source, source, replay=True, linger=0.5)
    async with app.run_test(size=(200, 30)) as pilot:
        clock[0] = 30.0
        await wait_until(pilot, lambda: app.drain.finished)
        model = app.main.model
        await wait_until(pilot, lambda: len(model) < len(app.tracker.flows))
        ticks = app.ticks
        await wait_until(pilot, lambda: app.ticks > ticks + 1)
        flags, _seconds, cats = truth(NMAP)
        assert app.main.breakdown.totals[:9] == flags
        assert "SYN 17" in app.main.breakdown.shown()
        assert legend(app) == dict(cats)
        shown = app.main.query_one(StatusBar).shown()
        assert "flows 17  " in shown and f"open {open_flows(cats)}  " in shown
