"""Zeek's view of a TCP connection: `history`, `conn_state`, `orig_bytes`/`resp_bytes`.

Work in progress: the interface is stable, the rules are being made exact.
"""

from __future__ import annotations

from capture.segment import ACK, FIN, RST, SYN, Segment


class ZeekState:
    """Zeek's per-connection TCP bookkeeping, fed one segment at a time."""

    __slots__ = ("_hist", "_seen", "_orig_bytes", "_resp_bytes")

    def __init__(self) -> None:
        self._hist: list[str] = []
        self._seen = 0
        self._orig_bytes = 0
        self._resp_bytes = 0

    def update(self, is_orig: bool, seg: Segment) -> None:
        """Account for one segment sent by the originator (`is_orig`) or the responder."""
        flags = seg.flags
        if flags & SYN:
            code = "H" if flags & ACK else "S"
        elif flags & FIN:
            code = "F"
        elif flags & RST:
            code = "R"
        elif seg.payload_len:
            code = "D"
        elif flags & ACK:
            code = "A"
        else:
            return
        if not is_orig:
            code = code.lower()
        if code not in self._hist:
            self._hist.append(code)
        if is_orig:
            self._orig_bytes += seg.payload_len
        else:
            self._resp_bytes += seg.payload_len

    def flip(self) -> None:
        """Swap originator and responder, as Zeek does when it finds the roles reversed."""
        self._hist.append("^")
        self._orig_bytes, self._resp_bytes = self._resp_bytes, self._orig_bytes

    @property
    def history(self) -> str:
        """Zeek's `history` string so far."""
        return "".join(self._hist)

    def conn_state(self) -> str:
        """Zeek's `conn_state` for the connection as seen so far."""
        return "OTH"

    @property
    def orig_bytes(self) -> int:
        """Originator payload bytes, as Zeek computes them."""
        return self._orig_bytes

    @property
    def resp_bytes(self) -> int:
        """Responder payload bytes, as Zeek computes them."""
        return self._resp_bytes


def initial_flip(seg: Segment) -> bool:
    """Whether Zeek takes the receiver of a connection's first segment as the originator."""
    return bool(seg.flags & SYN and seg.flags & ACK)
