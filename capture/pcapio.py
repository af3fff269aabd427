"""Write pcap files (the flow screen's `w`): capture files are read by the native engine.

`CaptureError` is the one-line error of a capture that cannot be read (or written), raised for
the engine's reader errors too (`capture.engine_source`).
"""

from __future__ import annotations

import contextlib
import os
import struct

_RECORD = struct.Struct("<IIII")


class CaptureError(Exception):
    """A capture cannot be read or written; the message is one line, ready for the user."""


class PcapWriter:
    """Writes a classic pcap (microsecond timestamps) that stays valid record by record.

    Records are buffered here and written with `os.write`, so the writer knows how much of the
    buffer reached the file: when a write fails (disk full, quota, I/O error), the file is cut
    back to the end of the last whole record before the error is raised, and stays a capture
    that `tcpdump -r` reads to its end.
    """

    FLUSH_AT = 1 << 16
    """Buffered bytes that make `write` flush."""

    def __init__(self, path: str, linktype: int, snaplen: int = 262144) -> None:
        try:
            self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o666)
        except OSError as exc:
            raise CaptureError(f"{path}: cannot write: {exc.strerror or exc}") from None
        self.path = path
        self.linktype = linktype
        self.snaplen = snaplen
        self.written = 0
        self._buf = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, linktype))
        self._ends = [len(self._buf)]
        """Where each whole record (the file header first) ends in `_buf`."""
        self._on_disk = 0

    def write(self, ts: float, data: bytes, wire_len: int) -> None:
        """Append one frame (cut to the snap length)."""
        sec = int(ts)
        usec = int(round((ts - sec) * 1e6))
        if usec >= 1_000_000:
            sec, usec = sec + 1, usec - 1_000_000
        data = data[: self.snaplen]
        self._buf += _RECORD.pack(sec, usec, len(data), wire_len)
        self._buf += data
        self._ends.append(len(self._buf))
        self.written += 1
        if len(self._buf) >= self.FLUSH_AT:
            self.flush()

    def flush(self) -> None:
        """Write the buffered records to the file (see the class docstring on errors)."""
        view, done = memoryview(self._buf), 0
        try:
            while done < len(view):
                done += os.write(self._fd, view[done:])
        except OSError:
            # Part of a record may have reached the file: end it after the last whole one, and
            # keep the rest buffered from that record on.
            kept = max((end for end in self._ends if end <= done), default=0)
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, self._on_disk + kept)
                os.lseek(self._fd, self._on_disk + kept, os.SEEK_SET)
            self._consume(kept, view)
            raise
        self._consume(done, view)

    def _consume(self, n: int, view: memoryview) -> None:
        view.release()  # a bytearray with a live view cannot shrink
        del self._buf[:n]
        self._on_disk += n
        self._ends = [end - n for end in self._ends if end > n]

    def close(self) -> None:
        """Flush and close."""
        if self._fd < 0:
            return
        try:
            self.flush()
        finally:
            os.close(self._fd)
            self._fd = -1
