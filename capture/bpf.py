"""Kernel-side packet filters: BPF compiled by libpcap (through scapy) and attached to a socket.

The kernel runs the filter before a frame is copied to user space, so everything the sniffer
reads is already TCP. libpcap is reached through scapy's ctypes binding with a "dead" handle of
the capture's link type, which needs no privilege; scapy itself never dissects a packet here.
"""

from __future__ import annotations

import ctypes
import socket
import struct

LINKTYPE_ETHERNET = 1
LINKTYPE_LINUX_SLL = 113
_DLT_RAW = 12
"""libpcap's DLT for frames that start at the IP header (what a cooked socket's filter sees)."""

SO_ATTACH_FILTER = 26
_BPF_RET_K = 0x06
SNAPLEN = 262144
"""libpcap's default snap length; a dead handle compiles `ret #65535`, which would cut the
14-byte link header off the largest loopback frames (MTU 65536)."""

DEFAULT_FILTER = "tcp or (vlan and tcp)"
"""TCP, untagged or VLAN-tagged (libpcap's `vlan` shifts every later offset by 4)."""
COOKED_DEFAULT_FILTER = "tcp"
"""Cooked sockets hand the filter the network header; the kernel strips VLAN tags there."""

_INSN = struct.Struct("=HBBI")


class BpfError(Exception):
    """A filter that cannot be compiled, or libpcap that cannot be loaded (one-line message)."""


def capture_filter(user: str | None, cooked: bool = False) -> str:
    """The expression actually compiled: TCP only, ANDed with the user's expression.

    The user's expression is repeated after `vlan` so that, in the tagged branch, it is read
    with the shifted offsets; placing it after `(tcp or (vlan and tcp))` instead would apply the
    VLAN offsets to untagged frames as well.
    """
    if cooked:
        return COOKED_DEFAULT_FILTER if not user else f"tcp and ({user})"
    if not user:
        return DEFAULT_FILTER
    return f"(tcp and ({user})) or (vlan and tcp and ({user}))"


def compile_bpf(expr: str, cooked: bool = False) -> bytes:
    """Compile `expr` for Ethernet frames (or for a cooked socket) into packed `sock_filter`s.

    Raises `BpfError` naming the expression when libpcap rejects it, or saying to install
    libpcap0.8 when it is missing.
    """
    try:
        from scapy.arch.common import compile_filter, free_filter
    except ImportError as exc:  # pragma: no cover - scapy is a dependency
        raise BpfError(f"cannot load scapy's BPF compiler: {exc}") from exc
    linktype = _DLT_RAW if cooked else LINKTYPE_ETHERNET
    try:
        prog = compile_filter(expr, linktype=linktype)
    except ImportError as exc:
        raise BpfError(
            "libpcap is not installed, so capture filters cannot be compiled "
            "(install it: apt-get install libpcap0.8)"
        ) from exc
    except Exception as exc:
        raise BpfError(f"bad capture filter {expr!r}: {_reason(exc)}") from exc
    try:
        return _pack(prog)
    finally:
        free_filter(prog)


def _reason(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    # scapy: "Failed to compile filter expression 'X' (syntax error in filter expression)"
    if text.endswith(")") and "(" in text:
        return text[text.rindex("(") + 1 : -1]
    return text or type(exc).__name__


def _pack(prog: object) -> bytes:
    count: int = prog.bf_len  # type: ignore[attr-defined]
    insns = prog.bf_insns  # type: ignore[attr-defined]
    out = bytearray()
    for i in range(count):
        insn = insns[i]
        k = insn.k & 0xFFFFFFFF
        if insn.code == _BPF_RET_K and k:
            k = SNAPLEN
        out += _INSN.pack(insn.code, insn.jt, insn.jf, k)
    return bytes(out)


def attach(sock: socket.socket, program: bytes) -> None:
    """Attach packed BPF instructions to `sock` with SO_ATTACH_FILTER."""
    buf = ctypes.create_string_buffer(program, len(program))
    fprog = struct.pack("HL", len(program) // _INSN.size, ctypes.addressof(buf))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)
