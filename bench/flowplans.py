"""Per-flow packet scripts for bench/gencap.py: one flow's frames, time-ordered, packed with struct.

The capture point sits next to the client: a client frame is seen at `t`, the server's reply
one RTT later. Sequence and acknowledgement numbers are tracked per side modulo 2**32, so every
ACK covers exactly what the peer has sent (SYN and FIN count one).
"""

from __future__ import annotations

import random
import struct
from typing import NamedTuple

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
FLOOD_KIND = "flood"
SCAN_KIND = "scan"
MSS = 1448
SERVER_PORTS = (443, 443, 443, 80, 80, 22, 8080, 3306, 5432, 6443, 25, 993)
SCAN_OPEN = frozenset({22, 80, 443, 8080})
# tshark must read the capture cleanly: random bytes trip its HTTP and SSH dissectors and zeros its
# MySQL dissector (and tcpdump prints Redis on 6379 as [|resp]): text ports carry zeros.
RANDOM_PAYLOAD = random.Random(0).randbytes(1 << 17)
ZERO_PAYLOAD = bytes(1 << 17)
ZERO_PORTS = frozenset({80, 8080, 22, 25})

ETH = struct.Struct("!6s6s")
VLAN = struct.Struct("!HH")
IP4 = struct.Struct("!BBHHHBBH4s4s")
IP6 = struct.Struct("!IHBB16s16s")
TCP = struct.Struct("!HHIIBBHHH")
TS_OPT = struct.Struct("!BBBBII")

# Linux's SYN options (MSS, SACK-permitted, timestamps, NOP, window scale) and a Windows-like set.
LINUX_SYN = struct.Struct("!BBHBBBBIIBBBB")
WIN_SYN = bytes([2, 4, 0x05, 0xB4, 1, 3, 3, 8, 1, 1, 4, 2])


class FlowPlan(NamedTuple):
    """What gencap decided about one flow before building it."""

    kind: str
    start: float
    seed: int
    rounds: int
    index: int


Packet = tuple[float, bytes]


def _mac(n: int) -> bytes:
    return bytes([0x02, 0x00]) + (n & 0xFFFFFFFF).to_bytes(4, "big")


def _v4(n: int, net: int) -> bytes:
    return bytes([net, (n >> 16) & 255, (n >> 8) & 255, n & 255 or 1])


def _v6(n: int, net: int) -> bytes:
    return bytes([0xFD, net]) + bytes(10) + (n & 0xFFFFFFFF).to_bytes(4, "big")


def _checksum(data: bytes) -> int:
    """The Internet checksum: the big-endian integer of the 16-bit words, modulo 0xFFFF, is their
    one's-complement sum (2**16 = 1 mod 0xFFFF), so int.from_bytes does the adding in C."""
    if len(data) & 1:
        data += b"\0"
    s = int.from_bytes(data, "big") % 0xFFFF
    return 0xFFFF - s if s else 0


def ip_tcp(
    src: bytes, dst: bytes, ttl: int, ipid: int, tcp: bytes, payload: bytes, df: bool = True
) -> bytes:
    """IPv4 or IPv6 header (by address size) + TCP header + payload, with valid checksums.

    Zeek (and tcpwatch's Zeek emulation) ignores segments whose checksum fails, so they must hold.
    """
    seg_len = len(tcp) + len(payload)
    pseudo = (
        src + dst + (seg_len + 0x60000).to_bytes(4, "big")
    )  # zero, proto 6, length: the same word sum for v4 and v6
    csum = _checksum(pseudo + tcp + payload)
    tcp = tcp[:16] + csum.to_bytes(2, "big") + tcp[18:]
    if len(src) == 16:
        return IP6.pack(0x60000000, seg_len, 6, ttl, src, dst) + tcp + payload
    head = IP4.pack(0x45, 0, 20 + seg_len, ipid, 0x4000 if df else 0, ttl, 6, 0, src, dst)
    ipsum = _checksum(head)
    return head[:10] + ipsum.to_bytes(2, "big") + head[12:] + tcp + payload


