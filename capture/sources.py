"""Sources of segments for the UI: a capture file, a paced replay of one, or a live interface.

Every source implements the same small protocol (`Source`), so the App's drain timer does not care
where segments come from. File sources read and decode on a thread of their own and hand over
batches through a bounded queue; for a file, a full queue makes the reader wait (nothing is lost),
whereas the live sniffer counts a drop instead (`capture.live`).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from capture.decode import Decoder
from capture.pcapio import CaptureReader, open_capture
from capture.segment import Segment

BATCH = 512
WALK_BATCH = 64
"""Records decoded per step when walking a classic pcap."""
QUEUE_BATCHES = 64


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
    for batch in decoded_batches(reader, decoder, first_frame):
        yield from batch


def decoded_batches(
    reader: CaptureReader, decoder: Decoder, first_frame: int = 1
) -> Iterator[list[Segment]]:
    """`decoded` in lists (one per chunk read), for loops that pay per item they pull.

    A classic pcap is walked a chunk at a time by `Decoder.decode_pcap` (the same segments as
    `decode` frame by frame, at about half the cost); pcapng goes record by record.
    """
    blocks = reader.pcap_blocks()
    if blocks is None:
        decode = decoder.decode
        batch: list[Segment] = []
        for frame_no, (ts, wire_len, data, linktype) in enumerate(reader, first_frame):
            seg = decode(data, ts, wire_len, linktype, frame_no)
            if seg is not None:
                batch.append(seg)
                if len(batch) >= 1024:
                    yield batch
                    batch = []
        if batch:
            yield batch
        return
    walk = decoder.decode_pcap
    header, unit, linktype = blocks.header, blocks.unit, blocks.linktype
    frame_no, pos = first_frame, 0
    while (buf := blocks.fill(pos)) is not None:
        pos = 0
        while True:
            # Small batches: their segments and frames are still in the CPU's cache when the
            # consumer gets them (batches of a whole 1 MiB chunk made the pipeline slower).
            out: list[Segment] = []
            start = frame_no
            pos, frame_no = walk(buf, pos, header, unit, linktype, frame_no, out, WALK_BATCH)
            if out:
                yield out
            if frame_no - start < WALK_BATCH:
                break  # the rest of the buffer is not a whole record


def decoder_stats(decoder: Decoder) -> SourceStats:
    """A `SourceStats` from a decoder's counters."""
    return SourceStats(
        frames=decoder.frames,
        tcp=decoder.tcp,
        non_tcp=decoder.non_tcp,
        fragments=decoder.fragments,
        malformed=dict(decoder.malformed),
    )


class FileSource:
    """All of a capture file (or standard input), as fast as it can be read."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.reader = open_capture(path)
        self.description = "stdin" if path == "-" else path
        self.capture_filter = ""
        self.error: str | None = None
        self.decoder = Decoder()
        self._queue: queue.Queue[list[Segment] | None] = queue.Queue(QUEUE_BATCHES)
        self._stop = threading.Event()
        self._done = threading.Event()
        self._pending: list[Segment] = []
        self._thread = threading.Thread(target=self._run, name="tcpwatch-reader", daemon=True)

    def start(self) -> None:
        """Start reading on a background thread."""
        self._thread.start()

    def _run(self) -> None:
        batch: list[Segment] = []
        try:
            for part in decoded_batches(self.reader, self.decoder):
                batch += part
                if len(batch) >= BATCH:
                    if not self._put(batch):
                        return
                    batch = []
            if batch:
                self._put(batch)
            if self.reader.error:
                self.error = self.reader.error
        except Exception as exc:  # stored and shown by the UI: a reader failure is never silent
            self.error = f"{self.description}: {exc}"
        finally:
            self.reader.close()
            self._put(None)

    def _put(self, item: list[Segment] | None) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def poll(self, max_segments: int) -> list[Segment]:
        """Up to `max_segments` segments that are ready now; never blocks."""
        out = self._pending
        while len(out) < max_segments:
            try:
                batch = self._queue.get_nowait()
            except queue.Empty:
                break
            if batch is None:
                self._done.set()
                break
            out.extend(batch)
        self._pending = out[max_segments:]
        return out[:max_segments]

    @property
    def finished(self) -> bool:
        """True once every segment of the file has been handed over."""
        return self._done.is_set() and not self._pending

    def stats(self) -> SourceStats:
        """Counters so far."""
        return decoder_stats(self.decoder)

    def stop(self) -> None:
        """Stop reading and wait for the reader thread."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)


class ReplaySource(FileSource):
    """A capture played back at its recorded pace (times `speed`), as if it were live."""

    def __init__(
        self, path: str, speed: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__(path)
        self.speed = speed
        self.clock = clock
        self._origin: tuple[float, float] | None = None  # (first capture ts, clock at start)
        self._held: list[Segment] = []

    def poll(self, max_segments: int) -> list[Segment]:
        """The segments whose recorded time has come, up to `max_segments`."""
        if len(self._held) < max_segments:
            self._held.extend(super().poll(max_segments - len(self._held)))
        if not self._held:
            return []
        now = self.clock()
        if self._origin is None:
            self._origin = (self._held[0].ts, now)
        first_ts, started = self._origin
        due = first_ts + (now - started) * self.speed
        n = 0
        while n < len(self._held) and self._held[n].ts <= due:
            n += 1
        out, self._held = self._held[:n], self._held[n:]
        return out

    @property
    def finished(self) -> bool:
        """True once every segment has been played."""
        return super().finished and not self._held

    def position(self) -> float | None:
        """The capture time the replay has reached (None before the first segment)."""
        if self._origin is None:
            return None
        first_ts, started = self._origin
        return first_ts + (self.clock() - started) * self.speed
