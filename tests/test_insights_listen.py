"""The LISTEN sockets' accept queues, read from /proc for a listener this test owns."""

from __future__ import annotations

import ipaddress
import shutil
import socket
import subprocess
import time

import pytest

from capture.insights.listen import parse_proc_net_tcp, read_listen_queues

LOCALHOST = bytes([127, 0, 0, 1])


def test_a_listener_shows_its_backlog_and_waiting_connections() -> None:
    """backlog 3, two connections never accepted: (2 queued, backlog 3)."""
    srv = socket.socket()
    clients: list[socket.socket] = []
    try:
        srv.bind(("127.0.0.1", 0))
        srv.listen(3)
        port = srv.getsockname()[1]
        assert read_listen_queues()[(LOCALHOST, port)] == (0, 3)
        clients.extend(socket.create_connection(("127.0.0.1", port), timeout=2) for _ in range(2))
        deadline = time.monotonic() + 2
        while read_listen_queues()[(LOCALHOST, port)][0] < 2:
            assert time.monotonic() < deadline, "the accept queue never showed 2 connections"
            time.sleep(0.01)
        assert read_listen_queues()[(LOCALHOST, port)] == (2, 3)
    finally:
        for c in clients:
            c.close()
        srv.close()


def test_ipv6_addresses_and_bad_lines() -> None:
    """The /proc fallback: IPv6 words byte-swapped per 32 bits, backlog unknown (-1), bad lines
    skipped."""
    text = (
        "  sl  local_address                         remote_address                        st "
        "tx_queue rx_queue\n"
        "   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A "
        "00000080:00000005 00:00000000 00000000 0 0 1\n"
        "   1: garbage\n"
        "   2: 0100007F:0050 00000000:0000 01 00000000:00000000 00:00000000 00000000 0 0 2\n"
    )
    assert parse_proc_net_tcp(text) == {(bytes(15) + b"\x01", 8080): (5, -1)}


@pytest.mark.skipif(shutil.which("ss") is None, reason="ss (iproute2) is not installed")
def test_the_kernel_answer_matches_ss() -> None:
    """Every LISTEN socket ss reports, with the same Recv-Q (queued) and Send-Q (backlog)."""
    srv = socket.socket(socket.AF_INET6)
    try:
        srv.bind(("::1", 0))
        srv.listen(7)
        ours = read_listen_queues()
        out = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            _, queued, backlog, local = line.split()[:4]
            host, _, port = local.rpartition(":")
            host = host.strip("[]").split("%")[0]
            if host == "*":
                continue
            addr = ipaddress.ip_address(host).packed
            assert ours[(addr, int(port))] == (int(queued), int(backlog)), line
        assert ours[(ipaddress.ip_address("::1").packed, srv.getsockname()[1])] == (0, 7)
    finally:
        srv.close()
