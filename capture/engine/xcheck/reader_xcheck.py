"""Cross-check of the Rust reader against capture.pcapio: writes the cases and Python's view.

Cases (under OUT, default /tmp/reader-xcheck): every tests/data capture; the hostile captures of
tests/test_hostile_files.py; synthetic pcapng (both byte orders, sections, if_tsresol/offset,
simple/obsolete packet blocks, undeclared interfaces); plain captures cut at every offset;
gzip: whole, multi-member, zero-padded, trailing garbage, cut at many offsets, corrupt bytes,
bad CRC. Python's records go to OUT/python.txt; then `cargo test --test reader_xcheck` reads
the same files with the Rust reader and compares line by line.

    PYTHONPATH=. .venv/bin/python capture/engine/xcheck/reader_xcheck.py
    cd capture/engine && cargo test --release --test reader_xcheck -- --ignored --nocapture
"""

from __future__ import annotations

import gzip
import hashlib
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from capture.pcapio import CaptureError, open_capture  # noqa: E402

OUT = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/reader-xcheck")
DATA = ROOT / "tests" / "data"


def dump(path: Path) -> list[str]:
    lines = [f"FILE {path.name}"]
    try:
        reader = open_capture(str(path))
    except CaptureError as exc:
        return [*lines, f"OPEN_ERROR {exc}"]
    lines.append(f"FORMAT {reader.format} {reader.snaplen}")
    for ts, wire, data, linktype in reader:
        bits = struct.unpack(">Q", struct.pack(">d", ts))[0]
        digest = hashlib.blake2b(data, digest_size=16).hexdigest()
        lines.append(f"R {bits:016x} {wire} {len(data)} {linktype} {digest}")
    lines.append(f"END {reader.linktypes} {reader.error}")
    reader.close()
    return lines


def block(btype: int, body: bytes, o: str = "<") -> bytes:
    body += b"\0" * (-len(body) % 4)
    return (
        struct.pack(o + "II", btype, 12 + len(body)) + body + struct.pack(o + "I", 12 + len(body))
    )


def opt(code: int, value: bytes, o: str = "<", declared: int | None = None) -> bytes:
    n = len(value) if declared is None else declared
    return struct.pack(o + "HH", code, n) + value + b"\0" * (-len(value) % 4)


def shb(o: str) -> bytes:
    return block(0x0A0D0D0A, struct.pack(o + "IHHq", 0x1A2B3C4D, 1, 0, -1), o)


def idb(o: str, linktype: int, opts: bytes = b"", snaplen: int = 262144) -> bytes:
    return block(1, struct.pack(o + "HHI", linktype, 0, snaplen) + opts, o)


def epb(o: str, iface: int, ticks: int, frame: bytes, caplen: int | None = None) -> bytes:
    cap = len(frame) if caplen is None else caplen
    head = struct.pack(o + "IIIII", iface, ticks >> 32, ticks & 0xFFFFFFFF, cap, len(frame) + 4)
    return block(6, head + frame, o)


def synthetic() -> dict[str, bytes]:
    frame = bytes(range(60))
    out = {}
    for o, tag in (("<", "le"), (">", "be")):
        body = (
            shb(o)
            + idb(o, 1)
            + idb(o, 101, opt(9, b"\x09", o) + opt(14, struct.pack(o + "q", -5), o))
        )
        body += epb(o, 0, 1_700_000_000_123_456, frame) + epb(
            o, 1, 1_700_000_000_123_456_789, frame
        )
        body += epb(o, 7, 123_456_789, frame)  # undeclared interface
        body += block(3, struct.pack(o + "I", 80) + frame, o)  # simple packet block
        body += block(2, struct.pack(o + "HHIIII", 1, 0, 0, 99, 10, 60) + frame, o)  # obsolete
        body += epb(o, 0, 5, frame, caplen=1000)  # caplen beyond the body
        other = ">" if o == "<" else "<"
        body += shb(other) + idb(other, 113, opt(9, b"\x83", other) + opt(0, b"", other))
        body += epb(other, 0, 12345, frame) + epb(other, 1, 12345, frame)
        out[f"synthetic-{tag}.pcapng"] = body
        for r in list(range(0, 20)) + [0x80 | i for i in range(0, 40, 3)]:
            out[f"tsresol-{tag}-{r}.pcapng"] = (
                shb(o)
                + idb(o, 1, opt(9, bytes([r]), o))
                + epb(o, 0, 1_700_000_000_987_654_321, frame)
            )
        out[f"tsresol-overrun-{tag}.pcapng"] = (
            shb(o) + idb(o, 1, struct.pack(o + "HH", 9, 1)) + epb(o, 0, 1, frame)
        )
        out[f"tsoffset-overrun-{tag}.pcapng"] = (
            shb(o) + idb(o, 1, struct.pack(o + "HH", 14, 8)) + epb(o, 0, 1, frame)
        )
        out[f"spb-snaplen-{tag}.pcapng"] = (
            shb(o) + idb(o, 1, snaplen=20) + block(3, struct.pack(o + "I", 60) + frame, o)
        )
        out[f"spb-noiface-{tag}.pcapng"] = shb(o) + block(3, struct.pack(o + "I", 60) + frame, o)
        out[f"shb12-{tag}.pcapng"] = (
            struct.pack(o + "II", 0x0A0D0D0A, 12) + struct.pack(o + "I", 0x1A2B3C4D) + b"\0\0\0\0"
        )
    for o, tag in (("<", "le"), (">", "be")):
        for magic, unit in ((0xA1B2C3D4, "us"), (0xA1B23C4D, "ns")):
            head = struct.pack(o + "IHHiIII", magic, 2, 4, 0, 0, 65535, 0x10000001)
            recs = b"".join(
                struct.pack(o + "IIII", 1_700_000_000 + i, 999_999_999 - i, 60, 70) + frame
                for i in range(5)
            )
            out[f"pcap-{tag}-{unit}.pcap"] = head + recs
    return out


