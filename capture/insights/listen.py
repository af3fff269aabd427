"""Live mode: the accept queues of this host's LISTEN sockets (Linux sock_diag, or /proc).

For a socket in LISTEN the kernel's inet_diag reply carries the connections waiting in the accept
queue (`idiag_rqueue`) and the backlog given to listen() (`idiag_wqueue`), what `ss -lnt` shows as
Recv-Q and Send-Q; Linux drops new SYNs once the queue holds more than the backlog. The insights
use this to tell a full accept queue from a filtered port. /proc/net/tcp gives the waiting count
only (its tx_queue of a LISTEN socket is not the backlog): the fallback reports backlog -1.
"""

from __future__ import annotations

import socket
import struct
from pathlib import Path

Queues = dict[tuple[bytes, int], tuple[int, int]]

_NETLINK_SOCK_DIAG = 4
_SOCK_DIAG_BY_FAMILY = 20
_NLM_F_REQUEST_DUMP = 0x301
_NLMSG_ERROR, _NLMSG_DONE = 2, 3
_TCP_LISTEN = 10
_NLMSGHDR = struct.Struct("=IHHII")
# inet_diag_req_v2: family, protocol, ext, pad, states, then a zeroed inet_diag_sockid (48 bytes).
_REQ = struct.Struct("=BBBxI48x")
# inet_diag_msg: family, state, timer, retrans; sockid (sport, dport big-endian, src, dst, if,
# cookie); expires, rqueue, wqueue, uid, inode.
_MSG = struct.Struct("=BBBB2s2s16s16sI8sIIIII")
_MAX_REPLIES = 4096
"""Bound on reply datagrams read for one family (each holds many sockets)."""


def _diag(family: int) -> Queues:
    out: Queues = {}
    with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, _NETLINK_SOCK_DIAG) as nl:
        nl.settimeout(1.0)
        body = _REQ.pack(family, socket.IPPROTO_TCP, 0, 1 << _TCP_LISTEN)
        head = _NLMSGHDR.pack(
            _NLMSGHDR.size + len(body), _SOCK_DIAG_BY_FAMILY, _NLM_F_REQUEST_DUMP, 1, 0
        )
        nl.send(head + body)
        for _ in range(_MAX_REPLIES):
            data = nl.recv(1 << 16)
            offset = 0
            while offset + _NLMSGHDR.size <= len(data):
                length, kind = _NLMSGHDR.unpack_from(data, offset)[:2]
                if kind in (_NLMSG_DONE, _NLMSG_ERROR) or length < _NLMSGHDR.size:
                    return out
                _one(data, offset + _NLMSGHDR.size, out)
                offset += (length + 3) & ~3
    return out


def _one(data: bytes, at: int, out: Queues) -> None:
    if at + _MSG.size > len(data):
        return
    fam, state, _, _, sport, _, src, _, _, _, _, rqueue, wqueue, _, _ = _MSG.unpack_from(data, at)
    if state != _TCP_LISTEN:
        return
    addr = src[:4] if fam == socket.AF_INET else src
    key = (addr, int.from_bytes(sport, "big"))
    old = out.get(key)
    # SO_REUSEPORT groups share an address: report the fullest socket of the group.
    if old is None or rqueue - wqueue > old[0] - old[1]:
        out[key] = (rqueue, wqueue)


def _addr(hex_addr: str) -> bytes:
    # Each 32-bit word is printed in host (little-endian) order.
    raw = bytes.fromhex(hex_addr)
    return b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))


def parse_proc_net_tcp(text: str) -> Queues:
    """`{(address, port): (queued, -1)}` for the LISTEN sockets of one /proc/net/tcp* text."""
    out: Queues = {}
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 5 or fields[3] != "0A":
            continue
        try:
            host, port = fields[1].split(":")
            queued = int(fields[4].split(":")[1], 16)
            key = (_addr(host), int(port, 16))
        except (ValueError, IndexError):
            continue
        out[key] = (max(queued, out.get(key, (0, -1))[0]), -1)
    return out


def read_listen_queues(proc: str = "/proc") -> Queues:
    """`{(address, port): (queued, backlog)}` for this network namespace's LISTEN sockets.

    Asks the kernel through sock_diag; without it, reads `proc`/net/tcp{,6} (backlog -1, unknown).
    Empty when neither can be read.
    """
    try:
        return {**_diag(socket.AF_INET), **_diag(socket.AF_INET6)}
    except OSError:
        pass
    out: Queues = {}
    for name in ("tcp", "tcp6"):
        try:
            text = (Path(proc) / "net" / name).read_text(encoding="ascii", errors="replace")
        except OSError:
            continue
        out.update(parse_proc_net_tcp(text))
    return out
