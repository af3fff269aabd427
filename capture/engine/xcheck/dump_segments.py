"""Dump every decoded Segment of every capture with golden outputs, for the Rust tracker's
cross-check (`tests/tracker_xcheck.rs`).

    PYTHONPATH=. .venv/bin/python capture/engine/xcheck/dump_segments.py /tmp/segdump

Writes `<out>/<capture>.jsonl`: one JSON object per segment, every field of `Segment` (addresses
and option bytes in hex) plus the three checks the Rust `Segment` carries precomputed.
Captures the Python reader cannot open are skipped (listed on stderr).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from capture.decode import Decoder
from capture.pcapio import CaptureError, open_capture
from capture.sources import decoded
from capture.zeek_endpoint import header_ok, ip_checksum_ok, tcp_checksum_ok

ROOT = Path(__file__).resolve().parents[3]


def row(seg) -> dict:
    return {
        "frame_no": seg.frame_no, "ts": seg.ts, "linktype": seg.linktype,
        "wire_len": seg.wire_len, "caplen": len(seg.frame), "truncated": seg.truncated,
        "ip_version": seg.ip_version, "ip_off": seg.ip_off, "src": seg.src.hex(),
        "dst": seg.dst.hex(), "ip_len": seg.ip_len, "ttl": seg.ttl, "vlan": list(seg.vlan),
        "tcp_off": seg.tcp_off, "sport": seg.sport, "dport": seg.dport, "seq": seg.seq,
        "ack": seg.ack, "flags": seg.flags, "window": seg.window, "urg_ptr": seg.urg_ptr,
        "opts": bytes(seg.opts).hex(), "bad_opts": seg.bad_opts or None,
        "payload_len": seg.payload_len, "header_ok": header_ok(seg),
        "ip_checksum_ok": ip_checksum_ok(seg), "tcp_checksum_ok": tcp_checksum_ok(seg),
    }  # fmt: skip


def main() -> None:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    for golden in sorted((ROOT / "tests" / "golden").iterdir()):
        path = ROOT / "tests" / "data" / golden.name
        if not path.exists():
            print(f"no capture for {golden.name}", file=sys.stderr)
            continue
        try:
            reader = open_capture(str(path))
        except CaptureError as exc:
            print(f"skip {golden.name}: {exc}", file=sys.stderr)
            continue
        rows = []
        try:
            rows.extend(json.dumps(row(seg)) for seg in decoded(reader, Decoder()))
        except CaptureError as exc:
            print(f"{golden.name}: cut short: {exc}", file=sys.stderr)
        finally:
            reader.close()
        (out / f"{golden.name}.jsonl").write_text("".join(r + "\n" for r in rows))


if __name__ == "__main__":
    main()
