"""The events screen (`e`) of the real App over real captures: lines, filter, enter, escape."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from captures import engine
from textual.app import App, ComposeResult
from textual.pilot import Pilot

from capture.engine_source import EngineSource
from tui.app import TcpwatchApp
from tui.events_screen import EventsScreen
from tui.flow_screen import FlowScreen
from tui.main_screen import MainScreen
from widgets.event_feed import EventFeed

ROOT = Path(__file__).parent.parent
DATA = Path("tests/data")  # relative: the status bar shows the path, the same in every clone
ESPN = DATA / "chrissanders_http_espn_fail.pcapng"
REFUSED = DATA / "chrissanders_tcp_refuseconnection.pcapng"
TEARDOWN = DATA / "chrissanders_tcp_teardown.pcapng"


@pytest.fixture(autouse=True)
def _utc_in_repository(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Local time is UTC (the feed's clock), paths relative; the host's zone comes back after."""
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


async def until(pilot: Pilot[None], cond: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not reached in time"
        await pilot.pause()


async def loaded(pilot: Pilot[None]) -> TcpwatchApp:
    app = pilot.app
    assert isinstance(app, TcpwatchApp)
    start = app.ticks
    await until(pilot, lambda: app.drain.finished and app.ticks > start + 1)
    return app


async def open_events(pilot: Pilot[None]) -> tuple[EventsScreen, EventFeed]:
    await pilot.press("e")
    await until(pilot, lambda: isinstance(pilot.app.screen, EventsScreen))
    screen = pilot.app.screen
    assert isinstance(screen, EventsScreen)
    await until(pilot, lambda: screen.feed.size.height > 0)
    await pilot.pause()
    return screen, screen.feed


def visible(feed: EventFeed) -> list[str]:
    """The lines drawn on screen, trailing blanks cut."""
    return [feed.render_line(y).text.rstrip() for y in range(feed.size.height)]


def squeeze(text: str) -> str:
    return " ".join(text.split())


async def test_feed_lists_handshakes_retries_resets_and_teardowns() -> None:
    """`e` over a capture of mixed endings: every event, oldest first, the tail in view."""
    app = TcpwatchApp(*engine(str(ESPN)), linger=1e9)
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(pilot)
        screen, feed = await open_events(pilot)
        # THEN all 96 events, in words, with times and endpoints
        assert "Events: 96 shown of 96 events" in str(screen.title_bar.render())
        lines = [squeeze(feed.line_text(i)) for i in range(len(feed.events))]
        assert lines[0] == "20:59:15.4 172.16.16.154:64859 → 68.71.212.158:80 handshake 77.6ms"
        assert "20:59:16.7 172.16.16.154:64863 → 203.0.113.94:80 SYN retry 1 (gap 1.0s)" in lines
        assert "21:00:16.4 172.16.16.154:64867 → 72.21.91.8:80 reset by server" in lines
        fin = lines.index("21:00:26.7 172.16.16.154:64868 → 72.246.56.35:80 FIN from server")
        assert lines[fin : fin + 3] == [
            "21:00:26.7 172.16.16.154:64868 → 72.246.56.35:80 FIN from server",
            "21:00:31.2 172.16.16.154:64868 → 72.246.56.35:80 FIN from client",
            "21:00:31.2 172.16.16.154:64868 → 72.246.56.35:80 TIME_WAIT (server)",
        ]
        # the newest at the bottom, with the cursor on it
        shown = visible(feed)
        assert squeeze(shown[-1]) == lines[-1]
        assert feed.cursor == len(lines) - 1 and feed.following


@pytest.mark.parametrize(
    ("capture", "want"),
    [
        (REFUSED, ["19:05:49.3 192.168.100.138:3372 → 192.168.100.1:80 refused (RST/ACK)"]),
        (
            TEARDOWN,
            [
                "22:49:10.4 172.16.16.128:3363 → 67.228.110.120:80 FIN from server",
                "22:49:10.8 172.16.16.128:3363 → 67.228.110.120:80 FIN from client",
                "22:49:10.9 172.16.16.128:3363 → 67.228.110.120:80 TIME_WAIT (server)",
            ],
        ),
    ],
    ids=["refused", "teardown"],
)
async def test_refusal_and_teardown(capture: Path, want: list[str]) -> None:
    """A refused connection and a four-way close, as the feed words them."""
    app = TcpwatchApp(*engine(str(capture)), linger=1e9)
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(pilot)
        _, feed = await open_events(pilot)
        assert [squeeze(s) for s in visible(feed) if s] == want


async def test_display_filter_applies_and_follows_its_changes() -> None:
    """Only events of flows the main screen's filter selects; the title says how many."""
    app = TcpwatchApp(*engine(str(ESPN)), linger=1e9, display_filter="port 64868")
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(pilot)
        screen, feed = await open_events(pilot)
        title = str(screen.title_bar.render())
        assert "Events: 4 shown of 96 events matching port 64868" in title
        assert all("172.16.16.154:64868" in feed.line_text(i) for i in range(len(feed.events)))
        assert [feed.line_text(i).split("  ")[-1] for i in range(4)] == [
            "handshake 37.7ms",
            "FIN from server",
            "FIN from client",
            "TIME_WAIT (server)",
        ]
        # WHEN the filter changes on the main screen, the feed follows it when opened again
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, MainScreen))
        await pilot.press("slash", *"conn RSTR", "enter")
        screen, feed = await open_events(pilot)
        assert {feed.line_text(i).split()[1] for i in range(len(feed.events))} == {
            "172.16.16.154:64867"
        }


