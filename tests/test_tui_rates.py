"""Byte rates through Pilot over real captures: the `rate` column (the last complete seconds,
live and in a replay), the `avg` column (bytes over the flow's life), the status bar's total,
sorting by either; a file read whole shows averages only."""

from __future__ import annotations

import math
import socket
import threading
import time
from pathlib import Path

import pytest
from captures import engine, read_segments
from live_traffic import echo_server, needs_root
from tui_wait import wait_until

from capture.engine_source import EngineSource
from capture.live import LiveSource
from tui.app import TcpwatchApp
from widgets.byte_rates import WINDOW
from widgets.conn_rows import average_rate
from widgets.conn_table import ConnectionTable
from widgets.status_bar import StatusBar
from widgets.units import byte_rate

DATA = Path(__file__).parent / "data"
SSH = DATA / "zeek_ssh_single-conn.pcap"  # one SSH connection, 12 KB over 8.6 s
ESPN = DATA / "chrissanders_http_espn_fail.pcapng"  # 16 flows


def cells(app: TcpwatchApp, key: str) -> dict[int, str]:
    """What column `key` shows on each row, by flow id."""
    table = app.main.table
    keys = [c.key for c in table.columns]
    if key not in keys:
        return {}
    at = 2 + sum(c.width + 1 for c in table.columns[: keys.index(key)])
    width = table.columns[keys.index(key)].width
    model = app.main.model
    return {
        model.id_at(row): table.render_line(row + 1).text[at : at + width].strip()
        for row in range(min(len(model), table.size.height - 1))
    }


async def test_a_replay_shows_each_flows_current_rate_and_the_total() -> None:
    """Replayed a second at a time: the rate column and the status bar's total are the bytes
    of the last WINDOW complete seconds (from the capture's own segments) over WINDOW; the
    avg column is the flow's bytes over its duration; `s` and a header click sort by them."""
    segs = read_segments(SSH)
    first = segs[0].ts
    clock = [0.0]
    source = EngineSource(str(SSH), speed=1.0, clock=lambda: clock[0])
    app = TcpwatchApp(source, source, replay=True, linger=1e9)
    last = 6
    async with app.run_test(size=(160, 20)) as pilot:
        for k in range(last + 1):
            clock[0] = float(k)
            due = sum(1 for s in segs if s.ts - first <= k)
            ticks = app.ticks
            await wait_until(
                pilot, lambda d=due, t=ticks: app.drain.segments == d and app.ticks > t + 1
            )
        window = sum(s.payload_len for s in segs if last - WINDOW - 1 < s.ts - first <= last - 1)
        assert window > 0
        (fid,) = app.tracker.flows
        assert app.main.model.rates is not None
        assert app.main.model.rates.rate(fid, app.now()) == window / WINDOW
        assert cells(app, "rate") == {fid: byte_rate(window / WINDOW)}
        flow = app.tracker.flows[fid]
        assert cells(app, "avg") == {fid: byte_rate(average_rate(flow))}
        status = app.main.query_one(StatusBar).shown()
        assert f"rate {byte_rate(window / WINDOW)}" in status.split("  "), status
        while app.main.model.sort != "rate":
            await pilot.press("s")
        assert app.main.model.descending
        table = app.main.table
        keys = [c.key for c in table.columns]
        x = 2 + sum(c.width + 1 for c in table.columns[: keys.index("avg")])
        await pilot.click(ConnectionTable, offset=(x + 1, 0))
        assert app.main.model.sort == "avg"


async def test_a_file_read_whole_shows_average_rates_only() -> None:
    """No "now" at the end of a file: no rate column, the avg column in its place, and the
    status bar's rate is the file's average (bytes over the capture's span), said as such."""
    segs = read_segments(ESPN)
    app = TcpwatchApp(*engine(str(ESPN)), linger=math.inf)
    async with app.run_test(size=(160, 30)) as pilot:
        await wait_until(pilot, lambda: app.drain.finished and app.ticks > 2)
        ticks = app.ticks
        await wait_until(pilot, lambda: app.ticks > ticks + 1)
        keys = [c.key for c in app.main.table.columns]
        assert "rate" not in keys and "avg" in keys
        flows = app.tracker.flows
        shown = cells(app, "avg")
        assert shown and all(text == byte_rate(average_rate(flows[i])) for i, text in shown.items())
        span = segs[-1].ts - min(s.ts for s in segs)
        total = sum(s.payload_len for s in segs)
        status = app.main.query_one(StatusBar).shown()
        assert f"avg {byte_rate(total / span)}" in status.split("  "), status
        assert "rate " not in status
        await pilot.press("s")
        seen = {app.main.model.sort}
        for _ in range(20):
            await pilot.press("s")
            seen.add(app.main.model.sort)
        assert "avg" in seen and "rate" not in seen


@needs_root
@pytest.mark.live
@pytest.mark.slow
async def test_live_loopback_traffic_shows_its_rate_then_none_once_it_stops() -> None:
    """A client on loopback sends 2,000 bytes every 100 ms to an echo server (40 KB/s of
    payload both ways): the rate column and the status bar's total read about that; once it
    stops sending, the flow's rate falls to 0 within WINDOW + 1 seconds (no change, no byte)."""
    stop, sent = threading.Event(), [0.0]
    with echo_server("127.0.0.1") as port:
        source = LiveSource("lo", f"port {port}", drop_privileges=False, processes=False)
        app = TcpwatchApp(source, source)
        async with app.run_test(size=(160, 20)) as pilot:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as client:

                def send() -> None:
                    sent[0] = time.time()
                    while not stop.is_set():
                        client.sendall(b"x" * 2000)
                        got = 0
                        while got < 2000:
                            got += len(client.recv(4096))
                        time.sleep(0.1)

                sender = threading.Thread(target=send, daemon=True)
                sender.start()
                try:
                    await wait_until(pilot, lambda: len(app.tracker.flows) == 1)
                    await wait_until(pilot, lambda: time.time() > sent[0] + WINDOW + 2)
                    (fid,) = app.tracker.flows
                    rates = app.main.model.rates
                    assert rates is not None
                    per_second = 2 * 2000 / (0.1 + 0.001)  # both ways, one send a ~0.1 s
                    assert 0.6 * per_second < rates.rate(fid, app.now()) < 1.3 * per_second
                    assert cells(app, "rate")[fid].endswith("K/s")
                    status = app.main.query_one(StatusBar).shown()
                    assert "rate " in status and "K/s" in status, status
                finally:
                    stop.set()
                    sender.join(timeout=5)
                quiet = time.time()
                await wait_until(pilot, lambda: time.time() > quiet + WINDOW + 1.5)
                ticks = app.ticks
                await wait_until(pilot, lambda: app.ticks > ticks + 1)
                assert rates.rate(fid, app.now()) == 0
                assert cells(app, "rate") == {fid: "0/s"}
