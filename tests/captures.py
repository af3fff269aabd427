"""Run the bundled captures through the native engine (shared by the tests).

`track` and `tracked` give an engine tracker (`Tracked`: the engine's `Tracker` with the flows it
holds by id, the shape the App's trackers have), `read_segments` every TCP segment of a capture
(the frames an engine tracker keeps when it keeps them all, in frame order), `pcap_records` the
raw records of a classic pcap file (what tcpdump and tcpwatch's `-w` write).
"""

from __future__ import annotations

import os
import struct
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from capture import _engine
from capture.pcapio import CaptureError, PcapWriter

DATA = Path(__file__).parent / "data"

ALL = 1 << 30
"""Frames kept per flow (and in all) by a tracker that keeps every segment."""


def _path(name: str | Path) -> str:
    path = Path(name)
    return str(path if path.parent != Path() else DATA / path)


class Tracked:
    """An engine `Tracker` and the flows it holds (`flows`: snapshots by id, refreshed after
    every read), with the counters its last read returned."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("seed", 0)  # the same uids on every run
        self.tracker = _engine.Tracker(**kwargs)
        self.counters: dict[str, Any] = {}
        self.flows: dict[int, Any] = {}
        self.listen_ports: set[Any] = set()
        self._changed: set[int] = set()

    def read(self, name: str | Path) -> dict[str, Any]:
        """Read a capture (a name in tests/data, or a path) into the tracker; its counters."""
        self.counters = self.tracker.read_file(_path(name))
        self.refresh()
        return self.counters

    def feed(self, segments: Iterable[Any]) -> dict[str, Any]:
        """Ingest `segments` (engine or hand-built `capture.segment.Segment`s, one link type):
        their frames are written to a pcap the tracker reads. Frame numbers are the tracker's
        own count (they continue from the last read)."""
        segments = list(segments)
        fd, path = tempfile.mkstemp(suffix=".pcap")
        os.close(fd)
        try:
            write_pcap(path, segments)
            return self.read(path)
        finally:
            os.unlink(path)

    def ingest(self, seg: Any) -> Any:
        """One segment (see `feed`); the snapshot of the newest flow on its endpoints."""
        self.feed([seg])
        ends = {(bytes(seg.src), seg.sport), (bytes(seg.dst), seg.dport)}
        return max(
            (
                f
                for f in self.flows.values()
                if {(f.orig_addr, f.orig_port), (f.resp_addr, f.resp_port)} == ends
            ),
            key=lambda f: f.id,
            default=None,
        )

    def take_changed(self) -> set[int]:
        """Ids of the flows changed (or gone) since the last call."""
        out, self._changed = self._changed, set()
        return out

    def finish(self) -> None:
        """End of input: every flow's state is final."""
        self.tracker.finish()
        self.refresh()

    def refresh(self) -> None:
        """New snapshots of the flows that changed (or left) since the last refresh, as
        `capture.engine_source.EngineSource` takes them: the others stay the same objects."""
        tracker, flows = self.tracker, self.flows
        changed = tracker.take_changed()
        self._changed.update(changed)
        for fid in changed:
            snapshot = tracker.flow(fid)
            if snapshot is None:
                flows.pop(fid, None)
            else:
                flows[fid] = snapshot

    def all_flows(self) -> list[Any]:
        """The tracked flows in id order."""
        return [self.flows[i] for i in sorted(self.flows)]

    def flow(self, fid: int) -> Any | None:
        """Flow `fid` as it is now (`EngineSource.flow`); None when it is not tracked."""
        return self.tracker.flow(fid)

    @property
    def evicted(self) -> int:
        return int(self.tracker.counters()["evicted"])

    @property
    def flow_count(self) -> int:
        return int(self.tracker.counters()["flows"])


def tracked(name: str | Path, finish: bool = True, **kwargs: Any) -> Tracked:
    """A capture read by an engine tracker built with `kwargs` (input finished unless told)."""
    out = Tracked(**kwargs)
    out.read(name)
    if finish:
        out.finish()
    return out


def keep_all(**kwargs: Any) -> dict[str, Any]:
    """Tracker arguments that keep every frame of every flow."""
    return {"frames_per_flow": ALL, "frame_budget": ALL, "frame_bytes": 1 << 40} | kwargs


def frames_of(flows: Iterable[Any]) -> list[Any]:
    """The kept frames of `flows`, in frame order."""
    return sorted((s for f in flows for s in f.frames()), key=lambda s: s.frame_no)


