"""Sorting from the table's header: each column sorts by its own values, the arrow says which way
the rows read (▼ largest first), and rows without a value come last either way."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_tui_main import file_app, loaded, shown_ids
from textual.pilot import Pilot

from tui.app import TcpwatchApp
from widgets.conn_rows import retries
from widgets.conn_table import ConnectionTable

DATA = Path(__file__).parent / "data"
ESPN = DATA / "chrissanders_http_espn_fail.pcapng"  # unanswered SYNs (no RTT), retries


async def click_header(pilot: Pilot[None], app: TcpwatchApp, key: str) -> None:
    table = app.main.table
    keys = [c.key for c in table.columns]
    x = 2 + sum(c.width + 1 for c in table.columns[: keys.index(key)])
    await pilot.click(ConnectionTable, offset=(x + 1, 0))
    await pilot.pause()


def header(app: TcpwatchApp) -> str:
    return app.main.table.render_line(0).text


def cells(app: TcpwatchApp, key: str) -> list[str]:
    """The text of column `key` in every shown row, top to bottom."""
    col = next(c for c in app.main.table.columns if c.key == key)
    flows, now = app.tracker.flows, app.main.table.now
    return [col.cell(flows[i], now) for i in shown_ids(app)]


@pytest.mark.parametrize("key", ["state_orig", "state_resp", "conn", "history"])
async def test_a_text_column_sorts_by_its_own_text(key: str) -> None:
    """`orig st`, `resp st`, `conn`, `history`: a click sorts A→Z (▲), again Z→A (▼)."""
    app = file_app(ESPN, linger=1e9)
    async with app.run_test(size=(200, 40)) as pilot:
        await loaded(pilot, app)
        await click_header(pilot, app, key)
        assert app.main.model.sort == key
        label = next(c.header for c in app.main.table.columns if c.key == key)
        assert f"{label}▲" in header(app)
        texts = cells(app, key)
        assert texts == sorted(texts) and len(set(texts)) > 1
        await click_header(pilot, app, key)
        assert f"{label}▼" in header(app)
        assert cells(app, key) == sorted(texts, reverse=True)


async def test_retr_sorts_by_retries_largest_first() -> None:
    """`retr` sorts by the retries it shows (it used to sort by `#`)."""
    app = file_app(ESPN, linger=1e9)
    async with app.run_test(size=(200, 40)) as pilot:
        await loaded(pilot, app)
        await click_header(pilot, app, "retries")
        assert app.main.model.sort == "retries"
        assert "retr▼" in header(app)
        counts = [retries(app.tracker.flows[i]) for i in shown_ids(app)]
        assert counts == sorted(counts, reverse=True) and counts[0] > 0


async def test_idle_arrow_reads_the_way_the_rows_do() -> None:
    """`idle▲` puts the smallest idle time first, `idle▼` the largest."""
    app = file_app(ESPN, linger=1e9)
    async with app.run_test(size=(200, 40)) as pilot:
        await loaded(pilot, app)
        now = app.main.table.now
        await click_header(pilot, app, "idle")
        idle = [now - app.tracker.flows[i].last_ts for i in shown_ids(app)]
        arrow = "▲" if "idle▲" in header(app) else "▼"
        assert idle == sorted(idle, reverse=arrow == "▼"), arrow
        await click_header(pilot, app, "idle")
        idle = [now - app.tracker.flows[i].last_ts for i in shown_ids(app)]
        assert idle == sorted(idle, reverse=arrow == "▲")


@pytest.mark.parametrize("clicks", [1, 2])
async def test_rows_without_an_rtt_come_last_both_ways(clicks: int) -> None:
    """Under `rtt▼` and `rtt▲` alike, flows with no handshake RTT are at the bottom."""
    app = file_app(ESPN, linger=1e9)
    async with app.run_test(size=(200, 40)) as pilot:
        await loaded(pilot, app)
        for _ in range(clicks):
            await click_header(pilot, app, "rtt")
        rtts: list[Any] = [app.tracker.flows[i].irtt for i in shown_ids(app)]
        valued = [r for r in rtts if r is not None]
        assert valued and len(valued) < len(rtts)
        assert rtts[: len(valued)] == valued  # every None after every value
        descending = "rtt▼" in header(app)
        assert descending == (clicks == 1)
        assert valued == sorted(valued, reverse=descending)
        for row, fid in enumerate(shown_ids(app)):
            assert app.main.model.row_of(fid) == row