def hostile() -> dict[str, bytes]:
    import test_hostile_files as h

    out = {f"hard-{k}": v[0] for k, v in h.HARD_ERRORS.items()}
    out.update({f"cut-{k}": v for k, v in h.CUT_SHORT.items()})
    out["undeclared.pcapng"] = h.SHB + h.IDB + h.epb(h.SYN) + h.epb(h.SYN, iface=7)
    for code, n in ((9, 1), (14, 8)):
        idb_ = h.block(1, struct.pack("<HHI", 1, 0, 262144) + struct.pack("<HH", code, n))
        out[f"idb-opt-{code}.pcapng"] = h.SHB + idb_ + h.epb(h.SYN)
    return out


def gz_variants(name: str, raw: bytes, cuts: int) -> dict[str, bytes]:
    whole = gzip.compress(raw, compresslevel=6, mtime=0)
    half = len(raw) // 2
    out = {
        f"{name}.gz": whole,
        f"{name}.multi.gz": gzip.compress(raw[:half], mtime=0) + gzip.compress(raw[half:], mtime=0),
        f"{name}.zeros.gz": whole + b"\0" * 7,
        f"{name}.garbage.gz": whole + b"PK\x03\x04",
        f"{name}.badcrc.gz": whole[:-8] + bytes([whole[-8] ^ 1]) + whole[-7:],
        f"{name}.badlen.gz": whole[:-4] + bytes([whole[-4] ^ 1]) + whole[-3:],
        f"{name}.stored.gz": gzip.compress(raw, compresslevel=0, mtime=0),
    }
    step = max(1, len(whole) // cuts)
    for at in sorted(
        set(range(0, len(whole), step)) | set(range(max(0, len(whole) - 12), len(whole)))
    ):
        out[f"{name}.cut{at}.gz"] = whole[:at]
    for at in range(10, len(whole) - 8, max(1, len(whole) // 40)):
        out[f"{name}.flip{at}.gz"] = whole[:at] + bytes([whole[at] ^ 0x55]) + whole[at + 1 :]
    # Runs of 0xff mostly make zlib fail mid-stream ("invalid distance too far back", ...):
    # where Python stops then depends on its 8 KiB windows and output blocks.
    for at in range(10, len(whole) - 16, max(1, len(whole) // 150)):
        out[f"{name}.smash{at}.gz"] = whole[:at] + b"\xff" * 6 + whole[at + 6 :]
    return out


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("case-*"):
        old.unlink()
    cases: dict[str, bytes] = {}
    captures = sorted(p for p in DATA.glob("*.pcap*") if not p.name.endswith(".json"))
    for p in captures:
        cases[p.name] = p.read_bytes()
    cases["fuzz-crash.pcapng"] = (DATA / "fuzz" / "crash-pcapng-idb-tsresol-empty.bin").read_bytes()
    cases.update(synthetic())
    cases.update(hostile())
    for small in (
        "tcpdump_print-flags.pcap",
        "zeek_vlan-pcp-dei.pcapng",
        "pcapplusplus_nanosecs_big_endian.pcap",
    ):
        raw = (DATA / small).read_bytes()
        for at in range(len(raw)):
            cases[f"{small}.plaincut{at}"] = raw[:at]
    for big in (
        "chrissanders_http_espn_fail.pcapng",
        "suricata_bug-4376_syn_retransmit_with_ts.pcap",
        "zeek_tcp_options.pcap",
        "synthetic-be.pcapng",
    ):
        cases.update(gz_variants(big, cases[big], 60))
    # A long stream of small frames: many gzip windows and BufferedReader refills.
    frames = b"".join(
        struct.pack("<IIII", i, i % 1000000, 60, 60) + bytes([i % 251]) * 60 for i in range(40000)
    )
    head = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    cases["many.pcap"] = head + frames
    cases.update(gz_variants("many.pcap", head + frames, 30))
    names = []
    with (OUT / "python.txt").open("w") as fh:
        for i, (name, data) in enumerate(sorted(cases.items())):
            path = OUT / f"case-{i:05d}-{name}"
            path.write_bytes(data)
            names.append(path.name)
            fh.write("\n".join(dump(path)) + "\n")
    (OUT / "cases.txt").write_text("\n".join(names) + "\n")
    print(f"{len(names)} cases written to {OUT}")


if __name__ == "__main__":
    main()
