"""Zeek's view of a TCP connection: `history`, `conn_state`, `orig_bytes` and `resp_bytes`.

A port of Zeek's own bookkeeping (zeek/zeek:
`src/packet_analysis/protocol/tcp/TCPSessionAdapter.cc`, `src/analyzer/protocol/tcp/TCP_Endpoint.*`,
`src/Conn.*`, the gap reporting of `TCP_Reassembler.cc`, and `conn_state()` in
`scripts/base/protocols/conn/main.zeek`). Zeek's endpoint states (INACTIVE ... RESET) are kept
here, apart from the RFC 9293 states of `capture.tcpstate`, because `conn_state` is defined over
Zeek's states and not over the RFC's.

Direction is the caller's: `update(is_orig, seg)` is told which side sent the segment. Zeek may
decide that the roles are the other way round; `update` then returns True and the caller swaps its
own notion of originator and responder (the history keeps Zeek's `^`).
"""

from __future__ import annotations

import re
from typing import ClassVar

from capture.segment import ACK, FIN, RST, SYN, Segment

INACTIVE, SYN_SENT, SYN_ACK_SENT, PARTIAL, ESTABLISHED, CLOSED, RESET = range(7)
STATE_NAMES = ("INACTIVE", "SYN_SENT", "SYN_ACK_SENT", "PARTIAL", "ESTABLISHED", "CLOSED", "RESET")

_M32 = 0xFFFFFFFF
_M64 = 0xFFFFFFFFFFFFFFFF
# TCPSessionAdapter.cc: seq/ack jumps beyond this are not trusted on SYN and RST segments.
_TOO_LARGE_SEQ_DELTA = 1048576
# Conn.h: masks of Connection::hist_seen; the responder's are shifted left by 16.
_HIST_SYN, _HIST_FIN, _HIST_RST, _HIST_FIN_RST = 0x1, 0x2, 0x4, 0x8
_HIST_DATA, _HIST_ACK, _HIST_MULTI = 0x10, 0x20, 0x40
# Letters counted on a logarithmic scale, indexes into _Endpoint.scaled.
_C, _T, _W, _G = range(4)
_SCALED_CODES = "CTWG"
# main.zeek conn_state(): an originator RST with no answer is RSTOS0 only for this history.
_RSTOS0_HISTORY = re.compile(r"\^?S[^HAFGIQ]*R.*")
# Init-bare's `tcp_max_above_hole_without_any_acks`: the reassembler gives up on a side whose
# out-of-order data grows past this before anything was acked.
_MAX_ABOVE_HOLE = 16384
_MAX_INITIAL_WINDOW = 16384  # init-bare's tcp_max_initial_window
# init-bare's timers that end a connection (seconds): an unanswered SYN, the delay before a
# closed connection is deleted, and inactivity before and after a handshake completes (TCP
# connections start with udp_inactivity_timeout: TCPAnalyzer::MakeSessionAdapter).
_TCP_ATTEMPT_DELAY = 5.0
_TCP_CLOSE_DELAY = 5.0
_INACTIVITY_HANDSHAKE = 60.0
_INACTIVITY_TCP = 300.0

# Zeek's default `likely_server_ports`: the union of the `redef likely_server_ports += {...}` of
# the scripts loaded by default (scripts/base/protocols/*/main.zeek), TCP ports only:
# dce-rpc, dnp3, dns, finger, ftp (+gridftp), http, imap, irc, krb, ldap, modbus, mqtt, mysql,
# pop3, postgresql, rdp, redis, smb, smtp, socks, ssh, ssl, xmpp.
LIKELY_SERVER_PORTS: frozenset[int] = frozenset(
    {135, 20000, 53, 79, 21, 2811, 80, 81, 631, 1080, 3128, 8000, 8080, 8888, 143}
    | {6666, 6667, 6668, 6669, 88, 389, 3268, 502, 1883, 1434, 3306, 110, 5432, 3389, 6379}
    | {139, 445, 25, 587, 22, 5222, 5269}
    | {443, 563, 585, 614, 636, 989, 990, 992, 993, 995, 5223}
)


