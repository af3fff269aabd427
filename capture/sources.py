"""The protocol of the live source's segment queue (`capture.live`), and its counters.

A capture file (or a replay of one) is read by the native engine instead
(`capture.engine_source`); `decoded` remains to walk a capture through the Python decoder.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from capture.decode import Decoder
from capture.pcapio import CaptureReader
from capture.segment import Segment


@dataclass
class SourceStats:
    """Counters a source reports; every frame is counted once."""

    frames: int = 0
    tcp: int = 0
    non_tcp: int = 0
    fragments: int = 0
    kernel_drops: int = 0
    queue_drops: int = 0
    malformed: dict[str, int] = field(default_factory=dict)


class Source(Protocol):
    """What the UI and the headless runner need from any source of segments."""

    description: str
    capture_filter: str
    error: str | None

    def start(self) -> None: ...

    def poll(self, max_segments: int) -> list[Segment]: ...

    @property
    def finished(self) -> bool: ...

    def stats(self) -> SourceStats: ...

    def stop(self) -> None: ...


def decoded(reader: CaptureReader, decoder: Decoder, first_frame: int = 1) -> Iterator[Segment]:
    """The TCP segments of a capture, in order; frames are numbered from `first_frame`."""
    decode = decoder.decode
    for frame_no, (ts, wire_len, data, linktype) in enumerate(reader, first_frame):
        seg = decode(data, ts, wire_len, linktype, frame_no)
        if seg is not None:
            yield seg


def decoder_stats(decoder: Decoder) -> SourceStats:
    """A `SourceStats` from a decoder's counters."""
    return SourceStats(
        frames=decoder.frames,
        tcp=decoder.tcp,
        non_tcp=decoder.non_tcp,
        fragments=decoder.fragments,
        malformed=dict(decoder.malformed),
    )
