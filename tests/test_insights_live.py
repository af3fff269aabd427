"""Live on loopback: a SYN burst to a closed port and to a listener that never accepts.

Within two seconds of the burst the insights must say "nothing listens" for the closed port and
"the application is not accepting" for the listener whose accept queue is full. Traffic goes to
127.0.0.1 only; every socket is closed and the capture stopped at the end.
"""

from __future__ import annotations

import contextlib
import errno
import socket
import time
from collections.abc import Iterator

import pytest
from live_traffic import free_port, needs_root

from capture.insights import Finding, analyse
from capture.insights.listen import read_listen_queues
from capture.live import LiveSource

pytestmark = [pytest.mark.live, needs_root]

BURST = 8
"""Connection attempts per port: a bounded burst."""
WITHIN = 2.0


@contextlib.contextmanager
def never_accepting() -> Iterator[socket.socket]:
    """A listener with a backlog of 1 that never calls accept()."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    try:
        yield srv
    finally:
        srv.close()


def burst(port: int, clients: list[socket.socket]) -> None:
    """Start BURST non-blocking connects to 127.0.0.1:port (the handshakes run on)."""
    for _ in range(BURST):
        c = socket.socket()
        c.setblocking(False)
        clients.append(c)
        err = c.connect_ex(("127.0.0.1", port))
        assert err in (0, errno.EINPROGRESS, errno.ECONNREFUSED), err


def test_burst_gives_refusal_and_accept_queue_findings_within_two_seconds() -> None:
    """Refused for the closed port, accept_queue (with the LISTEN queue) for the listener."""
    closed = free_port()
    clients: list[socket.socket] = []
    with never_accepting() as srv:
        full = srv.getsockname()[1]
        src = LiveSource("lo", f"tcp port {closed} or tcp port {full}", processes=False)
        src.start()
        try:
            started = time.monotonic()
            burst(closed, clients)
            burst(full, clients)
            kinds: dict[str, Finding] = {}
            while time.monotonic() - started < WITHIN:
                src.step()  # what the engine's sniffer tracked since the last step
                found = analyse(
                    src.flows.values(), now=time.time(), listen_queues=read_listen_queues()
                )
                kinds = {f.kind: f for f in found}
                if "refused" in kinds and "accept_queue" in kinds:
                    break
                time.sleep(0.05)
            elapsed = time.monotonic() - started
        finally:
            src.stop()
            for c in clients:
                c.close()
    assert src.error is None
    assert "refused" in kinds and "accept_queue" in kinds, (sorted(kinds), elapsed)
    assert elapsed < WITHIN
    assert kinds["refused"].subject == f"127.0.0.1:{closed}"
    assert kinds["refused"].numbers["attempts"] == BURST
    queue = kinds["accept_queue"]
    assert queue.subject == f"127.0.0.1:{full}"
    assert queue.numbers["completed"] >= 1
    # The queue reading is the kernel's: more waiting than the backlog of 1 allows.
    assert (
        queue.numbers["queued"] is not None and queue.numbers["queued"] > queue.numbers["backlog"]
    )
