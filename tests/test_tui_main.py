"""The main screen driven through Pilot over real captures: load, filter, sort, pause, linger."""

from __future__ import annotations

import gc
import io
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from captures import engine, pcap_records, read_segments
from rich.console import Console
from rich.style import Style
from textual.geometry import Region
from textual.pilot import Pilot
from textual.visual import Visual, visualize
from textual.widget import Widget
from tui_wait import wait_until

from capture.engine_source import EngineSource
from tui.app import TcpwatchApp
from tui.help_screen import HelpScreen, key_table
from widgets.conn_table import ConnectionTable
from widgets.filter_bar import FilterBar
from widgets.flag_breakdown import flag_hits
from widgets.status_bar import StatusBar
from widgets.text import safe_text

DATA = Path(__file__).parent / "data"
V4V6 = DATA / "chrissanders_http_ip4and6.pcapng"  # one IPv4 and one IPv6 HTTP flow
NMAP = DATA / "zeek_nmap-vsn.pcap"  # 17 flows to ports 80 and 443
ESPN = DATA / "chrissanders_http_espn_fail.pcapng"  # HTTP flows of a dozen segments and more


async def loaded(pilot: Pilot[None], app: TcpwatchApp) -> None:
    """Wait until the whole file is in the tracker and a tick has shown it."""
    start = app.ticks
    await wait_until(pilot, lambda: app.drain.finished and app.ticks > start + 1)
    await pilot.pause()


def file_app(path: Path, **kwargs: object) -> TcpwatchApp:
    return TcpwatchApp(*engine(str(path)), **kwargs)  # type: ignore[arg-type]


def screen_text(app: TcpwatchApp) -> list[str]:
    """What the connection table shows, line by line (header first)."""
    table = app.main.table
    return [table.render_line(y).text for y in range(table.size.height)]


def shown_ids(app: TcpwatchApp) -> list[int]:
    model = app.main.model
    return [model.id_at(i) for i in range(len(model))]


async def test_file_loads_every_flow_into_the_table() -> None:
    """Every tracked flow of a whole file gets a row showing its endpoints."""
    app = file_app(NMAP, linger=1e9)
    async with app.run_test(size=(160, 40)) as pilot:
        await loaded(pilot, app)
        flows = app.tracker.flows
        assert len(flows) >= 17
        assert sorted(shown_ids(app)) == sorted(flows)
        lines = screen_text(app)
        assert "originator" in lines[0] and "responder" in lines[0]
        text = "\n".join(lines)
        assert "192.168.1.71:58109" in text and "192.168.1.61:80" in text
        status = app.main.query_one(StatusBar).status
        assert status.packets == app.source.stats().tcp > 0
        assert status.flows_total == len(flows)
        assert status.mode == "end"


async def test_ipv6_endpoints_are_bracketed() -> None:
    """IPv6 endpoints show as [addr]:port, whole at 200 columns."""
    app = file_app(V4V6, linger=1e9)
    async with app.run_test(size=(200, 20)) as pilot:
        await loaded(pilot, app)
        text = "\n".join(screen_text(app))
        assert "[2001:db8:1:2::1002]:35023" in text and "[2001:db8:1:2::1000]:80" in text
        assert "172.16.16.140:53350" in text


