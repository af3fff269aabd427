"""Hand-built `Segment`s for table-driven tracker tests.

`Conv` plays both ends of one connection: it keeps each side's next sequence number, so a test
writes only the flags (`"S"`, `"S."`, `"."`, `"P."`, `"F."`, `"R."`: tcpdump's letters, `.` = ACK)
and the payload length; `seq`/`ack` may be given to replay a retransmission or an odd ack.
Each segment is also a real LINKTYPE_RAW IPv4/IPv6 + TCP frame, so anything that re-reads
`seg.frame` works. Its IP and TCP checksums are left at 0 (tests of checksum checks rely on it).
"""

from __future__ import annotations

import ipaddress
import struct

from capture.segment import ACK, CWR, ECE, FIN, PSH, RST, SYN, URG, Segment

LINKTYPE_RAW = 101
_LETTERS = {"F": FIN, "S": SYN, "R": RST, "P": PSH, "U": URG, "E": ECE, "W": CWR, ".": ACK}


def flag_bits(text: str) -> int:
    """tcpdump's flag letters (`S.`, `FP.`, `none`) to flag bits."""
    if text == "none":
        return 0
    bits = 0
    for ch in text:
        bits |= _LETTERS[ch]
    return bits


def make_segment(
    src: str,
    sport: int,
    dst: str,
    dport: int,
    flags: int | str,
    *,
    seq: int = 0,
    ack: int = 0,
    ts: float = 0.0,
    frame_no: int = 1,
    payload_len: int = 0,
    window: int = 65535,
    opts: bytes = b"",
    vlan: tuple[int, ...] = (),
) -> Segment:
    """One segment with a matching raw IP frame."""
    if isinstance(flags, str):
        flags = flag_bits(flags)
    s = Segment()
    src_raw = ipaddress.ip_address(src).packed
    dst_raw = ipaddress.ip_address(dst).packed
    pad = (-len(opts)) % 4
    opts_padded = opts + b"\x00" * pad
    tcp_len = 20 + len(opts_padded)
    tcp = struct.pack(
        "!HHIIBBHHH",
        sport,
        dport,
        seq & 0xFFFFFFFF,
        ack & 0xFFFFFFFF,
        (tcp_len // 4) << 4 | (flags >> 8) & 1,
        flags & 0xFF,
        window,
        0,
        0,
    )
    body = tcp + opts_padded + b"\x00" * payload_len
    if len(src_raw) == 4:
        ip_len = 20 + len(body)
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, ip_len, 0, 0, 64, 6, 0, src_raw, dst_raw)
        s.ip_version = 4
    else:
        ip_len = 40 + len(body)
        ip = struct.pack("!IHBB16s16s", 6 << 28, len(body), 6, 64, src_raw, dst_raw)
        s.ip_version = 6
    s.frame_no, s.ts, s.linktype = frame_no, ts, LINKTYPE_RAW
    s.frame = ip + body
    s.wire_len, s.truncated = len(s.frame), False
    s.ip_off, s.src, s.dst, s.ip_len, s.ttl, s.vlan = 0, src_raw, dst_raw, ip_len, 64, vlan
    s.tcp_off, s.sport, s.dport = len(ip), sport, dport
    s.seq, s.ack, s.flags, s.window, s.urg_ptr = (
        seq & 0xFFFFFFFF,
        ack & 0xFFFFFFFF,
        flags,
        window,
        0,
    )
    s.opts, s.bad_opts, s.payload_len = opts_padded, "", payload_len
    return s


def syn_options(
    mss: int = 1460, wscale: int | None = 7, sack: bool = True, ts: bool = True
) -> bytes:
    """A typical SYN option list (MSS, SACK-permitted, timestamps, window scale)."""
    out = struct.pack("!BBH", 2, 4, mss)
    if sack:
        out += b"\x04\x02"
    if ts:
        out += struct.pack("!BBII", 8, 10, 12345, 0)
    if wscale is not None:
        out += b"\x01" + struct.pack("!BBB", 3, 3, wscale)
    return out


class Conv:
    """Both ends of one connection; `c(...)` sends from the client, `s(...)` from the server."""

    def __init__(
        self,
        client: tuple[str, int] = ("10.0.0.1", 40000),
        server: tuple[str, int] = ("10.0.0.2", 80),
        *,
        isn_c: int = 1000,
        isn_s: int = 5000,
        t0: float = 1000.0,
        vlan: tuple[int, ...] = (),
        first_frame: int = 1,
    ) -> None:
        self.ends = {"c": client, "s": server}
        self.nxt = {"c": isn_c & 0xFFFFFFFF, "s": isn_s & 0xFFFFFFFF}
        self.ts = t0
        self.frame_no = first_frame - 1
        self.vlan = vlan
        self.sent: list[Segment] = []

    def c(self, flags: str, length: int = 0, **kw: object) -> Segment:
        """A segment from the client."""
        return self.send("c", flags, length, **kw)

    def s(self, flags: str, length: int = 0, **kw: object) -> Segment:
        """A segment from the server."""
        return self.send("s", flags, length, **kw)

    def send(
        self,
        side: str,
        flags: str,
        length: int = 0,
        *,
        seq: int | None = None,
        ack: int | None = None,
        dt: float = 0.001,
        at: float | None = None,
        opts: bytes = b"",
        window: int = 65535,
    ) -> Segment:
        """A segment from `side` ("c"/"s"); seq/ack follow the conversation unless given."""
        other = "s" if side == "c" else "c"
        bits = flag_bits(flags)
        self.ts = at if at is not None else self.ts + dt
        self.frame_no += 1
        if seq is None:
            seq = self.nxt[side]
        if ack is None:
            ack = self.nxt[other] if bits & ACK else 0
        (src, sport), (dst, dport) = self.ends[side], self.ends[other]
        seg = make_segment(
            src, sport, dst, dport, bits, seq=seq, ack=ack, ts=self.ts, frame_no=self.frame_no,
            payload_len=length, window=window, opts=opts, vlan=self.vlan,
        )  # fmt: skip
        end = (seq + length + (1 if bits & SYN else 0) + (1 if bits & FIN else 0)) & 0xFFFFFFFF
        if ((end - self.nxt[side]) & 0xFFFFFFFF) < 0x80000000:
            self.nxt[side] = end
        self.sent.append(seg)
        return seg
