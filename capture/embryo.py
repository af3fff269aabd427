"""Flows that have seen one SYN and nothing else, kept packed until they must be a `Flow`.

A SYN flood or a port scan makes one flow per spoofed source or probed port, and most of them
never see a second segment. A `Flow` with its sides and Zeek state costs about 2.3 KB; such a flow
("embryo") is kept instead as one bytes object: its id, where its SYN came from and the SYN's frame
(~100 B, ~250 B with its key and dict entry). When a second segment comes for its 4-tuple, or the
flow has to be read (evicted, exported), the frame is decoded again and given to the tracker as it
was the first time, so the flow is the same, field for field (`FlowTracker(embryos=True)`).
"""

from __future__ import annotations

import struct

from capture.decode import Decoder
from capture.segment import Segment

_HEAD = struct.Struct("<qqdIi")  # flow id, frame number, capture time, wire length, link type


def pack(fid: int, seg: Segment) -> bytes:
    """The embryo of flow `fid`, whose first segment is `seg`."""
    return _HEAD.pack(fid, seg.frame_no, seg.ts, seg.wire_len, seg.linktype) + seg.frame


def when(record: bytes) -> tuple[float, int]:
    """(time of the SYN, flow id): the embryo's place in the eviction order."""
    fid, _, ts, _, _ = _HEAD.unpack_from(record)
    return ts, fid


def unpack(record: bytes, decoder: Decoder) -> tuple[int, Segment]:
    """(flow id, the SYN as the decoder gives it again)."""
    fid, frame_no, ts, wire_len, linktype = _HEAD.unpack_from(record)
    seg = decoder.decode(record[_HEAD.size :], ts, wire_len, linktype, frame_no)
    if seg is None:  # the same bytes gave a segment the first time
        raise ValueError(f"embryo of flow {fid} no longer decodes")
    return fid, seg