async def test_filter_by_port_keeps_only_matching_flows_and_bad_filter_keeps_previous() -> None:
    """`/ port 443 enter` leaves port-443 flows; a bad expression shows its error in place."""
    app = file_app(NMAP, linger=1e9)
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(pilot, app)
        everything = len(app.main.model)
        flows = app.tracker.flows
        on_443 = next(i for i in shown_ids(app)[5:] if flows[i].resp_port == 443)
        assert app.main.table.move_to(on_443)
        await pilot.press("slash", *"port 443", "enter")
        ids = shown_ids(app)
        assert 0 < len(ids) < everything
        assert app.main.table.cursor_id == on_443  # the cursor kept its flow through the filter
        assert all(
            443 in (app.tracker.flows[i].resp_port, app.tracker.flows[i].orig_port) for i in ids
        )
        rows = [line for line in screen_text(app)[1:] if line.strip()]
        assert len(rows) == len(ids) and all(":443" in line for line in rows)
        assert app.main.query_one(StatusBar).status.display_filter == "port 443"

        await pilot.press("slash", "ctrl+u", *"port nope", "enter")
        bar = app.main.query_one(FilterBar)
        assert bar.is_open
        assert "port" in str(bar.query_one("#filter-error").render())
        assert shown_ids(app) == ids  # previous filter still in force

        await pilot.press("escape")  # cancels the edit: port 443 stays
        assert not bar.is_open
        assert shown_ids(app) == ids
        await pilot.press("c")  # clears
        assert len(app.main.model) == everything
        await pilot.press("slash", "up")
        assert bar.input.value == "port 443"  # history recall


async def test_sort_cycles_and_cursor_stays_on_its_flow() -> None:
    """`s` re-sorts the rows; the cursor keeps the same flow; clicking a header sorts too."""
    app = file_app(NMAP, linger=1e9)
    async with app.run_test(size=(160, 40)) as pilot:
        await loaded(pilot, app)
        table = app.main.table
        await pilot.press("down", "down", "down")
        chosen = table.cursor_id
        assert chosen == shown_ids(app)[3]
        await pilot.press("s")
        assert app.main.model.sort != "id"
        assert table.cursor_id == chosen
        assert shown_ids(app)[table.cursor_row] == chosen
        flows = app.tracker.flows
        if app.main.model.sort == "idle":
            seen = [flows[i].last_ts for i in shown_ids(app)]
            assert seen == sorted(seen, reverse=True)
        x = 2 + sum(
            c.width + 1 for c in table.columns[: [c.key for c in table.columns].index("bytes")]
        )
        await pilot.click(ConnectionTable, offset=(x + 1, 0))
        assert app.main.model.sort == "bytes"
        volumes = [flows[i].orig.payload + flows[i].resp.payload for i in shown_ids(app)]
        assert volumes == sorted(volumes, reverse=True)
        assert table.cursor_id == chosen


async def two_more_ticks(pilot: Pilot[None], app: TcpwatchApp) -> None:
    """Let the App run until two more ticks have (within 5 s), in short pauses: a bare pause
    waits for an idle process, up to 1 s while a replay runs."""
    ticks = app.ticks
    for _ in range(250):
        if app.ticks > ticks + 1:
            return
        await pilot.pause(0.02)
    raise AssertionError("two ticks within 5 s")


def painted(widget: Widget) -> list[list[tuple[str, Style | None]]]:
    """A widget's lines as Textual keeps them painted (cached lines where nothing changed)."""
    lines = widget.render_lines(Region(0, 0, *widget.size))
    return [[(seg.text, seg.style) for seg in line] for line in lines]


def drawn_afresh(widget: Widget) -> list[list[tuple[str, Style | None]]]:
    """A widget's lines rendered anew from what it holds now."""
    visual = visualize(widget, widget.render())
    lines = Visual.to_strips(widget, visual, *widget.size, widget.visual_style)
    return [[(seg.text, seg.style) for seg in line] for line in lines]


