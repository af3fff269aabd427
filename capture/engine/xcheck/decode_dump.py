"""Dump what Python's decoder makes of every frame, for `tests/decode_xcheck.rs` to compare.

    PYTHONPATH=. .venv/bin/python capture/engine/xcheck/decode_dump.py \
        /tmp/decode-xcheck.tsv

Groups of frames, each through one fresh `Decoder` (as the tool decodes one capture):
every capture in tests/data (and the kept fuzz findings), frames drawn from the fuzz test's
strategies (every link type, lying lengths, cuts and overwrites), hand-built frames of the rarer
encapsulations (PPPoE, L2TPv2, MPLS pseudowires, tunnels, IPv6 AH/fragments, SLL with VLANs)
cut at every length and with bytes overwritten, and enough bad frames to overflow
MALFORMED_KEEP. Lines (tab-separated):

    G <name>
    F <frame_no> <ts repr> <wire_len> <linktype> <frame hex> <outcome> [segment fields]
    C <frames> <tcp> <non_tcp> <fragments> <truncated> <reason=count|...>
    K <frame_no:reason|...>   (the kept malformed frames, oldest first)

<outcome> is tcp, non_tcp, fragment or "malformed:<reason>"; a tcp line carries the Segment
fields (see FIELDS) with header_ok and the two checksum verdicts of `capture.zeek_endpoint`.
"""

from __future__ import annotations

import io
import random
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from capture.decode import MALFORMED_KEEP, Decoder  # noqa: E402
from capture.pcapio import CaptureError, CaptureReader, open_capture  # noqa: E402
from capture.zeek_endpoint import header_ok, ip_checksum_ok, tcp_checksum_ok  # noqa: E402

FIELDS = (
    "frame_no",
    "ts",
    "linktype",
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


def seg_fields(seg) -> list[str]:
    out = []
    for name in FIELDS:
        value = getattr(seg, name)
        if isinstance(value, bytes):
            out.append(value.hex())
        elif isinstance(value, tuple):
            out.append(",".join(map(str, value)))
        elif isinstance(value, bool):
            out.append(str(int(value)))
        else:
            out.append(repr(value) if isinstance(value, float) else str(value))
    out.append(str(len(seg.frame)))
    out += [str(int(f(seg))) for f in (header_ok, ip_checksum_ok, tcp_checksum_ok)]
    return out


def run_group(out, name: str, records) -> None:
    """records: (ts, wire_len, data, linktype), numbered from 1."""
    out.write(f"G\t{name}\n")
    d = Decoder()
    for n, (ts, wire_len, data, linktype) in enumerate(records, 1):
        before = (d.tcp, d.non_tcp, d.fragments, dict(d.malformed))
        seg = d.decode(data, ts, wire_len, linktype, n)
        head = ["F", str(n), repr(ts), str(wire_len), str(linktype), data.hex()]
        if seg is not None:
            out.write("\t".join([*head, "tcp", *seg_fields(seg)]) + "\n")
            continue
        if d.non_tcp != before[1]:
            outcome = "non_tcp"
        elif d.fragments != before[2]:
            outcome = "fragment"
        else:
            reason = next(r for r, c in d.malformed.items() if c != before[3].get(r, 0))
            outcome = f"malformed:{reason}"
        out.write("\t".join([*head, outcome]) + "\n")
    reasons = "|".join(f"{r}={c}" for r, c in sorted(d.malformed.items()))
    counts = (d.frames, d.tcp, d.non_tcp, d.fragments, d.truncated)
    out.write("C\t" + "\t".join(map(str, counts)) + f"\t{reasons}\n")
    kept = "|".join(f"{k[0]}:{k[4]}" for k in d.malformed_frames)
    out.write(f"K\t{kept}\n")


def capture_groups():
    data = ROOT / "tests" / "data"
    for path in sorted(p for p in data.iterdir() if ".pcap" in p.name and "truth" not in p.name):
        yield path.name, list(open_capture(str(path)))
    for path in sorted((data / "fuzz").glob("*.bin")):
        try:
            records = list(CaptureReader(io.BytesIO(path.read_bytes()[1:]), path.name))
        except CaptureError:
            continue
        yield path.name, records


def fuzz_frames(count: int) -> list[tuple[int, bytes]]:
    """Frames drawn (deterministically) from tests/test_fuzz_decode.py's `mutated` strategy."""
    from hypothesis import HealthCheck, given, settings
    from test_fuzz_decode import mutated

    drawn: list[tuple[int, bytes]] = []

    @settings(
        max_examples=count,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(mutated())
    def draw(frame: tuple[int, bytes]) -> None:
        drawn.append(frame)

    draw()
    return drawn


def tcp(flags: int = 0x12, off_words: int = 6, payload: bytes = b"hello") -> bytes:
    head = struct.pack(
        "!HHIIBBHHH", 40000, 1701, 1000, 2000, off_words << 4 | 1, flags, 512, 0xBEEF, 7
    )
    return (
        head
        + b"\x02\x04\x05\xb4"[: max(0, off_words * 4 - 20)]
        + bytes(max(0, off_words * 4 - 24))
        + payload
    )


def ip4(proto: int, body: bytes, total: int | None = None, frag: int = 0, ihl: int = 5) -> bytes:
    opts = bytes((ihl - 5) * 4)
    total = 4 * ihl + len(body) if total is None else total
    head = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, total, 7, frag, 61, proto, 0,
                       bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]))  # fmt: skip
    return head + opts + body


