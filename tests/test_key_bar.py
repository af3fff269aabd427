"""The key bar at the foot of each screen: the screen's keys, kept current, and clickable."""

from __future__ import annotations

from captures import DATA
from test_tui_main import file_app, loaded, painted
from tui_wait import wait_until

from tui.flow_screen import FlowScreen
from tui.help_screen import HelpScreen
from widgets.key_bar import KeyBar

ESPN = DATA / "chrissanders_http_espn_fail.pcapng"


def painted_text(bar: KeyBar) -> str:
    """The bar's line as Textual keeps it painted (its cached line until a repaint)."""
    return "".join(text for line in painted(bar) for text, _ in line)


async def test_the_bar_follows_the_screen_s_keys_without_making_widgets() -> None:
    """`space` swaps Pause for Resume in what is painted; a flow screen shows its own keys, and
    back on the table the same bar (no widget made per key) shows the table's again."""
    app = file_app(ESPN, linger=1e9)
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(pilot, app)
        bar = app.main.query_one(KeyBar)
        assert "space Pause" in painted_text(bar) and "Resume" not in painted_text(bar)
        await pilot.press("space")
        await wait_until(pilot, lambda: "space Resume" in painted_text(bar))
        await pilot.press("space")
        await wait_until(pilot, lambda: "space Pause" in painted_text(bar))
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, FlowScreen))
        flow_bar = app.screen.query_one(KeyBar)
        await wait_until(pilot, lambda: "esc Back" in painted_text(flow_bar))
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is app.main)
        assert app.main.query_one(KeyBar) is bar and not bar.children
        await wait_until(pilot, lambda: all(k in painted_text(bar) for k in ("⏎ Open", "s Sort")))


async def test_a_click_on_a_key_presses_it() -> None:
    """A click on `? Help` in the bar opens the help, as the key does."""
    app = file_app(ESPN, linger=1e9)
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(pilot, app)
        bar = app.main.query_one(KeyBar)
        x = bar.shown().index("? Help") + 1  # on the `?`
        await pilot.click(KeyBar, offset=(x, 0))
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is app.main)
        x = bar.shown().index("s Sort") + 3  # on `Sort`, the key's description
        sort = app.main.model.sort
        await pilot.click(KeyBar, offset=(x, 0))
        await wait_until(pilot, lambda: app.main.model.sort != sort)