async def test_every_line_a_tick_changes_is_repainted() -> None:
    """A replay stepped through its capture time: after each tick, what the table shows (its
    lines as Textual keeps them painted) is what it would draw afresh, line for line, though a
    tick repaints only the lines that changed (here the header's legend at most ticks, and the
    rows of the flows that moved); and its scroll range and scrollbar follow the rows, though
    a tick that adds rows resizes them alone, without laying out the screen again."""
    clock = [0.0]
    source = EngineSource(str(NMAP), speed=1.0, clock=lambda: clock[0], seed=0)
    app = TcpwatchApp(source, source, replay=True, linger=1e9)
    # 10 rows of 17 flows (the others change off screen), wide enough for the header's legend
    async with app.run_test(size=(220, 16)) as pilot:
        table = app.main.table
        await wait_until(pilot, lambda: app.ticks > 0)
        seen: set[tuple[str, ...]] = set()
        for step in range(1, 21):
            clock[0] = step * 0.1
            await two_more_ticks(pilot, app)
            region = Region(0, 0, table.size.width, table.size.height)
            shown = tuple(strip.text for strip in table.render_lines(region))
            fresh = tuple(table.render_line(y).text for y in range(table.size.height))
            assert shown == fresh, f"step {step}"
            seen.add(shown)
            # the scroll range follows the rows, and so does the scrollbar once it is shown
            rows = len(app.main.model)
            assert table.virtual_size.height == rows + 1
            assert table.show_vertical_scrollbar == (rows + 1 > table.container_size.height)
            assert not table.show_horizontal_scrollbar, "the columns fit the width"
            if table.show_vertical_scrollbar:
                bar = table.vertical_scrollbar
                assert bar.window_virtual_size == rows + 1
                assert table.max_scroll_y == rows + 1 - table.container_size.height
                assert painted(bar) == drawn_afresh(bar), f"step {step}: the scrollbar"
        assert len(seen) > 5, "the table changed from tick to tick"
        assert table.show_vertical_scrollbar, "more rows than fit, by the end"
        await pilot.press("end")
        last = app.main.model.id_at(len(app.main.model) - 1)
        await wait_until(pilot, lambda: table.cursor_id == last)
        assert round(table.scroll_y) == table.max_scroll_y


async def test_rows_move_with_the_clock_a_few_at_a_tick() -> None:
    """With nothing arriving, the clock alone moves the rows' ages: each row is repainted once
    a second, at its own point of the second, so a tick repaints a few rows, never them all."""
    clock = [0.0]
    source = EngineSource(str(NMAP), speed=1.0, clock=lambda: clock[0], seed=0)
    app = TcpwatchApp(source, source, replay=True, linger=1e9)
    async with app.run_test(size=(220, 30)) as pilot:
        table = app.main.table
        clock[0] = 100.0  # past the capture's end: every flow is in
        await wait_until(pilot, lambda: app.drain.finished and len(app.main.model) == 17)
        await pilot.pause(0.2)
        asked: list[Region | None] = []
        refresh = table.refresh

        def noted(*regions: Region, **kwargs: Any) -> Any:
            asked.extend(regions or [None])  # None: the whole table
            return refresh(*regions, **kwargs)

        table.refresh = noted  # type: ignore[method-assign]
        repainted: list[set[int]] = []
        for step in range(1, 21):
            clock[0] = 100.0 + step * 0.1
            await two_more_ticks(pilot, app)
            rows = range(1, 18) if None in asked else {r.y for r in asked if r.y > 0}
            repainted.append({table.model.id_at(y - 1) for y in rows})
            asked.clear()
    assert all(len(rows) <= 8 for rows in repainted), repainted
    for second in (repainted[:10], repainted[10:]):
        assert set().union(*second) == set(shown_ids(app)), "each row once a second"


async def test_pause_freezes_rows_while_counters_move() -> None:
    """`space` stops the rows changing; the status bar keeps counting; resume catches up."""
    clock = [0.0]
    source = EngineSource(str(NMAP), speed=1.0, clock=lambda: clock[0])
    app = TcpwatchApp(source, source, replay=True, linger=1e9)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: len(app.main.model) > 0)
        await pilot.press("space")
        status = app.main.query_one(StatusBar)
        assert status.status.mode == "paused"
        frozen = shown_ids(app)
        before = status.status.packets
        clock[0] = 1e6  # everything is now due
        await wait_until(pilot, lambda: app.drain.finished and app.ticks > 0)
        ticks = app.ticks
        await wait_until(pilot, lambda: app.ticks > ticks + 1)
        assert status.status.packets > before
        assert shown_ids(app) == frozen
        assert len(app.tracker.flows) > len(frozen)
        await pilot.press("space")
        assert status.status.mode != "paused"
        assert sorted(shown_ids(app)) == sorted(app.tracker.flows)


