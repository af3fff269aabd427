"""Read a gzip-compressed capture (`x.pcap.gz`, `tcpdump -w - | gzip`) as the capture inside.

`capture.pcapio.CaptureReader` sees the gzip magic and reads through `Gunzip` instead. A stream
that is cut short or corrupt reads as ending there, and `failure` says why, so the records
before it are still processed and the reader reports the cause in one line.
"""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Callable
from typing import BinaryIO

MAGIC = b"\x1f\x8b"


class _Prefixed(io.RawIOBase):
    """`head` (bytes already read from `raw`), then the rest of `raw`."""

    def __init__(self, head: bytes, raw: BinaryIO) -> None:
        self._head = head
        self._raw = raw

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._raw.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class Gunzip:
    """The decompressed bytes of a gzip stream whose first bytes, `head`, were already read."""

    def __init__(self, raw: BinaryIO, head: bytes) -> None:
        self.raw = raw
        self._gz = gzip.GzipFile(fileobj=_Prefixed(head, raw), mode="rb")
        self.failure = ""
        """Why the stream ended early ("" while it is fine)."""

    def read(self, n: int = -1) -> bytes:
        """Up to `n` decompressed bytes; b"" at the end (or at a failure)."""
        return self._call(self._gz.read, n)

    def read1(self, n: int = -1) -> bytes:
        """What is available, at most `n` bytes (a pipe is not waited on for more)."""
        return self._call(self._gz.read1, n)

    def _call(self, read: Callable[[int], bytes], n: int) -> bytes:
        if self.failure:
            return b""
        try:
            return read(n)
        except EOFError:
            self.failure = "compressed capture cut short"
        except (OSError, zlib.error) as exc:
            self.failure = f"corrupt compressed capture ({' '.join(str(exc).split())})"
        return b""

    def close(self) -> None:
        """Close the decompressor (the raw stream is the caller's)."""
        self._gz.close()
