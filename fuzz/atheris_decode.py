"""Coverage-guided fuzz target: the native engine (reader, decoder, tracker, outputs) on raw bytes,
through its Python API.

The first byte picks a mode: a whole capture file (pcap or pcapng, gzip or not), or a few frames
of one of the supported link types wrapped in a classic pcap. Each input is read by
`capture._engine.Tracker` (small caps, frames kept) and by `run_file` (`--export jsonl` and
`--print` to /dev/null); every flow's record, transitions and kept frames are read back. Any
exception other than `CaptureError` is a finding (a panic in the engine reaches Python as
`pyo3_runtime.PanicException`); so is a frame not counted exactly once. libFuzzer keeps crashing
inputs as `crash-*` files; add each to the test suite.

    .venv/bin/pip install atheris
    .venv/bin/python fuzz/atheris_decode.py -max_total_time=600 -rss_limit_mb=1024 \\
        -max_len=8192 -artifact_prefix=bench/out/ bench/out/fuzz-corpus

atheris instruments Python only: the engine's branches are not seen as coverage, so the corpus
grows from the Python-visible outcomes; `cargo test` runs the crate's own proptests on the same
code paths.
"""

from __future__ import annotations

import os
import struct
import sys
import tempfile

import atheris

with atheris.instrument_imports():
    from capture import _engine

LINKTYPES = [0, 1, 12, 14, 101, 108, 113, 228, 229, 276]
MAX_FRAMES = 16
_DIR = tempfile.mkdtemp(prefix="tcpwatch-fuzz-")
_PATH = os.path.join(_DIR, "input.pcap")


def _wrapped(linktype: int, body: bytes) -> bytes:
    """Frames of `linktype` cut from `body` (a length byte before each), in a classic pcap."""
    out = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, linktype)
    pos, n = 0, 0
    while pos < len(body) and n < MAX_FRAMES:
        size = body[pos]
        frame = body[pos + 1 : pos + 1 + size]
        out += struct.pack("<IIII", n, 0, len(frame), len(frame)) + frame
        pos, n = pos + 1 + size, n + 1
    return out


def _read(path: str) -> None:
    tracker = _engine.Tracker(max_flows=4, frames_per_flow=4, frame_budget=16)
    try:
        counters = tracker.read_file(path)
    except _engine.CaptureError:
        return
    tracker.finish()
    seen = counters["tcp"] + counters["non_tcp"] + counters["fragments"]
    if seen + sum(counters["malformed"].values()) != counters["frames"]:
        raise AssertionError(f"frames not counted once: {counters}")
    for flow in [*tracker.take_gone(), *tracker.flows()]:
        flow.record()
        _ = flow.transitions, flow.orig.flags, flow.resp.flags
        for seg in flow.frames():
            seg.payload()
    for args in (
        {"export": "jsonl", "output": os.devnull},
        {"export": "csv", "output": os.devnull},
    ):
        _engine.run_file(path, max_flows=4, **args)


def test_one_input(data: bytes) -> None:
    """One fuzz input (see the module docstring)."""
    if not data:
        return
    mode, body = data[0], data[1:]
    blob = body if mode & 1 else _wrapped(LINKTYPES[(mode >> 1) % len(LINKTYPES)], body)
    with open(_PATH, "wb") as out:
        out.write(blob)
    _read(_PATH)


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