async def test_closed_flows_linger_then_leave_in_capture_time() -> None:
    """With a short linger, finished flows leave the view but stay tracked."""
    app = file_app(NMAP, linger=0.5)
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(pilot, app)
        end = app.drain.capture_ts
        flows = app.tracker.flows
        finished = {
            i for i in flows if app.main.model.categories.get(i) in ("closed", "reset", "refused")
        }
        assert finished, "this capture has refused and reset flows"
        for i in flows:
            expected = i not in finished or flows[i].last_ts + 0.5 > end
            assert (i in app.main.model) == expected


async def test_enter_opens_the_flow_and_escape_returns_to_the_same_flow() -> None:
    """`enter` pushes the flow screen for the highlighted flow; `escape` keeps the cursor."""
    flow_screen = pytest.importorskip("tui.flow_screen")
    app = file_app(NMAP, linger=1e9)
    async with app.run_test(size=(160, 40)) as pilot:
        await loaded(pilot, app)
        await pilot.press("down", "down")
        chosen = app.main.table.cursor_id
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, flow_screen.FlowScreen))
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is app.main)
        assert app.main.table.cursor_id == chosen


class CountedFlows:
    """A tracker whose `flow` lookups are counted (the flow screen's refreshes make them)."""

    def __init__(self, tracker: Any) -> None:
        self.tracker, self.lookups = tracker, 0

    def flow(self, flow_id: int) -> Any:
        self.lookups += 1
        return self.tracker.flow(flow_id)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.tracker, name)


async def test_the_next_flow_opens_on_the_kept_screen_as_a_new_screen_shows_it() -> None:
    """The App keeps one flow screen: the next flow opened shows on it as on a new screen,
    whatever the last one left (absolute numbers, notes, the inspector open, the cursor down
    the ladder); hidden, the screen does not refresh."""
    from tui.flow_screen import FlowScreen
    from widgets.ladder import Ladder
    from widgets.ladder_rows import build_rows

    app = file_app(ESPN, linger=1e9)
    async with app.run_test(size=(160, 40)) as pilot:
        await loaded(pilot, app)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, FlowScreen))
        kept = app.screen
        assert isinstance(kept, FlowScreen)
        ladder = kept.query_one(Ladder)
        await wait_until(pilot, lambda: bool(ladder.rows) and ladder.size.height > 0)
        first = kept.flow_id
        await pilot.press("a", "t", "down", "down", "enter")
        await wait_until(pilot, lambda: kept.inspected is not None)
        assert ladder.absolute and ladder.notes and ladder.cursor == 2
        await pilot.press("escape", "escape")
        await wait_until(pilot, lambda: app.screen is app.main)
        # hidden, it reads no flow
        kept.tracker = counted = CountedFlows(kept.tracker)
        await two_more_ticks(pilot, app)
        await two_more_ticks(pilot, app)
        assert counted.lookups == 0
        # WHEN another flow is opened
        await pilot.press("down", "enter")
        second = app.main.table.cursor_id
        await wait_until(pilot, lambda: app.screen is kept and kept.flow_id == second)
        assert second != first
        # shown, it refreshes again: two lookups to show the flow, then one a refresh
        await wait_until(pilot, lambda: counted.lookups > 4)
        # THEN it shows that flow as a new screen would
        flow = app.tracker.flow(second)
        assert [r.frame_no for r in ladder.rows] == [r.frame_no for r in build_rows(flow)]
        assert not ladder.absolute and not ladder.notes and ladder.cursor == 0
        assert kept.inspected is None and not kept.query_one("#flow-inspect").has_class("-open")
        assert kept.focused is ladder and ladder.scroll_offset.y == 0
        header = ladder.render_line(0).text
        assert f"{flow.orig_port}" in header and "seq/ack relative" in header
        assert kept.check_action("toggle_absolute", ())  # the key bar offers `a` absolute