def ip6(nxt: int, body: bytes, plen: int | None = None) -> bytes:
    plen = len(body) if plen is None else plen
    return (
        struct.pack("!IHBB16s16s", 6 << 28, plen, nxt, 63, bytes(15) + b"\1", bytes(15) + b"\2")
        + body
    )


def eth(etype: int, body: bytes) -> bytes:
    return bytes(range(12)) + struct.pack("!H", etype) + body


def ppp_frames() -> list[bytes]:
    v4, v6 = ip4(6, tcp()), ip6(6, tcp())
    return [
        eth(0x8864, b"\x11\x00\x00\x01\x00\x00" + b"\x00\x21" + v4),
        eth(0x8864, b"\x11\x00\x00\x01\x00\x00" + b"\x00\x57" + v6),
        eth(0x8864, b"\x11\x00\x00\x01\x00\x00" + b"\x21" + v4),  # protocol field compression
        eth(0x8864, b"\x11\x00\x00\x01\x00\x00" + b"\xff\x03\x00\x21" + v4),
        eth(0x8864, b"\x11\x00\x00\x01\x00\x00" + b"\xc0\x21" + bytes(20)),  # LCP
    ]


def l2tp_frames() -> list[bytes]:
    inner = ip4(6, tcp())
    out = []
    for flags, extra in (
        (0x0002, b""),
        (0x4002, b"\x00\x20"),  # length
        (0x0802, b"\x00\x01\x00\x02"),  # sequence numbers
        (0x0202, b"\x00\x03abc"),  # offset size + padding
        (0x4A02, b"\x00\x20" + b"\x00\x01\x00\x02" + b"\x00\x01z"),
        (0xC802, b""),  # control message
        (0x0003, b""),  # L2TPv3
    ):
        head = struct.pack("!H", flags)
        if flags & 0x4000:
            head += extra[:2]
            extra = extra[2:]
        head += b"\x00\x05\x00\x06" + extra
        l2 = head + b"\xff\x03\x00\x21" + inner
        udp = struct.pack("!HHHH", 1701, 1701, 8 + len(l2), 0) + l2
        out.append(eth(0x0800, ip4(17, udp)))
        out.append(eth(0x86DD, ip6(17, udp)))
    out.append(eth(0x0800, ip4(17, struct.pack("!HHHH", 53, 53, 8, 0))))
    return out


def mpls_frames() -> list[bytes]:
    label = lambda v, bottom: struct.pack("!I", (v << 12) | (0x100 if bottom else 0) | 64)  # noqa: E731
    inner_eth = bytes(12) + b"\x81\x00\x00\x07\x08\x00" + ip4(6, tcp())
    return [
        eth(0x8847, label(16, 0) + label(17, 1) + ip4(6, tcp())),
        eth(0x8848, label(16, 1) + ip6(6, tcp())),
        eth(0x8847, label(16, 1) + b"\x00\x00\x00\x00" + inner_eth),  # pseudowire
        eth(
            0x8100,
            b"\x00\x05\x88\x47"
            + label(16, 1)
            + b"\x00\x00\x00\x00"
            + bytes(12)
            + b"\x08\x00"
            + ip4(6, tcp()),
        ),
        eth(0x8847, label(16, 1) + b"\x70" + bytes(40)),
        eth(0x8847, b"".join(label(i, 0) for i in range(17)) + ip4(6, tcp())),
    ]