class Conn:
    """Frame factory and sequence bookkeeping for one connection."""

    def __init__(self, rng: random.Random, cli: bytes, srv: bytes, sport: int, dport: int) -> None:
        self.rng = rng
        self.pkts: list[Packet] = []
        self.t = 0.0
        self.v6 = len(cli) == 16
        tags = b""
        roll = rng.random()
        if roll < 0.02:  # 802.1ad outer tag, then 802.1Q
            tags = VLAN.pack(0x88A8, rng.randrange(1, 4095)) + VLAN.pack(
                0x8100, rng.randrange(1, 4095)
            )
        elif roll < 0.12:
            tags = VLAN.pack(0x8100, rng.randrange(1, 4095))
        etype = b"\x86\xdd" if self.v6 else b"\x08\x00"
        gw, host = _mac(0xFEED), _mac(rng.getrandbits(32))
        self.link = (ETH.pack(gw, host) + tags + etype, ETH.pack(host, gw) + tags + etype)
        self.addrs = ((cli, srv), (srv, cli))
        self.ports = ((sport, dport), (dport, sport))
        self.nxt = [rng.getrandbits(32), rng.getrandbits(32)]
        self.ipid = [rng.getrandbits(16), rng.getrandbits(16)]
        self.ttl = (64, rng.choice((64, 128, 255)) - rng.randrange(0, 20))
        self.win = [rng.choice((64240, 65535, 29200, 502)), rng.choice((65160, 65535, 28960, 8192))]
        self.tsval = [rng.getrandbits(32), rng.getrandbits(32)]
        self.use_ts = False
        self.rtt = 10 ** rng.uniform(-3.7, -0.8)  # 0.2 ms .. 160 ms, log-uniform
        self.payload = ZERO_PAYLOAD if dport in ZERO_PORTS else RANDOM_PAYLOAD

    def frame(
        self,
        d: int,
        flags: int,
        plen: int = 0,
        opts: bytes = b"",
        seq: int | None = None,
        ack: int | None = None,
        win: int | None = None,
    ) -> bytes:
        """One Ethernet frame from side `d` (0 client, 1 server); advances that side's sequence."""
        if seq is None:
            seq = self.nxt[d]
            self.nxt[d] = (seq + plen + (1 if flags & (SYN | FIN) else 0)) & 0xFFFFFFFF
        if ack is None:
            ack = self.nxt[1 - d] if flags & ACK else 0
        if self.use_ts and not opts:
            self.tsval[d] = (self.tsval[d] + 1) & 0xFFFFFFFF
            opts = TS_OPT.pack(1, 1, 8, 10, self.tsval[d], self.tsval[1 - d])
        off = (20 + len(opts)) // 4
        tcp = (
            TCP.pack(
                *self.ports[d], seq, ack, off << 4, flags, self.win[d] if win is None else win, 0, 0
            )
            + opts
        )
        start = seq & 0xFFFF
        src, dst = self.addrs[d]
        self.ipid[d] = (self.ipid[d] + 1) & 0xFFFF
        return self.link[d] + ip_tcp(
            src, dst, self.ttl[d], self.ipid[d], tcp, self.payload[start : start + plen]
        )

    def send(self, dt: float, d: int, flags: int, plen: int = 0, **kw: object) -> None:
        """Append a frame `dt` seconds after the previous one."""
        self.t += dt
        self.pkts.append((self.t, self.frame(d, flags, plen, **kw)))  # type: ignore[arg-type]

    def syn_opts(self, d: int) -> bytes:
        """SYN/SYN-ACK options: Linux-like with timestamps, or Windows-like without."""
        if not self.use_ts:
            return WIN_SYN
        ecr = self.tsval[1 - d] if d else 0
        return LINUX_SYN.pack(
            2,
            4,
            1460 if not self.v6 else 1440,
            4,
            2,
            8,
            10,
            self.tsval[d],
            ecr,
            1,
            3,
            3,
            self.rng.choice((7, 8, 9)),
        )


