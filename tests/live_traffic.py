"""Helpers for live-capture tests: bounded loopback traffic, tcpdump alongside, bounded waits.

Traffic only ever goes to 127.0.0.1 / ::1 (or a namespace's own loopback).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from captures import read_segments

from capture import _engine
from capture.live import LiveSource
from capture.segment import RST, Segment

needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="live capture needs root (CI runs the suite as root)"
)
needs_tcpdump = pytest.mark.skipif(
    shutil.which("tcpdump") is None, reason="tcpdump is not installed (scripts/setup test)"
)


def wait_until(cond: Callable[[], bool], timeout: float, step: float = 0.02) -> bool:
    """Poll `cond` until it holds or `timeout` passes (bounded; returns the last answer)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(step)
    return cond()


class Collector:
    """Steps a started engine `LiveSource` on a background thread (as the App's drain does) and
    reads back what it captured from its `-w` file, decoded by the project's engine."""

    def __init__(self, src: LiveSource, path: str) -> None:
        self.src = src
        self.path = path
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="test-drain", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set() and not self.src.finished:
            self.src.step()
            time.sleep(0.01)

    @property
    def segments(self) -> list[Segment]:
        """Every segment captured so far (the sniffer flushes `-w` twice a second)."""
        return _decoded(self.path)

    def saw_rst_to(self, port: int) -> bool:
        """Whether a RST to `port` has arrived (the end marker of a traffic run)."""
        return any(f.resp_port == port and f.rst_by for f in list(self.src.flows.values()))

    def close(self) -> None:
        """Stop the source (its `-w` file flushed and closed), then the drain thread."""
        self.src.stop()
        self._stop.set()
        self._thread.join(timeout=5)
        self.src.step()


def _decoded(path: str) -> list[Segment]:
    """Every TCP segment of a pcap (perhaps still being written: its whole records), decoded by
    the engine (`captures.read_segments`); none while the file is not a capture yet."""
    with contextlib.suppress(_engine.CaptureError, OSError):
        return read_segments(os.path.abspath(path))
    return []


class Tcpdump:
    """`tcpdump -w` running alongside, packet-buffered, stopped with SIGINT."""

    def __init__(self, iface: str, expr: str, path: str, buffer_kib: int = 65536) -> None:
        self.path = path
        cmd = ["tcpdump", "-i", iface, "-n", "-U", "-B", str(buffer_kib)]
        self.proc = subprocess.Popen(
            [*cmd, "-w", path, expr], stderr=subprocess.PIPE, text=True, stdout=subprocess.DEVNULL
        )
        assert self.proc.stderr is not None
        lines = []
        for _ in range(5):  # "listening on lo, ..." once the filter is attached
            lines.append(self.proc.stderr.readline())
            if "listening on" in lines[-1]:
                break
        assert "listening on" in lines[-1], lines

    def segments(self) -> list[Segment]:
        """What tcpdump has written so far, decoded by the project's engine."""
        return _decoded(self.path)

    def saw_rst_to(self, port: int) -> bool:
        return any(s.dport == port and s.flags & RST for s in self.segments())

    def stop(self) -> str:
        """SIGINT, wait (bounded), and return tcpdump's summary on stderr."""
        self.proc.send_signal(signal.SIGINT)
        try:
            _, err = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        return err


def free_port(family: int = socket.AF_INET) -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(family) as s:
        s.bind(("::1" if family == socket.AF_INET6 else "127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def echo_server(host: str) -> Iterator[int]:
    """A listener that echoes each connection's data and closes after the client's FIN."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    srv = socket.socket(family)
    srv.bind((host, 0))
    srv.listen(64)
    srv.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(5)
                with contextlib.suppress(OSError):
                    while data := conn.recv(1 << 16):
                        conn.sendall(data)

    thread = threading.Thread(target=serve, name="test-echo", daemon=True)
    thread.start()
    try:
        yield int(srv.getsockname()[1])
    finally:
        stop.set()
        thread.join(timeout=5)
        srv.close()


def exchange(host: str, port: int, payload: bytes) -> None:
    """Connect, send `payload`, read the echo, close gracefully."""
    with socket.create_connection((host, port), timeout=5) as c:
        c.sendall(payload)
        got = 0
        while got < len(payload):
            chunk = c.recv(1 << 16)
            assert chunk
            got += len(chunk)
        c.shutdown(socket.SHUT_WR)
        while c.recv(1 << 16):
            pass


class RstMarker:
    """A final connection that ends in an RST from the client to a fresh listening port.

    Its RST is the last packet of a run, so a capture that has it has seen everything before.
    The port is known (and listening) from construction, so capture filters can name it.
    """

    def __init__(self, host: str) -> None:
        self.host = host
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._srv = socket.socket(family)
        self._srv.bind((host, 0))
        self._srv.listen(1)
        self.port = int(self._srv.getsockname()[1])

    def fire(self) -> None:
        """Connect, let the server close, then abort the client with SO_LINGER 0."""
        with self._srv:
            cl = socket.create_connection((self.host, self.port), timeout=5)
            conn, _ = self._srv.accept()
            conn.close()
            cl.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            cl.close()


TCPWATCH = [sys.executable, "-m", "tui.cli"]
"""The real command line, run as a module of this checkout."""
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def capturing(pid: int) -> bool:
    """Whether process `pid` holds a packet socket that is bound (receiving)."""
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
                if link.startswith("socket:["):
                    inodes.add(link[8:-1])
        with open(f"/proc/{pid}/net/packet", encoding="ascii") as fh:
            rows = [line.split() for line in fh.readlines()[1:]]
    except OSError:
        return False
    return any(len(r) >= 9 and r[8] in inodes and r[3] == "0003" for r in rows)


def proc_uid(pid: int) -> int:
    """The effective uid of a running process."""
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("Uid:"):
                return int(line.split()[2])
    raise AssertionError("no Uid line")


def _sh(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True, timeout=20)


@contextlib.contextmanager
def veth_pair(tag: str) -> Iterator[tuple[str, str]]:
    """Network namespaces A and B (their names, yielded) joined by veth twa<->twb, with
    198.51.100.1/24 and 2001:db8::1/64 on twa, .2 and ::2 on twb (documentation prefixes, RFC
    5737 and 3849: they exist inside the namespaces only). Both are removed afterwards."""
    a, b = f"tcpwatch-{tag}a-{os.getpid()}", f"tcpwatch-{tag}b-{os.getpid()}"
    _sh("ip", "netns", "add", a)
    _sh("ip", "netns", "add", b)
    try:
        _sh("ip", "link", "add", "twa", "netns", a, "type", "veth", "peer", "twb", "netns", b)
        for ns, dev, n in ((a, "twa", 1), (b, "twb", 2)):
            _sh("ip", "-n", ns, "link", "set", "lo", "up")
            _sh("ip", "-n", ns, "link", "set", dev, "up")
            _sh("ip", "-n", ns, "addr", "add", f"198.51.100.{n}/24", "dev", dev)
            _sh("ip", "-n", ns, "addr", "add", f"2001:db8::{n}/64", "dev", dev, "nodad")
        yield a, b
    finally:
        subprocess.run(["ip", "netns", "del", a], check=False)
        subprocess.run(["ip", "netns", "del", b], check=False)
