"""Interfaces: `-D` lines, the default choice (default route, else first up non-loopback, else
lo) checked in namespaces the test creates, and unknown names."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from capture.native import load

REPO = Path(__file__).resolve().parent.parent


def test_list_interfaces_shows_each_with_state_and_addresses() -> None:
    """One numbered line per kernel interface, loopback with its addresses, then `any`."""
    lines = load().interface_lines()
    names = [name for _, name in sorted(socket.if_nameindex())]
    assert len(lines) == len(names) + 1
    lo = next(line for line in lines if line.split()[1] == "lo")
    assert "[up, loopback]" in lo and "127.0.0.1" in lo and "::1" in lo
    assert lines[-1].split()[1] == "any"
    assert [line.split()[1] for line in lines[:-1]] == names


def test_unknown_interface_lists_the_real_ones() -> None:
    """An unknown name is a one-line error naming the interfaces that exist."""
    engine = load()
    with pytest.raises(engine.CaptureError) as err:
        engine.check_live("nosuch\x1b0")
    text = str(err.value)
    assert "\n" not in text and "\x1b" not in text
    assert "lo" in text and "any" in text


def _default_in(ns: str) -> str:
    code = "from capture.native import load; print(load().default_interface())"
    out = subprocess.run(
        ["ip", "netns", "exec", ns, sys.executable, "-c", code],
        cwd=REPO, capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    return out.stdout.strip()


def _first_non_loopback(ns: str) -> str:
    code = "import socket; print([n for _, n in sorted(socket.if_nameindex()) if n != 'lo'][0])"
    out = subprocess.run(
        ["ip", "netns", "exec", ns, sys.executable, "-c", code],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    return out.stdout.strip()


@pytest.mark.netns
@pytest.mark.skipif(os.geteuid() != 0, reason="creating namespaces needs root (CI runs as root)")
def test_default_interface_follows_the_default_route() -> None:
    """Only lo: lo. A veth up: the veth. A default route via another: that one."""
    ns = f"tcpwatch-if-{os.getpid()}"
    ex = ["ip", "netns", "exec", ns, "ip"]
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        subprocess.run([*ex, "link", "set", "lo", "up"], check=True)
        assert _default_in(ns) == "lo"
        for a, b in (("twx0", "twx1"), ("twy0", "twy1")):
            subprocess.run([*ex, "link", "add", a, "type", "veth", "peer", b], check=True)
            for dev in (a, b):
                subprocess.run([*ex, "link", "set", dev, "up"], check=True)
        first = _first_non_loopback(ns)  # in index order (a veth's peer is created first)
        assert first in ("twx0", "twx1")
        assert _default_in(ns) == first
        subprocess.run([*ex, "addr", "add", "198.51.100.1/24", "dev", "twy0"], check=True)
        subprocess.run([*ex, "route", "add", "default", "via", "198.51.100.254"], check=True)
        assert _default_in(ns) == "twy0"
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)


def test_dash_d_into_a_pipe_that_closes_is_quiet() -> None:
    """`tcpwatch -D | head -1`: status 141 as for SIGPIPE, no traceback."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "-D"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader is gone before anything was read
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=30) == 141, err
    assert "Traceback" not in err
