"""Zeek's view of a TCP connection: `history`, `conn_state`, `orig_bytes` and `resp_bytes`.

A port of Zeek's own bookkeeping (zeek/zeek:
`src/packet_analysis/protocol/tcp/TCPSessionAdapter.cc`, `src/analyzer/protocol/tcp/TCP_Endpoint.*`,
`src/Conn.*`, the gap reporting of `TCP_Reassembler.cc`, and `conn_state()` in
`scripts/base/protocols/conn/main.zeek`). Zeek's endpoint states (INACTIVE ... RESET) are kept
here, apart from the RFC 9293 states of `capture.tcpstate`, because `conn_state` is defined over
Zeek's states and not over the RFC's.

Direction is the caller's: `update(is_orig, seg)` is told which side sent the segment. Zeek may
decide that the roles are the other way round; `update` then returns True and the caller swaps its
own notion of originator and responder (the history keeps Zeek's `^`). Connection identity is the
caller's too; `ended_before(ts)` and `is_reuse(seg)` say where Zeek would end this connection and
start a new one on the same 4-tuple.

`capture.zeek_machine` holds the per-segment machinery, `capture.zeek_endpoint` one side's
numbering, sizes and gap detection.
"""

from __future__ import annotations

import re
from typing import ClassVar

from capture.segment import ACK, FIN, RST, SYN, Segment
from capture.zeek_endpoint import (
    CLOSED,
    ESTABLISHED,
    INACTIVE,
    PARTIAL,
    RESET,
    STATE_NAMES,
    SYN_ACK_SENT,
    SYN_SENT,
    header_ok,
    ip_checksum_ok,
    tcp_checksum_ok,
)
from capture.zeek_machine import TcpMachine

__all__ = [
    "LIKELY_SERVER_PORTS",
    "STATE_NAMES",
    "ZeekState",
    "initial_flip",
    "ip_checksum_ok",
    "tcp_checksum_ok",
]

# main.zeek conn_state(): an originator RST with no answer is RSTOS0 only for this history.
_RSTOS0_HISTORY = re.compile(r"\^?S[^HAFGIQ]*R.*")
# init-bare's inactivity timeouts (seconds) before and after a handshake completes (TCP
# connections start with udp_inactivity_timeout: TCPAnalyzer::MakeSessionAdapter).
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


class ZeekState(TcpMachine):
    """Zeek's per-connection TCP bookkeeping, fed one segment at a time.

    `history`, `conn_state()`, `orig_bytes` and `resp_bytes` can be read at any time: while the
    connection is open they are what Zeek would log if it ended now.
    """

    __slots__ = ()

    VERIFY_CHECKSUMS: ClassVar[bool] = False
    """Default for `verify_checksums`: off, as `zeek -C` runs. Zeek itself verifies by default,
    but captures taken on a sending host with checksum offload (and all live loopback traffic)
    carry unfinished checksums and would log as nothing but `C`; and verifying costs 1-4 us a
    segment (CPython 3.11), too much for the live path. Set True for Zeek's default behaviour."""

    def __init__(self, verify_checksums: bool | None = None) -> None:
        self._verify = self.VERIFY_CHECKSUMS if verify_checksums is None else verify_checksums
        self._reset()

    # -- public interface ------------------------------------------------------------------------

    def update(self, is_orig: bool, seg: Segment) -> bool:
        """Account for one segment; True when Zeek swapped originator and responder doing so."""
        if not (self.orig.did_close and self.resp.did_close):
            self._last_ts = seg.ts
        if (seg.bad_opts or seg.truncated) and not header_ok(seg):
            return False
        if self._verify and not (ip_checksum_ok(seg) and tcp_checksum_ok(seg)):
            if ip_checksum_ok(seg):  # a bad IPv4 header never reaches TCP: no letter
                self._checksum_error(is_orig)
            self._synack = None
            return False
        pending = self._synack
        if pending is None:
            if self._first_seen == 3 and not seg.flags & (FIN | SYN | RST):
                ep = self.orig if is_orig else self.resp
                if ep.state != INACTIVE:
                    peer = self.resp if is_orig else self.orig
                    self._fast(
                        is_orig, ep, peer, seg.flags, seg.payload_len, seg.window, seg.seq,
                        seg.ack, seg.truncated,
                    )  # fmt: skip
                    return False
        else:
            flags = seg.flags
            if flags & (SYN | FIN | RST | ACK) == SYN | ACK and is_orig and len(pending) < 8:
                self._synack = [*pending, seg]
            elif pending and not flags & (SYN | FIN | RST) and (flags & ACK or seg.payload_len):
                # Zeek >= 5.1 (zeek/zeek#2191): a connection that opened with a SYN/ACK followed
                # by an ACK or data, in either direction, is flipped: the SYN/ACK's sender is the
                # server. The history reads as if the roles had been right from the start.
                self._reset()
                self._last_ts = seg.ts
                self._synack = None
                self._hist += "^"
                for old in pending:
                    self._process(False, old)
                self._process(not is_orig, seg)
                return True
            else:
                self._synack = None
        return self._process(is_orig, seg)

    def update_plain(self, is_orig: bool, seg: Segment) -> None:
        """`update` for a segment known to carry ACK and none of SYN, FIN, RST (the tracker's
        common case): the checks that cannot fire are skipped. Such a segment never flips."""
        if (
            seg.bad_opts
            or seg.truncated
            or not self.plain(
                is_orig, seg.ts, seg.flags, seg.payload_len, seg.window, seg.seq, seg.ack
            )
        ):
            self.update(is_orig, seg)

    def plain(
        self, is_orig: bool, ts: float, flags: int, length: int, window: int, seq: int, ack: int
    ) -> bool:
        """`update_plain` from a segment's numbers, for a segment captured whole with a sound
        header. False, with nothing changed, when the connection is not in the state this
        shortcut covers (the handshake is not over, or checksums are verified): then `update`
        must be given the segment."""
        if self._synack is not None or self._first_seen != 3 or self._verify:
            return False
        o, r = self.orig, self.resp
        ep, peer = (o, r) if is_orig else (r, o)
        if ep.state == INACTIVE:
            return False
        if not (o.did_close and r.did_close):
            self._last_ts = ts
        self._fast(is_orig, ep, peer, flags, length, window, seq, ack, False)
        return True

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
        Ask before `update(seg)`; if True, give `seg` to a new ZeekState.
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
        if not flags & SYN or (seg.bad_opts and not header_ok(seg)):
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
        return self._hist

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
