"""The compact record of one TCP segment, shared by the decoder, the tracker and every view.

A `Segment` is what the hot path produces for each frame that carries a TCP header. It keeps the
raw frame so that the inspector can dissect that one frame fully later; everything else is plain
integers and bytes taken with `struct` from the headers.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from functools import lru_cache

FIN = 0x01
SYN = 0x02
RST = 0x04
PSH = 0x08
ACK = 0x10
URG = 0x20
ECE = 0x40
CWR = 0x80
AE = 0x100  # the former NS bit (RFC 3540), reused by Accurate ECN

FLAG_NAMES: tuple[tuple[int, str], ...] = (
    (FIN, "FIN"),
    (SYN, "SYN"),
    (RST, "RST"),
    (PSH, "PSH"),
    (ACK, "ACK"),
    (URG, "URG"),
    (ECE, "ECE"),
    (CWR, "CWR"),
    (AE, "AE"),
)

# tcpdump's one-letter notation, in tcpdump's order ("[S.]", "[FP.]", "[R.]" ...).
_TCPDUMP_LETTERS: tuple[tuple[int, str], ...] = (
    (FIN, "F"),
    (SYN, "S"),
    (RST, "R"),
    (PSH, "P"),
    (URG, "U"),
    (ECE, "E"),
    (CWR, "W"),
    (AE, "e"),
)


class Segment:
    """One decoded TCP segment, as Python code builds one (tests): the engine's kept segments
    (`capture._engine.Segment`) have the same attributes."""

    __slots__ = (
        "frame_no",
        "ts",
        "linktype",
        "frame",
        "wire_len",
        "truncated",
        "ip_version",
        "ip_off",
        "src",
        "dst",
        "ip_len",
        "ttl",
        "vlan",
        "tcp_off",
        "sport",
        "dport",
        "seq",
        "ack",
        "flags",
        "window",
        "urg_ptr",
        "opts",
        "bad_opts",
        "payload_len",
    )

    frame_no: int
    """1-based position of the frame in its capture (or live session)."""
    ts: float
    """Capture time, seconds since the epoch."""
    linktype: int
    """pcap LINKTYPE of `frame`."""
    frame: bytes
    """The frame as captured (possibly cut by the snap length)."""
    wire_len: int
    """The frame's length on the wire."""
    truncated: bool
    """The capture holds less than the IP header says (snap length, or a cut record)."""
    ip_version: int
    ip_off: int
    """Offset of the (innermost) IP header in `frame`."""
    src: bytes
    """Source address, 4 or 16 raw bytes."""
    dst: bytes
    ip_len: int
    """IP bytes as the header gives them (IPv4 total length, IPv6 payload length + 40)."""
    ttl: int
    vlan: tuple[int, ...]
    """VLAN ids, outermost first; empty when untagged."""
    tcp_off: int
    """Offset of the TCP header in `frame`."""
    sport: int
    dport: int
    seq: int
    ack: int
    flags: int
    """FIN..CWR in the low byte, AE in bit 8."""
    window: int
    urg_ptr: int
    opts: bytes
    """The raw option bytes (may be cut short in a truncated frame)."""
    bad_opts: str
    """Why the option list or data offset is malformed; empty when fine."""
    payload_len: int
    """TCP payload bytes as the IP header gives them (not what was captured)."""

    def payload(self) -> bytes:
        """The payload bytes that were captured (may be shorter than `payload_len`)."""
        start = self.tcp_off + tcp_header_len(self)
        return self.frame[start : start + self.payload_len]

    def __repr__(self) -> str:
        return (
            f"Segment(#{self.frame_no} {endpoint(self.src, self.sport)} > "
            f"{endpoint(self.dst, self.dport)} [{tcpdump_flags(self.flags)}] "
            f"seq={self.seq} ack={self.ack} len={self.payload_len})"
        )


def tcp_header_len(seg: Segment) -> int:
    """The TCP header length in bytes, from the data offset (20 when that is invalid)."""
    if len(seg.frame) <= seg.tcp_off + 12:
        return 20
    off = (seg.frame[seg.tcp_off + 12] >> 4) * 4
    return off if off >= 20 else 20


def addr_str(raw: bytes) -> str:
    """An address in its usual text form (dotted quad or compressed IPv6)."""
    if len(raw) == 4:  # formatted each time: a cache would hold every address of a flood
        return f"{raw[0]}.{raw[1]}.{raw[2]}.{raw[3]}"
    return _ipv6_str(raw)


@lru_cache(maxsize=16384)
def _ipv6_str(raw: bytes) -> str:
    return str(ipaddress.IPv6Address(raw))  # ~2 us: worth a (bounded) cache


def endpoint(raw: bytes, port: int) -> str:
    """`addr:port`, with IPv6 addresses bracketed."""
    if len(raw) == 16:
        return f"[{addr_str(raw)}]:{port}"
    return f"{addr_str(raw)}:{port}"


def tcpdump_flags(flags: int) -> str:
    """Flags as tcpdump prints them between brackets: `S`, `S.`, `F.`, `R.`, `none`."""
    out = "".join(letter for bit, letter in _TCPDUMP_LETTERS if flags & bit)
    if flags & ACK:
        out += "."
    return out or "none"


