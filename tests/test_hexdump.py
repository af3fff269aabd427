"""The hex dump's lines: offsets, two groups of eight bytes, and a printable-only ASCII column."""

from __future__ import annotations

from widgets.hexdump import BYTES_PER_LINE, hex_line


def test_full_line():
    """Sixteen bytes: offset, hex in two groups of eight, ASCII column."""
    data = bytes(range(0x41, 0x51))
    off, hexes, text = hex_line(data, 0)
    assert off == "0000"
    assert hexes == "41 42 43 44 45 46 47 48  49 4a 4b 4c 4d 4e 4f 50"
    assert text == "ABCDEFGHIJKLMNOP"


def test_short_last_line_is_padded_so_columns_align():
    """A partial last line keeps the ASCII column where full lines have it."""
    data = bytes(BYTES_PER_LINE + 3)
    full, short = hex_line(data, 0), hex_line(data, BYTES_PER_LINE)
    assert short[0] == "0010" and len(short[1]) == len(full[1])
    assert short[2] == "..."


def test_controls_and_high_bytes_never_reach_the_ascii_column():
    """ESC, BEL, DEL, C1 and bytes above 0x7f all print as '.'."""
    data = b"\x1b]0;x\x07\x7f\x9b\xff\xc3\xa9ok~ \x00"
    _, _, text = hex_line(data, 0)
    assert text == ".]0;x......ok~ ."
    assert all(0x20 <= ord(c) < 0x7F for c in text)
