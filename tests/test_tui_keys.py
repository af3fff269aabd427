"""Keys that end the App: `ctrl+c` quits as `q` does, and keys typed ahead of the exit are
harmless."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_tui_main import file_app, loaded, wait_until
from textual import events

DATA = Path(__file__).parent / "data"
ESPN = DATA / "chrissanders_http_espn_fail.pcapng"


async def test_ctrl_c_quits_like_q() -> None:
    """`ctrl+c` ends the App (the README promises SIGINT does), instead of a hint about ctrl+q."""
    app = file_app(ESPN, linger=1e9)
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(pilot, app)
        await pilot.press("ctrl+c")
        await wait_until(pilot, lambda: app._exit)
        assert not app._notifications


async def test_ctrl_c_quits_from_the_filter_bar_too() -> None:
    """In the filter bar `ctrl+c` would copy; it quits there as well."""
    app = file_app(ESPN, linger=1e9)
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(pilot, app)
        await pilot.press("slash", *"port 80", "ctrl+c")
        await wait_until(pilot, lambda: app._exit)


@pytest.mark.parametrize("keys", [("q", "i"), ("q", "question_mark"), ("q", "i", "r")])
async def test_keys_typed_after_q_raise_nothing(keys: tuple[str, ...]) -> None:
    """`q` then `i` (typed ahead) exits cleanly: no NoMatches from a half-built screen."""
    app = file_app(ESPN, linger=1e9)
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(pilot, app)
        for key in keys:  # all at once, as from one read of the terminal
            event = events.Key(key, "?" if key == "question_mark" else key)
            event.set_sender(app)
            app._driver.send_message(event)  # type: ignore[union-attr]
        await wait_until(pilot, lambda: app._exit)
    assert app.return_code in (0, None)
    assert app._exception is None, app._exception


async def test_j_and_k_move_the_cursor_as_down_and_up_do() -> None:
    """Vi's `j`/`k` move the table's cursor and, in a flow, the ladder's, as `down`/`up` do."""
    app = file_app(ESPN, linger=1e9)
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(pilot, app)
        table = app.main.table
        assert table.cursor_row == 0
        await pilot.press("j", "j", "j", "k")
        assert table.cursor_row == 2
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen is not app.main)
        ladder = app.screen.query_one("Ladder")
        start = ladder.cursor
        await pilot.press("j", "j")
        assert ladder.cursor == start + 2
        await pilot.press("k")
        assert ladder.cursor == start + 1
