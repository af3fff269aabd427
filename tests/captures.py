"""Run the bundled captures through the real decoder and tracker (shared by the tests)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from capture.decode import Decoder
from capture.flows import FlowTracker
from capture.pcapio import open_capture
from capture.segment import Segment
from capture.sources import decoded

DATA = Path(__file__).parent / "data"


def read_segments(name: str) -> list[Segment]:
    """Every TCP segment of a capture in tests/data, through the real decoder."""
    reader = open_capture(str(DATA / name))
    try:
        return list(decoded(reader, Decoder()))
    finally:
        reader.close()


def tracker_over(segments: list[Segment], **kwargs: Any) -> FlowTracker:
    """A tracker (built with `kwargs`) that has ingested `segments`."""
    tracker = FlowTracker(**kwargs)
    for seg in segments:
        tracker.ingest(seg)
    return tracker


def track(name: str, frames_per_flow: int = 64) -> tuple[FlowTracker, list[Segment]]:
    """A capture in tests/data through decoder and tracker, input finished."""
    segments = read_segments(name)
    tracker = tracker_over(segments, frames_per_flow=frames_per_flow)
    tracker.finish()
    return tracker, segments


def decoder_counters(decoder: Decoder) -> tuple[object, ...]:
    """Every counter of a decoder, for comparing two ways of reading the same capture."""
    return (
        decoder.frames,
        decoder.tcp,
        decoder.non_tcp,
        decoder.fragments,
        decoder.truncated,
        dict(decoder.malformed),
    )


def engine(path: str) -> tuple[Any, Any]:
    """A capture file read by the native engine, as the App takes it: (source, tracker), one
    object (`capture.engine_source.EngineSource`)."""
    from capture.engine_source import EngineSource

    source = EngineSource(path)
    return source, source
