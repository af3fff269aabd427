"""TCP endings made on purpose, run inside a test's own network namespace (its loopback only).

`python live_scenarios.py serve` listens for every scenario on 127.0.0.1 and ::1, prints
{"pid", "ports": {host: {scenario: port}}} and serves until its stdin closes.
`python live_scenarios.py run PORTS_JSON` plays the client side of every scenario and prints
{"pid", "clients": {host: {scenario: client port}}}. Every wait is bounded.

Scenarios: client_close (lives 2.5 s, so the client's process is attributable), server_close,
half_close, rst (SO_LINGER 0), refused (closed port), backlog_filler + backlog_syn (a full
accept queue: the second SYN is dropped and retried), simultaneous (FINs cross: a token-bucket
qdisc on lo, added for that phase only, holds both FINs in flight at once).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable

HOSTS = ("127.0.0.1", "::1")
TIMEOUT = 10.0
LONG_LIVED = 2.5


def _family(host: str) -> int:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _drain(conn: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while conn.recv(65536):
            pass


# --- server side -------------------------------------------------------------------------


def _echo(conn: socket.socket) -> None:
    # The ACK of what came in goes out before the echo, whichever way the kernel would have
    # gone: if its ACK is still delayed when recv returns, TCP_QUICKACK sends it now. Without
    # this the echo sometimes carries the ACK, and the history reads ShADda.. for ShADad...
    with contextlib.suppress(OSError):
        while data := conn.recv(65536):
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
            conn.sendall(data)


def _close_first(conn: socket.socket) -> None:
    conn.sendall(b"bye from the server\n")


def _answer_after_fin(conn: socket.socket) -> None:
    _drain(conn)
    conn.sendall(b"the answer, after your FIN\n")


def _simultaneous(conn: socket.socket) -> None:
    when = float(conn.recv(64).decode())
    time.sleep(max(0.0, when + 0.01 - time.time()))
    conn.shutdown(socket.SHUT_WR)
    _drain(conn)


HANDLERS: dict[str, Callable[[socket.socket], None]] = {
    "client_close": _echo,
    "server_close": _close_first,
    "half_close": _answer_after_fin,
    "rst": _drain,
    "simultaneous": _simultaneous,
}


def _accept_loop(srv: socket.socket, handler: Callable[[socket.socket], None]) -> None:
    while True:
        try:
            conn, _ = srv.accept()
        except OSError:
            return

        def handle(conn: socket.socket = conn) -> None:
            with conn:
                conn.settimeout(TIMEOUT)
                handler(conn)

        threading.Thread(target=handle, daemon=True).start()


def serve() -> None:
    keep: list[socket.socket] = []
    ports: dict[str, dict[str, int]] = {}
    for host in HOSTS:
        ports[host] = {}
        for name, handler in HANDLERS.items():
            srv = socket.socket(_family(host))
            srv.bind((host, 0))
            srv.listen(16)
            keep.append(srv)
            ports[host][name] = srv.getsockname()[1]
            threading.Thread(target=_accept_loop, args=(srv, handler), daemon=True).start()
        closed = socket.socket(_family(host))  # bound, never listening: SYNs get an RST
        closed.bind((host, 0))
        full = socket.socket(_family(host))  # backlog 0 and never accepting
        full.bind((host, 0))
        full.listen(0)
        keep += [closed, full]
        ports[host]["refused"] = closed.getsockname()[1]
        ports[host]["backlog"] = full.getsockname()[1]
    print(json.dumps({"pid": os.getpid(), "ports": ports}), flush=True)
    sys.stdin.read()
    for s in keep:
        s.close()


# --- client side -------------------------------------------------------------------------


def _connect(host: str, port: int) -> socket.socket:
    return socket.create_connection((host, port), timeout=TIMEOUT)


def _abort(sock: socket.socket) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def client_close(host: str, port: int) -> int:
    with _connect(host, port) as c:
        c.sendall(b"hello\n")
        assert c.recv(64) == b"hello\n"
        time.sleep(LONG_LIVED)
        return int(c.getsockname()[1])


def server_close(host: str, port: int) -> int:
    with _connect(host, port) as c:
        _drain(c)
        return int(c.getsockname()[1])


def half_close(host: str, port: int) -> int:
    with _connect(host, port) as c:
        c.sendall(b"a question\n")
        c.shutdown(socket.SHUT_WR)
        _drain(c)
        return int(c.getsockname()[1])


def rst(host: str, port: int) -> int:
    c = _connect(host, port)
    mine = int(c.getsockname()[1])
    c.sendall(b"x")
    time.sleep(0.2)  # the data and its ACK first, then the abort
    _abort(c)
    return mine


def refused(host: str, port: int) -> int:
    c = socket.socket(_family(host))
    c.settimeout(TIMEOUT)
    c.bind((host, 0))
    try:
        c.connect((host, port))
    except ConnectionRefusedError:
        return int(c.getsockname()[1])
    finally:
        c.close()
    raise AssertionError("connection to a closed port was accepted")


def backlog(host: str, port: int) -> tuple[int, int]:
    filler = _connect(host, port)  # completes, then waits in the accept queue
    retried = socket.socket(_family(host))
    retried.setsockopt(socket.IPPROTO_TCP, socket.TCP_SYNCNT, 1)  # a 3 s budget: 2 retries on 6.x
    retried.settimeout(TIMEOUT)
    retried.bind((host, 0))
    mine = int(retried.getsockname()[1])
    try:
        retried.connect((host, port))
        raise AssertionError("a full accept queue took another connection")
    except (TimeoutError, OSError) as exc:
        if isinstance(exc, AssertionError):
            raise
    finally:
        retried.close()
    first = int(filler.getsockname()[1])
    _abort(filler)
    return first, mine


def simultaneous(host: str, port: int, when: float) -> int:
    with _connect(host, port) as c:
        c.sendall(b"%.6f" % when)
        time.sleep(max(0.0, when - time.time()))
        # Empties the token bucket: the FINs queue behind ~0.6 s of data, so they cross even if
        # the server wakes late.
        c.sendall(b"z" * 6000)
        c.shutdown(socket.SHUT_WR)
        _drain(c)
        return int(c.getsockname()[1])


def run(ports: dict[str, dict[str, int]]) -> None:
    clients: dict[str, dict[str, int]] = {host: {} for host in HOSTS}
    jobs: list[threading.Thread] = []
    errors: list[BaseException] = []

    def job(host: str, name: str, fn: Callable[[], object]) -> None:
        try:
            got = fn()
            if isinstance(got, tuple):
                clients[host]["backlog_filler"], clients[host]["backlog_syn"] = got
            else:
                clients[host][name] = int(got)  # type: ignore[call-overload]
        except BaseException as exc:
            errors.append(exc)

    for host in HOSTS:
        p = ports[host]
        for name, fn in (
            ("client_close", client_close),
            ("server_close", server_close),
            ("half_close", half_close),
            ("rst", rst),
            ("refused", refused),
            ("backlog", backlog),
        ):
            port = p[name]
            jobs.append(
                threading.Thread(
                    target=job, args=(host, name, lambda f=fn, h=host, q=port: f(h, q))
                )
            )
    for t in jobs:
        t.start()
    for t in jobs:
        t.join(TIMEOUT * 2)
    _simultaneous_phase(ports, clients, job)
    if errors:
        raise errors[0]
    print(json.dumps({"pid": os.getpid(), "clients": clients}), flush=True)


def _simultaneous_phase(
    ports: dict[str, dict[str, int]], clients: dict[str, dict[str, int]], job: Callable[..., None]
) -> None:
    tc = ["tc", "qdisc", "add", "dev", "lo", "root", "tbf"]
    subprocess.run(["ip", "link", "set", "lo", "mtu", "1500"], check=True)
    subprocess.run([*tc, "rate", "64kbit", "burst", "2000", "latency", "5s"], check=True)
    try:
        when = time.time() + 0.5
        jobs = [
            threading.Thread(
                target=job,
                args=(
                    h,
                    "simultaneous",
                    lambda h=h: simultaneous(h, ports[h]["simultaneous"], when),
                ),
            )
            for h in HOSTS
        ]
        for t in jobs:
            t.start()
        for t in jobs:
            t.join(TIMEOUT * 2)
        _wait_qdisc_empty()
    finally:
        subprocess.run(["tc", "qdisc", "del", "dev", "lo", "root"], check=False)


def _wait_qdisc_empty() -> None:
    # Deleting the qdisc drops what it still holds (the last ACKs), which TCP would then
    # retransmit after the capture has been stopped: let it empty first (bounded).
    end = time.monotonic() + TIMEOUT
    while time.monotonic() < end:
        out = subprocess.run(["tc", "-s", "qdisc", "show", "dev", "lo"], capture_output=True)
        if b"backlog 0b 0p" in out.stdout:
            return
        time.sleep(0.05)


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve()
    else:
        run(json.loads(sys.argv[2]))