def _handshake(c: Conn, retries: int = 0) -> None:
    c.use_ts = c.rng.random() < 0.8
    syn_opts = c.syn_opts(0)
    isn = c.nxt[0]
    c.send(0.0, 0, SYN, opts=syn_opts)
    for gap in (1.0, 2.0, 4.0)[:retries]:
        c.send(gap, 0, SYN, opts=syn_opts, seq=isn)
    c.send(c.rtt, 1, SYN | ACK, opts=c.syn_opts(1))
    c.send(0.00003, 0, ACK)


def _data_round(c: Conn) -> None:
    rng = c.rng
    c.send(rng.expovariate(50.0), 0, PSH | ACK, rng.randrange(40, 900))
    if rng.random() < 0.01:  # request lost: the same frame again after the RTO
        c.t += max(0.2, 3 * c.rtt)
        c.pkts.append((c.t, c.pkts[-1][1]))
    remaining = int(rng.expovariate(1.0 / 3000)) + 1
    dt = c.rtt
    k = 0
    while remaining > 0:
        n = min(MSS, remaining)
        remaining -= n
        seq = c.nxt[1]
        c.send(dt, 1, (PSH | ACK) if remaining == 0 else ACK, n)
        if rng.random() < 0.015:  # a lost segment, resent after the RTO with the same seq
            c.send(max(0.2, 2 * c.rtt), 1, ACK, n, seq=seq)
        dt = rng.uniform(0.00001, 0.0002)
        k += 1
        if k % 2 == 0 or remaining == 0:
            zero = rng.random() < 0.002
            c.send(0.00002, 0, ACK, win=0 if zero else None)
            if zero:
                c.send(rng.uniform(0.001, 0.05), 0, ACK)


def _close_fin4(c: Conn, first: int) -> None:
    c.send(c.rng.expovariate(20.0), first, FIN | ACK)
    c.send(c.rtt if first == 0 else 0.00003, 1 - first, ACK)
    c.send(c.rng.uniform(0.0001, 0.01), 1 - first, FIN | ACK)
    c.send(c.rtt if first == 1 else 0.00003, first, ACK)


def _close_fin3(c: Conn, first: int) -> None:
    c.send(c.rng.expovariate(20.0), first, FIN | ACK)
    c.send(c.rtt if first == 0 else 0.00003, 1 - first, FIN | ACK)
    c.send(c.rtt if first == 1 else 0.00003, first, ACK)


def _close_simultaneous(c: Conn) -> None:
    ack_c, ack_s = c.nxt[1], c.nxt[0]
    c.send(c.rng.expovariate(20.0), 0, FIN | ACK, ack=ack_c)
    c.send(0.00001, 1, FIN | ACK, ack=ack_s)
    c.send(0.00002, 0, ACK)
    c.send(c.rtt, 1, ACK)


def _ending(c: Conn, kind: str) -> None:
    rng = c.rng
    first = 0 if rng.random() < 0.7 else 1
    if kind in ("fin4", "midstream"):
        _close_fin4(c, first)
    elif kind == "fin3":
        _close_fin3(c, first)
    elif kind == "simclose":
        _close_simultaneous(c)
    elif kind in ("rst_client", "rst_server"):
        d = 0 if kind == "rst_client" else 1
        c.send(rng.expovariate(20.0), d, RST | ACK if rng.random() < 0.7 else RST)
    elif kind == "halfclosed":
        c.send(rng.expovariate(20.0), 0, FIN | ACK)
        c.send(c.rtt, 1, ACK)
        for _ in range(rng.randrange(1, 4)):
            c.send(rng.uniform(0.001, 0.05), 1, PSH | ACK, rng.randrange(100, MSS))
            c.send(0.00003, 0, ACK)