def flag_words(flags: int) -> str:
    """Flags spelled out: `SYN ACK`, or `none`."""
    return " ".join(name for bit, name in FLAG_NAMES if flags & bit) or "none"


@dataclass(slots=True)
class TcpOptions:
    """The TCP options of one segment, parsed (RFC 9293 §3.2 and the option registries)."""

    mss: int | None = None
    wscale: int | None = None
    sack_perm: bool = False
    sack_blocks: list[tuple[int, int]] = field(default_factory=list)
    ts_val: int | None = None
    ts_ecr: int | None = None
    tfo_cookie: bytes | None = None
    """TFO cookie (kind 34, or 254 with magic 0xF989); b"" for a cookie request."""
    mptcp: bool = False
    items: list[tuple[int, str, str]] = field(default_factory=list)
    """Every option in order, as (kind, name, value text)."""
    malformed: str = ""


_OPT_NAMES = {
    0: "eol",
    1: "nop",
    2: "mss",
    3: "wscale",
    4: "sackOK",
    5: "sack",
    8: "TS",
    19: "md5",
    28: "uto",
    29: "tcp-ao",
    30: "mptcp",
    34: "tfo",
    254: "exp",
}


def parse_options(raw: bytes) -> TcpOptions:
    """Parse an option list. Never raises: an overrun or bad length sets `malformed`."""
    o = TcpOptions()
    i, n = 0, len(raw)
    while i < n:
        kind = raw[i]
        if kind == 0:
            o.items.append((0, "eol", ""))
            break
        if kind == 1:
            o.items.append((1, "nop", ""))
            i += 1
            continue
        if i + 1 >= n:
            o.malformed = f"option kind {kind} has no length byte"
            break
        length = raw[i + 1]
        if length < 2 or i + length > n:
            o.malformed = f"option kind {kind} has bad length {length}"
            break
        _parse_one(o, kind, raw[i + 2 : i + length])
        i += length
    return o


def syn_options(raw: bytes) -> tuple[int | None, int | None, bool, bool, bytes | None]:
    """A SYN's handshake options, as `parse_options` finds them but without the text of every
    option: (mss, wscale, sack_perm, timestamps, tfo_cookie). For the tracker's hot path."""
    mss = wscale = None
    sack = ts = False
    tfo = None
    i, n = 0, len(raw)
    while i < n:
        kind = raw[i]
        if kind == 1:
            i += 1
            continue
        if kind == 0 or i + 1 >= n:
            break
        length = raw[i + 1]
        if length < 2 or i + length > n:
            break
        # A known option of the wrong length is skipped (parse_options flags it and goes on).
        if kind == 2:
            if length == 4:
                mss = (raw[i + 2] << 8) | raw[i + 3]
        elif kind == 3:
            if length == 3:
                wscale = raw[i + 2]
        elif kind == 4:
            if length == 2:
                sack = True
        elif kind == 8:
            if length == 10:
                ts = True
        elif kind == 34:
            tfo = bytes(raw[i + 2 : i + length])
        elif kind == 254 and length >= 4 and raw[i + 2 : i + 4] == b"\xf9\x89":
            tfo = bytes(raw[i + 4 : i + length])
        i += length
    return mss, wscale, sack, ts, tfo


def _parse_one(o: TcpOptions, kind: int, body: bytes) -> None:
    name = _OPT_NAMES.get(kind, f"opt-{kind}")
    value = body.hex()
    if kind == 2 and len(body) == 2:
        o.mss = int.from_bytes(body, "big")
        value = str(o.mss)
    elif kind == 3 and len(body) == 1:
        o.wscale = body[0]
        value = str(o.wscale)
    elif kind == 4 and not body:
        o.sack_perm = True
    elif kind == 5 and body and len(body) % 8 == 0:
        o.sack_blocks = [
            (int.from_bytes(body[j : j + 4], "big"), int.from_bytes(body[j + 4 : j + 8], "big"))
            for j in range(0, len(body), 8)
        ]
        value = " ".join(f"{a}:{b}" for a, b in o.sack_blocks)
    elif kind == 8 and len(body) == 8:
        o.ts_val = int.from_bytes(body[:4], "big")
        o.ts_ecr = int.from_bytes(body[4:], "big")
        value = f"val {o.ts_val} ecr {o.ts_ecr}"
    elif kind == 34:
        o.tfo_cookie = bytes(body)
        value = f"cookie {body.hex()}" if body else "cookiereq"
    elif kind == 254 and len(body) >= 2 and body[:2] == b"\xf9\x89":
        name = "tfo"
        o.tfo_cookie = bytes(body[2:])
        value = f"cookie {body[2:].hex()}" if len(body) > 2 else "cookiereq"
    elif kind == 30:
        o.mptcp = True
        value = f"subtype {body[0] >> 4}" if body else ""
    elif kind in (2, 3, 4, 5, 8):
        o.malformed = f"option {name} has bad length {len(body) + 2}"
        value = f"len {len(body) + 2}"
    else:
        value = f"kind {kind} len {len(body) + 2}"
    o.items.append((kind, name, value))
