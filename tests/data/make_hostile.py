"""Write tests/data/hostile.pcap and hostile.pcapng: captures full of terminal attacks.

Payloads, TCP option bytes, a DNS name, and (in the pcapng) the interface name, description and
comments carry ESC/CSI/OSC sequences (clear screen, window title, OSC 8 hyperlinks, DCS), raw
C1 controls and their UTF-8 forms, BEL, NUL, DEL, CR, Rich/Textual markup (`[bold]`,
`[link=...]`, `[@click=...]`) and bidirectional overrides. Deterministic: running it again
gives the same bytes (tests/test_terminal_safety.py checks that the committed files match).

    .venv/bin/python tests/data/make_hostile.py
"""

from __future__ import annotations

import struct
from pathlib import Path

HERE = Path(__file__).resolve().parent

NASTY = (
    b"\x1b[2J\x1b[H"  # clear the screen, cursor home
    b"\x1b]0;pwned-title\x07"  # OSC 0: window title, BEL-terminated
    b"\x1b]8;;https://evil.example/\x1b\\click-me\x1b]8;;\x1b\\"  # OSC 8 hyperlink
    b"\x1bP+q544e\x1b\\"  # DCS request
    b"\x9b31m\x9d2;raw-c1\x9c"  # raw 8-bit C1: CSI, OSC, ST
    + "\u009b32m\u0085".encode()  # C1 as UTF-8 (CSI, NEL)
    + b"\x07\x00\x7f\r\x08\x0b\x0c"  # BEL NUL DEL CR BS VT FF
    b"[bold]BOLD[/bold] [link=https://evil.example]LINK[/link] "
    b"[@click=app.quit]QUIT[/] [red on red]hidden[/]"
    + "\u202etxt.exe \u2066iso\u2069 \u200fx\u061c \u2028".encode()  # bidi, separators
)
# The server's data opens with the markup, so the inspector's one-line payload preview shows it.
MARKUP_FIRST = (
    b"[bold]BOLD[/bold] [link=https://evil.example]LINK[/link] [@click=app.quit]Q[/] " + NASTY
)
CLIENT4, SERVER4 = bytes([10, 66, 0, 1]), bytes([10, 66, 0, 2])
CLIENT6 = bytes.fromhex("fd000000000000000000000000000001")
SERVER6 = bytes.fromhex("fd000000000000000000000000000002")
SYN, FIN, RST, PSH, ACK = 0x02, 0x01, 0x04, 0x08, 0x10


def _tcp(sport: int, dport: int, seq: int, ack: int, flags: int, opts: bytes = b"") -> bytes:
    opts += b"\x00" * (-len(opts) % 4)
    off = (20 + len(opts)) // 4
    return struct.pack("!HHIIBBHHH", sport, dport, seq, ack, off << 4, flags, 65535, 0, 0) + opts


def _ip(src: bytes, dst: bytes, proto: int, body: bytes) -> bytes:
    if len(src) == 16:
        return struct.pack("!IHBB16s16s", 6 << 28, len(body), proto, 64, src, dst) + body
    head = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(body), 1, 0x4000, 64, proto, 0, src, dst)
    return head + body


def _eth(ip: bytes, vlan: int | None = None) -> bytes:
    etype = b"\x86\xdd" if ip[0] >> 4 == 6 else b"\x08\x00"
    tag = struct.pack("!HH", 0x8100, vlan) if vlan is not None else b""
    return bytes.fromhex("020000000002020000000001") + tag + etype + ip


