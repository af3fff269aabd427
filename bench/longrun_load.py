"""An hour of a plausible server's TCP traffic, compressed, on loopback only (127.0.0.1 and ::1).

The load for `bench/longrun_bench.py`, run as its own process so that its work does not share a
GIL with the sampling. Eight consecutive ports from BASE, each with one behaviour, so that an
export can be checked per port against what was made here:

| port | what | who closes |
|---|---|---|
| BASE+0 | request, echo | client FIN first, then the server's FIN |
| BASE+1 | request, response | server FIN first |
| BASE+2 | request | server RST (SO_LINGER 0) |
| BASE+3 | request, echo | client RST (SO_LINGER 0) |
| BASE+4 | long-lived, trickling a few hundred bytes a second or so | mostly FIN, 1 in 5 RST |
| BASE+5 | bulk upload (8 MB by default) | client FIN first |
| BASE+6 | refused connects (nothing listens) | the kernel's RST/ACK |
| BASE+7 | bursts of refused connects (a SYN burst to a closed port) | the kernel's RST/ACK |

The short connections come at `rate` per second on average, varying ±20 % over the hour; one
in five goes to ::1. Every loop is bounded by the run's end; every thread is joined.

    .venv/bin/python bench/longrun_load.py BASE SECONDS [RATE]    # prints the counts as JSON
"""

from __future__ import annotations

import contextlib
import json
import math
import random
import selectors
import socket
import struct
import sys
import threading
import time
from collections import Counter

HOSTS = {4: "127.0.0.1", 6: "::1"}
ECHO_FIN, RESPOND, SERVER_RST, CLIENT_RST, TRICKLE, BULK, REFUSED, BURST = range(8)
KINDS = ("echo-fin", "respond", "server-rst", "client-rst", "trickle", "bulk", "refused", "burst")
SHORT_MIX = ((ECHO_FIN, 45), (RESPOND, 30), (SERVER_RST, 7), (CLIENT_RST, 8), (REFUSED, 10))
LINGER_0 = struct.pack("ii", 1, 0)
LONG_LIVED = 24
BULK_BYTES = 8 << 20


class Server:
    """Listeners on BASE+0..5 for both families, served by one selector thread."""

    def __init__(self, base: int) -> None:
        self.sel = selectors.DefaultSelector()
        self.stop = threading.Event()
        for family, host in HOSTS.items():
            for kind in (ECHO_FIN, RESPOND, SERVER_RST, CLIENT_RST, TRICKLE, BULK):
                srv = socket.socket(socket.AF_INET6 if family == 6 else socket.AF_INET)
                srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                srv.bind((host, base + kind))
                srv.listen(1024)
                srv.setblocking(False)
                self.sel.register(srv, selectors.EVENT_READ, ("listen", kind))
        self.thread = threading.Thread(target=self._run, name="longrun-server", daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            for key, _ in self.sel.select(timeout=0.2):
                role, kind = key.data
                if role == "listen":
                    with contextlib.suppress(OSError):
                        conn, _ = key.fileobj.accept()  # type: ignore[union-attr]
                        conn.setblocking(False)
                        self.sel.register(conn, selectors.EVENT_READ, ("conn", kind))
                else:
                    self._serve(key.fileobj, kind)  # type: ignore[arg-type]
        for key in list(self.sel.get_map().values()):
            key.fileobj.close()  # type: ignore[union-attr]
        self.sel.close()

    def _serve(self, conn: socket.socket, kind: int) -> None:
        """One readable connection: answer by the port's behaviour; close on EOF or reset."""
        try:
            data = conn.recv(1 << 16)
        except OSError:
            data = b""
        if data and kind in (ECHO_FIN, CLIENT_RST):
            with contextlib.suppress(OSError):
                conn.send(data)  # small: fits the socket buffer
            return
        if data and kind == RESPOND:
            with contextlib.suppress(OSError):
                conn.send(b"HTTP/1.1 200 OK\r\n\r\n" + b"r" * (len(data) * 4))
        elif data and kind == SERVER_RST:
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_0)
        elif data:  # TRICKLE, BULK: a sink until the client's FIN
            return
        self.sel.unregister(conn)
        conn.close()