async def test_a_cursor_move_repaints_its_two_rows_and_a_new_theme_every_row() -> None:
    """`j` repaints the row it leaves and the row it lands on, nothing else; after a flow is
    opened and closed, the rows already built are reused (the styles came back unchanged);
    a new theme rebuilds them in its colours."""
    app = file_app(NMAP, linger=1e9)
    async with app.run_test(size=(160, 30)) as pilot:
        await loaded(pilot, app)
        table = app.main.table
        asked: list[Region | None] = []
        refresh = table.refresh

        def noted(*regions: Region, **kwargs: Any) -> Any:
            asked.extend(regions or [None])
            return refresh(*regions, **kwargs)

        table.refresh = noted  # type: ignore[method-assign]
        await pilot.press("j")
        await pilot.pause()
        assert table.cursor_row == 1
        assert sorted(r.y for r in asked if r is not None) == [1, 2] and None not in asked
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen is not app.main)
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is app.main)
        built = 0
        row_strip = table._row_strip

        def counted(*args: Any) -> Any:
            nonlocal built
            built += 1
            return row_strip(*args)

        table._row_strip = counted  # type: ignore[method-assign]
        await pilot.press("j")
        await pilot.pause()
        assert built <= 2  # at most the two rows whose cursor changed (17 rows on screen)
        before = list(table.render_line(4))[-1].style
        app.theme = "textual-light" if app.theme != "textual-light" else "textual-dark"
        await pilot.pause()
        after = list(table.render_line(4))[-1].style
        assert before is not None and after is not None and before.color != after.color


async def test_the_flow_screen_shows_every_segment_the_table_s_snapshot_leaves_out() -> None:
    """The table's snapshots carry a flow's handshake and teardown segments only; the flow
    screen asks the engine for the flow whole: its ladder has a row for each kept segment."""
    from tui.flow_screen import FlowScreen
    from widgets.ladder import Ladder

    app = file_app(DATA / "chrissanders_http_espn_fail.pcapng", linger=1e9)
    async with app.run_test(size=(160, 40)) as pilot:
        await loaded(pilot, app)
        flows = app.tracker.flows
        busy = max(flows.values(), key=lambda f: f.orig.pkts + f.resp.pkts)
        segments = busy.orig.pkts + busy.resp.pkts
        assert len(busy.frames()) < segments
        assert app.main.table.move_to(busy.id)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, FlowScreen))
        ladder = app.screen.query_one(Ladder)
        await wait_until(pilot, lambda: len({r.frame_no for r in ladder.rows}) == segments)


async def test_shed_frames_are_counted_in_the_status_bar_and_marked_on_the_ladder() -> None:
    """A session that sheds kept frames (as live tracking does while it is behind the capture)
    still tracks every segment; the status bar counts the segments whose frames were not kept,
    and the flow screen's ladder shows a `not kept` line for them, with the handshake and
    teardown rows still there."""
    from tui.flow_screen import FlowScreen
    from widgets.ladder import Ladder

    clock = [0.0]
    source = EngineSource(str(DATA / "chrissanders_http_espn_fail.pcapng"), speed=1.0,
                          clock=lambda: clock[0], seed=0)  # fmt: skip
    source.session.set_shedding(True)
    app = TcpwatchApp(source, source, replay=True, linger=1e9)
    async with app.run_test(size=(160, 40)) as pilot:
        clock[0] = 1e6  # every record is due
        await wait_until(pilot, lambda: app.drain.finished)
        shed = source.stats().frames_shed
        assert shed > 0
        bar = app.main.query_one(StatusBar)
        await wait_until(pilot, lambda: f"not kept {shed:,}" in bar.shown())
        flows = app.tracker.flows
        assert app.drain.segments == sum(f.orig.pkts + f.resp.pkts for f in flows.values())
        busy = max(flows.values(), key=lambda f: f.orig.pkts + f.resp.pkts)
        assert app.main.table.move_to(busy.id)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, FlowScreen))
        ladder = app.screen.query_one(Ladder)
        await wait_until(pilot, lambda: bool(ladder.rows))
        kept = {r.frame_no for r in ladder.rows if r.kind == "segment"}
        skipped = sum(r.skipped for r in ladder.rows if r.kind == "skip")
        assert skipped > 0
        assert len(kept) + skipped == busy.orig.pkts + busy.resp.pkts
        assert ladder.rows[0].flags & 0x02, "the SYN is kept"
        assert any("not kept" in ladder.row_text(i) for i in range(len(ladder.rows)))


