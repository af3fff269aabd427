"""Live capture: the sniffer thread over a packet ring, feeding segments through a bounded queue.

The sniffer thread reads raw frames (no per-packet dissection), optionally writes them to a pcap,
decodes them with the core `Decoder` and puts batches of `Segment`s on a bounded queue. It never
blocks on a full queue: the batch is dropped and counted. Its exceptions are stored in `error`.
The consumer calls `poll()` at its own cadence.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from typing import Any

from capture import bpf as bpfmod
from capture import ifaces, privs
from capture.decode import Decoder
from capture.pcapio import CaptureError, PcapWriter
from capture.procs import ProcessMapper
from capture.ring import RETIRE_MS, Frame, PacketRing, RingError
from capture.segment import Segment
from capture.sockettable import RootSocketTable
from capture.sources import SourceStats, decoder_stats

DEFAULT_BUFFER_KIB = 32768
"""The ring is the receive buffer: 32 MiB holds ~150,000 small frames, seconds of scheduling
stalls at loopback rates (default socket buffers, ~200 KiB, overflow within milliseconds).
See BENCHMARKS.md "Live capture"."""
POLL_TIMEOUT = 0.2
"""The longest the thread waits for a block, so `stop()` is seen promptly."""
BATCH_SEGMENTS = 2048
QUEUE_BATCHES = 256
QUEUE_BYTES = 256 << 20
"""Bound on frame bytes waiting in the queue (loopback frames reach 64 KiB each)."""
FLUSH_EVERY = 0.5
"""Seconds between pcap flushes, so `-w` output is readable while the capture runs."""


class LiveError(Exception):
    """Live capture cannot start or failed (one-line message for the user)."""


class LiveSource:
    """A `Source` reading a network interface live (see `capture.sources`)."""

    def __init__(
        self,
        iface: str | None = None,
        bpf: str | None = None,
        buffer_kib: int = DEFAULT_BUFFER_KIB,
        write_path: str | None = None,
        count: int | None = None,
        duration: float | None = None,
        drop_privileges: bool = True,
        queue_batches: int = QUEUE_BATCHES,
        processes: bool = True,
    ) -> None:
        """Validate everything that can be checked without opening the socket.

        Raises `LiveError` for an unknown interface, a bad filter, missing libpcap, an
        unwritable `write_path`, or missing privilege.
        """
        try:
            self.iface = ifaces.resolve_interface(iface)
        except ifaces.InterfaceError as exc:
            raise LiveError(str(exc)) from None
        htype = ifaces.hardware_type(self.iface)
        self._cooked = self.iface == ifaces.ANY or htype not in (
            ifaces.ARPHRD_ETHER,
            ifaces.ARPHRD_LOOPBACK,
        )
        self.capture_filter = bpfmod.capture_filter(bpf, self._cooked)
        try:
            if bpf:  # alone first, so that an error names the user's expression
                bpfmod.compile_bpf(bpf, self._cooked)
            self._program = bpfmod.compile_bpf(self.capture_filter, self._cooked)
        except bpfmod.BpfError as exc:
            raise LiveError(str(exc)) from None
        if write_path is not None:
            _check_writable(write_path)
        if not privs.can_capture():
            raise LiveError(privs.privilege_hint())
        self.description = f"live {self.iface}" + (f" ({bpf})" if bpf else "")
        self.buffer_kib = buffer_kib
        self.write_path = write_path
        self.count = count
        self.duration = duration
        self.drop_privileges = drop_privileges
        self.dropped_to: str | None = None
        self.decoder = Decoder()
        self.error: str | None = None
        self.queue_drops = 0
        self._queue: queue.Queue[tuple[list[Segment], int]] = queue.Queue(queue_batches)
        self._queued_bytes = 0
        self._lock = threading.Lock()
        self._leftover: list[Segment] = []
        self._stop = threading.Event()
        self._done = threading.Event()
        self._ring: PacketRing | None = None
        self._writer: PcapWriter | None = None
        self._thread: threading.Thread | None = None
        self._frame_no = 0
        self._linktype = 0
        self._table: RootSocketTable | None = None
        self.procs: ProcessMapper | None = ProcessMapper() if processes else None
        """Socket → process attribution (its own thread), started and stopped with the source."""

    def start(self) -> None:
        """Open the socket, drop privileges if asked, open `-w`, start the sniffer thread.

        A second call does nothing, so a caller may start the source early (to report a
        `LiveError` before any UI exists) and hand it to code that starts it again.
        """
        if self._thread is not None:
            return
        try:
            self._ring = PacketRing(self.iface, self._program, self._cooked, self.buffer_kib)
            self._linktype = self._ring.linktype
        except PermissionError:
            raise LiveError(privs.privilege_hint()) from None
        except OSError as exc:
            raise LiveError(f"cannot capture on {self.iface}: {exc.strerror or exc}") from None
        try:
            if self.drop_privileges:
                self._keep_socket_owners()
                self.dropped_to = privs.drop_privileges()
            if self.write_path is not None:
                self._writer = PcapWriter(self.write_path, self._ring.linktype)
                self._writer.flush()  # a valid (empty) capture from the start
        except (OSError, CaptureError) as exc:
            self._ring.close()
            raise LiveError(_one_line(exc)) from None
        self._thread = threading.Thread(target=self._run, name="tcpwatch-sniffer", daemon=True)
        self._thread.start()
        if self.procs is not None:
            self.procs.start()
            # The first socket table, before segments are tracked: our listeners orient flows
            # already under way (bounded; a slow /proc only delays attribution).
            self.procs.wait_ready(1.0)

    def _keep_socket_owners(self) -> None:
        """About to drop root under sudo: a root helper keeps reading every socket's owner
        (`capture.sockettable`); without it, other users' processes would be unknown."""
        if self.procs is None or privs.sudo_user() is None:
            return
        try:
            self._table = RootSocketTable()
        except OSError:
            return  # attribution then covers this user's processes only
        self.procs.read_table_with(self._table.connections)

    @property
    def listen_ports(self) -> set[tuple[bytes, int] | int]:
        """Our listening endpoints, kept current, for `FlowTracker.listen_ports`."""
        return self.procs.listen_ports if self.procs is not None else set()

    def annotate(self, flow: Any) -> None:
        """Set the flow's `pid_orig/proc_orig/pid_resp/proc_resp` where the owner is known."""
        if self.procs is not None:
            self.procs.annotate(flow)

    @property
    def finished(self) -> bool:
        """True once the sniffer has stopped and every segment has been polled."""
        return self._done.is_set() and not self._leftover and self._queue.empty()

    def poll(self, max_segments: int) -> list[Segment]:
        """Up to `max_segments` segments captured since the last call; never blocks."""
        out = self._leftover
        freed = 0
        while len(out) < max_segments:
            try:
                batch, nbytes = self._queue.get_nowait()
            except queue.Empty:
                break
            freed += nbytes
            out.extend(batch)
        if freed:
            with self._lock:
                self._queued_bytes -= freed
        self._leftover = out[max_segments:]
        return out[:max_segments]

    def stats(self) -> SourceStats:
        """Frames, TCP segments, kernel and queue drops, malformed and non-TCP counts so far."""
        ring = self._ring
        if ring is not None and not self._done.is_set():
            ring.update_stats()
        stats = decoder_stats(self.decoder)
        stats.kernel_drops = ring.kernel_drops if ring else 0
        stats.queue_drops = self.queue_drops
        return stats

    def stop(self) -> None:
        """Stop the sniffer and wait for it: the pcap is flushed and closed, the socket closed."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5.0)
        if self.procs is not None:
            self.procs.stop()
        if self._table is not None:
            self._table.stop()

    def _run(self) -> None:
        try:
            self._loop()
        except RingError as exc:
            self.error = f"live capture on {self.iface} stopped: {exc.strerror}"
        except OSError as exc:
            if self.write_path is not None and exc.filename is None and exc.strerror:
                # the only file the loop writes: say which, and why (disk full, quota, EIO)
                self.error = f"cannot write {self.write_path}: {exc.strerror}"
            else:
                self.error = f"live capture on {self.iface} failed: {_one_line(exc)}"
        except Exception as exc:
            self.error = f"live capture on {self.iface} failed: {_one_line(exc)}"
        finally:
            self._close()
            self._done.set()

    def _loop(self) -> None:
        assert self._ring is not None
        ring, writer = self._ring, self._writer
        deadline = time.monotonic() + self.duration if self.duration is not None else None
        limit = self.count if self.count is not None else -1
        frames: list[Frame] = []
        batch: list[Segment] = []
        nbytes = 0
        next_flush = time.monotonic() + FLUSH_EVERY
        while not self._stop.is_set() and self._frame_no != limit:
            wait = POLL_TIMEOUT
            if deadline is not None:
                wait = min(wait, deadline - time.monotonic())
                if wait <= 0:
                    break
            ring.read(wait, frames)
            nbytes += self._take(frames, batch, limit)
            if batch and (len(batch) >= BATCH_SEGMENTS or not ring.next_ready()):
                self._push(batch, nbytes)
                batch, nbytes = [], 0
            if writer is not None and time.monotonic() >= next_flush:
                writer.flush()
                next_flush = time.monotonic() + FLUSH_EVERY
        if self._frame_no != limit:
            # Frames captured before the stop may sit in a block the kernel has not handed over
            # yet: it does within RETIRE_MS, so wait that long once and take them too.
            end = time.monotonic() + 2 * RETIRE_MS / 1000
            while (left := end - time.monotonic()) > 0 and self._frame_no != limit:
                ring.read(left, frames, max_blocks=ring.blocks)
                nbytes += self._take(frames, batch, limit)
        if batch:
            self._push(batch, nbytes)

    def _take(self, frames: list[Frame], batch: list[Segment], limit: int) -> int:
        """Write, number and decode `frames` (emptied) into `batch`, up to `limit` in all.

        Returns the frame bytes added to `batch` (the queue is bounded in bytes too)."""
        decode, writer, linktype = self.decoder.decode, self._writer, self._linktype
        frame_no, nbytes = self._frame_no, 0
        for ts, wire_len, frame in frames:
            frame_no += 1
            if writer is not None:
                writer.write(ts, frame, wire_len)
            seg = decode(frame, ts, wire_len, linktype, frame_no)
            if seg is not None:
                batch.append(seg)
                nbytes += len(frame)
            if frame_no == limit:
                break
        self._frame_no = frame_no
        frames.clear()
        return nbytes

    def _push(self, batch: list[Segment], nbytes: int) -> None:
        with self._lock:
            if self._queued_bytes + nbytes > QUEUE_BYTES:
                self.queue_drops += len(batch)
                return
            try:
                self._queue.put_nowait((batch, nbytes))
            except queue.Full:
                self.queue_drops += len(batch)
                return
            self._queued_bytes += nbytes

    def _close(self) -> None:
        if self._writer is not None:
            try:
                self._writer.close()
            except OSError as exc:
                self.error = self.error or f"cannot finish {self.write_path}: {_one_line(exc)}"
        if self._ring is not None:
            self._ring.close()


def _check_writable(path: str) -> None:
    target = os.path.abspath(path)
    parent = os.path.dirname(target) or "."
    if os.path.isdir(target):
        raise LiveError(f"cannot write {path}: it is a directory")
    if os.path.exists(target):
        ok = os.access(target, os.W_OK)
    else:
        ok = os.path.isdir(parent) and os.access(parent, os.W_OK | os.X_OK)
    if not ok:
        why = "no such directory" if not os.path.isdir(parent) else "permission denied"
        raise LiveError(f"cannot write {path}: {why}")


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__
