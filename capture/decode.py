"""Turn one captured frame into a `Segment`: the hot path, `struct` over raw bytes.

`Decoder.decode` never raises on bad input. A frame that is not TCP is counted as `non_tcp`; a
later IP fragment as `fragments`; a frame that cannot be decoded is counted in `malformed` by
reason and kept (bounded) in `malformed_frames` for inspection.
"""

from __future__ import annotations

import struct
from collections import deque

from capture.segment import Segment

_IP4 = struct.Struct("!BxHHHBB2x4s4s")
_IP4TCP = struct.Struct("!BxHHHBB2x4s4sHHIIBBH2xH")
_FAST = struct.Struct("!2xH4xB3x4s4sHHIIBBH2xH")
_new_segment = object.__new__
_IP6 = struct.Struct("!4xHBB16s16s")
_TCP = struct.Struct("!HHIIBBH2xH")
_U16 = struct.Struct("!H")
_U32LE = struct.Struct("<I")
_U32BE = struct.Struct("!I")

ETH_IPV4 = 0x0800
ETH_IPV6 = 0x86DD
_VLAN_TYPES = frozenset((0x8100, 0x88A8, 0x9100, 0x9200))
_MPLS_TYPES = frozenset((0x8847, 0x8848))
_PPPOE_SESSION = 0x8864
_PPP_IPV4 = 0x0021
_PPP_IPV6 = 0x0057
_L2TP_PORT = 1701

# BSD loopback (DLT_NULL) address families: AF_INET is 2 everywhere; AF_INET6 differs by OS
# (Linux 10, NetBSD/OpenBSD 24, FreeBSD 28, macOS 30).
_NULL_INET6 = frozenset((10, 24, 28, 30))

_IPV6_EXT_SIMPLE = frozenset((0, 43, 60, 135, 139, 140))  # hop-by-hop, routing, dst opts, mobility…
_IPV6_FRAGMENT = 44
_IPV6_AH = 51
_MAX_IPV6_EXT = 16
_MAX_ENCAP = 8

MAX_RECORD = 16 << 20
"""A pcap record claiming more than this is corrupt (as `capture.pcapio.MAX_RECORD`)."""
MALFORMED_KEEP = 1000
"""How many malformed frames are kept for inspection (the count itself is exact)."""

# pcap link types this decoder understands.
LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW_OLD = 12
LINKTYPE_RAW_BSD = 14
LINKTYPE_RAW = 101
LINKTYPE_LOOP = 108
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_LINUX_SLL2 = 276
SUPPORTED_LINKTYPES = frozenset((0, 1, 12, 14, 101, 108, 113, 228, 229, 276))


_FAST6 = struct.Struct("!4xHBB16s16sHHIIBBH2xH")
_VLAN_TAGS = (b"\x81\x00", b"\x88\xa8")
_vlan_ids: dict[bytes, tuple[int, ...]] = {}


def _vlan_key(tags: bytes) -> tuple[int, ...]:
    """The VLAN ids of 1 or 2 raw tags (TPID + TCI each), shared tuples: flow keys hash them."""
    vlan = _vlan_ids.get(tags)
    if vlan is None:
        vlan = tuple(((tags[i] << 8) | tags[i + 1]) & 0x0FFF for i in range(2, len(tags), 4))
        if len(_vlan_ids) < 65536:
            _vlan_ids[tags] = vlan
    return vlan


