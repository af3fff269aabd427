"""Run the Python FlowTracker over every dumped capture in configurations the golden files do not
cover (no embryos, a tight cap, kept frames with small budgets, linger) and dump what comes out,
for `tests/tracker_xcheck.rs` (`tracker_matches_python_in_other_configurations`).

    PYTHONPATH=. .venv/bin/python \
        capture/engine/xcheck/dump_tracker.py /tmp/segdump

For each capture that `dump_segments.py` dumped to `<dir>/*.jsonl`, reads the capture again
through the Python reader and decoder (embryos re-decode their frame) and writes
`<dir>/tracker/<capture>.<config>.json`: every flow as it comes out (gone ones first, in the order
they left, then the tracked ones in id order) with its record, transitions, kept frame numbers
and a few properties, plus the tracker's counters.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from capture.decode import Decoder
from capture.flows import FlowTracker
from capture.pcapio import CaptureError, open_capture
from capture.sources import decoded

ROOT = Path(__file__).resolve().parents[3]

CONFIGS = {
    "A": {"max_flows": 3, "frames_per_flow": 0, "linger": None, "embryos": False},
    "B": {
        "max_flows": 100_000,
        "frames_per_flow": 4,
        "frame_budget": 50,
        "frame_bytes": 20_000,
        "linger": 2.0,
    },
    "C": {"max_flows": 7, "frames_per_flow": 0, "linger": None, "embryos": True},
    "D": {
        "max_flows": 5,
        "frames_per_flow": 2,
        "frame_budget": 7,
        "frame_bytes": 1_000_000,
        "linger": 0.5,
    },
}
ZEEK = ("history", "conn_state", "orig_bytes", "resp_bytes")


def read(name: str) -> list:
    reader = open_capture(str(ROOT / "tests" / "data" / name))
    segs: list = []
    try:
        segs.extend(decoded(reader, Decoder()))
    except CaptureError:
        pass  # as the dump: what came before the damage
    finally:
        reader.close()
    return segs


def flow_out(f) -> dict:
    rec = {k: v for k, v in f.record().items() if k not in ZEEK}
    return {
        "record": rec,
        "transitions": [[t.ts, t.frame_no, t.side, t.old, t.new] for t in f.transitions],
        "frames": [s.frame_no for s in f.frames()],
        "synack_retries": f.synack_retries, "synack_retry_gaps": f.synack_retry_gaps,
        "time_wait_by": f.time_wait_by, "steady": f.steady, "superseded": f.superseded,
    }  # fmt: skip


def main() -> None:
    base = Path(sys.argv[1])
    out_dir = base / "tracker"
    out_dir.mkdir(exist_ok=True)
    for dump in sorted(base.glob("*.jsonl")):
        segs = read(dump.stem)
        for name, cfg in CONFIGS.items():
            gone: list = []
            t = FlowTracker(on_evict=lambda f, gone=gone: gone.append(flow_out(f)), **cfg)
            changed = []
            t.take_changed()
            for seg in segs:
                t.add(seg) if cfg.get("embryos") else t.ingest(seg)
                if seg.frame_no % 7 == 0:
                    changed.append(sorted(t.take_changed()))
            t.finish()
            changed.append(sorted(t.take_changed()))
            flows = gone + [flow_out(f) for f in t.iter_flows()]
            summary = {
                "kept": t.kept, "kept_bytes": t.kept_bytes, "evicted": t.evicted,
                "released": t.released, "flow_count": t.flow_count, "tracked": t.tracked,
            }  # fmt: skip
            text = json.dumps({"flows": flows, "summary": summary, "changed": changed})
            (out_dir / f"{dump.stem}.{name}.json").write_text(text)


if __name__ == "__main__":
    main()