def initial_flip(seg: Segment, server_ports: frozenset[int] = LIKELY_SERVER_PORTS) -> bool:
    """Whether Zeek makes the *receiver* of a connection's first segment its originator.

    TCPAnalyzer::WantConnection: only a first segment that is not a plain SYN is a candidate, and
    then only when its source port is a likely server port; if both ports are, Zeek flips only a
    non-SYN segment whose source port is the lower one (a SYN/ACK may be a stealth scan's reply).
    """
    flags = seg.flags
    if flags & SYN and not flags & ACK:
        return False
    if seg.sport not in server_ports:
        return False
    if seg.dport in server_ports:
        return not flags & SYN and seg.sport < seg.dport
    return True


class _Endpoint:
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
        self.ra_blocks: list[list[int]] = []
        self.ra_skip = False
        self.did_close = False

    def set_state(self, new: int) -> None:
        if new != self.state:
            self.prev_state = self.state
            self.state = new

    def init_seqs(self, start: int, last: int) -> None:
        self.start_seq = self.ack_seq = start & _M32
        self.last_seq = last & _M32

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
        d = (cur - last) & _M32
        if d & 0x80000000:
            if wraps and cur > last:
                wraps -= 1  # seems to belong to the previous 32-bit space
        elif d and cur < last:
            wraps += 1
        if wraps == 0:
            rel = (cur - self.start_seq) & _M32
            if rel & 0x80000000:
                return (rel - 0x100000000) & _M64, True
            return rel, False
        return ((wraps << 32) + cur - self.start_seq) & _M64, False

    def no_data_acked(self) -> bool:
        ack = (self.ack_wraps << 32) + self.ack_seq
        return ack in (self.start_seq, self.start_seq + 1)

    def size(self, peer: _Endpoint) -> int:
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
        size = ((last64 if last64 > ack64 else ack64) - self.start_seq) & _M64
        if size:
            size -= 1
        if self.fin_cnt and size:
            size -= 1
        return size


def _seq_delta(a: int, b: int) -> int:
    """(int32_t)(a - b), Zeek's seq_delta()."""
    d = (a - b) & _M32
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


def _header_ok(seg: Segment) -> bool:
    """TCPAnalyzer::ExtractTCP_Header: Zeek ignores a segment whose header length is below 20 or
    runs past the segment or the captured bytes."""
    frame, off = seg.frame, seg.tcp_off
    if len(frame) <= off + 12:
        return False
    hdr = (frame[off + 12] >> 4) * 4
    return 20 <= hdr <= seg.ip_len - (off - seg.ip_off) and off + hdr <= len(frame)


