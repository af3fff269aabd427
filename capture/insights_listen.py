"""Live mode: the accept queues of this host's LISTEN sockets, from /proc/net/tcp and tcp6.

For a socket in LISTEN (state 0A) the kernel reports in `tx_queue:rx_queue` the backlog given to
listen() and the connections waiting in the accept queue; Linux drops new SYNs once the queue
holds more than the backlog. The insights use this to tell a full accept queue from a filtered
port. Reading the files is the caller's choice (the live view); the rules stay pure.
"""

from __future__ import annotations

from pathlib import Path

_LISTEN = "0A"


def _addr(hex_addr: str) -> bytes:
    # Each 32-bit word is printed in host (little-endian) order.
    raw = bytes.fromhex(hex_addr)
    return b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))


def parse_proc_net_tcp(text: str) -> dict[tuple[bytes, int], tuple[int, int]]:
    """`{(address, port): (queued, backlog)}` for the LISTEN sockets in one /proc/net/tcp* text."""
    out: dict[tuple[bytes, int], tuple[int, int]] = {}
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 5 or fields[3] != _LISTEN:
            continue
        try:
            host, port = fields[1].split(":")
            backlog, queued = (int(x, 16) for x in fields[4].split(":"))
            key = (_addr(host), int(port, 16))
        except ValueError:
            continue
        old = out.get(key)
        # SO_REUSEPORT groups: report the fullest socket of the group.
        if old is None or queued - backlog > old[0] - old[1]:
            out[key] = (queued, backlog)
    return out


def read_listen_queues(proc: str = "/proc") -> dict[tuple[bytes, int], tuple[int, int]]:
    """The LISTEN sockets of this network namespace; empty when /proc cannot be read."""
    out: dict[tuple[bytes, int], tuple[int, int]] = {}
    for name in ("tcp", "tcp6"):
        try:
            text = (Path(proc) / "net" / name).read_text(encoding="ascii", errors="replace")
        except OSError:
            continue
        out.update(parse_proc_net_tcp(text))
    return out