def ip_frames() -> list[tuple[int, bytes]]:
    t = tcp()
    hbh = b"\x06\x00" + bytes(6)
    ah = b"\x06\x01" + bytes(10)  # AH length 1: (1 + 2) * 4 = 12 bytes
    frag0 = b"\x06\x00\x00\x01" + bytes(4)
    frag1 = b"\x06\x00\x00\x09" + bytes(4)
    return [
        (101, ip4(6, t, ihl=7)),
        (101, ip4(6, t, total=0)),  # TSO
        (101, ip4(6, t, total=30)),  # total below the headers
        (101, ip4(6, t, total=3000)),  # beyond the wire
        (101, ip4(6, t, frag=0x2000)),
        (101, ip4(6, t, frag=0x0003)),
        (101, ip4(1, bytes(8))),
        (101, ip4(4, ip4(6, t))),
        (101, ip4(41, ip6(6, t))),
        (101, ip4(4, ip6(6, t))),  # a tunnel that lies about the inner version
        (101, ip4(4, b"")),
        (101, ip6(4, ip4(6, t))),
        (101, ip6(0, hbh + t)),
        (101, ip6(51, ah + t)),
        (101, ip6(44, frag0 + t)),
        (101, ip6(44, frag1 + t)),
        (101, ip6(59, b"")),
        (101, ip6(0, (b"\x00\x00" + bytes(6)) * 17 + t)),
        (229, ip6(6, tcp(off_words=15))),
        (229, ip6(6, tcp(off_words=2))),
        (228, ip4(6, tcp(off_words=15, payload=b""))),
        (113, bytes(14) + b"\x81\x00\x00\x09\x86\xdd" + ip6(6, t)),
        (276, b"\x88\xa8" + bytes(18) + b"\x00\x0a\x81\x00\x00\x0b\x08\x00" + ip4(6, t)),
        (0, struct.pack("<I", 24) + ip6(6, t)),
        (0, struct.pack(">I", 30) + ip6(6, t)),
        (0, struct.pack("<I", 7) + ip6(6, t)),
        (108, struct.pack(">I", 28) + ip6(6, t)),
        (108, struct.pack("<I", 2) + ip4(6, t)),
        (-1, ip4(6, t)),
        (147, ip4(6, t)),
        (1, eth(0x9100, b"\x00\x01\x92\x00\x00\x02\x81\x00\x00\x03\x86\xdd" + ip6(6, t))),
        (1, eth(0x88A8, b"\x00\x01\x81\x00\x00\x02" + b"\x08\x00" + ip4(6, t))),
        (1, eth(0x0806, bytes(28))),
    ]


def layer_records(seed: int) -> list[tuple[float, int, bytes, int]]:
    """The hand-built frames, each whole, cut at every length, and with bytes overwritten."""
    rng = random.Random(seed)
    frames = [(1, f) for f in ppp_frames() + l2tp_frames() + mpls_frames()] + ip_frames()
    out = []
    for linktype, frame in frames:
        variants = [frame[:n] for n in range(len(frame) + 1)]
        for _ in range(40):
            buf = bytearray(frame)
            for _ in range(rng.randint(1, 3)):
                buf[rng.randrange(len(buf))] = rng.choice(
                    (0, 1, 2, 4, 6, 0x45, 0x60, 0xFF, rng.randrange(256))
                )
            variants.append(bytes(buf))
        for v in variants:
            wire = rng.choice(
                (len(v), len(frame), len(v) + rng.randrange(100), max(0, len(v) - 10))
            )
            out.append((1e9 + len(out) * 0.001, wire, v, linktype))
    return out


def main() -> None:
    path = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/decode-xcheck.tsv")
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
    with path.open("w") as out:
        for name, records in capture_groups():
            run_group(out, name, records)
        fuzz = fuzz_frames(count)
        run_group(out, "fuzz", [(float(n), len(d), d, lt) for n, (lt, d) in enumerate(fuzz)])
        run_group(out, "fuzz-wire", [(0.5, n % 3000, d, lt) for n, (lt, d) in enumerate(fuzz)])
        run_group(out, "layers", layer_records(1))
        bad = [
            (0.0, 2, b"\x45" * (n % 3), lt) for n in range(MALFORMED_KEEP * 2) for lt in (1, 101, 0)
        ]
        run_group(out, "keep", bad)


if __name__ == "__main__":
    main()
