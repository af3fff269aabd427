"""Faults under the TUI: the captured interface disappears during a live capture.

Two namespaces joined by a veth pair, as in `test_live_veth.py`; the App captures in namespace A
on its end of the pair (the test thread enters A just long enough to open the packet socket),
traffic runs between the namespaces, then the interface is deleted under the running App.
(sysfs stays the root namespace's, where the veth has no entry, so the capture runs cooked, as
on `any`; `test_live_veth.py` covers the Ethernet path through the real CLI.)
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from live_traffic import needs_root, veth_pair
from tui_wait import wait_until

from capture.live import LiveSource
from tui.app import TcpwatchApp
from widgets.status_bar import StatusBar

pytestmark = [pytest.mark.live, pytest.mark.netns, pytest.mark.slow, needs_root]

CLONE_NEWNET = 0x40000000
PORT = 7000
TIMEOUT = 30.0
LINGER = 1.0
"""Closed flows' linger: short, so the test can see it run out after the capture stopped."""
SERVER = """
import socket, threading
s = socket.socket(); s.bind(("198.51.100.2", 7000)); s.listen(8)
def echo(c):
    with c:
        while d := c.recv(65536): c.sendall(d)
print("ready", flush=True)
while True:
    threading.Thread(target=echo, args=(s.accept()[0],), daemon=True).start()
"""
# One connection closed both ways (it lingers), one left established; then wait for stdin.
CLIENT = """
import socket, sys
with socket.create_connection(("198.51.100.2", 7000), timeout=5) as c:
    c.sendall(b"closed one"); c.recv(64); c.shutdown(socket.SHUT_WR); c.recv(64)
held = socket.create_connection(("198.51.100.2", 7000), timeout=5)
held.sendall(b"held open"); held.recv(64)
print("ready", flush=True)
sys.stdin.read()
"""


@pytest.fixture
def pair() -> Iterator[tuple[str, str]]:
    """Namespaces A and B (their names), veth twa<->twb, 198.51.100.1 and .2."""
    with veth_pair("f") as names:
        yield names


@contextlib.contextmanager
def inside(netns: str) -> Iterator[None]:
    """Run the calling thread in network namespace `netns`, then bring it back (always).

    Sockets opened meanwhile stay in `netns`, and so do threads started meanwhile."""
    libc = ctypes.CDLL(None, use_errno=True)
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    there = os.open(f"/run/netns/{netns}", os.O_RDONLY)
    try:
        if libc.setns(there, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns into the test namespace")
        try:
            yield
        finally:
            if libc.setns(home, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns back home")
    finally:
        os.close(home)
        os.close(there)


@contextlib.contextmanager
def running(cmd: list[str]) -> Iterator[subprocess.Popen[str]]:
    """A helper process that prints `ready` once set up; ended (bounded) afterwards."""
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        yield proc
    finally:
        proc.kill()
        proc.wait(timeout=10)


def _notices(app: TcpwatchApp) -> list[str]:
    return [str(n.message) for n in app._notifications if n.severity == "error"]


def _rows(app: TcpwatchApp) -> list[str]:
    """The table's rows as shown (the header left out)."""
    table = app.main.table
    return [table.render_line(y).text for y in range(1, len(app.main.model) + 1)]


def _ids(app: TcpwatchApp) -> list[int]:
    model = app.main.model
    return sorted(model.id_at(i) for i in range(len(model)))


async def test_interface_gone_keeps_the_flows_and_the_app(pair) -> None:
    """`ip link del` of the captured veth: an error notice naming it, the status bar says the
    capture stopped, both flows stay in the table (even past their linger), `q` still quits."""
    ns_a, ns_b = pair
    with inside(ns_a):
        source = LiveSource(iface="twa", drop_privileges=False, processes=False)
        source.start()
    app = TcpwatchApp(source, source, linger=LINGER)
    try:
        with running(["ip", "netns", "exec", ns_b, sys.executable, "-c", SERVER]):
            async with app.run_test(size=(120, 30)) as pilot:
                # GIVEN two flows seen, one closed, one established
                with running(["ip", "netns", "exec", ns_a, sys.executable, "-c", CLIENT]):
                    await wait_until(pilot, lambda: len(app.main.model) == 2, TIMEOUT)
                    shown = _ids(app)
                    assert all(f"198.51.100.2:{PORT}" in row for row in _rows(app)), _rows(app)
                    # WHEN the interface goes away
                    subprocess.run(["ip", "-n", ns_a, "link", "del", "twa"], check=True, timeout=20)
                    await wait_until(pilot, lambda: bool(_notices(app)), TIMEOUT)
                # THEN a notice says so, and the status bar too
                assert _notices(app) == [
                    "live capture on twa stopped: Network is down\n"
                    "The flows seen so far stay in view; q quits."
                ]
                bar = app.main.query_one(StatusBar)
                await wait_until(pilot, lambda: "STOPPED" in bar.shown(), TIMEOUT)
                assert "live twa" in bar.shown()
                # AND the flows stay, even once the closed one's linger has run out
                last = max(flow.last_ts for flow in app.tracker.flows.values())
                ticks = app.ticks
                await wait_until(pilot, lambda: time.time() > last + 2 * LINGER, TIMEOUT)
                await wait_until(pilot, lambda: app.ticks > ticks + 3, TIMEOUT)
                assert _ids(app) == shown
                assert all(f"198.51.100.2:{PORT}" in row for row in _rows(app)), _rows(app)
                assert app.is_running
                # AND q quits
                await pilot.press("q")
                await wait_until(pilot, lambda: not app.is_running, TIMEOUT)
    finally:
        source.stop()
    assert source.finished and app.return_code == 0
