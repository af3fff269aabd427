"""Dump what the Rust `Printer` needs per segment, with the line Python's SegmentPrinter wrote.

Runs Python's decoder, tracker and SegmentPrinter (relative and `-S`) over captures as
`tcpwatch --print` does, and writes one JSON object per segment: the Segment fields the printer
reads, the flow id, from_orig, the flow's last 4 transitions, and the expected lines `rel` and
`abs`. With TZ=UTC each capture's lines are first checked against its golden `print.txt` and
`print-S.txt`; another TZ (Asia/Kolkata, America/New_York) checks local time. Each capture's
first row names it and the TZ. `tests/print_python.rs` replays the dump (run it with the same TZ).

Usage (from the repository root):
  TZ=UTC PYTHONPATH=. python capture/engine/xcheck/print_fixture.py OUT.jsonl [capture ...]
With no capture named, every capture in tests/data.
"""

from __future__ import annotations

import gzip
import json
import os
import sys
from pathlib import Path

from capture.decode import Decoder
from capture.flows import FlowTracker
from capture.pcapio import open_capture
from capture.printer import SegmentPrinter
from capture.sources import decoded_batches
from capture.tcpstate import recent_transitions

ROOT = Path(__file__).resolve().parents[3]


def dump(capture: Path, out) -> int:
    """Write `capture`'s segments to `out`; return how many (checked against the golden)."""
    tracker = FlowTracker(max_flows=250_000, frames_per_flow=0, embryos=True)
    rel, absolute = SegmentPrinter(), SegmentPrinter(absolute=True)
    reader = open_capture(str(capture))
    rel_lines, abs_lines = [], []
    tz = os.environ.get("TZ")
    out.write(json.dumps({"capture": capture.name, "tz": tz}) + "\n")
    for batch in decoded_batches(reader, Decoder()):
        for seg in batch:
            flow = tracker.ingest(seg)
            from_orig = seg.src == flow.orig_addr and seg.sport == flow.orig_port
            moves = [
                [t.ts, t.frame_no, t.side, t.old, t.new] for t in recent_transitions(flow.moves, 4)
            ]
            rel_lines.append(rel.line(seg, flow))
            abs_lines.append(absolute.line(seg, flow))
            row = {
                "frame_no": seg.frame_no, "ts": seg.ts, "ip_version": seg.ip_version,
                "src": seg.src.hex(), "dst": seg.dst.hex(), "sport": seg.sport,
                "dport": seg.dport, "seq": seg.seq, "ack": seg.ack, "flags": seg.flags,
                "window": seg.window, "urg_ptr": seg.urg_ptr, "opts": seg.opts.hex(),
                "bad_opts": seg.bad_opts, "payload_len": seg.payload_len,
                "flow_id": flow.id, "from_orig": from_orig, "moves": moves,
                "rel": rel_lines[-1], "abs": abs_lines[-1],
            }  # fmt: skip
            out.write(json.dumps(row) + "\n")
    reader.close()
    if tz != "UTC":
        return len(rel_lines)
    golden = ROOT / "tests" / "golden" / capture.name
    for name, lines in (("print.txt", rel_lines), ("print-S.txt", abs_lines)):
        want = gzip.decompress((golden / (name + ".gz")).read_bytes()).decode()
        if "".join(line + "\n" for line in lines) != want:
            raise SystemExit(f"{capture.name}: Python's lines differ from golden {name}")
    return len(rel_lines)


def main() -> int:
    target = Path(sys.argv[1])
    names = sys.argv[2:]
    data = ROOT / "tests" / "data"
    captures = (
        [data / n for n in names]
        if names
        else sorted(p for p in data.iterdir() if p.suffix in (".pcap", ".pcapng"))
    )
    total = 0
    with target.open("w") as out:
        for capture in captures:
            total += dump(capture, out)
    print(f"{len(captures)} captures, {total} segments -> {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