def _endpoints(plan: FlowPlan, rng: random.Random) -> Conn:
    i = plan.index
    sport = 32768 + (i * 7919) % 28000
    dport = rng.choice(SERVER_PORTS)
    srv = rng.randrange(1, 200)
    if rng.random() < 0.25:
        return Conn(rng, _v6(i + 1, 0x01), _v6(srv, 0x02), sport, dport)
    return Conn(rng, _v4(i + 1, 10), bytes([172, 16, 0, srv]), sport, dport)


def build_flow(plan: FlowPlan, flood: int = 0) -> list[Packet]:
    """All frames of one planned flow, time-ordered, with absolute timestamps."""
    rng = random.Random(plan.seed)
    if plan.kind == FLOOD_KIND:
        return _flood(plan, rng, flood)
    if plan.kind == SCAN_KIND:
        return _scan(plan, rng)
    c = _endpoints(plan, rng)
    if plan.kind == "refused":
        c.send(0.0, 0, SYN, opts=c.syn_opts(0))
        c.send(c.rtt, 1, RST | ACK, seq=0)
    elif plan.kind == "unanswered":
        _handshake_unanswered(c)
    else:
        if plan.kind == "midstream":
            c.use_ts = True
        else:
            _handshake(c, retries=1 if rng.random() < 0.02 else 0)
        for _ in range(plan.rounds):
            _data_round(c)
        _ending(c, plan.kind)
    return [(plan.start + t, f) for t, f in c.pkts]


def _handshake_unanswered(c: Conn) -> None:
    opts = c.syn_opts(0)
    isn = c.nxt[0]
    c.send(0.0, 0, SYN, opts=opts)
    for gap in (1.0, 2.0, 4.0):
        c.send(gap, 0, SYN, opts=opts, seq=isn)


def _flood(plan: FlowPlan, rng: random.Random, count: int) -> list[Packet]:
    """`count` SYNs from distinct spoofed IPv4 sources (odd multiplier: a bijection mod 2**32)."""
    victim = bytes([172, 16, 0, 80])
    link = ETH.pack(_mac(0xFEED), _mac(0xBAD)) + b"\x08\x00"
    out: list[Packet] = []
    t = plan.start
    base = rng.getrandbits(32)
    for i in range(count):
        src = ((i * 2654435761 + base) & 0xFFFFFFFF).to_bytes(4, "big")
        tcp = TCP.pack(
            rng.getrandbits(16) | 1024,
            80,
            rng.getrandbits(32),
            0,
            0x50,
            SYN,
            rng.choice((512, 1024, 65535)),
            0,
            0,
        )
        ip = ip_tcp(src, victim, rng.randrange(30, 250), rng.getrandbits(16), tcp, b"", df=False)
        out.append((t, link + ip))
        t += rng.expovariate(50_000.0)
    return out


def _scan(plan: FlowPlan, rng: random.Random) -> list[Packet]:
    """A SYN scan of ports 1-1024: RST/ACK from closed ports, SYN/ACK then RST from open ones."""
    ports = list(range(1, 1025))
    rng.shuffle(ports)
    out: list[Packet] = []
    t = plan.start
    for port in ports:
        c = Conn(
            rng, bytes([192, 168, 66, 6]), bytes([172, 16, 0, 9]), 40000 + rng.randrange(8), port
        )
        c.rtt = 0.0003
        c.send(0.0, 0, SYN, opts=bytes([2, 4, 0x05, 0xB4]))
        if port in SCAN_OPEN:
            c.send(c.rtt, 1, SYN | ACK, opts=bytes([2, 4, 0x05, 0xB4]))
            c.send(0.00001, 0, RST)
        else:
            c.send(c.rtt, 1, RST | ACK, seq=0)
        out.extend((t + dt, f) for dt, f in c.pkts)
        t += 0.0001
    out.sort(key=lambda p: p[0])
    return out
