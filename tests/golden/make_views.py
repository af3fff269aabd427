"""Freeze what the pure-Python tracker's flows held for every bundled capture: `views.json`.

tests/test_engine_flows.py compared the engine's flows (`capture._engine.Tracker`) with the
Python tracker's, attribute by attribute, before the Python tracker was retired; this file holds
that comparison's other side. For each capture (frames_per_flow 64, input finished) it has one
digest per part of every flow the views read: the flow's own attributes, each side's, the
transitions, the kept frames field by field, their payloads, and `record()`. `canonical` makes
two values digest alike exactly when Python's `==` holds between them (numbers by value, a
tuple never a list, dicts in any order), so a digest equal to the frozen one is the old
assertion, value for value.

Run from the repository root with the Python pipeline still in place
(`PYTHONPATH=. .venv/bin/python tests/golden/make_views.py`).

Parts the engine has since changed on purpose are refrozen from the engine, part by part
(`PYTHONPATH=. .venv/bin/python tests/golden/make_views.py --engine record`): a digest that is
already the engine's stays as it is. Refrozen so far: `record` (the new `continues_uid` field,
null in every capture here); `transitions` (79 captures), and `sides`, `flow`, `record` where
an originator never acknowledged the SYN/ACK (3 captures): the originator now becomes
ESTABLISHED at its own ACK, not at the SYN/ACK, and stays SYN_SENT without one.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
VIEWS = Path(__file__).parent / "views.json"
FRAMES_PER_FLOW = 64
SEED = 0
"""The engine's uid seed that makes the uids the Python tracker made (blake2b of the id alone)."""

FLOW_FIELDS = [
    "id", "uid", "orig_addr", "orig_port", "resp_addr", "resp_port", "vlan",
    "direction_inferred", "first_ts", "last_ts", "state_orig", "state_resp", "history",
    "conn_state", "closed", "close_kind", "closed_by", "irtt", "rtt_syn_synack",
    "rtt_synack_ack", "syn_retries", "syn_retry_gaps", "synack_retries", "synack_retry_gaps",
    "sack_perm", "timestamps", "time_wait_by", "steady", "superseded", "pid_orig", "pid_resp",
    "proc_orig", "proc_resp",
]  # fmt: skip
SIDE_FIELDS = [
    "side", "state", "isn", "fin_seq", "fin_acked", "got_fin", "active", "pkts", "ip_bytes",
    "payload", "noack", "syn", "synack", "fin", "rst", "psh", "urg", "ece", "cwr", "base", "hi",
    "retrans", "zero_window", "mss", "wscale", "sack_perm", "timestamps", "tfo", "syn_data",
    "syn_ts", "synack_ts", "syn_times", "synack_times", "flags",
]  # fmt: skip
SEGMENT_FIELDS = [
    "frame_no", "ts", "linktype", "frame", "wire_len", "truncated", "ip_version", "ip_off", "src",
    "dst", "ip_len", "ttl", "vlan", "tcp_off", "sport", "dport", "seq", "ack", "flags", "window",
    "urg_ptr", "opts", "bad_opts", "payload_len",
]  # fmt: skip
TRANSITION_FIELDS = ["ts", "frame_no", "side", "old", "new"]
PARTS = ("flow", "sides", "transitions", "frames", "payloads", "record")


def captures() -> list[Path]:
    """Every capture bundled in tests/data."""
    return sorted(p for p in DATA.iterdir() if p.suffix in (".pcap", ".pcapng"))


