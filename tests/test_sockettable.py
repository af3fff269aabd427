"""The root helper that keeps socket owners known after the privilege drop."""

from __future__ import annotations

import os
import socket

import pytest

from capture.live.sockettable import RootSocketTable

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the helper's point is root")


def _listening(conns: list, port: int) -> list:
    return [c for c in conns if c.laddr and c.laddr[1] == port and c.status == "LISTEN"]


def test_the_helper_answers_with_owners_and_ends_with_its_input() -> None:
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        port = srv.getsockname()[1]
        table = RootSocketTable()
        helper = table._proc
        assert helper is not None
        try:
            for _ in range(2):  # one answer per request
                mine = _listening(table.connections(), port)
                assert [(c.laddr, c.pid) for c in mine] == [(("127.0.0.1", port), os.getpid())]
        finally:
            table.stop()
        assert helper.returncode == 0  # it ended when its input closed
        # Without the helper, the table is read directly.
        assert _listening(table.connections(), port)
        assert table.failed == ""


def test_a_dead_helper_is_given_up_for_a_direct_read() -> None:
    table = RootSocketTable()
    assert table._proc is not None
    table._proc.kill()
    table._proc.wait(timeout=5)
    conns = table.connections()  # falls back, says why
    assert table.failed.startswith("socket table helper:")
    assert table._proc is None
    assert isinstance(conns, list)