async def test_enter_opens_the_flow_and_escape_comes_back() -> None:
    """`enter` on an event opens its flow; escape returns to the feed, then `e` to the table."""
    app = TcpwatchApp(*engine(str(ESPN)), linger=1e9)
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(pilot)
        screen, feed = await open_events(pilot)
        # WHEN the cursor goes to the first event (flow 1's handshake) and enter is pressed
        await pilot.press("home")
        assert feed.cursor == 0 and not feed.following
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, FlowScreen))
        flow_screen = app.screen
        assert isinstance(flow_screen, FlowScreen) and flow_screen.flow_id == feed.events[0][1]
        # THEN escape comes back to the feed, where the cursor stayed
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is screen)
        assert feed.cursor == 0
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, MainScreen))
        await open_events(pilot)
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, MainScreen))


async def test_a_flow_opened_from_the_events_over_a_flow_screen_gets_a_screen_of_its_own() -> None:
    """Flow, events, flow: the App's kept flow screen is in the stack already, so the second
    flow opens on a new one, and escape comes back to the first as it was."""
    app = TcpwatchApp(*engine(str(ESPN)), linger=1e9)
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(pilot)
        await pilot.press("end", "enter")
        await until(pilot, lambda: isinstance(app.screen, FlowScreen))
        kept = app.screen
        assert isinstance(kept, FlowScreen)
        first = kept.flow_id
        screen, feed = await open_events(pilot)
        await pilot.press("home", "enter")
        await until(pilot, lambda: isinstance(app.screen, FlowScreen) and app.screen is not kept)
        other = app.screen
        assert isinstance(other, FlowScreen) and other.flow_id == feed.events[0][1] != first
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is screen)
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is kept)
        assert kept.flow_id == first


async def test_evicted_flows_are_named_but_not_opened() -> None:
    """Flows evicted at the cap keep their endpoints in the feed; enter on one only says so."""
    source = EngineSource(str(ESPN), max_flows=4)
    app = TcpwatchApp(source, source, linger=1e9)
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(pilot)
        _, feed = await open_events(pilot)
        evicted = next(i for i, e in enumerate(feed.events) if e[2] == "evicted")
        assert squeeze(feed.line_text(evicted)).endswith(
            "172.16.16.154:64859 → 68.71.212.158:80 evicted"
        )
        feed.move_to(evicted)
        await pilot.press("enter")
        await until(pilot, lambda: bool(app._notifications))
        assert "no longer tracked" in next(iter(app._notifications)).message
        assert isinstance(app.screen, EventsScreen)


