"""Full dissection of ONE frame for the frame inspector, through scapy, as plain rows.

The hot path never touches scapy (it is about 100 times too slow per packet); the inspector asks
for one frame at a time, so here scapy's complete field-by-field decoding is affordable. scapy is
imported lazily and narrowly (never `scapy.all`, which costs 0.5-0.9 s at start-up): importing
`scapy.layers.l2`, `inet` and `inet6` registers the link types we read.

Everything returned is text already passed through `escape_untrusted`: a widget may show it as is.
Each field row carries the bytes it was read from (`Row.span`), found the way scapy builds the
layer: field after field, bit fields sharing their bytes, so the hex dump can mark one field.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

from capture import tcp_analysis
from capture.safetext import escape_untrusted, printable_ascii
from capture.segment import Segment

LINKTYPE_NAMES = {
    0: "BSD loopback (DLT_NULL)",
    1: "Ethernet",
    12: "Raw IP",
    101: "Raw IP",
    113: "Linux cooked (SLL)",
    228: "Raw IPv4",
    229: "Raw IPv6",
    276: "Linux cooked v2 (SLL2)",
}

# Bit order of the TCP flags byte, most significant first, as Wireshark spells them out.
_TCP_BITS = ("CWR", "ECE", "URG", "ACK", "PSH", "RST", "SYN", "FIN")
_IP_BITS = ("Reserved", "DF", "MF")
_PREVIEW = 64


@dataclass(frozen=True, slots=True)
class Row:
    """One decoded field: a label, its value as text, and an indent level (bits, options)."""

    field: str
    value: str
    depth: int = 0
    span: tuple[int, int] | None = None
    """The frame's bytes this field was read from (start, end exclusive); None when unknown
    (the layer's bytes then stand for it). A bit field's span is the bytes holding its bits."""


@dataclass(frozen=True, slots=True)
class Layer:
    """One protocol layer of the frame, with the byte range it covers in the frame."""

    name: str
    start: int
    end: int
    rows: tuple[Row, ...]


def bit_row(bits: int, index: int, name: str, value: int) -> Row:
    """A flag bit spelled out: `bit_row(8, 6, "SYN", 1)` → `......1. = SYN: set`."""
    mask = "".join(str(value) if i == index else "." for i in range(bits))
    return Row(mask, f"{name}: {'set' if value else 'not set'}", 1)


def dissect_segment(seg: Segment) -> list[Layer]:
    """The frame of `seg`, dissected, preceded by a `Frame` layer (number, time, lengths) and
    followed, when the engine marked the segment, by a `TCP analysis` layer (Wireshark's)."""
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(seg.ts))
    frame_rows: tuple[Row, ...] = (
        Row("number", str(seg.frame_no)),
        Row("time", f"{stamp}.{int(seg.ts % 1 * 1e6):06d} UTC"),
        Row("captured", f"{len(seg.frame)} bytes"),
        Row("on the wire", f"{seg.wire_len} bytes"),
        Row("link type", f"{seg.linktype} ({LINKTYPE_NAMES.get(seg.linktype, 'unknown')})"),
    )
    if seg.truncated:
        frame_rows += (Row("truncated", "yes: the capture holds less than the IP header says"),)
    layers = [Layer("Frame", 0, len(seg.frame), frame_rows), *dissect(seg.frame, seg.linktype)]
    marks = tcp_analysis.notes(seg)
    if marks:  # Wireshark's "[SEQ/ACK analysis]": what the engine found, not header bytes
        layers.append(Layer("TCP analysis", 0, 0, tuple(Row(tag, text) for tag, text in marks)))
    return layers


def dissect(frame: bytes, linktype: int) -> list[Layer]:
    """Every layer scapy finds in `frame`, with every header field. Never raises."""
    try:
        packet = _decode(frame, linktype)
    except Exception as err:  # scapy on hostile bytes: show why instead of failing the view
        return [Layer("Undecoded", 0, len(frame), (Row("error", escape_untrusted(str(err))),))]
    layers: list[Layer] = []
    layer, start = packet, 0
    while layer is not None and layer.__class__.__name__ != "NoPayload":
        end = min(len(frame), start + _header_len(layer))
        rows = _rows(layer, (start, end), frame)
        layers.append(Layer(_layer_name(layer), start, end, tuple(rows)))
        layer, start = layer.payload, end
    return layers


def field_spans(layer: Any, bounds: tuple[int, int]) -> dict[str, tuple[int, int]]:
    """Where each field of `layer` lies in the frame, the layer covering `bounds`.

    Built as scapy builds the layer (`Field.addfield` in order): a bit field leaves a partial
    byte, its neighbours share it, so a field covers the bytes holding any of its bits. Spans
    are cut to `bounds`; a field scapy cannot rebuild, and those after it, get none.
    """
    start, end = bounds
    spans: dict[str, tuple[int, int]] = {}
    built: Any = b""
    bit = 0
    try:
        for fld in layer.fields_desc:
            built = fld.addfield(layer, built, layer.getfieldval(fld.name))
            after = len(built[0]) * 8 + built[1] if isinstance(built, tuple) else len(built) * 8
            first, last = start + bit // 8, start + (after + 7) // 8
            spans[fld.name] = (min(first, end), min(last, end))
            bit = after
    except Exception:  # hostile values scapy cannot rebuild: those fields mark their layer
        pass
    return spans


def _decode(frame: bytes, linktype: int) -> Any:
    from scapy.config import conf  # noqa: PLC0415  (lazy: only the inspector needs scapy)
    from scapy.layers import inet, inet6, l2  # noqa: F401, PLC0415  (registers link types)
    from scapy.packet import Raw  # noqa: PLC0415

    cls = conf.l2types.num2layer.get(linktype, Raw)
    packet = cls(frame)
    if linktype == 0 and isinstance(packet.payload, Raw):
        # scapy binds BSD loopback only to Linux's AF_INET6 (10); macOS and the BSDs use 24/28/30.
        from scapy.layers.inet6 import IPv46  # noqa: PLC0415

        packet.remove_payload()
        packet.add_payload(IPv46(frame[4:]))
    return packet


def _header_len(layer: Any) -> int:
    """Bytes of this layer's own header (or data, for payload and padding).

    Built from the layer's own fields: counting from `original` would be wrong when a frame
    carries an Ethernet trailer, which scapy splits off as a Padding layer at the end.
    """
    if layer.__class__.__name__ in ("Raw", "Padding"):
        return len(layer.load)
    try:
        return len(layer.self_build())
    except Exception:  # a field scapy cannot rebuild: fall back on what the layer consumed
        inner = layer.payload.original if layer.payload.__class__.__name__ != "NoPayload" else b""
        return len(layer.original or b"") - len(inner or b"")


_NAMES = {"Ether": "Ethernet", "Dot1Q": "802.1Q VLAN", "Dot1AD": "802.1ad VLAN", "IP": "IPv4"}


def _layer_name(layer: Any) -> str:
    cls = layer.__class__.__name__
    if cls == "Raw":
        return "Payload"
    return _NAMES.get(cls, escape_untrusted(str(layer.name)))


def _rows(layer: Any, bounds: tuple[int, int], frame: bytes) -> list[Row]:
    cls = layer.__class__.__name__
    if cls in ("Raw", "Padding"):
        data = bytes(layer.load)
        preview = printable_ascii(data[:_PREVIEW]) + ("…" if len(data) > _PREVIEW else "")
        return [Row("length", f"{len(data)} bytes", 0, bounds), Row("text", preview, 0, bounds)]
    spans = field_spans(layer, bounds)
    rows: list[Row] = []
    for fld in layer.fields_desc:
        span = spans.get(fld.name)
        if cls == "TCP" and fld.name == "options":
            rows.extend(_option_rows(layer.getfieldval(fld.name), span, frame))
        elif cls == "TCP" and fld.name == "flags" and span and span[1] - span[0] == 2:
            # AE is the low bit of byte 12, the eight classic flags are byte 13
            first, second = (span[0], span[0] + 1), (span[0] + 1, span[1])
            flag_rows = _field_rows(layer, cls, fld)
            bit_spans = [span, first] + [second] * (len(flag_rows) - 2)
            rows.extend(replace(row, span=at) for row, at in zip(flag_rows, bit_spans, strict=True))
        else:
            rows.extend(replace(row, span=span) for row in _field_rows(layer, cls, fld))
    return rows


def _field_rows(layer: Any, cls: str, fld: Any) -> list[Row]:
    """The rows of one field: one, or the field and its bits spelled out (flags)."""
    value = layer.getfieldval(fld.name)
    if cls == "TCP" and fld.name == "flags":
        return _tcp_flag_rows(int(value))
    if cls == "IP" and fld.name == "flags":
        return _ip_flag_rows(int(value))
    if fld.name == "chksum" and cls in ("IP", "TCP"):
        return [Row("chksum", f"0x{value:04x} {_checksum_note(layer, value)}")]
    if fld.name == "src" and cls.startswith("CookedLinux") and isinstance(value, bytes):
        # the cooked header's address field is 8 bytes; lladdrlen says how many are used
        used = value[: min(layer.lladdrlen, len(value))]
        return [Row("src", ":".join(f"{b:02x}" for b in used))]
    return [Row(fld.name, _field_text(layer, fld, value))]


def _checksum_note(layer: Any, value: int) -> str:
    """Whether the checksum is right: wrong ones on sent frames usually mean checksum offload."""
    expected = _ip_checksum(layer) if layer.__class__.__name__ == "IP" else _tcp_checksum(layer)
    if expected is None:
        return "(not checked: frame cut short)"
    if expected == value:
        return "(correct)"
    return f"(wrong, expected 0x{expected:04x}; offload on the capturing host?)"


def _ip_checksum(ip: Any) -> int | None:
    from scapy.utils import checksum  # noqa: PLC0415

    header = bytearray((ip.original or b"")[: ip.ihl * 4])
    if len(header) < 20 or len(header) < ip.ihl * 4:
        return None
    header[10:12] = b"\0\0"
    return int(checksum(bytes(header)))


def _tcp_checksum(tcp: Any) -> int | None:
    from scapy.layers.inet import in4_chksum  # noqa: PLC0415
    from scapy.layers.inet6 import in6_chksum  # noqa: PLC0415

    ip = tcp.underlayer
    while ip is not None and ip.__class__.__name__ not in ("IP", "IPv6"):
        ip = ip.underlayer
    data = bytearray(tcp.original or b"")
    if ip is None or len(data) < 20:
        return None
    want = ip.len - ip.ihl * 4 if ip.__class__.__name__ == "IP" else None
    if want is not None and len(data) < want:
        return None
    data[16:18] = b"\0\0"
    if want is None:
        return int(in6_chksum(6, tcp.underlayer, bytes(data)))  # type: ignore[no-untyped-call]
    return int(in4_chksum(6, ip, bytes(data[:want])))


def _field_text(layer: Any, fld: Any, value: Any) -> str:
    try:
        text = str(fld.i2repr(layer, value))
    except Exception:  # a field scapy cannot print (hostile lengths): show the raw value
        text = repr(value)
    if isinstance(value, int) and not isinstance(value, bool) and text not in (str(value), ""):
        if fld.__class__.__name__.startswith("X") and not text.startswith("0x"):
            text = f"0x{value:04x} ({text})"
        elif not text.startswith("0x"):
            text = f"{value} ({text})"
    if isinstance(value, bytes):
        text = ":".join(f"{b:02x}" for b in value) if len(value) <= 16 else value.hex()
    elif value == []:
        text = "none"
    if fld.name in ("dataofs", "ihl") and isinstance(value, int):
        text = f"{value} ({value * 4} bytes)"
    return escape_untrusted(text)


def _tcp_flag_rows(flags: int) -> list[Row]:
    names = [name for i, name in enumerate(_TCP_BITS) if flags & (0x80 >> i)]
    if flags & 0x100:
        names.insert(0, "AE")
    rows = [Row("flags", f"0x{flags:03x} ({', '.join(names) or 'none'})")]
    rows.append(Row("...", f"AE (ex-NS, bit 8): {'set' if flags & 0x100 else 'not set'}", 1))
    rows.extend(bit_row(8, i, name, (flags >> (7 - i)) & 1) for i, name in enumerate(_TCP_BITS))
    return rows


def _ip_flag_rows(flags: int) -> list[Row]:
    names = [name for i, name in enumerate(_IP_BITS) if flags & (4 >> i)]
    rows = [Row("flags", f"0x{flags:x} ({', '.join(names) or 'none'})")]
    rows.extend(bit_row(3, i, name, (flags >> (2 - i)) & 1) for i, name in enumerate(_IP_BITS))
    return rows


def _option_rows(options: Any, span: tuple[int, int] | None, frame: bytes) -> list[Row]:
    if not options:
        return [Row("options", "none", 0, span)]
    rows = [Row("options", f"{len(options)}", 0, span)]
    spans = _option_spans(len(options), span, frame)
    for item, opt_span in zip(options, spans, strict=True):
        name, value = (item[0], item[1]) if isinstance(item, tuple) else (item, None)
        rows.append(Row(escape_untrusted(str(name)), _option_value(name, value), 1, opt_span))
    return rows


def _option_spans(
    count: int, span: tuple[int, int] | None, frame: bytes
) -> list[tuple[int, int] | None]:
    """The bytes of each of `count` options in the options field at `span` (RFC 9293 §3.1:
    kinds 0 and 1 are one byte, the others say their length). EOL takes the padding after it.
    When the bytes do not walk to `count` options (a hostile length), each gets the field's."""
    if span is None:
        return [None] * count
    pos, end = span
    out: list[tuple[int, int] | None] = []
    while pos < end and len(out) < count:
        kind = frame[pos]
        size = 1 if kind in (0, 1) else (frame[pos + 1] if pos + 1 < end else 0)
        if size < 1 or (kind > 1 and size < 2):
            break
        stop = end if kind == 0 else min(pos + size, end)
        out.append((pos, stop))
        pos = stop
    return out if len(out) == count else [span] * count


def _option_value(name: Any, value: Any) -> str:
    if value is None or value == b"":
        return ""
    if name == "Timestamp" and isinstance(value, tuple):
        return f"val {value[0]} ecr {value[1]}"
    if name == "SAck" and isinstance(value, tuple):
        return " ".join(f"{a}-{b}" for a, b in zip(value[::2], value[1::2], strict=False))
    if isinstance(value, bytes):
        return value.hex()
    return escape_untrusted(str(value))
