"""The smaller things a user meets in the first hour (issue 12, item 22): the flow screen names
processes, durations use one set of units, states never run into the ladder, help explains what
the screen shows, the footer says Resume while paused, an empty table says why, and a file read
to its end shows no rates."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
from captures import track, with_processes
from live_traffic import free_port, needs_root
from rich.console import Console
from test_tui_main import file_app, loaded, wait_until
from textual.app import App, ComposeResult

from tui.app import TcpwatchApp
from tui.filter_help import FILTER_KEYWORDS
from tui.help_screen import key_table
from widgets.flow_summary import summary_lines
from widgets.key_bar import KeyBar
from widgets.ladder import Ladder, fmt_dt
from widgets.ladder_rows import LadderRow, build_rows
from widgets.status_bar import StatusBar
from widgets.units import duration, short_duration

DATA = Path(__file__).parent / "data"
ESPN = DATA / "chrissanders_http_espn_fail.pcapng"


def footer_text(app: Any) -> str:
    return app.screen.query_one(KeyBar).shown()


# -- the flow screen names processes -------------------------------------------------------


def test_flow_summary_names_each_end_s_process() -> None:
    """Live attribution sets proc_orig/proc_resp: the summary's client and server lines name
    them."""
    name = "chrissanders_tcp_handshake.pcapng"
    flow = with_processes(name, 1, orig=(4242, "curl[4242]"), resp=(77, "nginx[77]"))
    lines = summary_lines(flow)
    client = next(line for line in lines if line.startswith("client "))
    server = next(line for line in lines if line.startswith("server "))
    assert client.endswith("process curl[4242]") and server.endswith("process nginx[77]")
    flow = with_processes(name, 1)
    assert flow.proc_orig is flow.proc_resp is None
    assert not any("process" in line for line in summary_lines(flow))


# -- one set of time units ------------------------------------------------------------------

_DURATION = re.compile(r"^(\d{1,3}µs|\d{1,3}\.\d{3}ms|\d+\.\d{3}s)$")


@pytest.mark.parametrize(
    ("seconds", "precise", "short"),
    [
        (85e-6, "85µs", "85µs"),
        (0.0009996, "1.000ms", "1.0ms"),
        (0.012345, "12.345ms", "12.3ms"),
        (0.09996, "99.960ms", "100ms"),
        (0.9999996, "1.000s", "1.0s"),
        (3.972301, "3.972s", "4.0s"),
        (None, "-", "-"),
    ],
)
def test_durations_pick_their_unit_after_rounding(
    seconds: float | None, precise: str, short: str
) -> None:
    """Never `1000µs` or `3972.301ms`: the unit is chosen after rounding, µs/ms/s everywhere."""
    assert duration(seconds) == precise
    assert short_duration(seconds) == short


@pytest.mark.parametrize(
    "name",
    [
        "chrissanders_http_espn_fail.pcapng",
        "hostile.pcap",  # Δt of 999.6 µs (once `+1000µs`)
        "tcpdump_tfo-5c1fa7f9ae91.pcap",  # an iRTT over a second (once `3972.301ms`-like)
    ],
)
def test_ladder_and_summary_durations_share_one_format(name: str) -> None:
    """Every Δt on the ladder and every RTT in the summary reads as µs, ms (3 decimals) or s."""
    tracker, _ = track(name)
    for flow in tracker.all_flows():
        for row in build_rows(flow):
            if row.kind == "segment" and row.dt > 0:
                assert _DURATION.match(fmt_dt(row.dt)[1:]), fmt_dt(row.dt)
        rtt = next(line for line in summary_lines(flow) if "iRTT" in line)
        for value in re.findall(r"(?:iRTT|=|\+) (\S+)", rtt):
            assert value == "-" or _DURATION.match(value), rtt


# -- state changes never touch the ladder -----------------------------------------------------


class _LadderHost(App[None]):
    def compose(self) -> ComposeResult:
        yield Ladder()


@pytest.mark.parametrize("width", [80, 140])
async def test_a_long_state_change_keeps_a_blank_before_the_lane(width: int) -> None:
    """`CLOSE_WAIT→LAST_ACK` on the client's side ends in a blank, then the lane's `│`."""
    row = LadderRow(7, 1.0, 0.001, True, flags=0x11, seq=5, ack=9)
    row.orig_states = ["CLOSE_WAIT", "LAST_ACK"]
    app = _LadderHost()
    async with app.run_test(size=(width, 10)) as pilot:
        ladder = app.query_one(Ladder)
        ladder.set_rows([row])
        await pilot.pause()
        line = ladder.render_line(1).text
        assert re.search(r"\S│─\[F\.\]", line) is None, line
        assert re.search(r"(LAST_ACK|…\S*) +│", line), line


# -- help explains what the screen shows ---------------------------------------------------------


def help_text() -> str:
    console = Console(width=160, record=True, file=io.StringIO())
    console.print(key_table())
    return console.export_text()


def test_help_lists_every_filter_term_and_explains_the_screen() -> None:
    """Every filter term the parser accepts; Tab; the insights keys; row marks; history letters."""
    text = help_text()
    for keyword in FILTER_KEYWORDS:
        assert re.search(rf"\b{keyword}\b", text), keyword
    needles = ("Tab", "Insights screen", "analyse again", "a new flow", "moved in the last",
               "history", "S SYN", "H SYN/ACK", "UPPER case from the originator",
               "ctrl+c")  # fmt: skip
    for needle in needles:
        assert needle in text, needle
    marks = {line.split()[0] for line in text.splitlines() if line.strip()}
    assert {"+", "•", "r", "c"} <= marks


# -- pause, empty table, finished file ---------------------------------------------------------


async def test_the_footer_says_resume_while_paused() -> None:
    app = file_app(ESPN, linger=1e9)
    async with app.run_test(size=(160, 30)) as pilot:
        await loaded(pilot, app)
        assert "Pause" in footer_text(app) and "Resume" not in footer_text(app)
        await pilot.press("space")
        await pilot.pause()
        assert app.main.paused
        assert "Resume" in footer_text(app) and "Pause" not in footer_text(app)
        await pilot.press("space")
        await pilot.pause()
        assert not app.main.paused and "Pause" in footer_text(app)


def quiet_live() -> Any:
    """A live capture on loopback that nothing reaches: its filter names the discard port,
    which nothing on a test machine serves (fixed, so that snapshots of it are stable)."""
    from capture.live import LiveSource

    return LiveSource("lo", "tcp port 9", processes=False, drop_privileges=False)


@pytest.mark.live
@needs_root
async def test_an_empty_live_table_says_it_is_waiting_for_traffic() -> None:
    source = quiet_live()
    app = TcpwatchApp(source, source)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: app.ticks > 2)
        first_row = app.main.table.render_line(1).text
        assert "Waiting for TCP traffic" in first_row


async def test_a_filter_matching_nothing_says_so() -> None:
    app = file_app(ESPN, linger=1e9)
    async with app.run_test(size=(120, 30)) as pilot:
        await loaded(pilot, app)
        await pilot.press("slash", *"port 1", "enter")
        await wait_until(pilot, lambda: "No flow matches" in app.main.table.render_line(1).text)


async def test_a_finished_file_shows_no_rates() -> None:
    """At the end of a file there is no "now": no packets/s, no per-flag rates, no current
    byte rate (the status bar's only rate is the file's average, said as such)."""
    app = file_app(ESPN, linger=1e9)
    async with app.run_test(size=(200, 30)) as pilot:
        await loaded(pilot, app)
        status = app.main.query_one(StatusBar).shown()
        assert "END" in status and "rate " not in status, status
        assert status.count("/s") == 1 and re.search(r" avg [0-9.]+K/s ", status), status
        flags = app.main.breakdown.shown()
        assert "/s" not in flags, flags
        assert "SYN " in flags


# -- flows that differ only by VLAN ------------------------------------------------------------


@pytest.mark.parametrize("width", [80, 120])
async def test_flows_that_differ_only_by_vlan_show_a_vlan_column(width: int) -> None:
    """Three copies of one connection, untagged, tagged 42 and QinQ 10/20: a vlan column tells
    the rows apart (outermost tag first); a capture with one VLAN (none) has no such column."""
    app = file_app(DATA / "zeek_vlan-collisions.pcap", linger=1e9)
    async with app.run_test(size=(width, 20)) as pilot:
        await loaded(pilot, app)
        table = app.main.table
        assert "vlan" in [col.header for col in table.columns]
        header = table.render_line(0).text
        assert "vlan" in header
        rows = [table.render_line(y).text for y in (1, 2, 3)]
        tags = sorted(row.split(":80")[1].split()[0] for row in rows)
        assert tags == ["-", "10,20", "42"], rows
    app = file_app(ESPN, linger=1e9)
    async with app.run_test(size=(width, 20)) as pilot:
        await loaded(pilot, app)
        assert "vlan" not in [col.header for col in app.main.table.columns]


# -- help: conn_state values, the engine's filter keywords -----------------------------------------


async def test_help_screen_lists_the_engine_s_filter_keywords_and_conn_states() -> None:
    """`?` shows every keyword the engine's filter parser takes (its own list, so the help
    cannot drift from it) and what each of Zeek's conn_state values means."""
    from textual.widgets import Static

    from capture.filterexpr import CONN_STATES, keywords
    from tui.help_screen import HelpScreen

    app = file_app(ESPN, linger=1e9)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
        console = Console(width=160, record=True, file=io.StringIO())
        for static in app.screen.query(Static):
            console.print(static.content)
        lines = console.export_text().splitlines()
    terms = next(line for line in lines if line.split()[:1] == ["terms"])
    assert terms.split()[1:] == keywords()
    assert {"bytes", "duration", "flag", "id", "pkts", "retrans", "vlan"} <= set(terms.split())
    meanings = {line.split()[0]: line.split(None, 1)[1] for line in lines if len(line.split()) > 1}
    for state in CONN_STATES:
        assert len(meanings.get(state, "")) > 10, state
    assert "conn (Zeek's conn_state)" in "\n".join(lines)
    assert "refused" in meanings["REJ"] and "mid-stream" in meanings["OTH"]
    assert any(line.split()[:1] == ["vlan"] and "outermost" in line for line in lines)


@pytest.mark.live
@needs_root
async def test_an_empty_live_table_names_the_interface_and_the_filters() -> None:
    """Live on loopback with a capture filter no traffic matches (and a display filter): the
    hint names the interface and both filters, not the kernel's whole BPF program."""
    from capture.live import LiveSource

    port = free_port()
    source = LiveSource("lo", f"tcp port {port}", processes=False, drop_privileges=False)
    app = TcpwatchApp(source, source, display_filter="port 443")
    async with app.run_test(size=(160, 30)) as pilot:
        await wait_until(pilot, lambda: app.ticks > 2)
        first_row = app.main.table.render_line(1).text
    assert (
        f"Waiting for TCP traffic on lo, capture filter tcp port {port}, display filter port 443…"
        in first_row
    ), first_row
    assert "vlan and" not in first_row