def _ether_fast(data: bytes, ts: float, wire_len: int, frame_no: int) -> Segment | None:
    """The common Ethernet frame, or None for `Decoder._decode` to do it the long way.

    Common: up to two VLAN tags, then IPv4 without options and not fragmented, or IPv6 without
    extension headers; then TCP with a sane data offset, all within the IP length and the wire
    length. The result is field for field what the long way gives.
    """
    etype = data[12:14]
    off = 14
    if etype in _VLAN_TAGS:
        etype = data[16:18]
        off = 18
        if etype == b"\x81\x00":
            etype = data[20:22]
            off = 22
    n = len(data)
    if etype == b"\x08\x00":
        if n < off + 40 or data[off] != 0x45 or data[off + 9] != 6 or data[off + 6] & 0x3F:
            return None
        if data[off + 7]:
            return None
        (ip_len, ttl, src, dst, sport, dport, seq, ack, off_byte, flag_byte, window, urg) = (
            _FAST.unpack_from(data, off)
        )
        ip_hlen = 20
        version = 4
    elif etype == b"\x86\xdd":
        if n < off + 60 or data[off + 6] != 6 or data[off] >> 4 != 6:
            return None
        (plen, _, ttl, src, dst, sport, dport, seq, ack, off_byte, flag_byte, window, urg) = (
            _FAST6.unpack_from(data, off)
        )
        ip_len = plen + 40
        ip_hlen = 40
        version = 6
    else:
        return None
    hlen = (off_byte >> 4) * 4
    if hlen < 20 or ip_hlen + hlen > ip_len or off + ip_len > wire_len:
        return None
    tcp_off = off + ip_hlen
    vlan = _vlan_key(data[12 : off - 2]) if off > 14 else ()
    seg = _new_segment(Segment)
    seg.frame_no = frame_no
    seg.ts = ts
    seg.linktype = 1
    seg.frame = data
    seg.wire_len = wire_len
    seg.truncated = n - off < ip_len
    seg.ip_version = version
    seg.ip_off = off
    seg.src = src
    seg.dst = dst
    seg.ip_len = ip_len
    seg.ttl = ttl
    seg.vlan = vlan
    seg.tcp_off = tcp_off
    seg.sport = sport
    seg.dport = dport
    seg.seq = seq
    seg.ack = ack
    seg.flags = flag_byte | ((off_byte & 1) << 8)
    seg.window = window
    seg.urg_ptr = urg
    seg.opts = data[tcp_off + 20 : tcp_off + hlen] if hlen > 20 else b""
    seg.bad_opts = ""
    seg.payload_len = ip_len - ip_hlen - hlen
    return seg


class Malformed(Exception):
    """Raised inside the decoder only; turned into a malformed count by `Decoder.decode`."""


