"""Read a classic Ethernet pcap straight into a tracker, skipping the decoder where it can.

Most segments of a capture belong to a flow whose handshake is over: a segment with ACK and none
of SYN, FIN, RST, in order, that changes no state. For such a frame `track_pcap` looks the flow
up by the bytes the frame carries (addresses and ports, `FlowTracker.raw_index`) and updates it
from one `Struct.unpack_from` (`flows.steady_update`): no `Segment`, no key tuple, no decoder
call. Every other frame, and any frame whose flow is not steady, takes the usual way
(`Decoder.decode` then `FlowTracker.add`). The flows, records and counters are the same
either way; only the cost differs.

Frames count as they do in the decoder: each one in `frames`, and in `tcp` when it is a segment.
"""

from __future__ import annotations

import struct
import threading

from capture.decode import MAX_RECORD, Decoder
from capture.flow_updates import steady_update
from capture.flows import FlowTracker
from capture.pcapio import PcapBlocks

# From the IP header: total (or payload) length, IPv4 fragment field, then TCP's sequence and
# acknowledgement numbers, data offset, flags and window.
_V4 = struct.Struct("!2xH2xH16xIIBBH")
_V6 = struct.Struct("!4xH38xIIBBH")
_ETH_IPV4 = b"\x08\x00"
_ETH_IPV6 = b"\x86\xdd"
_ACK_ONLY = 0x10  # of FIN SYN RST ACK (0x17), just ACK
CHECK_STOP = 4096
"""Records between two looks at the stop event."""


def track_pcap(
    blocks: PcapBlocks,
    decoder: Decoder,
    tracker: FlowTracker,
    stop: threading.Event,
    frame_no: int = 1,
) -> int:
    """Feed every record of `blocks` to `tracker` (decoding through `decoder` where needed)
    until the records end or `stop` is set; returns how many frames took the short way.

    The tracker must keep no frames (`frames_per_flow` 0: a frame taken the short way is never
    made into a `Segment` that a ring could hold) and must not be asked for changed flows (a
    headless run, not a view).
    """
    if tracker.frames_per_flow or tracker.watching_changes:
        raise ValueError("track_pcap needs a tracker that keeps no frames and lists no changes")
    index = tracker.index_raw()
    header, unit, linktype = blocks.header, blocks.unit, blocks.linktype
    ethernet = linktype == 1
    unpack = header.unpack_from
    v4, v6 = _V4.unpack_from, _V6.unpack_from
    find = index.get
    decode, add = decoder.decode, tracker.add
    pos = taken = 0
    while (buf := blocks.fill(pos)) is not None:
        pos, size, short = 0, len(buf), 0
        while pos + 16 <= size:
            sec, frac, caplen, wire_len = unpack(buf, pos)
            p = pos + 16
            end = p + caplen
            if end > size or caplen > MAX_RECORD:
                break  # the rest is not a whole record: `fill` brings more (or says why not)
            pos = end
            hit = None
            if ethernet and caplen >= 54:
                etype = buf[p + 12 : p + 14]
                if etype == _ETH_IPV4 and buf[p + 14] == 0x45 and buf[p + 23] == 6:
                    hit = find(buf[p + 26 : p + 38])
                    if hit is not None:
                        ip_len, frag, seq, ack, off, flags, window = v4(buf, p + 14)
                        ip_hlen = 20
                        if frag & 0x3FFF:  # a fragment
                            hit = None
                elif (
                    etype == _ETH_IPV6
                    and caplen >= 74
                    and buf[p + 20] == 6
                    and buf[p + 14] >> 4 == 6
                ):
                    hit = find(buf[p + 22 : p + 58])
                    if hit is not None:
                        payload_len, seq, ack, off, flags, window = v6(buf, p + 14)
                        ip_len, ip_hlen = payload_len + 40, 40
                if hit is not None:
                    hlen = (off >> 4) << 2
                    plen = ip_len - ip_hlen - hlen
                    if (
                        flags & 0x17 != _ACK_ONLY
                        or hlen < 20
                        or plen < 0
                        or ip_len + 14 > caplen  # not captured whole
                        or ip_len + 14 > wire_len
                    ):
                        hit = None
            if hit is not None and steady_update(
                hit[0], hit[1], sec + frac * unit, ip_len, plen, seq, ack, flags, window
            ):
                short += 1
            else:
                seg = decode(buf[p:end], sec + frac * unit, wire_len, linktype, frame_no)
                if seg is not None:
                    add(seg)
            frame_no += 1
            if not frame_no % CHECK_STOP and stop.is_set():
                break
        decoder.frames += short
        decoder.tcp += short
        taken += short
        if stop.is_set():
            break
    return taken
