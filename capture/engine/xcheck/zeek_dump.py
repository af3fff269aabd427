"""Record every call the real FlowTracker makes on ZeekState, for the Rust cross-check.

Runs each capture of tests/data (as tests/captures.py does: real reader, decoder and tracker)
with ZeekState's public methods wrapped, and writes one line per call plus the state after it.
`capture/engine/tests/zeek_xcheck.rs` replays the lines on the Rust ZeekState.

    PYTHONPATH=. .venv/bin/python capture/engine/xcheck/zeek_dump.py \
        [--verify] /tmp/zeek_calls.txt
    ... zeek_dump.py --random 20000 [SEED] /tmp/zeek_random.txt   # random conversations instead

`--random N` plays N random conversations (numbers near each other, near 2^32, or anywhere;
any flags; truncated or bad headers; bad checksums for the half that verifies) straight into
ZeekState, the way the tracker drives it (`plain`, then `update` when it declines).

Line format (space separated; history `-` when empty):
    C <capture>                              a capture starts
    N <id> <verify>                          a ZeekState is made
    U <id> <seg...> <before...> <after...>   update(is_orig, seg)
    P <id> <is_orig> <ts> <flags> <len> <window> <seq> <ack> <after...>   plain(...)
    F <id> <after...>                        flip()
    E <id> <ended_before(last_ts + k) for k in ENDS>
seg    = is_orig ts flags seq ack window payload_len truncated bad_opts header_ok ip_ok tcp_ok
before = ended_before(seg.ts) is_reuse(seg)
after  = returned history conn_state orig_bytes resp_bytes last_ts orig_state resp_state
"""

from __future__ import annotations

import random
import sys
from pathlib import Path
from typing import Any

from capture import zeek
from capture.decode import Decoder
from capture.flows import FlowTracker
from capture.pcapio import open_capture
from capture.sources import decoded
from capture.zeek_endpoint import header_ok, ip_checksum_ok, tcp_checksum_ok

DATA = Path("tests/data")
ENDS = (0.0, 1.0, 4.999, 5.0, 59.999, 60.0, 299.999, 300.0, 1000.0)

Z = zeek.ZeekState
orig_init, orig_update, orig_plain, orig_flip = Z.__init__, Z.update, Z.plain, Z.flip
keep: list[Any] = []  # every state, so that id() values stay unique
ids: dict[int, int] = {}
depth = 0
out: list[str] = []


def b(v: object) -> str:
    return "1" if v else "0"


def after(z: Any, ret: object) -> str:
    return " ".join(
        [
            b(ret),
            z.history or "-",
            z.conn_state(),
            str(z.orig_bytes),
            str(z.resp_bytes),
            repr(z.last_ts),
            z.orig_state,
            z.resp_state,
        ]
    )


def init(self: Any, verify_checksums: bool | None = None) -> None:
    orig_init(self, verify_checksums)
    keep.append(self)
    ids[id(self)] = len(keep)
    out.append(f"N {len(keep)} {b(self._verify)}")


def update(self: Any, is_orig: bool, seg: Any) -> bool:
    global depth
    if depth:
        return orig_update(self, is_orig, seg)
    fields = [
        b(is_orig), repr(seg.ts), str(seg.flags), str(seg.seq), str(seg.ack), str(seg.window),
        str(seg.payload_len), b(seg.truncated), b(seg.bad_opts), b(header_ok(seg)),
        b(ip_checksum_ok(seg)), b(tcp_checksum_ok(seg)),
        b(self.ended_before(seg.ts)), b(self.is_reuse(seg)),
    ]  # fmt: skip
    depth += 1
    try:
        ret = orig_update(self, is_orig, seg)
    finally:
        depth -= 1
    out.append(f"U {ids[id(self)]} {' '.join(fields)} {after(self, ret)}")
    return ret


def plain(self: Any, is_orig: bool, ts: float, flags: int, length: int, window: int,
          seq: int, ack: int) -> bool:  # fmt: skip
    global depth
    if depth:
        return orig_plain(self, is_orig, ts, flags, length, window, seq, ack)
    depth += 1
    try:
        ret = orig_plain(self, is_orig, ts, flags, length, window, seq, ack)
    finally:
        depth -= 1
    args = f"{b(is_orig)} {ts!r} {flags} {length} {window} {seq} {ack}"
    out.append(f"P {ids[id(self)]} {args} {after(self, ret)}")
    return ret


def flip(self: Any) -> None:
    orig_flip(self)
    if not depth:
        out.append(f"F {ids[id(self)]} {after(self, None)}")


# SYN, SYN/ACK, ACK and data (weighted up), FIN, RST, and some flags Zeek counts as odd
FLAG_CHOICES: tuple[int, ...] = (0x02, 0x12, 0x10, 0x18, 0x10, 0x18, 0x10, 0x18, 0x11, 0x19)
FLAG_CHOICES += (0x04, 0x14, 0x01, 0x03, 0x05)