async def test_what_the_app_loaded_at_start_is_out_of_the_collector_s_reach() -> None:
    """Once the main screen is painted and the flow screen preloaded, what is loaded (modules,
    the widgets) is frozen: the collector's old generation no longer walks it at every full
    collection (55 ms a time on the UI thread, live)."""
    gc.unfreeze()  # what earlier tests froze
    assert gc.get_freeze_count() == 0
    app = file_app(NMAP)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: "tui.flow_screen" in sys.modules and gc.get_freeze_count())
        assert gc.get_freeze_count() > 10_000


async def test_help_lists_every_main_key() -> None:
    """`?` opens the help screen; it names the keys; escape closes it."""
    app = file_app(NMAP)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
        console = Console(width=120, record=True, file=io.StringIO())
        console.print(key_table())
        text = console.export_text()
        for key in ("enter", "/", "space", "escape", "?", "q"):
            assert key in text
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is app.main)


async def test_capture_error_becomes_a_notification(tmp_path: Path) -> None:
    """A capture cut short mid-record is reported as a notification; the app keeps running."""
    cut = tmp_path / "cut.pcap"
    data = NMAP.read_bytes()
    cut.write_bytes(data[: len(data) - 7])
    app = file_app(cut, linger=1e9)
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(pilot, app)
        if app.source.error is None:
            pytest.fail("the reader did not report the cut record")
        await wait_until(pilot, lambda: any(n.severity == "error" for n in app._notifications))
        assert app.is_running and len(app.main.model) > 0


def test_safe_text_never_passes_controls_or_markup() -> None:
    """Untrusted strings are escaped and never parsed as markup."""
    text = safe_text("evil\x1b]0;pwned\x07[bold]x[/bold]")
    assert "\x1b" not in text.plain and "\x07" not in text.plain
    assert "\\x1b" in text.plain and "[bold]x[/bold]" in text.plain
    assert not text.spans


async def test_process_names_are_escaped_in_rows() -> None:
    """A process name with control bytes and markup shows as visible escapes in its row."""
    app = file_app(V4V6, linger=1e9)
    async with app.run_test(size=(200, 20)) as pilot:
        await loaded(pilot, app)
        # as live process attribution would name it
        assert app.tracker.session.set_process(1, "orig", 4242, "cu\x1b[2Jrl[b]")
        await wait_until(pilot, lambda: app.tracker.flows[1].proc_orig is not None)
        await pilot.pause()
        app.main.table.sync(app.now())
        row = next(line for line in screen_text(app) if "172.16.16.140:53350" in line)
        assert "\x1b" not in row and "cu\\x1b[2Jrl[b]" in row


async def test_clicking_a_row_moves_the_cursor_and_a_second_click_opens_it() -> None:
    """Click selects a row; clicking the highlighted row again asks to open it."""
    app = file_app(NMAP, linger=1e9)
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(pilot, app)
        await pilot.click(ConnectionTable, offset=(5, 4))
        target = shown_ids(app)[3]
        assert app.main.table.cursor_id == target
        await pilot.click(ConnectionTable, offset=(5, 4))
        await wait_until(pilot, lambda: type(app.screen).__name__ == "FlowScreen")
        assert app.screen.flow_id == target  # type: ignore[attr-defined]


async def test_untrusted_source_name_is_escaped_in_the_status_bar(tmp_path: Path) -> None:
    """A file name with an escape sequence reaches the screen as visible text."""
    evil = tmp_path / "x\x1b[2Jy[red].pcap"
    shutil.copy(V4V6, evil)
    app = file_app(evil)
    async with app.run_test(size=(200, 30)) as pilot:
        await loaded(pilot, app)
        bar = app.main.query_one(StatusBar)
        shown = bar.shown()
        assert "\x1b" not in shown
        assert "x\\x1b[2Jy[red].pcap" in shown


