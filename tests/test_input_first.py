"""Input first (`tui.input_first`): while a key is handled, sips, a tick and the collector wait.

The rules on a clock the test moves, then the real App over a real capture: keys pressed as a
terminal sends them (Pilot), the App's own sips and ticks called as its timers call them.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest
from captures import engine
from tui_wait import wait_until

from tui.app import TcpwatchApp
from tui.input_first import WINDOW, InputFirst

NMAP = Path(__file__).parent / "data" / "zeek_nmap-vsn.pcap"  # 17 flows


@pytest.fixture(autouse=True)
def collector_back_on() -> Iterator[None]:
    """Whatever a test does, the collector runs again after it."""
    assert gc.isenabled()
    yield
    gc.enable()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_input_opens_a_window_of_its_own_length() -> None:
    clock = Clock()
    first = InputFirst(clock)
    assert not first.busy()
    first.noted()
    clock.now += WINDOW * 0.9
    assert first.busy()
    first.noted()  # a second key: the window runs from it
    clock.now += WINDOW * 0.9
    assert first.busy()
    clock.now += WINDOW * 0.2
    assert not first.busy()


def test_a_tick_waits_once_then_runs_however_many_keys_come() -> None:
    clock = Clock()
    first = InputFirst(clock)
    assert not first.put_off_tick()  # no input: ticks run
    waits = []
    for _ in range(6):  # a key held down: one every 30 ms, a tick every 100 ms
        for _ in range(3):
            first.noted()
            clock.now += 0.033
        waits.append(first.put_off_tick())
    assert waits == [True, False, True, False, True, False]
    clock.now += WINDOW * 1.01
    assert not first.put_off_tick()


def test_the_collector_is_held_for_one_window_at_a_time() -> None:
    """Held at an input, it runs again once the window has passed since the hold began, even
    while keys keep coming; the next key holds it again."""
    clock = Clock()
    first = InputFirst(clock)
    first.noted()
    assert not gc.isenabled() and first.holding
    for _ in range(3):  # keys every 40 ms: the window stays open
        clock.now += 0.04
        first.noted()
        assert first.busy()
    assert gc.isenabled() and not first.holding, "a hold lasts one window"
    first.noted()
    assert not gc.isenabled(), "the next key holds it again"
    clock.now += WINDOW * 1.01
    assert not first.busy()
    assert gc.isenabled()


def test_a_collector_already_off_is_left_as_it_was() -> None:
    """Another part turned the collector off (as insights do while they compute): an input
    neither holds it nor turns it back on."""
    clock = Clock()
    first = InputFirst(clock)
    gc.disable()
    first.noted()
    assert not first.holding
    clock.now += 2 * WINDOW
    first.busy()
    first.release()
    assert not gc.isenabled()


def _app(monkeypatch: pytest.MonkeyPatch) -> tuple[TcpwatchApp, Clock]:
    """The App over a whole file with its timers stopped (the test calls tick and sip as they
    would) and its input window on a clock the test moves."""
    import tui.app

    monkeypatch.setattr(tui.app, "TICK", 3600.0)
    monkeypatch.setattr(tui.app, "SIP_EVERY", 3600.0)
    app = TcpwatchApp(*engine(str(NMAP)), linger=1e12)
    clock = Clock()
    app.input_first = InputFirst(clock)
    return app, clock


async def test_a_key_puts_off_the_sips_a_tick_and_the_collector(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app, clock = _app(monkeypatch)
    async with app.run_test(size=(160, 30)) as pilot:
        await wait_until(pilot, lambda: app.main.is_mounted and app.main.table.size.height > 0)
        await wait_until(pilot, lambda: app.source.session.poll(0)["finished"])
        taken, ticks = app.drain.segments, app.ticks
        # WHEN a key arrives
        await pilot.press("j")
        assert app.input_first.busy() and not gc.isenabled()
        # THEN sips take nothing, and the first tick waits; the next runs
        for _ in range(5):
            app.sip()
        assert app.drain.segments == taken
        app.tick()
        await pilot.pause()
        assert app.ticks == ticks and app.drain.segments == taken
        app.tick()
        await wait_until(pilot, lambda: app.ticks == ticks + 1)
        assert app.drain.segments > taken
        # and once the window has passed, the sips take in the rest and the collector runs
        clock.now += WINDOW * 1.01
        for _ in range(50):
            app.sip()
            if app.drain.finished and not app.drain.backlog:
                break
        assert gc.isenabled()
        assert len(app.main.model) == 17


async def test_the_app_lets_the_collector_run_when_it_ends_during_a_hold(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`q` is an input too: the App exits inside its window, and the collector runs after."""
    app, _ = _app(monkeypatch)
    async with app.run_test(size=(160, 30)) as pilot:
        await wait_until(pilot, lambda: app.main.is_mounted)
        await pilot.press("q")
    assert gc.isenabled()