def near(rng: random.Random, base: int) -> int:
    """A 32-bit number: usually close to `base`, sometimes far, sometimes anywhere."""
    r = rng.random()
    if r < 0.7:
        return (base + rng.choice((0, 0, 1, -1, rng.randint(-3000, 3000)))) & 0xFFFFFFFF
    if r < 0.85:
        return (base + rng.choice((1, -1)) * rng.randint(1 << 20, 1 << 31)) & 0xFFFFFFFF
    return rng.getrandbits(32)


def random_conversation(rng: random.Random) -> None:
    """One random conversation through ZeekState, oriented as tests/test_zeek.py play() does."""
    from tests.segmaker import make_segment
    from tests.test_zeek import _checksummed

    verify = rng.random() < 0.3
    z = Z(verify_checksums=verify)
    isn = [rng.choice((rng.getrandbits(32), 0xFFFFFF00, 0x7FFFFFF0, 0)), rng.getrandbits(32)]
    nxt = list(isn)
    client, ts = True, 1000.0
    for n in range(rng.randint(1, 60)):
        side = rng.random() < 0.55
        i = 0 if side else 1
        flags = rng.choice(FLAG_CHOICES) if rng.random() < 0.9 else rng.getrandbits(9)
        length = rng.choice((0, 0, 1, 100, 1000, 1460, rng.randint(0, 65000)))
        seq = near(rng, nxt[i])
        ack = near(rng, nxt[1 - i]) if rng.random() < 0.95 else 0
        ts += rng.choice((0.0, 0.001, 0.5, 4.9, 5.0, 61.0, 301.0))
        src, dst = ("10.0.0.1", "10.0.0.2") if side else ("10.0.0.2", "10.0.0.1")
        sport, dport = (40000, 80) if side else (80, 40000)
        if rng.random() < 0.1:
            sport = rng.choice((22, 443, 8080, 1433))
        seg = make_segment(
            src, sport, dst, dport, flags, seq=seq, ack=ack, ts=ts, payload_len=length,
            window=rng.choice((0, 1, 65535, 65535)),
        )  # fmt: skip
        if verify and rng.random() < 0.85:
            seg = _checksummed(seg, tcp_too=rng.random() < 0.9)
        r = rng.random()
        if r < 0.03:
            seg.truncated = True
        elif r < 0.05:
            frame = bytearray(seg.frame)
            frame[seg.tcp_off + 12] = rng.choice((3, 4, 15)) << 4
            seg.frame, seg.bad_opts = bytes(frame), "bad data offset"
        end = seq + length + (1 if flags & 2 else 0) + (flags & 1)
        if rng.random() < 0.8 and ((end - nxt[i]) & 0xFFFFFFFF) < 0x80000000:
            nxt[i] = end & 0xFFFFFFFF
        if n == 0 and zeek.initial_flip(seg):
            z.flip()
            client = False
        is_orig = side == client
        if (
            flags & 0x17 == 0x10
            and not seg.truncated
            and not seg.bad_opts
            and z.plain(is_orig, ts, flags, length, seg.window, seq, ack)
        ):
            continue
        if z.update(is_orig, seg):
            client = not client


def main() -> None:
    verify = "--verify" in sys.argv
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    path = args[-1]
    Z.__init__, Z.update, Z.plain, Z.flip = init, update, plain, flip  # type: ignore[method-assign]
    if "--random" in sys.argv:
        rng = random.Random(int(args[1]) if len(args) > 2 else 1)
        with open(path, "w") as f:
            for n in range(int(args[0])):
                out.clear()
                keep.clear()
                ids.clear()
                out.append(f"C random-{n}")
                random_conversation(rng)
                for z in keep:
                    ends = " ".join(b(z.ended_before(z.last_ts + k)) for k in ENDS)
                    out.append(f"E {ids[id(z)]} {ends}")
                f.write("\n".join(out) + "\n")
        return
    Z.VERIFY_CHECKSUMS = verify
    captures = sorted(
        p for p in DATA.rglob("*") if p.is_file() and p.suffix in (".pcap", ".pcapng", ".gz")
    )
    with open(path, "w") as f:
        for cap in captures:
            out.clear()
            keep.clear()
            ids.clear()
            out.append(f"C {cap.relative_to(DATA)}")
            try:
                reader = open_capture(str(cap))
                tracker = FlowTracker()
                try:
                    for seg in decoded(reader, Decoder()):
                        tracker.ingest(seg)
                finally:
                    reader.close()
                tracker.finish()
            except Exception as exc:  # a hostile capture the reader rejects: keep what ran
                out.append(f"# {type(exc).__name__}")
            for z in keep:
                ends = " ".join(b(z.ended_before(z.last_ts + k)) for k in ENDS)
                out.append(f"E {ids[id(z)]} {ends}")
            f.write("\n".join(out) + "\n")
    print(f"{path}: {len(keep)} states in the last capture, {len(captures)} captures")


if __name__ == "__main__":
    main()
