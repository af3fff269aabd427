"""Write a large, realistic, deterministic TCP capture for the benchmarks.

Thousands of interleaved flows over Ethernet (some VLAN-tagged, some QinQ), IPv4 and IPv6,
handshakes with options, data both ways with consistent seq/ack, retransmissions, every kind of
ending, a SYN flood from spoofed sources and a port scan. Frames are packed with `struct`
(no scapy): a million packets take seconds. Checksums are left at zero; IP lengths are exact.

    python bench/gencap.py --packets 1000000 --flows 44000 --out bench/out/realistic.pcap
    python bench/gencap.py --syn-flood 1000000 --out bench/out/flood-1m.pcap
"""

from __future__ import annotations

import argparse
import heapq
import random
import struct
import sys
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from flowplans import FLOOD_KIND, SCAN_KIND, FlowPlan, Packet, build_flow  # noqa: E402

PCAP_HEADER = struct.Struct("<IHHiIII")
RECORD = struct.Struct("<IIII")
LINKTYPE_ETHERNET = 1
T0 = 1_700_000_000.0
FLOW_RATE = 2000.0  # new flows per second of capture time: thousands overlap at once
CHUNK = 1 << 20

# kind -> weight; the names are those of flowplans.build_flow
KIND_WEIGHTS: dict[str, int] = {
    "fin4": 38,
    "fin3": 22,
    "simclose": 4,
    "rst_client": 7,
    "rst_server": 5,
    "halfclosed": 4,
    "open": 4,
    "refused": 6,
    "unanswered": 5,
    "midstream": 3,
}
MEAN_PKTS = {"refused": 2, "unanswered": 4, FLOOD_KIND: 1}


def _plan_stream(rng: random.Random, flows: int, rounds_mean: float) -> Iterator[FlowPlan]:
    """Flow plans in start order: `flows` normal ones (flood and scan among them), then more."""
    kinds = list(KIND_WEIGHTS)
    weights = list(KIND_WEIGHTS.values())
    t = T0
    i = 0
    while True:
        t += rng.expovariate(FLOW_RATE)
        if i == flows // 3:
            yield FlowPlan(SCAN_KIND, t, rng.getrandbits(64), 0, 0)
        if i == flows // 2:
            yield FlowPlan(FLOOD_KIND, t, rng.getrandbits(64), 0, 0)
        kind = rng.choices(kinds, weights)[0]
        rounds = max(1, int(rng.expovariate(1.0 / rounds_mean))) if rounds_mean > 0 else 1
        yield FlowPlan(kind, t, rng.getrandbits(64), rounds, i)
        i += 1


def _rounds_mean(packets: int, flows: int, flood: int) -> float:
    """Mean request/response rounds per flow so that `flows` flows give about `packets` packets."""
    per_flow = max(0.0, (packets - flood - 2100) / max(1, flows))
    # Measured over the kind mix: a flow averages about 6 + 4.6 x (mean rounds) packets.
    return max(0.5, (per_flow - 6.0) / 4.6)


def _write_header(out: bytearray) -> None:
    out += PCAP_HEADER.pack(0xA1B2C3D4, 2, 4, 0, 0, 262144, LINKTYPE_ETHERNET)


def _append(out: bytearray, ts: float, frame: bytes) -> None:
    sec = int(ts)
    usec = int((ts - sec) * 1_000_000)
    n = len(frame)
    out += RECORD.pack(sec, usec, n, n)
    out += frame


def write_realistic(path: Path, packets: int, flows: int, seed: int, flood: int) -> int:
    """Write the interleaved capture; returns the number of packets written (>= `packets`)."""
    rng = random.Random(seed)
    plans = _plan_stream(rng, flows, _rounds_mean(packets, flows, flood))
    active: list[tuple[float, int, Packet, Iterator[Packet]]] = []
    scheduled = written = started = 0
    nxt: FlowPlan | None = next(plans)
    out = bytearray()
    _write_header(out)
    with path.open("wb") as fh:
        while active or nxt is not None:
            if nxt is not None and (not active or nxt.start <= active[0][0]):
                pkts = build_flow(nxt, flood)
                started += 1
                scheduled += len(pkts)
                it = iter(pkts)
                first = next(it)
                heapq.heappush(active, (first[0], started, first, it))
                nxt = next(plans)
                if started >= flows and scheduled >= packets:
                    nxt = None
                continue
            ts, key, (_, frame), it = active[0]
            _append(out, ts, frame)
            written += 1
            follow = next(it, None)
            if follow is None:
                heapq.heappop(active)
            else:
                heapq.heapreplace(active, (follow[0], key, follow, it))
            if len(out) >= CHUNK:
                fh.write(out)
                out.clear()
        fh.write(out)
    return written


def write_flood(path: Path, count: int, seed: int) -> int:
    """Write `count` single-SYN flows from distinct spoofed sources to one server."""
    plan = FlowPlan(FLOOD_KIND, T0, seed, 0, 0)
    out = bytearray()
    _write_header(out)
    with path.open("wb") as fh:
        for ts, frame in build_flow(plan, count):
            _append(out, ts, frame)
            if len(out) >= CHUNK:
                fh.write(out)
                out.clear()
        fh.write(out)
    return count


def main(argv: list[str] | None = None) -> int:
    """Parse the options and write the capture."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--packets", type=int, default=1_000_000, help="at least this many packets")
    ap.add_argument("--flows", type=int, default=44_000, help="normal flows (plus flood and scan)")
    ap.add_argument("--flood", type=int, default=5_000, help="spoofed SYNs inside the capture")
    ap.add_argument("--syn-flood", type=int, default=0, metavar="N", help="only N single-SYN flows")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path("bench/out/realistic.pcap"))
    args = ap.parse_args(argv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if args.syn_flood:
        n = write_flood(args.out, args.syn_flood, args.seed)
    else:
        n = write_realistic(args.out, args.packets, args.flows, args.seed, args.flood)
    print(f"{args.out}: {n} packets", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