class ZeekState:
    """Zeek's per-connection TCP bookkeeping, fed one segment at a time.

    `history`, `conn_state()`, `orig_bytes` and `resp_bytes` can be read at any time: while the
    connection is open they are what Zeek would log if it ended now.
    """

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

    VERIFY_CHECKSUMS: ClassVar[bool] = False
    """Default for `verify_checksums`: off, as `zeek -C` runs. Zeek itself verifies by default,
    but captures taken on a sending host with checksum offload (and all live loopback traffic)
    carry unfinished checksums and would log as nothing but `C`; and verifying costs 1-4 us a
    segment (CPython 3.11), too much for the live path. Set True for Zeek's default behaviour."""

    def __init__(self, verify_checksums: bool | None = None) -> None:
        self._verify = self.VERIFY_CHECKSUMS if verify_checksums is None else verify_checksums
        self._reset()

    def _reset(self) -> None:
        self.orig = _Endpoint()
        self.resp = _Endpoint()
        self._hist: list[str] = []
        self._seen = 0  # Connection::hist_seen; not swapped by a flip, as in Zeek
        self._partial = False
        self._first_seen = 0  # bit 1: originator's first packet seen, bit 2: responder's
        # SYN/ACKs that opened the connection from its originator, kept until it is clear whether
        # Zeek flips the roles (see update()); None once that cannot happen any more.
        self._synack: list[Segment] | None = []
        self._last_ts = 0.0  # Connection::LastTime
        self._attempt_at: float | None = None  # when the attempt timer fires
        self._close_at: float | None = None  # when the delete timer after a full close fires

    # -- public interface ------------------------------------------------------------------------

    def update(self, is_orig: bool, seg: Segment) -> bool:
        """Account for one segment; True when Zeek swapped originator and responder doing so."""
        if not (self.orig.did_close and self.resp.did_close):
            self._last_ts = seg.ts
        if (seg.bad_opts or seg.truncated) and not _header_ok(seg):
            return False
        if self._verify and not (ip_checksum_ok(seg) and tcp_checksum_ok(seg)):
            if ip_checksum_ok(seg):  # a bad IPv4 header never reaches TCP: no letter
                self._scaled(self.orig if is_orig else self.resp, is_orig, _C)
            self._synack = None
            return False
        pending = self._synack
        if pending is None:
            if self._first_seen == 3 and not seg.flags & (FIN | SYN | RST):
                ep = self.orig if is_orig else self.resp
                if ep.state != INACTIVE:
                    self._fast(is_orig, ep, self.resp if is_orig else self.orig, seg)
                    return False
        else:
            flags = seg.flags
            if flags & (SYN | FIN | RST | ACK) == SYN | ACK and is_orig and len(pending) < 8:
                pending.append(seg)
            elif pending and not flags & (SYN | FIN | RST) and (flags & ACK or seg.payload_len):
                # Zeek >= 5.1 (zeek/zeek#2191): a connection that opened with a SYN/ACK followed
                # by an ACK or data, in either direction, is flipped: the SYN/ACK's sender is the
                # server. The history reads as if the roles had been right from the start.
                self._reset()
                self._last_ts = seg.ts
                self._synack = None
                self._hist.append("^")
                for old in pending:
                    self._process(False, old)
                self._process(not is_orig, seg)
                return True
            else:
                self._synack = None
        return self._process(is_orig, seg)

    def flip(self) -> None:
        """Swap originator and responder (Connection::FlipRoles), recording `^` in the history."""
        self.orig, self.resp = self.resp, self.orig
        fs = self._first_seen
        self._first_seen = (2 if fs & 1 else 0) | (1 if fs & 2 else 0)
        self._partial = False
        self._synack = None
        self._hist.append("^")

    @property
    def last_ts(self) -> float:
        """Connection::LastTime: the last segment's time (frozen once both sides closed)."""
        return self._last_ts

    def ended_before(self, ts: float) -> bool:
        """Whether Zeek would have removed this connection before a segment at time `ts`.

        Zeek's timers fire before a packet with a later (or equal) timestamp is processed, and the
        packet then opens a new connection. Modelled: the attempt timer (an unanswered SYN after
        tcp_attempt_delay), the delete timer after a complete close (tcp_close_delay) and the
        inactivity timeout (1 min until the handshake is over, then tcp_inactivity_timeout).
        """
        if self._close_at is not None and ts >= self._close_at:
            return True
        o, r = self.orig, self.resp
        if (
            self._attempt_at is not None
            and ts >= self._attempt_at
            and o.state in (SYN_SENT, SYN_ACK_SENT)
            and r.state == INACTIVE
        ):
            return True
        # TCP_Endpoint::SetState switches to tcp_inactivity_timeout when a side leaves the
        # handshake states (INACTIVE, SYN_SENT, SYN_ACK_SENT).
        done = max(o.state, r.state, o.prev_state, r.prev_state) > SYN_ACK_SENT
        return ts - self._last_ts >= (_INACTIVITY_TCP if done else _INACTIVITY_HANDSHAKE)

    def is_reuse(self, seg: Segment) -> bool:
        """TCPSessionAdapter::IsReuse: whether this SYN starts a new connection on the 4-tuple.

        Only a SYN can (a SYN/ACK only while the originator is silent): once a side has closed,
        any; before that, one whose number is not the originator's first.
        """
        flags = seg.flags
        if not flags & SYN or (seg.bad_opts and not _header_ok(seg)):
            return False
        first = self.orig
        if flags & ACK:
            if self.orig.state != INACTIVE:
                return False  # not a half connection
            first = self.resp
        if self.orig.did_close or self.resp.did_close:
            return True
        if seg.seq == first.start_seq:
            return False
        # a SYN that belongs to a SYN/ACK seen first (reordered capture) is the same connection
        return bool(
            flags & ACK
            or first.state != SYN_ACK_SENT
            or self.resp.state != INACTIVE
            or seg.seq != self.resp.start_seq
        )

    @property
    def history(self) -> str:
        """Zeek's `history` so far."""
        return "".join(self._hist)

    def conn_state(self) -> str:
        """Zeek's `conn_state` (main.zeek conn_state()) for the endpoint states reached so far."""
        os, rs = self.orig.state, self.resp.state
        o_inactive = os in (INACTIVE, PARTIAL)
        r_inactive = rs in (INACTIVE, PARTIAL)
        if rs == RESET:
            if os in (SYN_SENT, SYN_ACK_SENT) or (
                os == RESET and self.orig_bytes == 0 and self.resp_bytes == 0
            ):
                return "REJ"
            return "RSTRH" if o_inactive else "RSTR"
        if os == RESET:
            if r_inactive:
                return "RSTOS0" if _RSTOS0_HISTORY.fullmatch(self.history) else "OTH"
            return "RSTO"
        if rs == CLOSED and os == CLOSED:
            return "SF"
        if os == CLOSED:
            return "SH" if r_inactive else "S2"
        if rs == CLOSED:
            return "SHR" if o_inactive else "S3"
        if os == SYN_SENT and rs == INACTIVE:
            return "S0"
        if os == ESTABLISHED and rs == ESTABLISHED:
            return "S1"
        return "OTH"

    @property
    def orig_bytes(self) -> int:
        """Originator payload bytes as Zeek logs them (from sequence numbers, not bytes seen)."""
        return self.orig.size(self.resp)

    @property
    def resp_bytes(self) -> int:
        """Responder payload bytes as Zeek logs them."""
        return self.resp.size(self.orig)

    @property
    def orig_state(self) -> str:
        """Zeek's endpoint state of the originator (`TCP_ESTABLISHED` ... without the prefix)."""
        return STATE_NAMES[self.orig.state]

    @property
    def resp_state(self) -> str:
        """Zeek's endpoint state of the responder."""
        return STATE_NAMES[self.resp.state]

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
        one_past = (base + seg_len) & _M32
        if ctl & SYN or ep.state == INACTIVE:
            _init_endpoint(ep, ctl & SYN, base, one_past)
        rel_seq, underflow = ep.relative(base, ep.last_seq, ep.seq_wraps)
        if ctl:
            self._update_history(ep, is_orig, flags, rel_seq, length)
        elif length or flags & ACK:
            mask = _HIST_DATA if length else _HIST_ACK
            if not is_orig:
                mask <<= 16
            if not self._seen & mask:
                self._seen |= mask
                code = "D" if length else "A"
                self._hist.append(code if is_orig else code.lower())
        if seg.window == 0 and not ctl & RST and peer.state != CLOSED and ep.state != RESET:
            self._scaled(ep, is_orig, _W)
        if ctl & FIN:
            ep.fin_cnt += 1
            ep.fin_seq = (rel_seq + seg_len) & _M64
        if ctl & RST:
            ep.rst_cnt += 1
        rel_ack = 0
        if flags & ACK:
            rel_ack = self._ack_numbers(peer, seg.ack, ctl & RST)
        if ctl:
            delta = self._update_last_seq(ep, is_orig, one_past, flags, length)
        else:
            last = ep.last_seq
            delta = (one_past - last) & _M32
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
                    self._trim_to(peer, is_orig if flipped else not is_orig, rel_ack)
                else:
                    peer.ra_trim = rel_ack
        if length > 0 and not ctl & RST and not underflow:
            self._data_sent(ep, peer, (rel_seq + (1 if ctl & SYN else 0)) & _M64, length, seg)
        self._first_seen |= bit  # CheckPIA_FirstPacket: the side as it was before any flip
        return flipped

    @staticmethod
    def _ack_numbers(peer: _Endpoint, ack: int, rst: int) -> int:
        """The ack as a relative number of the peer's stream; advances the peer's ack_seq."""
        if peer.state == INACTIVE:
            peer.init_seqs(ack - 1, ack - 1)  # init_peer(): number as if its SYN had been seen
            return 1
        rel_ack, underflow = peer.relative(ack, peer.ack_seq, peer.ack_wraps)
        if underflow:
            return 0
        if not rst:  # acks on RSTs are not trusted
            d = (ack - peer.ack_seq) & _M32
            # update_ack_seq(): forward only; an ack of 0 far ahead is more likely broken
            if d and not d & 0x80000000 and not (ack == 0 and d > _TOO_LARGE_SEQ_DELTA):
                if ack < peer.ack_seq:
                    peer.ack_wraps += 1
                peer.ack_seq = ack
        return rel_ack

    def _fast(self, is_orig: bool, ep: _Endpoint, peer: _Endpoint, seg: Segment) -> None:
        """_process() for the common segment: no SYN/FIN/RST, both sides seen, sender active.

        The same steps with the branches that cannot apply left out and the usual case of each
        number computation (no wrap of the 32-bit space so far) done in place.
        """
        flags, length, state = seg.flags, seg.payload_len, ep.state
        if length or flags & ACK:
            mask = _HIST_DATA if length else _HIST_ACK
            if not is_orig:
                mask <<= 16
            if not self._seen & mask:
                self._seen |= mask
                code = "D" if length else "A"
                self._hist.append(code if is_orig else code.lower())
        if seg.window == 0 and peer.state != CLOSED and state != RESET:
            self._scaled(ep, is_orig, _W)
        rel_ack = 0
        if flags & ACK:
            ack = seg.ack
            pa = peer.ack_seq
            d = (ack - pa) & _M32
            if peer.state == INACTIVE or peer.ack_wraps or (d and not d & 0x80000000 and ack < pa):
                rel_ack = self._ack_numbers(peer, ack, 0)
            else:
                rel_ack = (ack - peer.start_seq) & _M32
                if rel_ack & 0x80000000:
                    rel_ack = 0  # below the start: ack underflow
                elif d and not d & 0x80000000 and not (ack == 0 and d > _TOO_LARGE_SEQ_DELTA):
                    peer.ack_seq = ack
        base = seg.seq
        last = ep.last_seq
        one_past = (base + length) & _M32
        if length:
            d = (base - last) & _M32
            if ep.seq_wraps or (d and not d & 0x80000000 and base < last):
                rel_seq, underflow = ep.relative(base, last, ep.seq_wraps)
            else:  # get_relative_seq() without wraps: relative to the start, may underflow
                rel_seq = (base - ep.start_seq) & _M32
                underflow = rel_seq >= 0x80000000
        d = (one_past - last) & _M32
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
                    self._trim_to(peer, not is_orig, rel_ack)
                else:
                    peer.ra_trim = rel_ack
        if length and not underflow:
            if seg.truncated or ep.ra_skip or ep.ra_blocks or rel_seq != ep.ra_next:
                self._data_sent(ep, peer, rel_seq, length, seg)
                return
            # in order, nothing buffered: the reassembler just moves on
            acked = ((ep.ack_wraps << 32) + ep.ack_seq - ep.start_seq) & _M64
            if rel_seq < acked:
                self._data_sent(ep, peer, rel_seq, length, seg)
                return
            ep.ra_next = rel_seq + length
            if acked <= 1 and ep.size(peer) > _MAX_INITIAL_WINDOW:
                self._trim_to(ep, False, ep.ra_next)

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
        self._hist.append(code)
        return False

    def _scaled(self, ep: _Endpoint, is_orig: bool, kind: int) -> None:
        """Connection::ScaledHistoryEntry: a letter at the 1st, 10th, 100th ... occurrence."""
        counters = ep.scaled
        if counters is None:
            counters = ep.scaled = [0, 0, 0, 0, 1, 1, 1, 1]
        count = counters[kind] + 1
        threshold = counters[kind + 4]
        if count == threshold:
            code = _SCALED_CODES[kind]
            self._hist.append(code if is_orig else code.lower())
            if threshold * 10 > _M32:
                count = 0  # the uint32 threshold would wrap: Zeek restarts the count
            else:
                counters[kind + 4] = threshold * 10
        counters[kind] = count

    def _update_history(
        self, ep: _Endpoint, is_orig: bool, flags: int, rel_seq: int, length: int
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
                self._hist.append(code if is_orig else code.lower())
            ep.last_syn = rel_seq
        elif fin:
            end = (rel_seq + length) & _M64  # a FIN's number is the one after its data
            if self._check(is_orig, _HIST_FIN, "F") and end != ep.last_fin:
                self._hist.append("F" if is_orig else "f")
            ep.last_fin = end
        elif rst:
            if self._check(is_orig, _HIST_RST, "R") and rel_seq != ep.last_rst:
                self._hist.append("R" if is_orig else "r")
            ep.last_rst = rel_seq
        elif length:
            self._check(is_orig, _HIST_DATA, "D")
        elif flags & ACK:
            self._check(is_orig, _HIST_ACK, "A")

    def _update_last_seq(
        self, ep: _Endpoint, is_orig: bool, last: int, flags: int, length: int
    ) -> int:
        delta = _seq_delta(last, ep.last_seq)
        if flags & (SYN | RST) and not -_TOO_LARGE_SEQ_DELTA <= delta <= _TOO_LARGE_SEQ_DELTA:
            pass  # an outlandish SYN or RST number is not trusted
        elif flags & FIN and ep.last_seq == (ep.start_seq + 1) & _M32:
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
        self, ep: _Endpoint, peer: _Endpoint, is_orig: bool, seg: Segment, delta_last: int
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

    def _connection_closed(self, ep: _Endpoint, peer: _Endpoint) -> None:
        """ConnectionClosed(): once a side is closed, and the connection completely (a RST, both
        FINs, or a silent peer), Zeek deletes the connection tcp_close_delay (5 s) later."""
        if ep.did_close:
            return
        ep.did_close = True
        if self._close_at is None and (
            ep.state == RESET or peer.did_close or peer.state == INACTIVE
        ):
            self._close_at = self._last_ts + _TCP_CLOSE_DELAY

    def _inactive(self, ep: _Endpoint, peer: _Endpoint, is_orig: bool, seg: Segment) -> bool:
        flags, flipped = seg.flags, False
        if flags & SYN:
            if is_orig:
                ep.set_state(SYN_ACK_SENT if flags & ACK else SYN_SENT)
                if self._attempt_at is None:
                    self._attempt_at = self._last_ts + _TCP_ATTEMPT_DELAY
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

    # -- TCP_Reassembler: only what decides content gaps ('G') ------------------------------------

    def _trim_to(self, ep: _Endpoint, is_orig: bool, seq: int) -> None:
        if ep.ra_next < seq:
            self._undelivered(ep, is_orig, seq)
        blocks = ep.ra_blocks
        while blocks and blocks[0][1] <= seq:
            del blocks[0]
        if seq > ep.ra_trim:
            ep.ra_trim = seq

    def _undelivered(self, ep: _Endpoint, is_orig: bool, up_to: int) -> None:
        if up_to <= 2 and self._partial:
            return  # the faked SYN of a partial connection is not a gap
        blocks = ep.ra_blocks
        if not ep.ra_skip:
            while blocks and blocks[0][0] < up_to:
                self._gap(ep, is_orig)
                ep.ra_next = blocks[0][0]
                _absorb(ep)
            if up_to > ep.ra_next:
                self._gap(ep, is_orig)
        if up_to > ep.ra_next:
            ep.ra_next = up_to

    def _gap(self, ep: _Endpoint, is_orig: bool) -> None:
        peer = self.resp if ep is self.orig else self.orig
        if _clean(ep) and _clean(peer):
            self._scaled(ep, is_orig, _G)

    def _data_sent(
        self, ep: _Endpoint, peer: _Endpoint, seq: int, length: int, seg: Segment
    ) -> None:
        if seg.truncated or ep.ra_skip:
            return  # payload not captured whole is never reassembled (truncated_tcp_payload)
        ack = ((ep.ack_wraps << 32) + ep.ack_seq - ep.start_seq) & _M64
        upper = seq + length
        if seq < ack:
            if upper <= ack:
                return
            seq = ack
        trim = ep.ra_trim
        if upper <= trim:
            return
        if seq < trim:
            seq = trim
        blocks = ep.ra_blocks
        if seq <= ep.ra_next:
            if upper > ep.ra_next:
                ep.ra_next = upper
                if blocks:
                    _absorb(ep)
                # tcp_max_initial_window: stop buffering a side nobody acks
                if ack <= 1 and ep.size(peer) > _MAX_INITIAL_WINDOW:
                    self._trim_to(ep, False, ep.ra_next)
        else:
            _insert_block(blocks, seq, upper)
        if blocks and ack <= 1 and blocks[-1][1] - ep.ra_next > _MAX_ABOVE_HOLE:
            blocks.clear()  # above_hole_data_without_any_acks: give up on this side
            ep.ra_skip = True


def _clean(ep: _Endpoint) -> bool:
    return ep.state == ESTABLISHED or (ep.state == CLOSED and ep.prev_state == ESTABLISHED)


def _absorb(ep: _Endpoint) -> None:
    """Deliver the stored blocks that now follow on from `ra_next`."""
    blocks = ep.ra_blocks
    while blocks and blocks[0][0] <= ep.ra_next:
        upper = blocks.pop(0)[1]
        if upper > ep.ra_next:
            ep.ra_next = upper


def _insert_block(blocks: list[list[int]], seq: int, upper: int) -> None:
    i = len(blocks)
    while i and blocks[i - 1][0] > seq:
        i -= 1
    blocks.insert(i, [seq, upper])


def _init_endpoint(ep: _Endpoint, syn: int, first: int, last: int) -> None:
    """init_endpoint(): set the numbering on an endpoint's first segment or a new SYN."""
    state = ep.state
    if state == INACTIVE:
        if syn:
            ep.init_seqs(first, last)
        else:
            # partial connection: number as though a SYN had been seen
            ep.init_seqs(first - 1, first)
    elif state in (SYN_SENT, SYN_ACK_SENT):
        if syn and first != ep.start_seq:
            ep.init_seqs(first, last)  # SYN_seq_jump
    elif state in (ESTABLISHED, PARTIAL):
        if syn:
            ep.init_seqs(first, last)  # guess that this SYN sets the connection up
    elif state == RESET and syn and ep.prev_state == INACTIVE:
        ep.init_seqs(first, last)  # the earlier RST may have been injected