def canonical(value: Any) -> Any:
    """A JSON-able form equal for two values exactly when `==` holds between them (for the
    types flows hold: None, bool, int, float, str, bytes, tuples, lists, dicts)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (bool, int, float)):
        number = float(value)
        if isinstance(value, float) and not number.is_integer():
            return ["f", repr(number)]
        return ["i", str(int(value))]
    if isinstance(value, (bytes, bytearray)):
        return ["b", bytes(value).hex()]
    if isinstance(value, tuple):
        return ["t", [canonical(v) for v in value]]
    if isinstance(value, list):
        return ["l", [canonical(v) for v in value]]
    if isinstance(value, dict):
        return ["d", sorted([canonical(k), canonical(v)] for k, v in value.items())]
    raise TypeError(f"no canonical form for {type(value).__name__}")


def _fields(obj: Any, names: list[str]) -> list[Any]:
    return [canonical(getattr(obj, name)) for name in names]


def parts(flow: Any, transitions: list[tuple[Any, ...]]) -> dict[str, Any]:
    """Everything compared of one flow, by part (`transitions` as tuples of TRANSITION_FIELDS)."""
    frames = flow.frames()
    return {
        "flow": _fields(flow, FLOW_FIELDS) + [canonical(flow.illegal or None)],
        "sides": [_fields(getattr(flow, side), SIDE_FIELDS) for side in ("orig", "resp")],
        "transitions": canonical(transitions),
        "frames": [_fields(seg, SEGMENT_FIELDS) for seg in frames],
        "payloads": [canonical(seg.payload()) for seg in frames],
        "record": canonical(flow.record()),
    }


def digests(flows: Iterable[tuple[Any, list[tuple[Any, ...]]]]) -> dict[str, Any]:
    """{"flows": count, part: digest} over (flow, its transitions) pairs in id order."""
    hashes = {part: hashlib.sha256() for part in PARTS}
    count = 0
    for flow, transitions in flows:
        count += 1
        for part, value in parts(flow, transitions).items():
            hashes[part].update(json.dumps(value, separators=(",", ":")).encode() + b"\n")
    return {"flows": count} | {part: h.hexdigest() for part, h in hashes.items()}


def _python_flows(capture: Path) -> list[tuple[Any, list[tuple[Any, ...]]]]:
    """The Python tracker's flows (as tests/captures.py `track` ran it before the engine)."""
    from capture.decode import Decoder  # noqa: PLC0415
    from capture.flows import FlowTracker  # noqa: PLC0415
    from capture.pcapio import open_capture  # noqa: PLC0415
    from capture.sources import decoded  # noqa: PLC0415

    reader = open_capture(str(capture))
    try:
        segments = list(decoded(reader, Decoder()))
    finally:
        reader.close()
    tracker = FlowTracker(frames_per_flow=FRAMES_PER_FLOW)
    for seg in segments:
        tracker.ingest(seg)
    tracker.finish()
    return [(f, [tuple(t) for t in f.transitions]) for f in tracker.all_flows()]


def _engine_flows(capture: Path) -> list[tuple[Any, list[tuple[Any, ...]]]]:
    """The engine's flows, as tests/test_engine_flows.py reads them."""
    from capture import _engine  # noqa: PLC0415

    tracker = _engine.Tracker(max_flows=100_000, frames_per_flow=FRAMES_PER_FLOW, seed=SEED)
    tracker.read_file(str(capture))
    tracker.finish()
    return [
        (f, [tuple(getattr(t, k) for k in TRANSITION_FIELDS) for t in f.transitions])
        for f in tracker.flows()
    ]


def refreeze(parts: list[str]) -> int:
    """Replace the frozen digests of `parts` with the engine's, for every capture."""
    if not parts or not set(parts) <= set(PARTS):
        sys.exit(f"--engine takes parts among {', '.join(PARTS)}")
    frozen = json.loads(VIEWS.read_text())
    changed = 0
    for p in captures():
        got = digests(_engine_flows(p))
        for part in parts:
            if frozen[p.name][part] != got[part]:
                frozen[p.name][part] = got[part]
                changed += 1
                print(f"{p.name}: {part}")
    VIEWS.write_text(json.dumps(frozen, indent=1, sort_keys=True) + "\n")
    print(f"{VIEWS}: {changed} digests refrozen from the engine")
    return 0


def main() -> int:
    if sys.argv[1:2] == ["--engine"]:
        return refreeze(sys.argv[2:])
    out = {p.name: digests(_python_flows(p)) for p in captures()}
    VIEWS.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
    print(f"{VIEWS}: {len(out)} captures, {sum(v['flows'] for v in out.values())} flows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