def flag_totals_from_segments(path: Path, port: int | None = None) -> list[int]:
    """Per-flag segment counts straight from the decoded capture (every TCP segment, as an
    engine tracker keeping them all holds them: no per-flag counting of the App's involved)."""
    totals = [0] * 9
    for seg in read_segments(path):
        if port is not None and port not in (seg.sport, seg.dport):
            continue
        totals = [t + h for t, h in zip(totals, flag_hits(seg.flags), strict=True)]
    return totals


async def test_flag_breakdown_counts_what_is_shown() -> None:
    """Flag totals equal the capture's own per-flag counts, and follow the filter."""
    app = file_app(NMAP, linger=1e9)
    async with app.run_test(size=(160, 30)) as pilot:
        await loaded(pilot, app)
        breakdown = app.main.breakdown
        assert breakdown.totals[:9] == flag_totals_from_segments(NMAP)
        assert "SYN 17" in breakdown.shown()
        segments = list(read_segments(NMAP))
        assert sum(app.main.rates.spark(app.now())) == len(segments)
        await pilot.press("slash", *"port 443", "enter")
        await wait_until(
            pilot, lambda: breakdown.totals[:9] == flag_totals_from_segments(NMAP, 443)
        )
        # the rates and the sparkline are recounted for the flows the filter selects
        on_443 = [s for s in segments if 443 in (s.sport, s.dport)]
        assert 0 < len(on_443) < len(segments)
        assert sum(app.main.rates.spark(app.now())) == len(on_443)


async def test_finished_flow_lingers_faded_then_leaves_as_replay_time_passes() -> None:
    """A refused flow stays (faded) for `--linger` seconds of capture time, then leaves the view."""
    clock = [0.0]
    source = EngineSource(str(NMAP), speed=1.0, clock=lambda: clock[0])
    app = TcpwatchApp(source, source, replay=True, linger=0.5)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: 1 in app.main.model)
        clock[0] = 0.3  # 300 ms of capture time later: the refusal is fresh
        await wait_until(pilot, lambda: app.main.model.categories.get(1) == "refused")
        assert 1 in app.main.model
        row = screen_text(app)[1 + app.main.model.row_of(1)]  # type: ignore[operator]
        assert "192.168.1.1:80" in row
        clock[0] = 10.0  # the rest of the capture: 2.4 s, well past the linger
        await wait_until(pilot, lambda: app.drain.finished and 1 not in app.main.model)
        assert 1 in app.tracker.flows  # still tracked (and exported), just not shown
        assert all("192.168.1.1:80" not in line for line in screen_text(app))