async def test_replay_feed_follows_until_the_user_moves_up() -> None:
    """During a replay new events scroll in at the bottom; once the user moves up they no longer
    move the view, and `end` catches up."""
    clock = [2.5]  # seconds into the replay: the first handshakes and SYN retries
    source = EngineSource(str(ESPN), speed=1.0, clock=lambda: clock[0])
    app = TcpwatchApp(source, source, replay=True, linger=1e9)
    async with app.run_test(size=(120, 30)) as pilot:
        await until(pilot, lambda: len(app.events) >= 12)
        screen, feed = await open_events(pilot)
        early = len(feed.events)
        assert early < 96 and feed.following and feed.cursor == early - 1
        # WHEN more of the replay is due, the feed follows it
        clock[0] = 20.0
        await until(pilot, lambda: len(feed.events) > early + 20)
        await pilot.pause()
        assert feed.cursor == len(feed.events) - 1
        assert feed.scroll_offset.y == feed.max_scroll_y > 0
        # WHEN the user moves up, the rest of the replay leaves the view where it is
        await pilot.press("up")
        kept, at = feed.selected, feed.scroll_offset.y
        clock[0] = 1e6
        await until(pilot, lambda: len(feed.events) == 96)
        await pilot.pause()
        assert feed.selected is kept and feed.scroll_offset.y == at and not feed.following
        assert "Events: 96 shown of 96 events" in str(screen.title_bar.render())
        await pilot.press("end")
        await pilot.pause()
        assert feed.following and feed.scroll_offset.y == feed.max_scroll_y


class FeedHost(App[None]):
    """A bare App with one feed, fed plain data."""

    def compose(self) -> ComposeResult:
        yield EventFeed()


def fake_flow(port: int) -> Any:
    return SimpleNamespace(
        orig_addr=b"\n\0\0\1", orig_port=port, resp_addr=b"\n\0\0\2", resp_port=80
    )


async def test_feed_follows_new_events_unless_scrolled_up() -> None:
    """On its last line the cursor follows new events; moved up, it stays on its event."""
    flows = {i: fake_flow(40000 + i) for i in range(100)}
    events = [(float(i), i, "fin", "orig") for i in range(50)]
    app = FeedHost()
    async with app.run_test(size=(80, 10)) as pilot:
        feed = app.query_one(EventFeed)
        feed.set_events(events, flows)
        await pilot.pause()
        assert feed.cursor == 49 and feed.scroll_offset.y == 40
        # WHEN more arrive, the view follows them
        events = [*events, *((float(i), i, "fin", "orig") for i in range(50, 60))]
        feed.set_events(events, flows)
        await pilot.pause()
        assert feed.cursor == 59 and feed.scroll_offset.y == 50
        assert "10.0.0.1:40059" in feed.render_line(9).text
        # WHEN the user moves up, new events no longer move the view or the cursor
        feed.focus()
        await pilot.press("up", "up")
        kept = feed.selected
        events = [*events[5:], *((float(i), i, "fin", "orig") for i in range(60, 70))]
        feed.set_events(events, flows)
        await pilot.pause()
        assert feed.selected is kept and not feed.following
        # `end` resumes following
        await pilot.press("end")
        assert feed.following and feed.cursor == len(events) - 1


def test_events_screen_120x30(snap_compare: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """`e` over a capture of mixed endings: the tail of the feed, cursor on the newest event."""

    async def run_before(pilot: Pilot[None]) -> None:
        app = await loaded(pilot)
        await open_events(pilot)
        app.clear_notifications()
        await pilot.pause()

    app = TcpwatchApp(*engine(str(ESPN)), linger=1e9)
    assert snap_compare(app, terminal_size=(120, 30), run_before=run_before)
