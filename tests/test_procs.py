"""Process attribution from the real socket table, and the SYN retry schedule from sysctls."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from types import SimpleNamespace

import psutil
import pytest

from capture.live.procs import ProcessMapper, addr_bytes, retry_schedule

LO4 = bytes([127, 0, 0, 1])
LO6 = bytes(15) + b"\x01"
ME = psutil.Process().name()


def test_listener_and_both_ends_of_a_loopback_connection_are_attributed() -> None:
    """The server (via its listener) and the client of a loopback connection name this process."""
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        port = srv.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)) as cl:
            cport = cl.getsockname()[1]
            mapper = ProcessMapper()
            mapper.refresh()
            server = mapper.owner(LO4, port, (LO4, cport))
            client = mapper.owner(LO4, cport, (LO4, port))
    assert server is not None and client is not None
    assert server.pid == client.pid == os.getpid()
    assert server.name == ME and not server.stale
    assert (LO4, port) in mapper.listening()
    assert mapper.is_listening(LO4, port)
    assert mapper.owner(LO4, 9, (LO4, 1)) is None or mapper.is_listening(LO4, 9)


def test_another_process_is_named_and_remembered_after_it_exits() -> None:
    """A child's listener names the child; once it exits its last owner is kept, marked stale."""
    code = (
        "import socket,sys; s=socket.socket(socket.AF_INET6); s.bind(('::1',0)); s.listen(1);"
        "print(s.getsockname()[1], flush=True); c,_=s.accept(); sys.stdin.readline()"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None and child.stdin is not None
    port = int(child.stdout.readline())
    with socket.create_connection(("::1", port)) as cl:
        cport = cl.getsockname()[1]
        mapper = ProcessMapper()
        mapper.refresh()
        live = mapper.owner(LO6, port, (LO6, cport))
        child.stdin.write("bye\n")
        child.stdin.flush()
        child.wait(timeout=10)
        mapper.refresh()
        gone = mapper.owner(LO6, port, (LO6, cport))
    assert live is not None and live.pid == child.pid and not live.stale
    assert gone is not None and gone.pid == child.pid and gone.stale
    assert gone.label().endswith("(gone)")


@pytest.mark.parametrize(("family", "bind"), [(socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")])
def test_wildcard_listeners_match_local_addresses_only(family: int, bind: str) -> None:
    """A listener on 0.0.0.0 or [::] owns 127.0.0.1:port, but not a remote host's same port."""
    with socket.socket(family) as srv:
        srv.bind((bind, 0))
        srv.listen(1)
        port = srv.getsockname()[1]
        mapper = ProcessMapper()
        mapper.refresh()
    found = mapper.owner(LO4, port)
    assert found is not None and found.pid == os.getpid()
    assert mapper.owner(bytes([192, 0, 2, 99]), port) is None


def test_thread_refreshes_and_annotates_flows() -> None:
    """The refresh thread builds the table; annotate() fills pid/proc on both sides."""
    mapper = ProcessMapper(interval=0.05)
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        port = srv.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)) as cl:
            cport = cl.getsockname()[1]
            mapper.start()
            try:
                assert mapper.wait_ready(5)
                flow = SimpleNamespace(
                    orig_addr=LO4, orig_port=cport, resp_addr=LO4, resp_port=port,
                    proc_orig=None, proc_resp=None, pid_orig=None, pid_resp=None,
                )  # fmt: skip
                mapper.annotate(flow)
            finally:
                mapper.stop()
    assert (flow.pid_orig, flow.pid_resp) == (os.getpid(), os.getpid())
    assert flow.proc_orig == flow.proc_resp == ME
    assert mapper.error is None


def test_mapped_ipv6_addresses_read_as_ipv4() -> None:
    """A dual-stack socket's ::ffff:127.0.0.1 is the capture's 127.0.0.1."""
    assert addr_bytes("::ffff:127.0.0.1") == LO4
    assert addr_bytes("::1") == LO6


def test_syn_retry_schedule_follows_the_sysctls(tmp_path) -> None:
    """Linear SYN timeouts first (Linux 6.x) within the count's time budget; SYN/ACKs double."""
    (tmp_path / "tcp_syn_retries").write_text("6\n")
    (tmp_path / "tcp_syn_linear_timeouts").write_text("4\n")
    (tmp_path / "tcp_synack_retries").write_text("5\n")
    syn = retry_schedule(sysctl_dir=str(tmp_path))
    assert syn.retry_offsets() == [1, 2, 3, 4, 5, 7, 11, 19, 35, 67]
    assert syn.give_up_after == 131
    assert syn.next_retry(100.0, 2) == 103.0
    assert syn.next_retry(100.0, 10) is None
    # TCP_SYNCNT 1 and 2: budgets of 3 s and 7 s (the live test sees the kernel do this)
    assert retry_schedule(sysctl_dir=str(tmp_path), syn_retries=1).retry_offsets() == [1, 2]
    assert retry_schedule(sysctl_dir=str(tmp_path), syn_retries=2).retry_offsets() == [
        1,
        2,
        3,
        4,
        5,
    ]
    synack = retry_schedule(synack=True, sysctl_dir=str(tmp_path))
    assert synack.retry_offsets() == [1, 3, 7, 15, 31]
    assert synack.give_up_after == 63
    (tmp_path / "tcp_syn_linear_timeouts").unlink()  # older kernels: 1-2-4-8
    old = retry_schedule(sysctl_dir=str(tmp_path))
    assert old.retry_offsets() == [1, 3, 7, 15, 31, 63]
    assert old.give_up_after == 127


def test_annotate_marks_owners_known_only_from_memory() -> None:
    """Seen live: the plain name, kept after the socket goes. First seen gone: `name (gone)`."""
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        port = srv.getsockname()[1]
        cl = socket.create_connection(("127.0.0.1", port))
        cport = cl.getsockname()[1]
        mapper = ProcessMapper()
        mapper.refresh()

        def flow() -> SimpleNamespace:
            return SimpleNamespace(
                orig_addr=LO4, orig_port=cport, resp_addr=LO4, resp_port=port,
                proc_orig=None, proc_resp=None, pid_orig=None, pid_resp=None,
            )  # fmt: skip

        seen_live = flow()
        mapper.annotate(seen_live)
        cl.close()
        mapper.refresh()
        mapper.annotate(seen_live)
        seen_late = flow()
        mapper.annotate(seen_late)
    assert seen_live.proc_orig == ME and seen_live.pid_orig == os.getpid()
    assert seen_late.proc_orig == f"{ME} (gone)" and seen_late.pid_orig == os.getpid()
    assert seen_late.proc_resp == ME  # the listener is still there


def test_only_addresses_a_socket_here_may_hold_are_looked_up() -> None:
    """`may_own` admits this host's addresses, any loopback address, and those the socket table
    showed (a socket bound to another address), even after the socket went; not a foreign
    host's, for which `owner` finds nothing either."""
    bound_elsewhere = SimpleNamespace(
        laddr=("192.0.2.7", 8080), raddr=(), status=psutil.CONN_LISTEN, pid=os.getpid()
    )
    table = [bound_elsewhere]
    mapper = ProcessMapper(connections=lambda: list(table))
    foreign, elsewhere = bytes([198, 51, 100, 1]), bytes([192, 0, 2, 7])
    assert not mapper.may_own(elsewhere), "nothing is known before the first refresh"
    mapper.refresh()
    assert mapper.may_own(LO4) and mapper.may_own(bytes([127, 0, 0, 2])) and mapper.may_own(LO6)
    assert mapper.may_own(elsewhere)
    assert mapper.owner(elsewhere, 8080) is not None
    assert not mapper.may_own(foreign)
    assert mapper.owner(foreign, 8080, (LO4, 1)) is None
    table.clear()
    mapper.refresh()
    assert mapper.may_own(elsewhere), "its owner is remembered, and so is the address"
    gone = mapper.owner(elsewhere, 8080)
    assert gone is not None and gone.stale


def test_the_listeners_version_moves_only_when_they_change() -> None:
    """A refresh that finds the same listening endpoints leaves `listen_version` alone (the
    live source hands them to the engine only when it moved)."""
    listener = SimpleNamespace(
        laddr=("0.0.0.0", 8080), raddr=(), status=psutil.CONN_LISTEN, pid=os.getpid()
    )
    table: list[SimpleNamespace] = []
    mapper = ProcessMapper(connections=lambda: list(table))
    mapper.refresh()
    first = mapper.listen_version
    table.append(listener)
    mapper.refresh()
    assert mapper.listen_version == first + 1 and mapper.listen_keys() == {8080}
    mapper.refresh()
    assert mapper.listen_version == first + 1
    table.clear()
    mapper.refresh()
    assert mapper.listen_version == first + 2 and mapper.listen_keys() == set()