def _flow(cli: bytes, srv: bytes, sport: int, dport: int, vlan: int | None) -> list[bytes]:
    """A whole connection whose data both ways, and an unknown TCP option, are NASTY."""
    c, s = 1000, 5000
    evil_opt = bytes([99, 2 + 30]) + NASTY[:30]  # unknown option kind 99 carrying escapes
    out = [
        (cli, srv, _tcp(sport, dport, c, 0, SYN, b"\x02\x04\x05\xb4" + evil_opt)),
        (srv, cli, _tcp(dport, sport, s, c + 1, SYN | ACK, b"\x02\x04\x05\xb4")),
        (cli, srv, _tcp(sport, dport, c + 1, s + 1, ACK)),
        (cli, srv, _tcp(sport, dport, c + 1, s + 1, PSH | ACK) + NASTY),
        (srv, cli, _tcp(dport, sport, s + 1, c + 1 + len(NASTY), PSH | ACK) + MARKUP_FIRST),
        (cli, srv, _tcp(sport, dport, c + 1 + len(NASTY), s + 1 + len(MARKUP_FIRST), FIN | ACK)),
        (srv, cli, _tcp(dport, sport, s + 1 + len(MARKUP_FIRST), c + 2 + len(NASTY), FIN | ACK)),
        (cli, srv, _tcp(sport, dport, c + 2 + len(NASTY), s + 2 + len(MARKUP_FIRST), ACK)),
    ]
    return [_eth(_ip(a, b, 6, seg), vlan) for a, b, seg in out]


def _dns_answer() -> bytes:
    """A UDP DNS response whose name labels are escape sequences (not TCP: counted, not shown)."""
    name = b"".join(bytes([len(p)]) + p for p in (b"\x1b]0;dns\x07", b"[bold]x", b"evil")) + b"\0"
    dns = struct.pack("!HHHHHH", 1, 0x8180, 1, 0, 0, 0) + name + b"\x00\x01\x00\x01"
    udp = struct.pack("!HHHH", 53, 5353, 8 + len(dns), 0) + dns
    return _eth(_ip(SERVER4, CLIENT4, 17, udp))


def frames() -> list[bytes]:
    """Every frame of the hostile capture, in order."""
    out = _flow(CLIENT4, SERVER4, 40001, 80, None)
    out += _flow(CLIENT6, SERVER6, 40002, 443, None)
    out += _flow(CLIENT4, SERVER4, 40003, 8080, 66)
    out.append(_dns_answer())
    # A lone RST whose payload is NASTY (RST segments may carry diagnostic text, RFC 9293 3.5.3).
    out.append(_eth(_ip(SERVER4, CLIENT4, 6, _tcp(22, 40004, 7, 0, RST) + NASTY)))
    return out


def pcap(frame_list: list[bytes]) -> bytes:
    """A classic little-endian pcap, Ethernet, timestamps 1 ms apart."""
    out = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)
    for i, f in enumerate(frame_list):
        out += struct.pack("<IIII", 1_700_000_000, i * 1000, len(f), len(f)) + f
    return out


def _opt(code: int, value: bytes) -> bytes:
    return struct.pack("<HH", code, len(value)) + value + b"\0" * (-len(value) % 4)


def _block(btype: int, body: bytes) -> bytes:
    return struct.pack("<II", btype, 12 + len(body)) + body + struct.pack("<I", 12 + len(body))


def pcapng(frame_list: list[bytes]) -> bytes:
    """The same frames as pcapng, with hostile section/interface/packet options."""
    end = _opt(0, b"")
    shb = struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1) + _opt(1, NASTY) + _opt(2, NASTY) + end
    idb = struct.pack("<HHI", 1, 0, 262144) + _opt(2, b"eth0" + NASTY) + _opt(3, NASTY) + end
    out = _block(0x0A0D0D0A, shb) + _block(1, idb)
    for i, f in enumerate(frame_list):
        ticks = 1_700_000_000_000_000 + i * 1000
        body = struct.pack("<IIIII", 0, ticks >> 32, ticks & 0xFFFFFFFF, len(f), len(f))
        body += f + b"\0" * (-len(f) % 4) + _opt(1, NASTY) + end
        out += _block(6, body)
    return out


def main() -> None:
    """Write both files next to this script."""
    fl = frames()
    (HERE / "hostile.pcap").write_bytes(pcap(fl))
    (HERE / "hostile.pcapng").write_bytes(pcapng(fl))


if __name__ == "__main__":
    main()