class Load:
    """The client side: churn, long-lived trickles, bulk uploads and bursts, with counts."""

    def __init__(self, base: int, seconds: float, rate: float, seed: int = 1) -> None:
        self.base, self.seconds, self.rate = base, seconds, rate
        self.start = time.monotonic()
        self.end = self.start + seconds
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.made: Counter[str] = Counter()
        """Connection attempts that sent a SYN, by `family:kind`."""
        self.failed: Counter[str] = Counter()
        """Unexpected errors after the SYN, by `family:kind:error` (the attempt still counts)."""
        self.rng = random.Random(seed)

    def _count(self, family: int, kind: int, error: str = "") -> None:
        with self.lock:
            self.made[f"{family}:{KINDS[kind]}"] += 1
            if error:
                self.failed[f"{family}:{KINDS[kind]}:{error}"] += 1

    def _family(self) -> int:
        return 6 if self.rng.random() < 0.2 else 4

    def connect(self, family: int, kind: int) -> socket.socket | None:
        """Open a connection (counted once its SYN has gone); None when it was refused."""
        sock = socket.socket(socket.AF_INET6 if family == 6 else socket.AF_INET)
        sock.settimeout(5)
        try:
            sock.connect((HOSTS[family], self.base + kind))
        except ConnectionRefusedError:
            sock.close()
            self._count(family, kind, "" if kind in (REFUSED, BURST) else "refused")
            return None
        except OSError as exc:  # e.g. a timeout: the SYN went out, nobody answered in time
            sock.close()
            self._count(family, kind, type(exc).__name__)
            return None
        self._count(family, kind, "unexpected-accept" if kind in (REFUSED, BURST) else "")
        return sock

    def short(self, family: int, kind: int, size: int) -> None:
        """One short connection of `kind`, closed the way its port says."""
        sock = self.connect(family, kind)
        if sock is None:
            return
        try:
            sock.sendall(b"GET /" + b"q" * size)
            if kind == ECHO_FIN:
                _read(sock, size + 5)
                sock.shutdown(socket.SHUT_WR)
                _read(sock, 1 << 30)
            elif kind == CLIENT_RST:
                _read(sock, size + 5)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_0)
            else:  # RESPOND, SERVER_RST: the server ends it
                _read(sock, 1 << 30)
        except OSError as exc:
            if kind != SERVER_RST:
                with self.lock:
                    self.failed[f"{family}:{KINDS[kind]}:{type(exc).__name__}"] += 1
        finally:
            sock.close()

    def due(self, elapsed: float, rate: float) -> float:
        """Connections due after `elapsed` s at `rate`/s varying ±20 % twice over the run."""
        w = 4 * math.pi / self.seconds
        return rate * (elapsed + 0.2 * (1 - math.cos(w * elapsed)) / w)

    def churn(self, rate: float) -> None:
        """Short connections at `rate` per second (mix in SHORT_MIX) until the end."""
        kinds, weights = zip(*SHORT_MIX, strict=True)
        done = 0
        while not self.stop.is_set() and (now := time.monotonic()) < self.end:
            if done >= self.due(now - self.start, rate):
                time.sleep(0.002)
                continue
            kind = self.rng.choices(kinds, weights)[0]
            self.short(self._family(), kind, self.rng.randrange(40, 400))
            done += 1

    def trickles(self) -> None:
        """LONG_LIVED connections sending a little every 0.5-2 s, each living 5-30 % of the run."""
        conns: list[list] = []  # [sock, next send, end]
        while not self.stop.is_set() and (now := time.monotonic()) < self.end:
            while len(conns) < LONG_LIVED:
                sock = self.connect(self._family(), TRICKLE)
                if sock is not None:
                    life = self.seconds * self.rng.uniform(0.05, 0.3)
                    conns.append([sock, now, now + life])
            for conn in list(conns):
                sock, next_send, end = conn
                if now >= end:
                    conns.remove(conn)
                    _close(sock, rst=self.rng.random() < 0.2)
                elif now >= next_send:
                    with contextlib.suppress(OSError):
                        sock.send(b"t" * self.rng.randrange(64, 512))
                    conn[1] = now + self.rng.uniform(0.5, 2.0)
            self.stop.wait(0.05)
        for sock, _, _ in conns:
            _close(sock, rst=False)

    def periodic(self, every: float, action: str) -> None:
        """A bulk upload or a burst every `every` seconds, the first at half a period."""
        at = self.start + every / 2
        while not self.stop.is_set() and time.monotonic() < self.end:
            if time.monotonic() >= at:
                self.bulk() if action == "bulk" else self.burst(150)
                at += every
            self.stop.wait(0.1)

    def bulk(self) -> None:
        """One BULK_BYTES upload, then a graceful close."""
        sock = self.connect(self._family(), BULK)
        if sock is not None:
            with contextlib.suppress(OSError):
                block = b"b" * (1 << 16)
                for _ in range(BULK_BYTES >> 16):
                    sock.sendall(block)
            _close(sock, rst=False)

    def burst(self, n: int) -> None:
        """`n` refused connects as fast as they go: SYN, RST/ACK each."""
        family = self._family()
        for _ in range(n):
            self.connect(family, BURST)

    def run(self) -> dict[str, object]:
        """Run every part to the end (threads joined, bounded) and return the counts."""
        parts = [
            threading.Thread(target=self.churn, args=(self.rate / 2,), name="churn-a"),
            threading.Thread(target=self.churn, args=(self.rate / 2,), name="churn-b"),
            threading.Thread(target=self.trickles, name="trickles"),
            threading.Thread(target=self.periodic, args=(self.seconds / 12, "bulk"), name="bulk"),
            threading.Thread(target=self.periodic, args=(self.seconds / 8, "burst"), name="burst"),
        ]
        for t in parts:
            t.daemon = True
            t.start()
        for t in parts:
            t.join(timeout=max(1.0, self.end - time.monotonic()) + 30)
        self.stop.set()
        for t in parts:
            t.join(timeout=10)
        return {
            "seconds": round(time.monotonic() - self.start, 2),
            "made": dict(sorted(self.made.items())),
            "total": sum(self.made.values()),
            "failed": dict(sorted(self.failed.items())),
            "stuck_threads": [t.name for t in parts if t.is_alive()],
        }


def _read(sock: socket.socket, limit: int) -> None:
    """Read until `limit` bytes or EOF."""
    got = 0
    while got < limit and (chunk := sock.recv(1 << 16)):
        got += len(chunk)


def _close(sock: socket.socket, rst: bool) -> None:
    """Close with a FIN (after the server's, read to EOF) or abort with an RST."""
    with contextlib.suppress(OSError):
        if rst:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_0)
        else:
            sock.shutdown(socket.SHUT_WR)
            _read(sock, 1 << 20)
    sock.close()


def main(argv: list[str]) -> None:
    """`BASE SECONDS [RATE]`: serve, load, stop everything, print the counts as JSON."""
    base, seconds = int(argv[0]), float(argv[1])
    rate = float(argv[2]) if len(argv) > 2 else 100.0
    server = Server(base)
    server.thread.start()
    try:
        counts = Load(base, seconds, rate).run()
    finally:
        server.stop.set()
        server.thread.join(timeout=5)
    print(json.dumps(counts), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