async def test_sips_between_ticks_take_segments_into_the_model_without_painting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A sip drains the source and places its flows in the table's model; the rows are painted
    at the next tick, with the cursor still on the flow it was on."""
    import tui.app

    monkeypatch.setattr(tui.app, "TICK", 3600.0)  # neither timer fires by itself here
    monkeypatch.setattr(tui.app, "SIP_EVERY", 3600.0)
    app = file_app(NMAP)
    async with app.run_test(size=(160, 30)) as pilot:
        await wait_until(pilot, lambda: app.main.is_mounted and app.main.table.size.height > 0)
        table = app.main.table
        painted, size = table._last_painted, table.virtual_size
        for _ in range(50):
            app.sip()
            if app.drain.finished:
                break
        assert app.drain.finished and app.drain.segments == app.source.stats().tcp
        assert len(app.main.model) == len(app.tracker.flows) == 17
        assert table._last_painted == painted  # placed, not yet painted
        assert table.virtual_size == size  # a new size repaints the scrollbar and all at once
        assert app.ticks == 0
        app.tick()
        await wait_until(pilot, lambda: app.ticks == 1)
        await pilot.pause()
        assert table._last_painted != painted
        assert table.virtual_size.height == 17 + 1
        assert sum(1 for line in screen_text(app) if ":80 " in line or ":443 " in line) == 17


async def test_sips_wait_while_live_tracking_is_behind(monkeypatch: pytest.MonkeyPatch) -> None:
    """While the engine's queue to tracking is filling (`tui.drain.BEHIND_AT`), sips take in
    nothing and a step takes a quarter of the flows, leaving the CPU to the tracker; the sips
    resume after."""
    import tui.app
    import tui.drain
    from tui.drain import BEHIND_AT

    monkeypatch.setattr(tui.app, "TICK", 3600.0)  # neither timer fires by itself here
    monkeypatch.setattr(tui.app, "SIP_EVERY", 3600.0)
    monkeypatch.setattr(tui.drain, "CHANGED_PER_STEP", 8)
    app = file_app(NMAP)
    async with app.run_test(size=(160, 30)) as pilot:
        await wait_until(pilot, lambda: app.main.is_mounted and app.main.table.size.height > 0)
        await wait_until(pilot, lambda: app.source.session.poll(0)["finished"])
        app.drain.queue_fill = BEHIND_AT  # as a live step reads it from the engine
        for _ in range(5):
            app.sip()
        assert app.drain.segments == 0 and len(app.main.model) == 0
        app.tick()
        await wait_until(pilot, lambda: app.ticks == 1)
        assert len(app.main.model) == 2  # 8 // 4
        # a file's engine has no queue: the tick's poll said 0, and the sips take the rest
        for _ in range(50):
            app.sip()
            if app.drain.finished and not app.drain.backlog:
                break
        assert len(app.main.model) == 17


async def test_a_live_tick_takes_a_quarter_of_a_step_and_the_sips_the_rest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Live, the tick's step (a repaint follows it) takes a quarter as many changed flows as
    a sip's: the sips between ticks fold in the bulk."""
    import tui.app
    import tui.drain

    monkeypatch.setattr(tui.app, "TICK", 3600.0)  # neither timer fires by itself here
    monkeypatch.setattr(tui.app, "SIP_EVERY", 3600.0)
    monkeypatch.setattr(tui.drain, "CHANGED_PER_STEP", 8)
    app = file_app(NMAP, linger=1e12)
    async with app.run_test(size=(160, 30)) as pilot:
        await wait_until(pilot, lambda: app.main.is_mounted and app.main.table.size.height > 0)
        await wait_until(pilot, lambda: app.source.session.poll(0)["finished"])
        app.drain.live = True  # as a live capture's drain (the clock is the wall's then)
        shown, ticks = len(app.main.model), app.ticks
        app.tick()
        await wait_until(pilot, lambda: app.ticks == ticks + 1)
        assert len(app.main.model) == shown + 2  # 8 // 4
        app.sip()
        assert len(app.main.model) == shown + 2 + 8


async def test_w_saves_every_frame_of_a_flow_read_from_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A capture read whole keeps every frame of its flows (within the engine's budgets): `w`
    on espn flow 9 saves its 199 frames, says so, and never overwrites an earlier save (issue
    12 #2: it saved 67)."""
    monkeypatch.chdir(tmp_path)
    app = file_app(DATA / "chrissanders_http_espn_fail.pcapng", linger=1e9)
    async with app.run_test(size=(160, 40)) as pilot:
        await loaded(pilot, app)
        app.open_flow(9)
        await wait_until(pilot, lambda: type(app.screen).__name__ == "FlowScreen")
        await wait_until(pilot, lambda: app.screen.flow is not None)  # type: ignore[attr-defined]
        await pilot.press("w")
        await wait_until(pilot, lambda: (tmp_path / "tcpwatch-flow-9.pcap").exists())
        # AND a second `w` keeps the first file, writing the next name, and says which
        await pilot.press("w")
        await wait_until(pilot, lambda: (tmp_path / "tcpwatch-flow-9-2.pcap").exists())
        await pilot.pause()
        notes = [str(n.message) for n in app._notifications]
    for name in ("tcpwatch-flow-9.pcap", "tcpwatch-flow-9-2.pcap"):
        assert len(pcap_records(tmp_path / name)) == 199
    assert any(n.startswith("199 of 199 frames saved to ") for n in notes), notes
    assert any(n.endswith("tcpwatch-flow-9-2.pcap") for n in notes), notes
