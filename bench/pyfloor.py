"""The floor of any pure-Python tracker on this machine: the least a per-packet loop can do.

Reads a classic Ethernet pcap whole, walks its records, takes each untagged IPv4/IPv6 TCP
frame's lengths with one `Struct.unpack_from`, looks its flow up by a raw-bytes key (both
directions stored) and adds to two counters. No states, no Zeek history, no options, no
export: what tcpwatch does per packet on top of this is the price of its answers. Compared
side by side with tcpwatch, tshark and tcpdump by `bench/ingest_bench.py` (tool `pyfloor`).

    .venv/bin/python bench/pyfloor.py FILE
"""

from __future__ import annotations

import struct
import sys

_REC = struct.Struct("<IIII")
_V4 = struct.Struct("!2xH")
_V6 = struct.Struct("!4xH")


def walk(data: bytes) -> tuple[int, int, int]:
    """(records, TCP frames counted, flows) of a little-endian classic pcap held in `data`."""
    unpack, v4, v6 = _REC.unpack_from, _V4.unpack_from, _V6.unpack_from
    flows: dict[bytes, list[int]] = {}
    find = flows.get
    pos, size, records, tcp = 24, len(data), 0, 0
    while pos + 16 <= size:
        _sec, _frac, caplen, _wire = unpack(data, pos)
        p = pos + 16
        pos = p + caplen
        records += 1
        etype = data[p + 12 : p + 14]
        if etype == b"\x08\x00" and caplen >= 54 and data[p + 23] == 6:
            (ip_len,) = v4(data, p + 14)
            key = data[p + 26 : p + 38]
        elif etype == b"\x86\xdd" and caplen >= 74 and data[p + 20] == 6:
            (ip_len,) = v6(data, p + 14)
            key = data[p + 22 : p + 58]
        else:
            continue
        counts = find(key)
        if counts is None:
            counts = flows[key] = [0, 0]
            half = len(key) // 2 - 2  # the reverse direction shares the counters
            flows[key[half : 2 * half] + key[:half] + key[-2:] + key[-4:-2]] = counts
        counts[0] += 1
        counts[1] += ip_len
        tcp += 1
    return records, tcp, len(flows) // 2


def main() -> int:
    """Walk the file named on the command line and print what was counted."""
    with open(sys.argv[1], "rb") as f:
        data = f.read()
    if data[:4] != b"\xd4\xc3\xb2\xa1":
        print("pyfloor: needs a little-endian microsecond classic pcap", file=sys.stderr)
        return 2
    records, tcp, flows = walk(data)
    print(
        f"pyfloor: {records} records, {tcp} untagged TCP frames, {flows} 4-tuples", file=sys.stderr
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
