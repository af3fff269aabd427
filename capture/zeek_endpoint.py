"""One side of a TCP connection as Zeek keeps it, for `capture.zeek`.

Zeek's TCP_Endpoint (src/analyzer/protocol/tcp/TCP_Endpoint.{h,cc}): the endpoint state, the
sequence numbering relative to the first SYN (or to a SYN guessed just before the first segment),
its 32-bit wraps, the sizes Zeek logs; and the little of TCP_Reassembler.cc that decides content
gaps (history `G`): what was delivered in order, what waits above a hole, what was trimmed by acks.
Plus the checks that keep a segment from reaching Zeek's TCP at all (header, checksums).
"""

from __future__ import annotations

from capture.segment import Segment

INACTIVE, SYN_SENT, SYN_ACK_SENT, PARTIAL, ESTABLISHED, CLOSED, RESET = range(7)
STATE_NAMES = ("INACTIVE", "SYN_SENT", "SYN_ACK_SENT", "PARTIAL", "ESTABLISHED", "CLOSED", "RESET")

M32 = 0xFFFFFFFF
M64 = 0xFFFFFFFFFFFFFFFF
# TCPSessionAdapter.cc: seq/ack jumps beyond this are not trusted on SYN and RST segments.
TOO_LARGE_SEQ_DELTA = 1048576
# init-bare's tcp_max_above_hole_without_any_acks: the reassembler gives up on a side whose
# out-of-order data grows past this before anything was acked.
MAX_ABOVE_HOLE = 16384
MAX_INITIAL_WINDOW = 16384  # init-bare's tcp_max_initial_window


class Endpoint:
    """One side of the connection (Zeek's TCP_Endpoint plus the gap logic of its reassembler)."""

    __slots__ = (
        "state",
        "prev_state",
        "start_seq",
        "last_seq",
        "ack_seq",
        "seq_wraps",
        "ack_wraps",
        "fin_cnt",
        "rst_cnt",
        "fin_seq",
        "last_syn",
        "last_fin",
        "last_rst",
        "scaled",
        "ra_next",
        "ra_trim",
        "ra_blocks",
        "ra_skip",
        "did_close",
    )

    def __init__(self) -> None:
        self.state = self.prev_state = INACTIVE
        self.start_seq = self.last_seq = self.ack_seq = 0
        self.seq_wraps = self.ack_wraps = 0
        self.fin_cnt = self.rst_cnt = self.fin_seq = 0
        self.last_syn = self.last_fin = self.last_rst = 0
        # ScaledHistoryEntry counters and thresholds for C, T, W, G; made on first use.
        self.scaled: list[int] | None = None
        # Reassembler: next relative byte to deliver, trim point, out-of-order [seq, upper].
        self.ra_next = self.ra_trim = 1
        self.ra_blocks: list[list[int]] | None = None  # made on the first out-of-order data
        self.ra_skip = False
        self.did_close = False

    def set_state(self, new: int) -> None:
        if new != self.state:
            self.prev_state = self.state
            self.state = new

    def init_seqs(self, start: int, last: int) -> None:
        self.start_seq = self.ack_seq = start & M32
        self.last_seq = last & M32

    def update_last_seq(self, seq: int) -> None:
        if seq < self.last_seq:
            self.seq_wraps += 1
        self.last_seq = seq

    def update_ack_seq(self, seq: int) -> None:
        if seq < self.ack_seq:
            self.ack_wraps += 1
        self.ack_seq = seq

    def relative(self, cur: int, last: int, wraps: int) -> tuple[int, bool]:
        """get_relative_seq(): `cur` relative to the start, as Zeek's uint64, and underflow."""
        d = (cur - last) & M32
        if d & 0x80000000:
            if wraps and cur > last:
                wraps -= 1  # seems to belong to the previous 32-bit space
        elif d and cur < last:
            wraps += 1
        if wraps == 0:
            rel = (cur - self.start_seq) & M32
            if rel & 0x80000000:
                return (rel - 0x100000000) & M64, True
            return rel, False
        return ((wraps << 32) + cur - self.start_seq) & M64, False

    def no_data_acked(self) -> bool:
        ack = (self.ack_wraps << 32) + self.ack_seq
        return ack in (self.start_seq, self.start_seq + 1)

    def size(self, peer: Endpoint) -> int:
        """TCP_Endpoint::Size(): bytes sent, from sequence numbers (SYN and FIN excluded)."""
        if (
            self.prev_state == SYN_SENT
            and self.state == RESET
            and peer.state == INACTIVE
            and not self.no_data_acked()
        ):
            return 0  # a half-open connection found and aborted: its numbers mean nothing
        last64 = (self.seq_wraps << 32) + self.last_seq
        ack64 = (self.ack_wraps << 32) + self.ack_seq
        size = ((last64 if last64 > ack64 else ack64) - self.start_seq) & M64
        if size:
            size -= 1
        if self.fin_cnt and size:
            size -= 1
        return size

    def init_for(self, syn: int, first: int, last: int) -> None:
        """init_endpoint(): set the numbering on an endpoint's first segment or a new SYN."""
        state = self.state
        if state == INACTIVE:
            if syn:
                self.init_seqs(first, last)
            else:
                # partial connection: number as though a SYN had been seen
                self.init_seqs(first - 1, first)
        elif state in (SYN_SENT, SYN_ACK_SENT):
            if syn and first != self.start_seq:
                self.init_seqs(first, last)  # SYN_seq_jump
        elif state in (ESTABLISHED, PARTIAL):
            if syn:
                self.init_seqs(first, last)  # guess that this SYN sets the connection up
        elif state == RESET and syn and self.prev_state == INACTIVE:
            self.init_seqs(first, last)  # the earlier RST may have been injected

    def is_clean(self) -> bool:
        """Established, or closed from established: where Zeek counts content gaps."""
        return self.state == ESTABLISHED or (
            self.state == CLOSED and self.prev_state == ESTABLISHED
        )

    # -- TCP_Reassembler: only what decides content gaps ------------------------------------------

    def trim_to(self, seq: int, partial: bool) -> int:
        """TrimToSeq() on an ack up to `seq`; returns the content gaps found (Gap() calls)."""
        gaps = self.undelivered(seq, partial) if self.ra_next < seq else 0
        blocks = self.ra_blocks
        while blocks and blocks[0][1] <= seq:
            del blocks[0]
        if seq > self.ra_trim:
            self.ra_trim = seq
        return gaps

    def undelivered(self, up_to: int, partial: bool) -> int:
        """Undelivered(): everything below `up_to` not seen is a gap; returns how many."""
        if up_to <= 2 and partial:
            return 0  # the faked SYN of a partial connection is not a gap
        gaps = 0
        blocks = self.ra_blocks
        if not self.ra_skip:
            while blocks and blocks[0][0] < up_to:
                gaps += 1
                self.ra_next = blocks[0][0]
                self.absorb()
            if up_to > self.ra_next:
                gaps += 1
        if up_to > self.ra_next:
            self.ra_next = up_to
        return gaps

    def data_sent(self, seq: int, length: int, truncated: bool, peer: Endpoint) -> None:
        """DataSent(): `length` bytes at relative `seq` reach the reassembler (`truncated`: the
        segment's payload was not captured whole)."""
        if truncated or self.ra_skip:
            return  # payload not captured whole is never reassembled (truncated_tcp_payload)
        ack = ((self.ack_wraps << 32) + self.ack_seq - self.start_seq) & M64
        upper = seq + length
        if seq < ack:
            if upper <= ack:
                return
            seq = ack
        trim = self.ra_trim
        if upper <= trim:
            return
        if seq < trim:
            seq = trim
        blocks = self.ra_blocks
        if seq <= self.ra_next:
            if upper > self.ra_next:
                self.ra_next = upper
                if blocks:
                    self.absorb()
                # tcp_max_initial_window: stop buffering a side nobody acks (no gap: in order)
                if ack <= 1 and self.size(peer) > MAX_INITIAL_WINDOW:
                    self.trim_to(self.ra_next, False)
        else:
            if blocks is None:
                blocks = self.ra_blocks = []
            i = len(blocks)
            while i and blocks[i - 1][0] > seq:
                i -= 1
            blocks.insert(i, [seq, upper])
        if blocks and ack <= 1 and blocks[-1][1] - self.ra_next > MAX_ABOVE_HOLE:
            blocks.clear()  # above_hole_data_without_any_acks: give up on this side
            self.ra_skip = True

    def absorb(self) -> None:
        """Deliver the stored blocks that now follow on from `ra_next`."""
        blocks = self.ra_blocks
        while blocks and blocks[0][0] <= self.ra_next:
            upper = blocks.pop(0)[1]
            if upper > self.ra_next:
                self.ra_next = upper


