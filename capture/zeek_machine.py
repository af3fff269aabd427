"""The per-segment machinery of `capture.zeek.ZeekState`: Zeek's TCPSessionAdapter::Process.

For each segment, in Process()'s order: partial status, endpoint numbering, history letters,
zero windows, FIN/RST counts, the ack (which numbers the peer), the sender's last sequence
number (retransmissions), the state machine (UpdateInactiveState ... UpdateResetState, with the
SYN/SYN-ACK reversal flip and ConnectionClosed), the ack to the peer's reassembler (content gaps)
and the data to this side's. `_fast` does the same for the common segment with the branches that
cannot apply left out.
"""

from __future__ import annotations

from capture.segment import ACK, FIN, RST, SYN, Segment
from capture.zeek_endpoint import (
    CLOSED,
    ESTABLISHED,
    INACTIVE,
    M32,
    M64,
    MAX_INITIAL_WINDOW,
    PARTIAL,
    RESET,
    SYN_ACK_SENT,
    SYN_SENT,
    TOO_LARGE_SEQ_DELTA,
    Endpoint,
    seq_delta,
)

# Conn.h: masks of Connection::hist_seen; the responder's are shifted left by 16.
_HIST_SYN, _HIST_FIN, _HIST_RST, _HIST_FIN_RST = 0x1, 0x2, 0x4, 0x8
_HIST_DATA, _HIST_ACK, _HIST_MULTI = 0x10, 0x20, 0x40
# Letters counted on a logarithmic scale, indexes into Endpoint.scaled.
_C, _T, _W, _G = range(4)
_SCALED_CODES = "CTWG"
# init-bare's timers (seconds): an unanswered SYN ends the attempt (tcp_attempt_delay); a closed
# connection is deleted tcp_close_delay after its close.
TCP_ATTEMPT_DELAY = 5.0
TCP_CLOSE_DELAY = 5.0


