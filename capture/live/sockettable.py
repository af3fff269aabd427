"""The kernel's TCP socket table with owners, read by a helper that keeps root after the drop.

Run through sudo, tcpwatch drops to the invoking user once its capture socket is open (as tcpdump
`-Z` does). An unprivileged process cannot read other users' `/proc/PID/fd`, so the owners of
their sockets (a web server's, a database's) would be unknown. Before the drop, `RootSocketTable`
starts this module as a separate root process. It reads nothing but its standard input, one byte
per request, and answers each with the socket table as one JSON line: local and remote
endpoints, state and pid of every TCP socket. It never sees a packet, never runs anything, and
ends when its standard input closes (tcpwatch exiting, however it exits).

    python -m capture.live.sockettable        (as root; one request per byte on stdin)
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
from typing import Any, NamedTuple

import psutil

_TIMEOUT = 10.0
"""Seconds an answer may take before the helper counts as stuck and is stopped."""


class Conn(NamedTuple):
    """One socket, with the attributes of psutil's `sconn` that `ProcessMapper` reads."""

    laddr: tuple[str, int] | tuple[()]
    raddr: tuple[str, int] | tuple[()]
    status: str
    pid: int | None


class RootSocketTable:
    """The parent's side: start the helper (while still root), then `connections()` per refresh.

    A helper that fails (killed, stuck) is stopped and `connections()` falls back to reading
    the table directly, with whatever this process may see.
    """

    def __init__(self) -> None:
        self._proc: subprocess.Popen[bytes] | None = subprocess.Popen(
            [sys.executable, "-m", "capture.live.sockettable"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            close_fds=True,
        )
        self.failed = ""
        """Why the helper was given up (empty while it works)."""

    def connections(self) -> list[Conn]:
        """The TCP socket table, every owner included while the helper works."""
        proc = self._proc
        if proc is not None:
            try:
                return self._ask(proc)
            except (OSError, ValueError, TimeoutError) as exc:
                self.failed = f"socket table helper: {type(exc).__name__}"
                self.stop()
        return [_conn(c) for c in psutil.net_connections(kind="tcp")]

    def _ask(self, proc: subprocess.Popen[bytes]) -> list[Conn]:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(b"?")
        proc.stdin.flush()
        line = _readline(proc.stdout, _TIMEOUT)
        if not line:
            raise ValueError("helper ended")
        return [Conn(tuple(la), tuple(ra), status, pid) for la, ra, status, pid in json.loads(line)]

    def stop(self) -> None:
        """End the helper (closing its input is enough; it is killed if it lingers)."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):  # a dead helper's pipe is broken
                    stream.close()
        try:
            proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=2)


def _readline(stream: Any, timeout: float) -> bytes:
    """A line from `stream`, or TimeoutError after `timeout` seconds."""
    out: list[bytes] = []
    reader = threading.Thread(target=lambda: out.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    if not out:
        raise TimeoutError("no answer")
    return out[0]


def _conn(c: Any) -> Conn:
    return Conn(tuple(c.laddr), tuple(c.raddr), c.status, c.pid)


def table() -> list[list[Any]]:
    """The socket table as JSON-ready rows: [local, remote, state, pid]."""
    return [
        [list(c.laddr), list(c.raddr), c.status, c.pid] for c in psutil.net_connections(kind="tcp")
    ]


def main() -> int:
    """The helper's loop: one answer per byte read, until standard input ends."""
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while stdin.read(1):
        try:
            rows = table()
        except (psutil.Error, OSError):
            rows = []
        stdout.write(json.dumps(rows).encode() + b"\n")
        stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