class Decoder:
    """Decodes frames into segments and counts every frame exactly once.

    Every frame lands in exactly one of `tcp`, `non_tcp`, `fragments` or `malformed`.
    """

    def __init__(self) -> None:
        self.frames = 0
        self.tcp = 0
        self.non_tcp = 0
        self.fragments = 0
        self.truncated = 0
        self.malformed: dict[str, int] = {}
        self.malformed_frames: deque[tuple[int, float, int, bytes, str]] = deque(
            maxlen=MALFORMED_KEEP
        )
        self._vlan: tuple[int, ...] = ()

    def malformed_total(self) -> int:
        """All malformed frames, whatever the reason."""
        return sum(self.malformed.values())

    def decode(
        self, data: bytes, ts: float, wire_len: int, linktype: int, frame_no: int
    ) -> Segment | None:
        """Decode one frame; None when it is not a (first-fragment) TCP segment."""
        self.frames += 1
        if linktype == 1:
            fast = _ether_fast(data, ts, wire_len, frame_no)
            if fast is not None:
                self.tcp += 1
                if fast.truncated:
                    self.truncated += 1
                return fast
        return self._long(data, ts, wire_len, linktype, frame_no)

    def _long(
        self, data: bytes, ts: float, wire_len: int, linktype: int, frame_no: int
    ) -> Segment | None:
        """`decode` beyond the fast path (the frame is already counted in `frames`)."""
        try:
            seg = self._decode(data, linktype)
        except (Malformed, struct.error, IndexError) as exc:
            reason = str(exc) if isinstance(exc, Malformed) else "truncated header"
            self.malformed[reason] = self.malformed.get(reason, 0) + 1
            self.malformed_frames.append((frame_no, ts, linktype, data, reason))
            return None
        if seg is None:
            return None
        seg.frame_no = frame_no
        seg.ts = ts
        seg.linktype = linktype
        seg.frame = data
        seg.wire_len = wire_len
        # IP longer than the frame on the wire (a bad length, or a segmentation offload
        # artefact): the payload is what the wire held, as tshark's tcp.len; ip_len stays the
        # header's, so IP byte counts agree with tshark's.
        excess = seg.ip_off + seg.ip_len - max(wire_len, len(data))
        if excess > 0 and seg.payload_len:
            seg.payload_len = max(0, seg.payload_len - excess)
        self.tcp += 1
        if seg.truncated:
            self.truncated += 1
        return seg

    def _decode(self, data: bytes, linktype: int) -> Segment | None:
        self._vlan = ()
        if linktype == LINKTYPE_ETHERNET:
            return self._ether(data, 12)
        if linktype in (LINKTYPE_RAW, LINKTYPE_RAW_OLD, LINKTYPE_RAW_BSD):
            return self._ip_by_version(data, 0)
        if linktype == LINKTYPE_LINUX_SLL:
            return self._ethertype(data, _U16.unpack_from(data, 14)[0], 16)
        if linktype == LINKTYPE_LINUX_SLL2:
            if len(data) < 20:
                raise Malformed("truncated header")
            return self._ethertype(data, _U16.unpack_from(data, 0)[0], 20)
        if linktype == LINKTYPE_IPV4:
            return self._ipv4(data, 0)
        if linktype == LINKTYPE_IPV6:
            return self._ipv6(data, 0)
        if linktype == LINKTYPE_NULL:
            return self._null(data, _U32LE.unpack_from(data, 0)[0], _U32BE.unpack_from(data, 0)[0])
        if linktype == LINKTYPE_LOOP:
            family = _U32BE.unpack_from(data, 0)[0]
            return self._null(data, family, family)
        if linktype < 0:  # pcapio.UNDECLARED_INTERFACE
            raise Malformed("packet of an undeclared pcapng interface")
        raise Malformed(f"unsupported link type {linktype}")

    def _null(self, data: bytes, family_le: int, family_be: int) -> Segment | None:
        # DLT_NULL stores the family in the capturing host's byte order: accept either.
        if 2 in (family_le, family_be):
            return self._ipv4(data, 4)
        if family_le in _NULL_INET6 or family_be in _NULL_INET6:
            return self._ipv6(data, 4)
        self.non_tcp += 1
        return None

    def _ether(self, data: bytes, type_off: int) -> Segment | None:
        etype = (data[type_off] << 8) | data[type_off + 1]
        if etype == ETH_IPV4:
            return self._ipv4(data, type_off + 2)
        return self._ethertype(data, etype, type_off + 2)

    def _ethertype(self, data: bytes, etype: int, off: int) -> Segment | None:
        vlan: list[int] = []
        while etype in _VLAN_TYPES:
            vlan.append(_U16.unpack_from(data, off)[0] & 0x0FFF)
            etype = _U16.unpack_from(data, off + 2)[0]
            off += 4
        if vlan:
            self._vlan = tuple(vlan)
        if etype == ETH_IPV4:
            return self._ipv4(data, off)
        if etype == ETH_IPV6:
            return self._ipv6(data, off)
        if etype in _MPLS_TYPES:
            return self._mpls(data, off)
        if etype == _PPPOE_SESSION:
            return self._ppp(data, off + 6)
        self.non_tcp += 1
        return None

    def _mpls(self, data: bytes, off: int) -> Segment | None:
        for _ in range(16):
            bottom = data[off + 2] & 0x01
            off += 4
            if bottom:
                if data[off] >> 4 == 0:  # pseudowire control word, then an Ethernet frame
                    return self._ether(data, off + 4 + 12)
                return self._ip_by_version(data, off)
        raise Malformed("MPLS label stack too deep")

    def _ppp(self, data: bytes, off: int) -> Segment | None:
        if data[off] == 0xFF and data[off + 1] == 0x03:
            off += 2  # HDLC address/control, present in L2TP's PPP
        proto = data[off]
        if proto & 1:  # protocol field compression: a one-byte protocol
            off += 1
        else:
            proto = _U16.unpack_from(data, off)[0]
            off += 2
        if proto == _PPP_IPV4:
            return self._ipv4(data, off)
        if proto == _PPP_IPV6:
            return self._ipv6(data, off)
        self.non_tcp += 1
        return None

    def _ip_by_version(self, data: bytes, off: int) -> Segment | None:
        version = data[off] >> 4
        if version == 4:
            return self._ipv4(data, off)
        if version == 6:
            return self._ipv6(data, off)
        raise Malformed(f"IP version {version}")

    def _ipv4(self, data: bytes, off: int) -> Segment | None:
        if len(data) >= off + 40 and data[off] == 0x45:
            (_, total, _ident, frag, ttl, proto, src, dst, *tcp) = _IP4TCP.unpack_from(data, off)
            if proto == 6 and not frag & 0x3FFF:
                return self._tcp_fields(data, off, off + 20, 4, src, dst, total, 20, ttl, tcp)
        ver_ihl, total, _ident, frag, ttl, proto, src, dst = _IP4.unpack_from(data, off)
        if ver_ihl >> 4 != 4:
            raise Malformed(f"IPv4 header with version {ver_ihl >> 4}")
        ihl = (ver_ihl & 0x0F) * 4
        if ihl < 20:
            raise Malformed("IPv4 header length below 20")
        if frag & 0x1FFF:
            self.fragments += 1
            return None
        if proto in (4, 41):
            return self._tunnel(data, off + ihl, proto)
        if proto == 17:
            return self._udp(data, off + ihl)
        if proto != 6:
            self.non_tcp += 1
            return None
        return self._tcp(data, off, off + ihl, 4, src, dst, total, ihl, ttl)

    def _ipv6(self, data: bytes, off: int) -> Segment | None:
        plen, nxt, hlim, src, dst = _IP6.unpack_from(data, off)
        if data[off] >> 4 != 6:
            raise Malformed(f"IPv6 header with version {data[off] >> 4}")
        pos = off + 40
        for _ in range(_MAX_IPV6_EXT):
            if nxt == 6:
                return self._tcp(data, off, pos, 6, src, dst, plen + 40, pos - off, hlim)
            if nxt in _IPV6_EXT_SIMPLE:
                nxt, pos = data[pos], pos + (data[pos + 1] + 1) * 8
            elif nxt == _IPV6_FRAGMENT:
                if _U16.unpack_from(data, pos + 2)[0] & 0xFFF8:
                    self.fragments += 1
                    return None
                nxt, pos = data[pos], pos + 8
            elif nxt == _IPV6_AH:
                nxt, pos = data[pos], pos + (data[pos + 1] + 2) * 4
            elif nxt in (4, 41):
                return self._tunnel(data, pos, nxt)
            elif nxt == 17:
                return self._udp(data, pos)
            else:
                self.non_tcp += 1
                return None
        raise Malformed("IPv6 extension header chain too long")

    def _tunnel(self, data: bytes, off: int, proto: int) -> Segment | None:
        # The innermost IP/TCP header is the one that counts (as tshark reports it).
        if off >= len(data):
            raise Malformed("truncated tunnelled IP header")
        return self._ipv4(data, off) if proto == 4 else self._ipv6(data, off)

    def _udp(self, data: bytes, off: int) -> Segment | None:
        sport, dport = _U16.unpack_from(data, off)[0], _U16.unpack_from(data, off + 2)[0]
        if _L2TP_PORT in (sport, dport) and len(data) > off + 8:
            return self._l2tp(data, off + 8)
        self.non_tcp += 1
        return None

    def _l2tp(self, data: bytes, off: int) -> Segment | None:
        flags = _U16.unpack_from(data, off)[0]
        if flags & 0x8000 or flags & 0x000F != 2:  # control message, or not L2TPv2
            self.non_tcp += 1
            return None
        off += 2 + (2 if flags & 0x4000 else 0) + 4 + (4 if flags & 0x0800 else 0)
        if flags & 0x0200:
            off += 2 + _U16.unpack_from(data, off)[0]
        return self._ppp(data, off)

    def _tcp(
        self,
        data: bytes,
        ip_off: int,
        off: int,
        version: int,
        src: bytes,
        dst: bytes,
        ip_len: int,
        ip_hlen: int,
        ttl: int,
    ) -> Segment:
        if len(data) < off + 20:
            raise Malformed("truncated TCP header")
        fields = _TCP.unpack_from(data, off)
        return self._tcp_fields(data, ip_off, off, version, src, dst, ip_len, ip_hlen, ttl, fields)

    def _tcp_fields(
        self,
        data: bytes,
        ip_off: int,
        off: int,
        version: int,
        src: bytes,
        dst: bytes,
        ip_len: int,
        ip_hlen: int,
        ttl: int,
        fields: tuple[int, ...] | list[int],
    ) -> Segment:
        sport, dport, seq, ack, off_byte, flag_byte, window, urg = fields
        seg = Segment.__new__(Segment)
        captured_ip = len(data) - ip_off
        if ip_len == 0 and version == 4:
            ip_len = captured_ip  # TSO: the kernel hands over segments with total length 0
        seg.truncated = captured_ip < ip_len
        hlen = (off_byte >> 4) * 4
        seg.bad_opts = ""
        if hlen < 20:
            seg.bad_opts = f"bad data offset {hlen}"
            hlen = 20
        elif ip_hlen + hlen > ip_len:
            seg.bad_opts = f"data offset {hlen} beyond the IP payload"
            hlen = max(20, ip_len - ip_hlen)
        seg.opts = data[off + 20 : off + hlen] if hlen > 20 else b""
        seg.payload_len = max(0, ip_len - ip_hlen - hlen)
        seg.ip_version = version
        seg.ip_off = ip_off
        seg.src = src
        seg.dst = dst
        seg.ip_len = ip_len
        seg.ttl = ttl
        seg.vlan = self._vlan
        seg.tcp_off = off
        seg.sport = sport
        seg.dport = dport
        seg.seq = seq
        seg.ack = ack
        seg.flags = flag_byte | ((off_byte & 1) << 8)
        seg.window = window
        seg.urg_ptr = urg
        return seg
