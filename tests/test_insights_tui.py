"""The insights screen over a real capture, driven through Pilot: `i`, the list, enter, escape."""

from __future__ import annotations

from pathlib import Path

from captures import engine
from textual.pilot import Pilot
from tui_wait import wait_until

from tui.app import TcpwatchApp
from tui.insights_screen import InsightsScreen, summary
from tui.main_screen import MainScreen
from widgets.insights_list import InsightsList

DATA = Path(__file__).parent / "data"
ESPN = DATA / "chrissanders_http_espn_fail.pcapng"  # 16 flows, 9 of them unanswered SYNs


async def open_insights(pilot: Pilot[None], app: TcpwatchApp) -> InsightsScreen:
    await wait_until(pilot, lambda: app.drain.finished and app.ticks > 2)
    await pilot.press("i")
    await wait_until(pilot, lambda: isinstance(app.screen, InsightsScreen))
    screen = app.screen
    assert isinstance(screen, InsightsScreen)
    await wait_until(pilot, lambda: screen.analyses > 0)
    return screen


def shown_ids(app: TcpwatchApp) -> list[int]:
    model = app.main.model
    return sorted(model.id_at(i) for i in range(len(model)))


async def test_enter_on_a_finding_filters_the_table_to_its_flows() -> None:
    """`i`, pick the unanswered-SYN finding, `enter`: the table shows exactly its flows."""
    app = TcpwatchApp(*engine(str(ESPN)))
    async with app.run_test(size=(130, 40)) as pilot:
        screen = await open_insights(pilot, app)
        kinds = [f.kind for f in screen.findings]
        assert "unanswered" in kinds
        listing = screen.query_one(InsightsList)
        listing.highlighted = kinds.index("unanswered")
        finding = screen.findings[kinds.index("unanswered")]
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, MainScreen))
        await wait_until(pilot, lambda: shown_ids(app) == sorted(finding.flow_ids))
        assert app.main.display_filter.startswith("id ")
        assert len(shown_ids(app)) == 9 < len(app.tracker.flows)


async def test_escape_goes_back_without_touching_the_filter() -> None:
    """`escape` pops the screen; the table keeps every flow."""
    app = TcpwatchApp(*engine(str(ESPN)))
    async with app.run_test(size=(130, 40)) as pilot:
        screen = await open_insights(pilot, app)
        before = shown_ids(app)
        summary_text = str(screen.query_one("#insights-summary").render())
        assert "warning" in summary_text and "16 flows" in summary_text
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, MainScreen))
        assert app.main.display_filter == ""
        assert shown_ids(app) == before and len(before) > 9


async def test_the_list_keeps_its_cursor_on_the_same_finding_across_refreshes() -> None:
    """A refresh (`r`) with the same findings leaves the highlight where it was."""
    app = TcpwatchApp(*engine(str(ESPN)))
    async with app.run_test(size=(130, 40)) as pilot:
        screen = await open_insights(pilot, app)
        listing = screen.query_one(InsightsList)
        listing.highlighted = len(screen.findings) - 1
        key = screen.findings[-1].key
        before = screen.analyses
        await pilot.press("r")
        await wait_until(pilot, lambda: screen.analyses > before)
        found = listing.highlighted_finding()
        assert found is not None and found.key == key


def test_summary_counts_by_severity() -> None:
    """The summary line names each severity present, and says when there is nothing."""
    assert summary([], 5) == "No findings over 5 flows."


async def test_the_rules_run_off_the_ui_thread(monkeypatch) -> None:
    """The facts are taken on the UI thread; the rules run on a worker thread, and their
    findings reach the list."""
    import threading

    import tui.insights_screen as screen_module

    threads: list[threading.Thread] = []
    real = screen_module.analyse_facts

    def recording(*args, **kwargs):
        threads.append(threading.current_thread())
        return real(*args, **kwargs)

    monkeypatch.setattr(screen_module, "analyse_facts", recording)
    app = TcpwatchApp(*engine(str(ESPN)))
    async with app.run_test() as pilot:
        screen = await open_insights(pilot, app)
        assert threads and all(t is not threading.main_thread() for t in threads)
        assert screen.findings and screen.query_one(InsightsList).findings == screen.findings


async def test_a_failing_rule_is_shown_not_fatal(monkeypatch) -> None:
    import tui.insights_screen as screen_module

    def broken(*args, **kwargs):
        raise ZeroDivisionError("a rule's bug")

    monkeypatch.setattr(screen_module, "analyse_facts", broken)
    app = TcpwatchApp(*engine(str(ESPN)))
    async with app.run_test() as pilot:
        screen = await open_insights(pilot, app)
        text = str(screen.query_one("#insights-summary").render())
        assert "insights failed" in text and "ZeroDivisionError" in text
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, MainScreen))


NMAP = DATA / "zeek_nmap-vsn.pcap"  # a connect scan: 17 flows, 6 refused, 3 reset or closed


async def test_a_findings_flows_all_show_and_stay_past_the_linger() -> None:
    """A replay with a short linger: the scan's finished flows have left the table when the
    finding is chosen; `enter` shows every one of its flows all the same, and they stay while
    the replay's clock runs on. Another filter lets the linger apply again."""
    from capture.engine_source import EngineSource

    clock = [0.0]
    source = EngineSource(str(NMAP), speed=1.0, clock=lambda: clock[0])
    app = TcpwatchApp(source, source, replay=True, linger=0.5)
    async with app.run_test(size=(130, 40)) as pilot:
        clock[0] = 10.0  # the whole capture (2.4 s) and then some: past every linger
        await wait_until(pilot, lambda: app.drain.finished)
        finished = {i for i, c in app.main.model.categories.items() if c in ("refused", "reset")}
        await wait_until(pilot, lambda: finished and not finished & set(shown_ids(app)))
        await pilot.press("i")
        await wait_until(pilot, lambda: isinstance(app.screen, InsightsScreen))
        screen = app.screen
        assert isinstance(screen, InsightsScreen)
        await wait_until(pilot, lambda: screen.analyses > 0)
        kinds = [f.kind for f in screen.findings]
        finding = screen.findings[kinds.index("port_scan")]
        assert finished <= set(finding.flow_ids)
        screen.query_one(InsightsList).highlighted = kinds.index("port_scan")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, MainScreen))
        await wait_until(pilot, lambda: shown_ids(app) == sorted(finding.flow_ids))
        for later in (20.0, 60.0):  # the replay's clock runs on: the rows stay
            clock[0] = later
            ticks = app.ticks
            await wait_until(pilot, lambda t=ticks: app.ticks > t + 2)
            assert shown_ids(app) == sorted(finding.flow_ids)
        await pilot.press("slash", "end", *" or port 80", "enter")  # the bar opens selected
        await wait_until(pilot, lambda: app.main.display_filter == "id 1-17 or port 80")
        await wait_until(pilot, lambda: not finished & set(shown_ids(app)))
