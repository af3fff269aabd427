"""The filter bar as a user meets it: the typed text shows, `/` reopens with the active filter,
`escape` cancels an edit, and clearing the filter is a key of its own, shown in the footer."""

from __future__ import annotations

from pathlib import Path

from test_tui_main import file_app, loaded, shown_ids
from textual.widgets import Input

from widgets.filter_bar import FilterBar
from widgets.key_bar import KeyBar

DATA = Path(__file__).parent / "data"
ESPN = DATA / "chrissanders_http_espn_fail.pcapng"


def footer_keys(app: object) -> str:
    """The footer's text (keys and their descriptions)."""
    screen = app.screen  # type: ignore[attr-defined]
    return screen.query_one(KeyBar).shown()


async def test_typed_text_shows_in_the_bar() -> None:
    """The input has a row for its text at every size, and the text typed is on screen."""
    for size in ((80, 24), (220, 60)):
        app = file_app(ESPN, linger=1e9)
        async with app.run_test(size=size) as pilot:
            await loaded(pilot, app)
            await pilot.press("slash", *"port 80")
            await pilot.pause()
            inp = app.main.query_one(FilterBar).query_one(Input)
            assert inp.content_region.height == 1
            y = inp.content_region.y
            line = "".join(
                s.text for s in app.screen._compositor.render_update(full=True).strips[y]
            )  # type: ignore[attr-defined]
            assert "port 80" in line


async def test_slash_reopens_with_the_active_filter_and_escape_keeps_it() -> None:
    """`/` shows the active filter in the bar; `escape` drops the edit, the filter stays."""
    app = file_app(ESPN, linger=1e9)
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(pilot, app)
        await pilot.press("slash", *"port 80", "enter")
        filtered = shown_ids(app)
        bar = app.main.query_one(FilterBar)
        assert not bar.is_open and app.main.display_filter == "port 80"

        await pilot.press("slash")
        assert bar.is_open and bar.input.value == "port 80"
        await pilot.press(*" and flags rst", "escape")
        assert not bar.is_open
        assert app.main.display_filter == "port 80"
        assert shown_ids(app) == filtered
        assert app.main.table.has_focus

        await pilot.press("slash")
        assert bar.input.value == "port 80"  # the cancelled edit is gone too
        await pilot.press("escape")


async def test_a_key_shown_in_the_footer_clears_the_filter() -> None:
    """With a filter active, the footer offers a key that clears it; without, it is not shown."""
    app = file_app(ESPN, linger=1e9)
    async with app.run_test(size=(160, 30)) as pilot:
        await loaded(pilot, app)
        everything = len(app.main.model)
        assert "Clear filter" not in footer_keys(app)
        await pilot.press("slash", *"conn S0", "enter")
        await pilot.pause()
        assert len(app.main.model) < everything
        assert "Clear filter" in footer_keys(app)
        await pilot.press("c")
        await pilot.pause()
        assert app.main.display_filter == ""
        assert len(app.main.model) == everything
        assert "Clear filter" not in footer_keys(app)


async def test_opening_and_closing_the_bar_repaints_its_line_alone() -> None:
    """Closed, the bar is the rule above the flag breakdown; `/` turns that line into the
    prompt and moves the focus there, `escape` turns it back: no other widget moves, and
    neither the table nor the screen is repainted whole (the focus moving both ways)."""
    app = file_app(ESPN, linger=1e9)
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(pilot, app)
        main, table = app.main, app.main.table
        bar = main.query_one(FilterBar)
        regions = {w: w.region for w in (table, bar, main.breakdown, main.status_bar)}
        assert bar.region.height == 1
        whole: list[str] = []
        for widget, name in ((table, "table"), (main, "screen")):

            def noted(*regions: object, _refresh=widget.refresh, _name=name, **kw: object):
                if not regions and kw.get("repaint", True):
                    whole.append(_name)
                return _refresh(*regions, **kw)

            widget.refresh = noted  # type: ignore[method-assign]
        await pilot.press("slash")
        await pilot.pause()
        assert bar.is_open and main.focused is bar.input
        assert {w: w.region for w in regions} == regions
        await pilot.press("escape")
        await pilot.pause()
        assert not bar.is_open and main.focused is table
        assert {w: w.region for w in regions} == regions
        assert whole == []
