"""Write `count` floats with CPython's repr, one `<16 hex digits of the bits> <repr>` a line.

For `tests/pyfloat_repr.rs`: random bit patterns, floats of few bits (exact ties between
two shortest candidates), capture timestamps (micro and nano), durations
and RTTs rounded as `Flow.record()` rounds them, and powers of ten around the exponent switch.
Usage: python xcheck/float_repr_fixture.py [path] [count]  (default /tmp/tcpwatch-repr.txt 200000)
"""

from __future__ import annotations

import contextlib
import random
import struct
import sys


def values(count: int, rng: random.Random) -> list[float]:
    out: list[float] = []
    for e in range(-330, 310):
        for m in (1.0, 1.5, 9.999999999999999, 5.0, 2.2250738585072014):
            with contextlib.suppress(OverflowError):
                out += [m * 10.0**e, -m * 10.0**e, float(f"{m}e{e}")]
    out += [0.0, -0.0, float("inf"), float("-inf"), float("nan"), 5e-324, 1.7976931348623157e308]
    out += [float(2**k) for k in range(-1074, 1024, 7)]
    while len(out) < count:
        kind = rng.randrange(7)
        if kind == 0:  # any bit pattern
            out.append(struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0])
        elif kind == 1:  # a pcap timestamp, microseconds
            out.append(rng.randrange(0, 2**32) + rng.randrange(10**6) / 1e6)
        elif kind == 2:  # nanoseconds
            out.append(rng.randrange(0, 2**32) + rng.randrange(10**9) * 1e-9)
        elif kind == 3:  # a duration as Flow.record() rounds it
            a = rng.randrange(10**9, 2**31) + rng.randrange(10**6) / 1e6
            b = a + rng.random() * rng.choice((1e-6, 1e-3, 1.0, 1e3, 1e6))
            out.append(round(b - a, 9))
        elif kind == 4:  # small and huge
            out.append(rng.random() * 10.0 ** rng.randrange(-30, 30))
        elif kind == 5:
            out.append(float(rng.randrange(-(2**60), 2**60)))
        else:  # few significant bits: exact ties between two shortest candidates
            bits = rng.randrange(1, 54)
            out.append(rng.randrange(2**bits) * 2.0 ** rng.randrange(-80, 60))
    return out


def main() -> int:
    path = sys.argv[1] if len(sys.argv) > 1 else "/tmp/tcpwatch-repr.txt"
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 200_000
    rng = random.Random(20261206)
    with open(path, "w") as out:
        for x in values(count, rng):
            out.write(f"{struct.unpack('<Q', struct.pack('<d', x))[0]:016x} {x!r}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