def seq_delta(a: int, b: int) -> int:
    """(int32_t)(a - b), Zeek's seq_delta()."""
    d = (a - b) & M32
    return d - 0x100000000 if d & 0x80000000 else d


def ip_checksum_ok(seg: Segment) -> bool:
    """Whether an IPv4 header checksum verifies (always True for IPv6, which has none).

    A sum of 16-bit words folds to 0xFFFF exactly when the big-endian integer of those words is a
    multiple of 0xFFFF (2^16 = 1 modulo 0xFFFF), so `int.from_bytes` does the adding in C.
    """
    if seg.ip_version != 4:
        return True
    ihl = (seg.frame[seg.ip_off] & 0x0F) * 4
    return int.from_bytes(seg.frame[seg.ip_off : seg.ip_off + ihl], "big") % 0xFFFF == 0


def tcp_checksum_ok(seg: Segment) -> bool:
    """Whether the TCP checksum verifies; True when the segment was not captured whole (Zeek
    validates only when `caplen >= len`)."""
    if seg.truncated:
        return True
    tcp_len = seg.ip_len - (seg.tcp_off - seg.ip_off)
    data = seg.frame[seg.tcp_off : seg.tcp_off + tcp_len]
    if len(data) < tcp_len:
        return True
    total = int.from_bytes(data, "big") << (8 if tcp_len & 1 else 0)
    total += int.from_bytes(seg.src + seg.dst, "big") + 6 + tcp_len
    return total % 0xFFFF == 0


def header_ok(seg: Segment) -> bool:
    """TCPAnalyzer::ExtractTCP_Header: Zeek ignores a segment whose header length is below 20 or
    runs past the segment or the captured bytes."""
    frame, off = seg.frame, seg.tcp_off
    if len(frame) <= off + 12:
        return False
    hdr = (frame[off + 12] >> 4) * 4
    return 20 <= hdr <= seg.ip_len - (off - seg.ip_off) and off + hdr <= len(frame)