class TcpMachine:
    """Connection-level state of Zeek's TCP analysis; `ZeekState` is its public face."""

    __slots__ = (
        "orig",
        "resp",
        "_hist",
        "_seen",
        "_verify",
        "_partial",
        "_first_seen",
        "_synack",
        "_last_ts",
        "_attempt_at",
        "_close_at",
    )

    def _reset(self) -> None:
        """A connection before its first segment."""
        self.orig = Endpoint()
        self.resp = Endpoint()
        self._hist = ""  # a str: shorter than a list of letters
        self._seen = 0  # Connection::hist_seen; not swapped by a flip, as in Zeek
        self._partial = False
        self._first_seen = 0  # bit 1: originator's first packet seen, bit 2: responder's
        # SYN/ACKs that opened the connection from its originator, kept until it is clear whether
        # Zeek flips the roles (see update()); None once that cannot happen any more.
        self._synack: list[Segment] | tuple[()] | None = ()
        self._last_ts = 0.0  # Connection::LastTime
        self._attempt_at: float | None = None  # when the attempt timer fires
        self._close_at: float | None = None  # when the delete timer after a full close fires

    def flip(self) -> None:
        """Swap originator and responder (Connection::FlipRoles), recording `^` in the history."""
        self.orig, self.resp = self.resp, self.orig
        fs = self._first_seen
        self._first_seen = (2 if fs & 1 else 0) | (1 if fs & 2 else 0)
        self._partial = False
        self._synack = None
        self._hist += "^"

    # -- TCPSessionAdapter::Process ------------------------------------------------------------

    def _process(self, is_orig: bool, seg: Segment) -> bool:
        # The common segment (no SYN/FIN/RST, both sides past INACTIVE) is handled inline; the
        # rest goes through the helpers. The order of the steps is Process()'s.
        if is_orig:
            ep, peer, bit = self.orig, self.resp, 1
        else:
            ep, peer, bit = self.resp, self.orig, 2
        flags, length, base = seg.flags, seg.payload_len, seg.seq
        ctl = flags & (FIN | SYN | RST)
        if not self._first_seen & bit:
            self._set_partial(is_orig, flags)
        seg_len = length
        if ctl:
            if ctl & RST:
                seg_len = 0  # RST data is not part of the stream
            seg_len += (1 if ctl & SYN else 0) + (ctl & FIN)
        one_past = (base + seg_len) & M32
        if ctl & SYN or ep.state == INACTIVE:
            ep.init_for(ctl & SYN, base, one_past)
        last = ep.last_seq
        d = (base - last) & M32
        if ep.seq_wraps or (d and not d & 0x80000000 and base < last):
            rel_seq, underflow = ep.relative(base, last, ep.seq_wraps)
        else:  # get_relative_seq() without wraps, inline: relative to the start
            rel_seq = (base - ep.start_seq) & M32
            underflow = rel_seq >= 0x80000000
            if underflow:
                rel_seq = (rel_seq - 0x100000000) & M64
        if ctl:
            self._update_history(ep, is_orig, flags, rel_seq, length)
        elif length or flags & ACK:
            mask = _HIST_DATA if length else _HIST_ACK
            if not is_orig:
                mask <<= 16
            if not self._seen & mask:
                self._seen |= mask
                code = "D" if length else "A"
                self._hist += code if is_orig else code.lower()
        if seg.window == 0 and not ctl & RST and peer.state != CLOSED and ep.state != RESET:
            self._scaled(ep, is_orig, _W)
        if ctl & FIN:
            ep.fin_cnt += 1
            ep.fin_seq = (rel_seq + seg_len) & M64
        if ctl & RST:
            ep.rst_cnt += 1
        rel_ack = 0
        if flags & ACK:
            rel_ack = self._ack_numbers(peer, seg.ack, ctl & RST)
        if ctl:
            delta = self._update_last_seq(ep, is_orig, one_past, flags, length)
        else:
            last = ep.last_seq
            delta = (one_past - last) & M32
            if delta & 0x80000000:
                delta -= 0x100000000
            if ep.state == RESET:
                pass  # nothing after a RST is trusted
            elif delta > 0:
                if one_past < last:
                    ep.seq_wraps += 1
                ep.last_seq = one_past
            elif length > 0:
                self._scaled(ep, is_orig, _T)
        flipped = False
        if ctl or ep.state == INACTIVE:
            flipped = self._state_machine(ep, peer, is_orig, seg, delta)
        if flags & ACK:
            # AckReceived() of the peer's reassembler; after a flip the peer is the originator.
            if peer.fin_cnt and rel_ack >= peer.fin_seq:
                rel_ack = peer.fin_seq - 1  # the ack of the FIN is not data
            if rel_ack > peer.ra_trim:
                if peer.ra_next < rel_ack or peer.ra_blocks:
                    gaps = peer.trim_to(rel_ack, self._partial)
                    if gaps:
                        self._gaps(peer, is_orig if flipped else not is_orig, gaps)
                else:
                    peer.ra_trim = rel_ack
        if length > 0 and not ctl & RST and not underflow:
            ep.data_sent((rel_seq + (1 if ctl & SYN else 0)) & M64, length, seg.truncated, peer)
        self._first_seen |= bit  # CheckPIA_FirstPacket: the side as it was before any flip
        return flipped

    @staticmethod
    def _ack_numbers(peer: Endpoint, ack: int, rst: int) -> int:
        """The ack as a relative number of the peer's stream; advances the peer's ack_seq."""
        if peer.state == INACTIVE:
            peer.init_seqs(ack - 1, ack - 1)  # init_peer(): number as if its SYN had been seen
            return 1
        rel_ack, underflow = peer.relative(ack, peer.ack_seq, peer.ack_wraps)
        if underflow:
            return 0
        if not rst:  # acks on RSTs are not trusted
            d = (ack - peer.ack_seq) & M32
            # update_ack_seq(): forward only; an ack of 0 far ahead is more likely broken
            if d and not d & 0x80000000 and not (ack == 0 and d > TOO_LARGE_SEQ_DELTA):
                if ack < peer.ack_seq:
                    peer.ack_wraps += 1
                peer.ack_seq = ack
        return rel_ack

    def _fast(
        self,
        is_orig: bool,
        ep: Endpoint,
        peer: Endpoint,
        flags: int,
        length: int,
        window: int,
        base: int,
        ack: int,
        truncated: bool,
    ) -> None:
        """_process() for the common segment: no SYN/FIN/RST, both sides seen, sender active.

        The same steps with the branches that cannot apply left out and the usual case of each
        number computation (no wrap of the 32-bit space so far) done in place.
        """
        state = ep.state
        if length or flags & ACK:
            mask = _HIST_DATA if length else _HIST_ACK
            if not is_orig:
                mask <<= 16
            if not self._seen & mask:
                self._seen |= mask
                code = "D" if length else "A"
                self._hist += code if is_orig else code.lower()
        if window == 0 and peer.state != CLOSED and state != RESET:
            self._scaled(ep, is_orig, _W)
        rel_ack = 0
        if flags & ACK:
            pa = peer.ack_seq
            d = (ack - pa) & M32
            if peer.state == INACTIVE or peer.ack_wraps or (d and not d & 0x80000000 and ack < pa):
                rel_ack = self._ack_numbers(peer, ack, 0)
            else:
                rel_ack = (ack - peer.start_seq) & M32
                if rel_ack & 0x80000000:
                    rel_ack = 0  # below the start: ack underflow
                elif d and not d & 0x80000000 and not (ack == 0 and d > TOO_LARGE_SEQ_DELTA):
                    peer.ack_seq = ack
        last = ep.last_seq
        one_past = (base + length) & M32
        if length:
            d = (base - last) & M32
            if ep.seq_wraps or (d and not d & 0x80000000 and base < last):
                rel_seq, underflow = ep.relative(base, last, ep.seq_wraps)
            else:  # get_relative_seq() without wraps: relative to the start, may underflow
                rel_seq = (base - ep.start_seq) & M32
                underflow = rel_seq >= 0x80000000
        d = (one_past - last) & M32
        if state == RESET:
            pass  # nothing after a RST is trusted
        elif d and not d & 0x80000000:
            if one_past < last:
                ep.seq_wraps += 1
            ep.last_seq = one_past
        elif length:
            self._scaled(ep, is_orig, _T)
        if flags & ACK:
            if peer.fin_cnt and rel_ack >= peer.fin_seq:
                rel_ack = peer.fin_seq - 1
            if rel_ack > peer.ra_trim:
                if peer.ra_next < rel_ack or peer.ra_blocks:
                    gaps = peer.trim_to(rel_ack, self._partial)
                    if gaps:
                        self._gaps(peer, not is_orig, gaps)
                else:
                    peer.ra_trim = rel_ack
        if length and not underflow:
            if truncated or ep.ra_skip or ep.ra_blocks or rel_seq != ep.ra_next:
                ep.data_sent(rel_seq, length, truncated, peer)
                return
            # in order, nothing buffered: the reassembler just moves on
            acked = ((ep.ack_wraps << 32) + ep.ack_seq - ep.start_seq) & M64
            if rel_seq < acked:
                ep.data_sent(rel_seq, length, truncated, peer)
                return
            ep.ra_next = rel_seq + length
            if acked <= 1 and ep.size(peer) > MAX_INITIAL_WINDOW:
                ep.trim_to(ep.ra_next, False)

    def _set_partial(self, is_orig: bool, flags: int) -> None:
        if is_orig:
            if not self._first_seen & 1:
                self._partial = not flags & SYN or bool(flags & ACK)
        elif not self._first_seen & 2 and not self._partial:
            self._partial = not flags & SYN

    def _check(self, is_orig: bool, mask: int, code: str) -> bool:
        """Connection::CheckHistory: record `code` the first time; True if seen before."""
        if not is_orig:
            mask <<= 16
            code = code.lower()
        if self._seen & mask:
            return True
        self._seen |= mask
        self._hist += code
        return False

    def _scaled(self, ep: Endpoint, is_orig: bool, kind: int) -> None:
        """Connection::ScaledHistoryEntry: a letter at the 1st, 10th, 100th ... occurrence."""
        counters = ep.scaled
        if counters is None:
            counters = ep.scaled = [0, 0, 0, 0, 1, 1, 1, 1]
        count = counters[kind] + 1
        threshold = counters[kind + 4]
        if count == threshold:
            code = _SCALED_CODES[kind]
            self._hist += code if is_orig else code.lower()
            if threshold * 10 > M32:
                count = 0  # the uint32 threshold would wrap: Zeek restarts the count
            else:
                counters[kind + 4] = threshold * 10
        counters[kind] = count

    def _update_history(
        self, ep: Endpoint, is_orig: bool, flags: int, rel_seq: int, length: int
    ) -> None:
        syn, fin, rst = flags & SYN, flags & FIN, flags & RST
        bits = (1 if syn else 0) + (1 if fin else 0) + (1 if rst else 0)
        if bits > 1:
            if fin and rst:
                self._check(is_orig, _HIST_FIN_RST, "I")
            else:
                self._check(is_orig, _HIST_MULTI, "Q")
        elif syn:
            code = "H" if flags & ACK else "S"
            # S/H/F/R repeat only when their sequence number differs from the last one's.
            if self._check(is_orig, _HIST_SYN, code) and rel_seq != ep.last_syn:
                self._hist += code if is_orig else code.lower()
            ep.last_syn = rel_seq
        elif fin:
            end = (rel_seq + length) & M64  # a FIN's number is the one after its data
            if self._check(is_orig, _HIST_FIN, "F") and end != ep.last_fin:
                self._hist += "F" if is_orig else "f"
            ep.last_fin = end
        elif rst:
            if self._check(is_orig, _HIST_RST, "R") and rel_seq != ep.last_rst:
                self._hist += "R" if is_orig else "r"
            ep.last_rst = rel_seq
        elif length:
            self._check(is_orig, _HIST_DATA, "D")
        elif flags & ACK:
            self._check(is_orig, _HIST_ACK, "A")

    def _update_last_seq(
        self, ep: Endpoint, is_orig: bool, last: int, flags: int, length: int
    ) -> int:
        delta = seq_delta(last, ep.last_seq)
        if flags & (SYN | RST) and not -TOO_LARGE_SEQ_DELTA <= delta <= TOO_LARGE_SEQ_DELTA:
            pass  # an outlandish SYN or RST number is not trusted
        elif flags & FIN and ep.last_seq == (ep.start_seq + 1) & M32:
            ep.update_last_seq(last)  # > 2 GB connections seen only at SYN and FIN
        elif ep.state == RESET:
            pass
        elif delta > 0:
            ep.update_last_seq(last)
        elif length > 0:
            self._scaled(ep, is_orig, _T)
        return delta

    # -- UpdateStateMachine --------------------------------------------------------------------

    def _state_machine(
        self, ep: Endpoint, peer: Endpoint, is_orig: bool, seg: Segment, delta_last: int
    ) -> bool:
        state, flags = ep.state, seg.flags
        if state == INACTIVE:
            flipped = self._inactive(ep, peer, is_orig, seg)
            if flags & (FIN | RST):
                self._connection_closed(ep, peer)
            return flipped
        do_close = False
        if state in (SYN_SENT, SYN_ACK_SENT):
            if flags & FIN:
                ep.set_state(CLOSED)
            if flags & RST:
                ep.set_state(RESET)
            do_close = bool(flags & (FIN | RST))
        elif state in (ESTABLISHED, PARTIAL):
            if flags & SYN and state == PARTIAL and peer.state == INACTIVE and not flags & ACK:
                ep.set_state(SYN_SENT)  # SYN_after_partial
            if flags & FIN and not flags & RST:
                ep.set_state(CLOSED)
                if peer.state == RESET and peer.prev_state == CLOSED:
                    peer.set_state(CLOSED)  # the peer's FIN then RST was a normal close
            if flags & RST:
                ep.set_state(RESET)
            do_close = bool(flags & (FIN | RST))
        elif state == CLOSED and flags & RST and peer.state != CLOSED:
            ep.set_state(RESET)  # after a full FIN exchange a RST changes nothing
            do_close = True
        if do_close:
            self._connection_closed(ep, peer)
        return False

    def _connection_closed(self, ep: Endpoint, peer: Endpoint) -> None:
        """ConnectionClosed(): once a side is closed, and the connection completely (a RST, both
        FINs, or a silent peer), Zeek deletes the connection tcp_close_delay (5 s) later."""
        if ep.did_close:
            return
        ep.did_close = True
        if self._close_at is None and (
            ep.state == RESET or peer.did_close or peer.state == INACTIVE
        ):
            self._close_at = self._last_ts + TCP_CLOSE_DELAY

    def _inactive(self, ep: Endpoint, peer: Endpoint, is_orig: bool, seg: Segment) -> bool:
        flags, flipped = seg.flags, False
        if flags & SYN:
            if is_orig:
                ep.set_state(SYN_ACK_SENT if flags & ACK else SYN_SENT)
                if self._attempt_at is None:
                    self._attempt_at = self._last_ts + TCP_ATTEMPT_DELAY
            else:
                if not flags & ACK and peer.state == SYN_ACK_SENT and seg.seq == ep.start_seq:
                    # SYN/SYN-ACK reversal (capture reordering): flip and establish.
                    self.flip()
                    peer.set_state(ESTABLISHED)
                    self._first_seen |= 1
                    flipped = True
                if peer.state == SYN_SENT:
                    peer.set_state(ESTABLISHED)
                ep.set_state(ESTABLISHED)
        if flags & FIN:
            ep.set_state(CLOSED)
        if flags & RST:
            ep.set_state(RESET)
        if ep.state == INACTIVE:
            if not is_orig and seg.payload_len == 0 and self.orig.state == SYN_SENT:
                pass  # an ACK of the SYN before the SYN/ACK does not make it partial
            elif flags & ACK and peer.state == ESTABLISHED:
                # SYN/ACK seen, SYN missed, now an ACK: established, not partial.
                ep.set_state(ESTABLISHED)
                self._partial = False
                self._first_seen |= 1 if is_orig else 2
            else:
                ep.set_state(PARTIAL)
        return flipped

    def _gaps(self, ep: Endpoint, is_orig: bool, count: int) -> None:
        """TCP_Reassembler::Gap(): history G for a content gap while both sides are clean."""
        peer = self.resp if ep is self.orig else self.orig
        if ep.is_clean() and peer.is_clean():
            for _ in range(count):
                self._scaled(ep, is_orig, _G)

    def _checksum_error(self, is_orig: bool) -> None:
        """TCP_Endpoint::ChecksumError(): history C, logarithmic."""
        self._scaled(self.orig if is_orig else self.resp, is_orig, _C)
