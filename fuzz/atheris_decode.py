"""Coverage-guided fuzz target: the capture reader, the decoder and the tracker on raw bytes.

The first byte picks a mode: a whole capture file (pcap or pcapng, read through `CaptureReader`
from memory), or a single frame of one of the supported link types straight into the decoder.
Every segment goes through a small `FlowTracker` and every flow is turned into its export
record; a classic pcap is also read through `capture.fastpath.track_pcap`, whose records must
equal those of decode + ingest. Any exception other than `CaptureError` is a finding; so is a
frame not counted exactly once, and so is a difference between the two ways. libFuzzer keeps
crashing inputs as `crash-*` files; add each to the test suite.

    .venv/bin/pip install atheris
    .venv/bin/python fuzz/atheris_decode.py -max_total_time=600 -rss_limit_mb=1024 \\
        -max_len=8192 -artifact_prefix=bench/out/ bench/out/fuzz-corpus
"""

from __future__ import annotations

import io
import os
import sys
import threading
import traceback
from pathlib import Path
from typing import Any

import atheris

with atheris.instrument_imports():
    from capture.decode import SUPPORTED_LINKTYPES, Decoder
    from capture.fastpath import track_pcap
    from capture.flows import Flow, FlowTracker
    from capture.pcapio import CaptureError, CaptureReader
    from capture.sources import decoded

LINKTYPES = sorted(SUPPORTED_LINKTYPES)
MAX_FRAMES = 256
# Open findings (kept in tests/data/fuzz/) by the function that raises. With
# TCPWATCH_FUZZ_SKIP_KNOWN=1 a run skips them to look for new ones; libFuzzer's fork mode, which
# would do that by itself, does not work with atheris.
KNOWN_RAISERS: frozenset[str] = frozenset()  # none open (_iface_options fixed in 583b6c3)
SKIP_KNOWN = os.environ.get("TCPWATCH_FUZZ_SKIP_KNOWN") == "1"


def _track(decoder: Decoder, frames: list[tuple[bytes, int]]) -> None:
    tracker = FlowTracker(max_flows=4, frames_per_flow=4, on_evict=lambda f: f.record())
    for n, (data, linktype) in enumerate(frames, 1):
        before = decoder.tcp + decoder.non_tcp + decoder.fragments + decoder.malformed_total()
        seg = decoder.decode(data, float(n), len(data), linktype, n)
        after = decoder.tcp + decoder.non_tcp + decoder.fragments + decoder.malformed_total()
        if after != before + 1:
            raise AssertionError(f"frame {n} counted {after - before} times")
        if seg is not None:
            tracker.ingest(seg)
            seg.payload()
    tracker.finish()
    for flow in tracker.all_flows():
        flow.record()


def _records_both_ways(data: bytes) -> None:
    """A classic pcap through `track_pcap` must give what decode + `ingest` give."""
    results: list[list[Any]] = []
    for short in (False, True):
        reader = CaptureReader(io.BytesIO(data), "fuzz")
        blocks = reader.pcap_blocks()
        if blocks is None:
            return
        gone: list[Flow] = []
        tracker = FlowTracker(max_flows=4, frames_per_flow=0, on_evict=gone.append)
        decoder = Decoder()
        if short:
            track_pcap(blocks, decoder, tracker, threading.Event())
        else:
            for seg in decoded(reader, decoder):
                tracker.ingest(seg)
        tracker.finish()
        records = [f.record() for f in gone + tracker.all_flows()]
        results.append([records, decoder.frames, decoder.tcp, decoder.malformed, reader.error])
    if results[0] != results[1]:
        raise AssertionError("track_pcap differs from decode + ingest")


def _from_file(data: bytes) -> None:
    frames = []
    try:
        reader = CaptureReader(io.BytesIO(data), "fuzz")
        for _ts, _wire, frame, linktype in reader:
            frames.append((frame, linktype))
            if len(frames) >= MAX_FRAMES:
                break
    except CaptureError:
        return
    except Exception as exc:
        if SKIP_KNOWN and traceback.extract_tb(exc.__traceback__)[-1].name in KNOWN_RAISERS:
            return
        raise
    _track(Decoder(), frames)
    _records_both_ways(data)


def test_one_input(data: bytes) -> None:
    """libFuzzer's entry point."""
    if len(data) < 2:
        return
    mode = data[0]
    if mode < 64:
        _from_file(data[1:])
    else:
        _track(Decoder(), [(data[2:], LINKTYPES[data[1] % len(LINKTYPES)])])


def main() -> None:
    """Seed the corpus directory (if empty) from tests/data, then fuzz."""
    args = sys.argv[1:]
    corpus = next((a for a in args if not a.startswith("-")), None)
    if corpus is not None:
        seed_corpus(Path(corpus))
    atheris.Setup([sys.argv[0], *args], test_one_input)
    atheris.Fuzz()


def seed_corpus(directory: Path) -> None:
    """Small captures from tests/data as file-mode seeds (mode byte 0)."""
    directory.mkdir(parents=True, exist_ok=True)
    if any(directory.iterdir()):
        return
    data = Path(__file__).resolve().parent.parent / "tests" / "data"
    for path in sorted(data.glob("*.pcap*")):
        if path.suffix in (".pcap", ".pcapng") and path.stat().st_size <= 8192:
            (directory / path.name).write_bytes(b"\0" + path.read_bytes())


if __name__ == "__main__":
    main()