def read_segments(name: str | Path) -> list[Any]:
    """Every TCP segment of a capture (tests/data name or path), in frame order: the frames of
    an engine tracker that keeps them all. Raises `_engine.CaptureError` for a non-capture."""
    run = tracked(name, **keep_all())
    segments = frames_of(run.all_flows())
    assert len(segments) == run.counters["tcp"], "a TCP segment the tracker did not keep"
    return segments


def track(name: str, frames_per_flow: int = 64) -> tuple[Tracked, list[Any]]:
    """A capture in tests/data through the engine's tracker, input finished; and every TCP
    segment of it (`read_segments`)."""
    return tracked(name, frames_per_flow=frames_per_flow), read_segments(name)


def tracker_over(segments: Iterable[Any], **kwargs: Any) -> Tracked:
    """A tracker (built with `kwargs`) that has ingested `segments` (see `Tracked.feed`)."""
    out = Tracked(**kwargs)
    out.feed(segments)
    return out


def with_processes(
    name: str | Path,
    flow_id: int,
    orig: tuple[int, str] | None = None,
    resp: tuple[int, str] | None = None,
) -> Any:
    """Flow `flow_id` of a capture read whole by an engine `Session` (as the TUI reads it), with
    each end's process (pid, name) set as live attribution sets it; None when not tracked."""
    session = _engine.Session(_path(name), seed=0)
    try:
        deadline = time.monotonic() + 30
        while not session.poll()["finished"]:
            assert time.monotonic() < deadline, f"{name}: the engine did not finish reading"
            time.sleep(0.005)
        for side, owner in (("orig", orig), ("resp", resp)):
            pid, proc = owner if owner is not None else (None, None)
            session.set_process(flow_id, side, pid, proc)
        return session.flow(flow_id)
    finally:
        session.stop()


def write_pcap(path: str, segments: list[Any]) -> None:
    """The segments' frames as a classic pcap (they share one link type)."""
    linktypes = {s.linktype for s in segments} or {1}
    assert len(linktypes) == 1, f"segments of several link types: {linktypes}"
    writer = PcapWriter(path, linktypes.pop())
    try:
        for seg in segments:
            writer.write(seg.ts, bytes(seg.frame), seg.wire_len)
    finally:
        writer.close()


def decoder_counters(counters: dict[str, Any]) -> tuple[object, ...]:
    """Every decoder counter of a read, for comparing two ways of reading the same capture."""
    return tuple(counters[k] for k in ("frames", "tcp", "non_tcp", "fragments", "truncated")) + (
        dict(counters["malformed"]),
    )


_MAGIC = {
    b"\xd4\xc3\xb2\xa1": ("<", 1e-6),
    b"\xa1\xb2\xc3\xd4": (">", 1e-6),
    b"\x4d\x3c\xb2\xa1": ("<", 1e-9),
    b"\xa1\xb2\x3c\x4d": (">", 1e-9),
}


def pcap_records(path: str | Path) -> list[tuple[float, int, bytes, int]]:
    """(ts, wire_len, data, linktype) of each whole record of a classic pcap file, as tcpdump
    and tcpwatch write them; a record cut short at the end (a capture still being written) is
    left out. Raises `CaptureError` for a file that is not there or not (yet) a classic pcap."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise CaptureError(f"{path}: {exc.strerror or exc}") from None
    if len(raw) < 24 or raw[:4] not in _MAGIC:
        raise CaptureError(f"{path}: not a classic pcap file (or its header is not written yet)")
    order, unit = _MAGIC[raw[:4]]
    linktype = struct.unpack_from(order + "I", raw, 20)[0] & 0x03FFFFFF
    out = []
    pos = 24
    while pos + 16 <= len(raw):
        sec, frac, caplen, wire_len = struct.unpack_from(order + "IIII", raw, pos)
        if pos + 16 + caplen > len(raw):
            break
        out.append((sec + frac * unit, wire_len, raw[pos + 16 : pos + 16 + caplen], linktype))
        pos += 16 + caplen
    return out


def engine(path: str) -> tuple[Any, Any]:
    """A capture file read by the native engine, as the App takes it: (source, tracker), one
    object (`capture.engine_source.EngineSource`)."""
    from capture.engine_source import EngineSource

    source = EngineSource(path, seed=0)  # the same uids on every run (the snapshots show them)
    return source, source
